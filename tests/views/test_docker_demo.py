"""The Docker image runs the demo the tests run; its Dockerfile and script pass their linters.

There is no Docker engine on CI machines: the image is checked statically (hadolint,
shellcheck) and its entry point is the very script the browser tests start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        if IN_CI:
            pytest.fail(f"{name} is required in CI")
        pytest.skip(f"{name} not installed")
    return path


def test_dockerfile_passes_hadolint():
    proc = subprocess.run([_tool("hadolint"), "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_run_docker_script_passes_shellcheck():
    proc = subprocess.run([_tool("shellcheck"), "run_docker.sh"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_runs_the_same_demo_entry_point():
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert lines[lines.index(next(line for line in lines if line.startswith("FROM ")))].startswith(
        "FROM apache/airflow:3."
    )
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT ")).split(" ", 1)[1])
    script = entrypoint[1].replace("/opt/ddtrack/", "")
    assert script == "tests/dev_tools/run_webserver.py"
    assert entrypoint[entrypoint.index("--port") + 1] == "8080"
    # The entry point's arguments are ones the demo script accepts.
    help_text = subprocess.run(
        [sys.executable, str(REPO / script), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in (a for a in entrypoint[2:] if a.startswith("--")):
        assert option in help_text
