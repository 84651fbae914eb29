"""One real Airflow deployment shared by the real-scheduler tests in this folder.

A deployment takes a minute or two to set up on CI's two cores, so the features that came
after the first releases (history kept through ``airflow db clean``, data profiled where it
lives, alerts, column lineage) share one: PostgreSQL metastore, LocalExecutor, api-server,
scheduler and dag-processor as separate processes, the example DAGs plus this folder's
``dags/``. Services the features need (a warehouse database, a mail server, a webhook
receiver) start first (``services.py``) and reach Airflow through its environment.

Each test module triggers its own DAGs and reads its own runs: never assume another
module's runs exist, and never change the deployment's configuration. A test that must
change what every DAG sees (``airflow db clean``) scopes it to its own DAGs.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from helpers import postgres_deployment

from . import services

HERE = Path(__file__).parent
REPO = HERE.parents[2]


def _dags_folder(home: Path) -> Path:
    dags = home / "dags"
    dags.mkdir(parents=True)
    for source in [*(REPO / "tests" / "dags").glob("*.py"), *(HERE / "dags").glob("*.py")]:
        (dags / source.name).symlink_to(source)
    return dags


@pytest.fixture(scope="package")
def shared_airflow(tmp_path_factory):
    """The running deployment; ``shared_airflow.services[name]`` holds each service's handle."""
    home = tmp_path_factory.mktemp("shared")
    with ExitStack() as stack:
        started = list(services.started(home, stack))
        env = {k: v for s in started for k, v in s.env.items()}
        deployment = stack.enter_context(
            postgres_deployment(home / "airflow", dags_folder=_dags_folder(home), extra_env=env)
        )
        deployment.services = {s.name: s.handle for s in started}
        yield deployment
