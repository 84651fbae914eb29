"""Checks are gates on a real scheduler (shared deployment: PostgreSQL, LocalExecutor): an
error-severity ``unique`` check fails its task in a real worker on a duplicate the profile's
estimate cannot see, with a message naming the output and the column, and the try's record
with the check result is stored."""

from __future__ import annotations

import pytest
from helpers import task_runs

from ddtrack.queries import Sources
from ddtrack.queries.alerts import checks_of

from .runs import run_stored

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG = "checks_gate"


def test_a_duplicate_the_profile_cannot_see_fails_the_task(shared_airflow):
    run_id = run_stored(shared_airflow, DAG, state="failed", tries=1)
    (load,) = task_runs(shared_airflow.metastore_url, DAG, run_id)
    assert (load.state, load.error_type) == ("failed", "CheckFailed")
    assert "output 'orders': column 'order_id' has 1 duplicate values" in load.error_message
    sources = Sources(store_url=shared_airflow.metastore_url, metastore_url=shared_airflow.metastore_url)
    (result,) = checks_of(sources, None, DAG, run_id)
    assert (result["check"], result["column"], result["status"], result["value"]) == ("unique", "order_id", "fail", 1)
