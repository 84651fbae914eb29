"""The CLI's tables in an 80-column terminal, in a pipe, and ``--help`` without heavy imports.

``ddtrack alerts`` and ``recent`` run as a person runs them: in a real pseudo-terminal of 80
columns (its window size set, ``COLUMNS=80``), and with stdout a pipe. The store holds the
drifting example's thirteen runs (tests/views/across_runs_data.py) under a long DAG name
and Airflow's own run ids (``scheduled__2026-03-01T06:00:00+00:00``), the shapes that
wrapped every cell to a few characters before.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from views.across_runs_data import T0, drifting_records

from ddtrack.cli.common import short_run
from ddtrack.store.ingest import ingest_records
from ddtrack.store.schema import upgrade

DDTRACK = str(Path(sys.executable).parent / "ddtrack")
DAG = "customer_orders_daily_enrichment"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _airflow_run_id(run: str) -> str:
    n = int(run.rsplit("_", 1)[1])
    return f"scheduled__{T0.replace(day=n).isoformat()}"


@pytest.fixture(scope="module")
def env(airflow_home, tmp_path_factory) -> dict[str, str]:
    store = f"sqlite:///{tmp_path_factory.mktemp('cli_terminal') / 'ddtrack.db'}"
    upgrade(store)
    records = drifting_records(DAG, task_id="load_orders")
    for record in records:
        record["run_id"] = _airflow_run_id(record["run_id"])
    report = ingest_records(store, records)
    assert report.failed == 0, report.errors
    return {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": store, "COLUMNS": "80", "TERM": "xterm"}


def in_terminal(env: dict[str, str], *args: str, columns: int = 80) -> list[str]:
    """The lines a person sees running ``ddtrack ARGS`` in a terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([DDTRACK, *args], stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    return [ANSI.sub("", line) for line in out.decode().replace("\r\n", "\n").splitlines()]


def piped(env: dict[str, str], *args: str) -> list[str]:
    proc = subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def alerts_json(env: dict[str, str]) -> list[dict]:
    return json.loads(subprocess.run([DDTRACK, "alerts", "--dag", DAG, "--json"], capture_output=True, text=True,
                                     env=env, timeout=300, check=True).stdout)


def test_alerts_fit_an_80_column_terminal_readably(env):
    rows = alerts_json(env)
    lines = in_terminal(env, "alerts", "--dag", DAG)
    assert rows and all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    for row in rows:  # each alert's run as one short label, whole on its line
        assert short_run(row["run_id"]) in text
    assert short_run(rows[0]["run_id"]).startswith("sched ") and len(short_run(rows[0]["run_id"])) <= 22
    # The DAG name folds in wide pieces, never a few characters a line.
    pieces = [line.split()[0] for line in lines if line.split() and DAG.startswith(line.split()[0])]
    assert pieces and len(pieces[0]) >= 12
    said = " ".join(text.split())
    assert "hidden to fit 80 columns: started" in said and "--wide shows all" in said
    assert "detail" in text and "status" in text


def test_recent_fits_an_80_column_terminal(env):
    lines = in_terminal(env, "recent", "5")
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert short_run(_airflow_run_id("run_13")) in text and "load_orders" in text


def test_wide_prints_every_column_and_the_full_run_ids(env):
    text = "\n".join(in_terminal(env, "alerts", "--dag", DAG, "--wide"))
    assert _airflow_run_id("run_13") in text and "started" in text and "kind" in text
    assert "hidden" not in text


def test_a_pipe_never_wraps_or_hides(env):
    """Piped (a file, grep), each alert is one line with its whole DAG name, run id and detail."""
    rows = alerts_json(env)
    lines = piped(env, "alerts", "--dag", DAG)
    assert len(lines) == len(rows) + 3  # title, header, rule, one line per alert
    for row in rows:
        assert any(DAG in line and row["run_id"] in line and row["detail"] in line for line in lines), row
    assert all(line == line.rstrip() for line in lines)
    assert not any("hidden" in line for line in lines)


def test_help_imports_no_heavy_module():
    """``ddtrack --help`` and a command's help load click and ddtrack's CLI only: no Airflow,
    SQLAlchemy, pandas, numpy, Dash or rich (which made --help take seconds)."""
    code = (
        "import sys\n"
        "from ddtrack.cli import main\n"
        "for args in (['--help'], ['alerts', '--help'], ['status', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('airflow', 'sqlalchemy', 'pandas', 'numpy', 'dash', 'rich', 'alembic', 'pyarrow')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "--wide" in subprocess.run([DDTRACK, "alerts", "--help"], capture_output=True, text=True,
                                      timeout=120).stdout
