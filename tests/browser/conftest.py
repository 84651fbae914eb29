"""The browser tests' Chromium and demo deployment, one each for the package.

``demo`` (``tests/dev_tools/run_webserver.py``'s ``make_demo`` with two extra DAGs) serves
test_views_across_dags.py and test_views_in_airflow.py, the last two modules of the package:
it starts for the first and stops after the last test of the package, so it is never up
beside the other modules' deployments (and the package's end is its teardown, not the
session's).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMG = REPO / "img"
PROBE_DAG = REPO / "tests" / "views" / "dags" / "html_probe.py"
WIDE_DAG = REPO / "tests" / "views" / "dags" / "wide_output.py"  # a 10,000-column output
CHROMIUM = os.environ.get("DDTRACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a page may take to show what a test waits for. Generous: another xdist worker may
# be running a deployment with dozens of task processes on the same two cores (test_load).
TIMEOUT_MS = 90_000

sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture(scope="package")
def demo():
    from dev_tools.run_webserver import make_demo

    home = Path(tempfile.mkdtemp(prefix="ddtrack-browser-"))
    airflow = make_demo(home, extra_dags=[PROBE_DAG, WIDE_DAG])
    yield airflow
    airflow.remove()


@pytest.fixture(scope="package")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


