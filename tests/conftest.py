"""Test fixtures: real Airflow, real databases.

Airflow reads its configuration when first imported, so this file points AIRFLOW_HOME at
a fresh temporary directory with a SQLite metastore before anything imports Airflow, and
migrates it once per test session. Database fixtures create (and drop) a real database
per test on the machine's PostgreSQL and MariaDB servers; in CI (``CI=true``) a missing
server fails the run instead of skipping, and so does any other skip.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "dags"))
sys.path.insert(0, str(REPO / "tests"))

_HOME = Path(tempfile.mkdtemp(prefix="ddtrack-test-airflow-"))
# The session's DAG folder: the example DAGs plus DAGs written for particular tests.
DAGS = _HOME / "dags"
DAGS.mkdir()
for source in [*(REPO / "tests" / "dags").glob("*.py"), *(REPO / "tests" / "integration" / "dags").glob("*.py")]:
    (DAGS / source.name).symlink_to(source)
for key in [k for k in os.environ if k.startswith("AIRFLOW__")]:
    del os.environ[key]
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # A busy 2-core machine can take longer than the 30 s default to import a DAG file.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "DDTRACK_DEMO_DATA": str(_HOME / "data"),
        # Set here, not left to airflow.cfg: in-process Airflow may read its config first.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
    }
)

from dev_tools.airflow_local import (  # noqa: E402
    create_mariadb_database,
    create_postgres_database,
    drop_database,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's migrated Airflow home (SQLite metastore) with ddtrack's tables."""
    env = dict(os.environ)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "ddtrack"), "install"], env=env, check=True, capture_output=True)
    return _HOME


@pytest.fixture(scope="session")
def metastore_url(airflow_home: Path) -> str:
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def _server_or_skip(make, what: str) -> str:
    try:
        return make()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"{what} is required in CI but unreachable: {exc}")
        pytest.skip(f"{what} unreachable: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store_url(request, tmp_path):
    """An empty database for ddtrack's tables, on each supported backend."""
    from ddtrack.store.engine import dispose_all

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ddtrack.db'}"
        dispose_all()
        return
    make = create_postgres_database if request.param == "postgres" else create_mariadb_database
    url = _server_or_skip(make, request.param)
    yield url
    dispose_all()
    drop_database(url)


@pytest.fixture
def installed_store(store_url):
    """``store_url`` with ddtrack's schema installed."""
    from ddtrack.store.schema import upgrade

    upgrade(store_url)
    return store_url


# Modules that write the same fixed paths (/tmp/ddtrack-ax: the Asset URIs of their DAGs).
_SAME_FILES = frozenset({"test_asset_extra.py", "test_openlineage.py", "test_ecosystem_deployment.py"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks into node ids
def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's ``--dist loadgroup`` (``make test`` runs two workers): a
    package whose tests share a deployment (``tests/browser``, ``tests/integration/shared``)
    is one group, modules that write the same files are one, every other module is its own
    (its module-scoped deployment starts once, on one worker)."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO).parts
        if parts[:2] == ("tests", "browser"):
            group = "tests/browser"
        elif parts[:3] == ("tests", "integration", "shared"):
            group = "tests/integration/shared"
        elif parts[-1] in _SAME_FILES:
            group = "ddtrack-ax"
        else:
            group = "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a skip is a failure: a missing browser, database, compiler or
    package that a test needs must fail the run, not hide behind an 's'."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure: {reason}"
