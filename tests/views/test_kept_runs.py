"""History outlives ``airflow db clean``: runs Airflow deleted stay on ddtrack's pages and
in its CLI, with their state, times and tries from ddtrack's own records, marked "kept by
ddtrack".

The ``kept_history`` DAG runs twice in process (once succeeding, once with its second task
failing); its records are read from XCom as the listener would ingest them, then
``airflow db clean`` deletes both runs from the session's metastore (that DAG's runs only:
``--dag-ids``). Each test ingests the records into a store of its own, on each backend,
and reads it through Airflow's real FastAPI app or the ``ddtrack`` entry point.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from dash_client import find
from dash_client import texts as all_texts

from ddtrack import queries
from ddtrack.store.ingest import ingest_records, iter_records

DAG = "kept_history"
SOURCE = Path(__file__).parents[1] / "integration" / "shared" / "dags" / f"{DAG}.py"
BIN = Path(sys.executable).parent


def texts(tree) -> list[str]:
    """What a person reads, without the separators."""
    return [t for t in all_texts(tree) if t.strip(" ·")]


@pytest.fixture(scope="module")
def forgotten(api_app, metastore_url) -> dict:
    """The two runs' records and states, after ``airflow db clean`` deleted the runs."""
    from dev_tools.airflow_versions import dag_bag

    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / SOURCE.name
    if not target.exists():
        shutil.copy(SOURCE, target)
    dag = dag_bag(str(target)).get_dag(DAG)
    ok, failed = dag.test(), dag.test(run_conf={"fail": True})
    assert (ok.state, failed.state) == ("success", "failed")
    records = list(iter_records(metastore_url, dag_id=DAG))
    assert len(records) == 4
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    subprocess.run(
        [str(BIN / "airflow"), "db", "clean", "--clean-before-timestamp", future, "--dag-ids", DAG,
         "--tables", "dag_run", "--skip-archive", "--yes"],
        check=True, capture_output=True, env=os.environ,
    )
    engine = sa.create_engine(metastore_url)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM dag_run WHERE dag_id = :d"), {"d": DAG}).scalar()
        others = conn.execute(sa.text("SELECT count(*) FROM dag_run WHERE dag_id != :d"), {"d": DAG}).scalar()
    engine.dispose()
    assert left == 0 and others > 0  # only this DAG's runs went
    return {"records": records, "ok": ok.run_id, "failed": failed.run_id}


@pytest.fixture
def kept_store(forgotten, installed_store, metastore_url):
    """ddtrack's tables holding the forgotten runs, read by the views."""
    from ddtrack.views import context

    assert ingest_records(installed_store, forgotten["records"]).failed == 0
    context.set_sources(queries.Sources(store_url=installed_store, metastore_url=metastore_url))
    yield installed_store
    context.set_sources(None)


def test_pages_show_forgotten_runs_with_state_times_and_tries(admin, forgotten, kept_store):
    ok, failed = forgotten["ok"], forgotten["failed"]

    dag_page = admin.page("dag", f"?dag_id={DAG}")
    rows = {
        texts(r)[0]: texts(r)
        for r in find(dag_page, lambda n: n["type"] == "Tr" and "dd-row-" in n["props"].get("className", ""))
    }
    assert set(rows) == {ok, failed}
    # run, state, kept mark, type, started, duration, tracked tries, failed tries
    assert rows[ok][1:3] == ["success", "kept by ddtrack"] and rows[ok][-1:] == ["2"]
    assert rows[failed][1:3] == ["failed", "kept by ddtrack"] and rows[failed][-2:] == ["2", "1"]
    assert all(rows[r][4] not in ("", "–") and rows[r][5] not in ("", "–") for r in rows)  # started, duration

    run_page = admin.page("run", f"?dag_id={DAG}&run_id={quote(failed)}")
    words = texts(run_page)
    assert "failed" in words and "kept by ddtrack" in words
    assert "Open in Airflow" not in words  # Airflow has no page for it any more
    tasks = {texts(r)[0]: texts(r) for r in find(run_page, lambda n: n["type"] == "Tr") if texts(r)[0] in ("extract", "load")}
    assert tasks["extract"][1:3] == ["success", "1"] and tasks["load"][1:3] == ["failed", "1"]  # state, tries

    home = admin.page("")
    (row,) = find(home, lambda n: n["type"] == "Tr" and n["props"].get("data-dag-id") == DAG)
    assert "failed" in texts(row) and "kept by ddtrack" in texts(row)  # the newest run: the failed one


def test_queries_tell_a_forgotten_run_from_its_tries(forgotten, kept_store, metastore_url):
    sources = queries.Sources(store_url=kept_store, metastore_url=metastore_url)
    runs = {r.run_id: r for r in queries.dag_runs(sources, DAG, allowed=[DAG])}
    assert {r: (x.state, x.kept_by_ddtrack, x.tracked_tasks, x.failed_tasks) for r, x in runs.items()} == {
        forgotten["ok"]: ("success", True, 2, 0),
        forgotten["failed"]: ("failed", True, 2, 1),
    }
    assert all(x.start and x.end and x.duration_s is not None for x in runs.values())
    assert queries.dag_runs(sources, DAG, allowed=["other"]) == []  # the DAG's rights still decide
    detail = queries.run_detail(sources, DAG, forgotten["ok"], allowed=[DAG])
    assert (detail.state, detail.kept_by_ddtrack) == ("success", True)
    assert detail.start <= min(t.start for t in detail.tasks) and detail.end >= max(t.end for t in detail.tasks)


def test_cli_lists_forgotten_runs(forgotten, tmp_path, metastore_url):
    from ddtrack.store.schema import upgrade

    store = f"sqlite:///{tmp_path / 'ddtrack.db'}"
    upgrade(store)
    assert ingest_records(store, forgotten["records"]).failed == 0
    env = {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": store, "COLUMNS": "200"}

    def ddtrack(*args: str) -> str:
        proc = subprocess.run([str(BIN / "ddtrack"), *args], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    runs = {r["run_id"]: r for r in json.loads(ddtrack("runs", DAG, "--json"))}
    assert {r: (x["state"], x["kept_by_ddtrack"], x["tracked_tasks"], x["failed_tasks"]) for r, x in runs.items()} == {
        forgotten["ok"]: ("success", True, 2, 0),
        forgotten["failed"]: ("failed", True, 2, 1),
    }
    assert all(x["start"] and x["end"] for x in runs.values())
    table = ddtrack("runs", DAG)
    assert forgotten["failed"] in table and "kept: Airflow no longer has the run" in table
    detail = json.loads(ddtrack("runs", DAG, forgotten["failed"], "--json"))
    assert detail["state"] == "failed" and detail["kept_by_ddtrack"] is True
    assert {t["task_id"]: (t["state"], t["try_number"]) for t in detail["tasks"]} == {
        "extract": ("success", 1),
        "load": ("failed", 1),
    }
