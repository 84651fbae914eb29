"""`make demo` on a machine with nothing but Python: a fresh virtualenv, no apt, a page served.

The repository's files are copied to a temporary folder (as a fresh clone would have them)
and ``make demo`` runs there with a PATH that holds neither this project's ``.venv`` nor any
working ``apt-get``, ``sudo`` or ``dpkg-query``: stand-ins that record being called are put
first. The demo starts without the example runs (``--no-examples``) to keep it cheap; then
the Data home answers an admin's token, and Airflow's login page answers a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from dev_tools.airflow_local import REPO

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(1800)]


def _copy_of_the_repository(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _no_system_tools(folder: Path) -> Path:
    """apt-get, sudo and dpkg-query that only record that they were called."""
    folder.mkdir()
    for tool in ("apt-get", "sudo", "dpkg-query"):
        script = folder / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{folder}/called"\nexit 1\n')
        script.chmod(0o755)
    return folder


def test_make_demo_needs_only_python(tmp_path):
    clone = _copy_of_the_repository(tmp_path / "clone")
    stand_ins = _no_system_tools(tmp_path / "bin")
    path = [str(stand_ins), *(p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PATH=os.pathsep.join(path),
        DDTRACK_VENV=str(tmp_path / "venv"),
        DEMO_ARGS=f"--no-examples --home {tmp_path / 'home'}",
    )
    started = time.monotonic()
    demo = subprocess.Popen(
        ["make", "demo"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    output: list[str] = []
    url = None
    try:
        for line in demo.stdout:
            output.append(line)
            if match := re.search(r"Airflow with ddtrack:\s+(http://127\.0\.0\.1:\d+)/", line):
                url = match.group(1)
            if "Ctrl-C stops everything" in line:  # the last line of the demo's banner
                break
        assert url, "".join(output[-60:])
        print(f"make demo (--no-examples) ready in {time.monotonic() - started:.0f} s")
        assert not (stand_ins / "called").exists(), (stand_ins / "called").read_text()
        assert (tmp_path / "venv" / "bin" / "airflow").exists()  # the fresh virtualenv, not .venv

        login = httpx.get(f"{url}/ddtrack/", headers={"Accept": "text/html"}, timeout=60)
        assert login.status_code in (302, 307, 401), login.text[:500]
        token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": "admin"}, timeout=60)
        token.raise_for_status()
        home = httpx.get(
            f"{url}/ddtrack/", headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=120
        )
        assert home.status_code == 200 and "_dash-config" in home.text, home.text[:500]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)  # the demo stops Airflow's processes on SIGTERM
        demo.wait(timeout=120)
        shutil.rmtree(tmp_path / "venv", ignore_errors=True)  # 750 MB
