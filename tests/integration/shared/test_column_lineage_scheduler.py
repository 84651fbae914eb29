"""Column lineage on a real scheduler (shared deployment: PostgreSQL, LocalExecutor, workers
without metastore access): two DAGs sharing a file's URI (dags/column_lineage.py). Without
``ddtrack sync``, the column lineage is stored with the tries, a declared rename and an
inferred column are traced back across both DAGs, and PII follows columns: ``greeting``
(from ``name``) is PII-derived in both DAGs, ``id`` and ``doubled`` of the same outputs are not."""

from __future__ import annotations

import pytest
from helpers import task_runs

from ddtrack.queries import Sources
from ddtrack.queries.column_lineage import trace_column
from ddtrack.queries.pii import pii_report
from ddtrack.queries.versions import find_version

from .runs import run_stored

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def runs(shared_airflow):
    # The report reads the customers' file: one after the other.
    done = {dag_id: run_stored(shared_airflow, dag_id, tries=tries) for dag_id, tries in (("cl_customers", 2), ("cl_report", 1))}
    sources = Sources(store_url=shared_airflow.metastore_url, metastore_url=shared_airflow.metastore_url)
    return done, sources


def test_a_renamed_column_is_traced_back_across_two_dags(runs):
    done, sources = runs
    report = find_version(sources, "cl_report", done["cl_report"], "report", allowed=None)
    result = trace_column(sources, report.output_id, "greeting", allowed=None)
    assert {(c.dag_id, c.run_id, c.task_id, c.column, c.hops, c.how) for c in result.columns if c.hops} == {
        ("cl_customers", done["cl_customers"], "transform", "greeting", 1, "inferred"),
        ("cl_customers", done["cl_customers"], "extract", "name", 2, "declared"),
    }
    (report_try,) = task_runs(sources.store_url, "cl_report", done["cl_report"])
    assert any("no output has a column 'ghost'" in w for w in report_try.extra["warnings"])


def test_pii_follows_columns_on_a_real_scheduler(runs):
    _, sources = runs
    columns = {(c.dag_id, c.task_id, c.column): c.pii for c in pii_report(sources, allowed=None).columns
               if c.dag_id in ("cl_customers", "cl_report")}
    assert columns == {
        ("cl_customers", "extract", "name"): "declared", ("cl_customers", "extract", "email"): "declared",
        ("cl_customers", "transform", "greeting"): "derived", ("cl_report", "report", "greeting"): "derived",
    }
