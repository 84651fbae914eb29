"""A PostgreSQL server a test owns, to stop and restart it (never the machine's shared one).

initdb refuses to run as root, so the cluster belongs to the ``postgres`` user.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dev_tools.airflow_local import free_port


def _pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {tool} is not installed")
    return found[-1]


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, text=True, **kwargs)


@dataclass
class OwnPostgres:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ddtrack-pg-", dir="/tmp")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> OwnPostgres:
        shutil.chown(self.root, "postgres", "postgres")
        _as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])
        return self

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True).returncode == 0:
                return
            time.sleep(0.5)
        raise TimeoutError("own PostgreSQL did not start")

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
