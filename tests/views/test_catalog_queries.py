"""The catalog questions across DAGs (issue 13) on every store backend: output, column and
URI pages, recent/history/inspect, ranked search, tags, staleness and freshness.

Records are built as the decorator builds them (tests/records.py) and ingested for real.
Three DAGs share a URI: ``ingest`` writes ``s3://lake/fares.parquet`` each run, ``report``
read it once (after run 1), and ``secret``, which the reader may not read, both writes
and reads it. Whatever of ``secret`` a reader of ALLOWED gets is a count.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from records import make_record, run_in_process

from ddtrack import queries
from ddtrack.store import stale_counts
from ddtrack.store.engine import get_engine
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import StaleCount
from ddtrack.store.stale_counts import valid_counts

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
FARES = "s3://lake/fares.parquet"
DAILY = "asset://daily"  # an Asset: ingest.publish's outlet, report.read_daily's inlet
ALLOWED = {"ingest", "report"}
HIDDEN = ("secret", "mirror", "peek", "fares_copy")  # what a reader of ALLOWED never sees
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def record(dag_id, run_id, task_id, started, name="return_value", *, rows=100, inputs=None, uri=None, **kw):
    """A try's record whose one output is called ``name`` (with "email" its PII column)."""
    extra = {k: kw.pop(k) for k in ("fresh_within_s",) if k in kw}
    rec = make_record(dag_id, run_id, task_id, started=started, rows=rows, inputs=inputs, output_uri=uri, **kw)
    rec["outputs"][0]["name"] = name
    rec["outputs"][0].update(extra)
    return rec


def _records() -> list[dict]:
    records = [record("secret", "s1", "mirror", T0 + 30 * MINUTE, "fares_copy", uri=FARES)]
    for i in range(1, 5):
        run, t = f"r{i}", T0 + i * HOUR
        records.append(record("ingest", run, "write_fares", t, "fares", rows=100 + i, uri=FARES, fresh_within_s=3600))
        from_fares = [{"kind": "task", "task_id": "write_fares", "name": "fares"}]
        if i == 2:  # a retry: try 2 is the version
            records.append(record("ingest", run, "clean", t + 10 * MINUTE, "fares_clean", rows=50, inputs=from_fares, state="failed"))
            records.append(
                record("ingest", run, "clean", t + 12 * MINUTE, "fares_clean", rows=60, inputs=from_fares, try_number=2)
            )
        elif i == 4:  # failed without an output: clean's newest version stays run 3's
            failed = record("ingest", run, "clean", t + 10 * MINUTE, "fares_clean", inputs=from_fares, state="failed")
            failed["outputs"] = []
            records.append(failed)
        else:
            records.append(record("ingest", run, "clean", t + 10 * MINUTE, "fares_clean", rows=90 + i, inputs=from_fares))
    # A mapped task (parts summed into one version), and an Asset outlet.
    records += [record("ingest", "r1", "split", T0 + HOUR + 5 * MINUTE, "part", rows=10 * (m + 1), map_index=m) for m in range(2)]
    outlet = [{"kind": "asset", "direction": "output", "name": "daily", "uri": DAILY}]
    records.append(record("ingest", "r1", "publish", T0 + HOUR + 20 * MINUTE, "summary", inputs=outlet))
    reads = T0 + 90 * MINUTE
    records.append(record("report", "r1", "read_fares", reads, "report", inputs=[{"kind": "uri", "name": "fares", "uri": FARES}]))
    records.append(
        record("report", "r1", "read_daily", reads, "daily_report", inputs=[{"kind": "asset", "name": "daily", "uri": DAILY}])
    )
    records.append(record("secret", "s1", "peek", T0 + 5 * HOUR, "peeked", inputs=[{"kind": "uri", "name": "f", "uri": FARES}]))
    return records


@pytest.fixture
def sources(installed_store) -> queries.Sources:
    report = ingest_records(installed_store, _records())
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


def _never_names_hidden(result) -> None:
    assert not any(h in repr(result) for h in HIDDEN), result


# -- the output page ----------------------------------------------------------------------


def test_catalog_page_of_an_output(sources):
    page = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=ALLOWED)
    assert page is not None and page.n_versions == 4 and page.pages == 1
    assert [(v.run_id, v.rows) for v in page.versions] == [("r4", 104), ("r3", 103), ("r2", 102), ("r1", 101)]
    assert page.versions[0].code_hash and page.versions[0].state == "success"
    assert [c.name for c in page.columns] == ["id", "amount", "email", "city"]
    assert page.columns[1].mean is not None
    d = page.dataset
    assert (d.uri, d.latest_rows, d.pii_columns, d.fresh_within_s) == (FARES, 104, ["email"], 3600)
    assert d.tags == {"team": "data-eng", "stage": "raw"}
    assert d.stale_reason is None and page.flags == [] and d.open_flags == 0
    # Producers of the URI: this output; secret's mirror only counted.
    assert [(v.dag_id, v.task_id, v.run_id) for v in page.producers] == [("ingest", "write_fares", "r4")]
    assert page.hidden_producers == 1
    # Consumers across DAGs: clean in the same runs, report through the URI; secret's peek counted.
    assert {(t.dag_id, t.task_id, t.via) for t in page.consumer_tasks} == {
        ("ingest", "clean", "xcom"),
        ("report", "read_fares", "uri"),
    }
    assert {(c.dag_id, c.task_id, c.name) for c in page.consumers} == {
        ("ingest", "clean", "fares_clean"),
        ("report", "read_fares", "report"),
    }
    assert page.hidden_consumers == 1
    _never_names_hidden(page)
    everyone = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=None)
    assert ("secret", "peek", "uri") in {(t.dag_id, t.task_id, t.via) for t in everyone.consumer_tasks}
    assert everyone.hidden_consumers == 0 and everyone.hidden_producers == 0
    assert {v.dag_id for v in everyone.producers} == {"ingest", "secret"}


def test_catalog_versions_page_retries_and_mapped_parts(sources):
    second = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=ALLOWED, page=1, page_size=3)
    assert [v.run_id for v in second.versions] == ["r1"] and second.pages == 2
    clean = queries.catalog_output(sources, "ingest", "clean", "fares_clean", allowed=ALLOWED)
    assert [(v.run_id, v.rows, v.try_number) for v in clean.versions] == [("r3", 93, 1), ("r2", 60, 2), ("r1", 91, 1)]
    assert clean.n_versions == 3
    split = queries.catalog_output(sources, "ingest", "split", "part", allowed=ALLOWED)
    assert [(v.run_id, v.rows) for v in split.versions] == [("r1", 30)] and split.dataset.latest_rows == 30


def test_catalog_page_lists_the_flags_of_every_version(sources):
    versions = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=ALLOWED).versions
    r3 = next(v for v in versions if v.run_id == "r3")
    queries.flag_version(sources, r3.output_id, "fares doubled", "alice", editable={"ingest"})
    page = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=ALLOWED, page_size=1)
    assert [(f.run_id, f.note, f.flagged_by, f.reviewed_at) for f in page.flags] == [("r3", "fares doubled", "alice", None)]
    assert page.dataset.open_flags == 1 and [v.run_id for v in page.versions] == ["r4"]
    queries.review_version(sources, r3.output_id, "re-ingested", "bob", editable={"ingest"})
    page = queries.catalog_output(sources, "ingest", "write_fares", "fares", allowed=ALLOWED)
    assert page.dataset.open_flags == 0 and page.flags[0].reviewed_by == "bob"


def test_catalog_page_of_an_unreadable_or_unknown_output_is_none(sources):
    assert queries.catalog_output(sources, "secret", "mirror", "fares_copy", allowed=ALLOWED) is None
    assert queries.catalog_output(sources, "secret", "mirror", "fares_copy", allowed=None) is not None
    assert queries.catalog_output(sources, "ingest", "write_fares", "nope", allowed=ALLOWED) is None


def test_a_column_across_outputs(sources):
    email = queries.catalog_column(sources, "email", allowed=ALLOWED)
    assert {(u.dataset.dag_id, u.dataset.task_id, u.dataset.name) for u in email.outputs} == {
        ("ingest", "write_fares", "fares"),
        ("ingest", "clean", "fares_clean"),
        ("ingest", "split", "part"),
        ("ingest", "publish", "summary"),
        ("report", "read_fares", "report"),
        ("report", "read_daily", "daily_report"),
    }
    assert all(u.pii and u.column is not None and u.column.name == "email" for u in email.outputs)
    fares = next(u for u in email.outputs if u.dataset.name == "fares")
    assert fares.column.count == 104  # the newest version's statistics
    assert email.hidden == 2 and not email.truncated  # secret's mirror and peek, counted
    _never_names_hidden(email)
    assert queries.catalog_column(sources, "email", allowed=None).hidden == 0
    assert queries.catalog_column(sources, "no_such_column", allowed=None).outputs == []


def test_a_uri_page(sources):
    page = queries.catalog_uri(sources, FARES, allowed=ALLOWED)
    assert page is not None and not page.is_asset
    assert [(d.dag_id, d.task_id, d.name) for d in page.producers] == [("ingest", "write_fares", "fares")]
    assert [(t.dag_id, t.task_id, t.via) for t in page.consumers] == [("report", "read_fares", "uri")]
    assert (page.hidden_producers, page.hidden_consumers) == (1, 1)
    assert [v.run_id for v in page.versions] == ["r4", "r3", "r2", "r1"]
    _never_names_hidden(page)
    asset = queries.catalog_uri(sources, DAILY, allowed=ALLOWED)
    assert asset.is_asset and asset.producers == []
    assert [(t.dag_id, t.task_id, t.via) for t in asset.asset_producers] == [("ingest", "publish", "asset")]
    assert [(t.dag_id, t.task_id, t.via) for t in asset.consumers] == [("report", "read_daily", "asset")]
    assert queries.catalog_uri(sources, "s3://nowhere", allowed=None) is None


# -- recent, history, inspect -------------------------------------------------------------


def test_recent_history_and_inspect(sources):
    recent = queries.recent(sources, 3, allowed=ALLOWED)
    assert [(v.task_id, v.run_id) for v in recent] == [("write_fares", "r4"), ("clean", "r3"), ("write_fares", "r3")]
    assert queries.recent(sources, 1, allowed=None)[0].dag_id == "secret"
    history = queries.history(sources, "ingest", "clean", 10, allowed=ALLOWED)
    assert [(v.run_id, v.rows, v.try_number) for v in history] == [("r3", 93, 1), ("r2", 60, 2), ("r1", 91, 1)]
    assert queries.history(sources, "secret", "peek", 10, allowed=ALLOWED) == []
    whole = queries.inspect(sources, "ingest", "r1", "split", allowed=ALLOWED)
    assert [(o.name, o.rows) for o in whole] == [("part", 30)]
    assert {c.name for c in whole[0].columns} == {"id", "amount", "email", "city"}
    retried = queries.inspect(sources, "ingest", "r2", "clean", allowed=ALLOWED, output="fares_clean")
    assert [o.rows for o in retried] == [60]
    assert queries.inspect(sources, "ingest", "r2", "clean", allowed=ALLOWED, output="nope") == []
    assert queries.inspect(sources, "secret", "s1", "peek", allowed=ALLOWED) == []


# -- search -------------------------------------------------------------------------------


def test_search_ranks_exact_then_prefix_then_substring(sources):
    hits = queries.search(sources, "FARES", ALLOWED)
    assert [(h.kind, h.label) for h in hits] == [
        ("output", "fares"),
        ("output", "fares_clean"),
        ("task", "read_fares"),
        ("task", "write_fares"),
        ("uri", FARES),
    ]
    assert hits[0].page == "catalog/output"
    assert hits[0].url_params == {"dag_id": "ingest", "task_id": "write_fares", "name": "fares"}
    assert (hits[-1].page, hits[-1].url_params) == ("catalog/uri", {"uri": FARES})
    _never_names_hidden(hits)
    assert ("output", "fares_copy") in {(h.kind, h.label) for h in queries.search(sources, "fares", None)}


def test_search_kind_filter_and_one_hit_per_column_name(sources):
    uris = queries.search(sources, "fares", ALLOWED, kinds=["uri"])
    assert [(h.kind, h.label) for h in uris] == [("uri", FARES)]
    assert uris[0].detail == "in 2 DAGs"  # ingest writes it, report reads it
    email = queries.search(sources, "email", ALLOWED, kinds=["column"])
    assert [(h.label, h.page, h.url_params) for h in email] == [("email", "catalog/column", {"name": "email"})]
    assert email[0].detail == "6 places in 2 DAGs"
    tags = queries.search(sources, "stage", ALLOWED, kinds=["tag", "dag"])
    assert [(h.kind, h.label, h.url_params) for h in tags] == [("tag", "stage=raw", {"tag": "stage=raw"})]
    assert queries.search(sources, "fares", ALLOWED, kinds=["no_such_kind"]) == []
    assert queries.search(sources, "100%_", ALLOWED) == []


# -- tags ---------------------------------------------------------------------------------


def test_tags_by_key_and_by_key_value(sources):
    team = queries.by_tag(sources, "team", allowed=ALLOWED)
    assert {(h.kind, h.dag_id, h.task_id, h.value) for h in team} == {
        ("task", "ingest", t, "data-eng") for t in ("write_fares", "clean", "split", "publish")
    } | {("task", "report", t, "data-eng") for t in ("read_fares", "read_daily")}
    stage = queries.by_tag(sources, "stage", "raw", allowed=ALLOWED)
    assert {(h.kind, h.task_id, h.output_name) for h in stage} >= {("output", "write_fares", "fares")}
    assert all(h.source == "ddtrack" and h.key == "stage" and h.value == "raw" for h in stage)
    assert queries.by_tag(sources, "stage", "cooked", allowed=ALLOWED) == []
    assert queries.by_tag(sources, "STAGE", allowed=ALLOWED) == []  # keys are exact
    _never_names_hidden(team + stage)
    assert "secret" in {h.dag_id for h in queries.by_tag(sources, "team", allowed=None)}


def test_airflow_dag_tags(installed_store, metastore_url):
    """Tags of a real DAG, as Airflow's parser stores them in ``dag_tag``."""
    from dev_tools.airflow_versions import dag_bag

    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "catalog_tagged.py"
    if not target.exists():
        shutil.copy(Path(__file__).parent / "dags" / "catalog_tagged.py", target)
    run_in_process(dag_bag(str(target)).get_dag("catalog_tagged"), metastore_url, installed_store)
    sources = queries.Sources(store_url=installed_store, metastore_url=metastore_url)
    mine = {"catalog_tagged"}
    owner = queries.by_tag(sources, "owner", allowed=mine)
    assert [(h.kind, h.source, h.dag_id, h.task_id, h.value) for h in owner] == [
        ("dag", "airflow", "catalog_tagged", None, "ml"),
        ("task", "ddtrack", "catalog_tagged", "scores", "ml-platform"),
    ]
    assert [(h.kind, h.value) for h in queries.by_tag(sources, "tier", "gold", allowed=mine)] == [("dag", "gold")]
    assert [(h.kind, h.key, h.value) for h in queries.by_tag(sources, "pii", allowed=mine)] == [("dag", "pii", None)]
    assert queries.by_tag(sources, "pii", "yes", allowed=mine) == []
    assert queries.by_tag(sources, "owner", allowed={"some_other_dag"}) == []


# -- staleness and freshness --------------------------------------------------------------


def test_stale_outputs_with_their_reason(sources):
    stale = {(s.dag_id, s.task_id, s.name): s for s in queries.stale_outputs(sources, allowed=ALLOWED)}
    assert set(stale) == {("report", "read_fares", "report"), ("ingest", "clean", "fares_clean")}
    # Written by ingest in runs 2-4 after report read it; secret's earlier write was the one read.
    assert stale["report", "read_fares", "report"].reason == "fares.parquet changed 3 runs ago"
    assert stale["report", "read_fares", "report"].run_id == "r1"
    assert stale["ingest", "clean", "fares_clean"].reason == "ingest.write_fares.fares changed 1 run ago"
    assert stale["ingest", "clean", "fares_clean"].run_id == "r3"
    _never_names_hidden(list(stale.values()))
    assert [s.task_id for s in queries.stale_outputs(sources, allowed=ALLOWED, dag_id="report")] == ["read_fares"]
    assert queries.stale_outputs(sources, allowed=ALLOWED, dag_id="secret") == []
    page = queries.catalog_output(sources, "report", "read_fares", "report", allowed=ALLOWED)
    assert page.dataset.stale_reason == "fares.parquet changed 3 runs ago"
    assert queries.freshness_counts(sources, allowed=ALLOWED, now=T0 + 4 * HOUR) == {"ingest": (1, 0), "report": (1, 0)}


# -- stale counts kept by the background refresh (ddtrack.store.stale_counts) ------------


def _refresh(sources) -> int | None:
    from ddtrack.server.stale_refresh import refresh

    return refresh(sources.store_url)


def _kept(sources) -> dict[str, int]:
    """The stored counts a reader would trust (no mark left)."""
    with get_engine(sources.store_url).connect() as conn:
        return valid_counts(conn)


def _tamper(sources, n: int) -> None:
    """Overwrite every stored count, to see which ones the badge reads."""
    with get_engine(sources.store_url).begin() as conn:
        conn.execute(StaleCount.__table__.update().values(stale_outputs=n))


def _stale(sources, now, allowed=None) -> dict[str, int]:
    return {dag: c[0] for dag, c in queries.freshness_counts(sources, allowed=allowed, now=now).items()}


def test_the_refresh_keeps_the_counts_the_badge_would_work_out(sources):
    now = T0 + 4 * HOUR
    live = queries.freshness_counts(sources, allowed=None, now=now)
    assert _kept(sources) == {}  # nothing counted yet: worked out when asked
    assert _refresh(sources) == 3
    assert _kept(sources) == {"ingest": 1, "report": 1, "secret": 0}
    assert queries.freshness_counts(sources, allowed=None, now=now) == live
    assert _refresh(sources) == 0  # nothing changed since: nothing counted again
    _tamper(sources, 7)
    assert _stale(sources, now) == {"ingest": 7, "report": 7, "secret": 7}  # read, not worked out
    assert _stale(sources, now, allowed=ALLOWED) == {"ingest": 7, "report": 7}  # only readable DAGs
    assert queries.freshness_counts(sources, allowed=ALLOWED, now=now, dag_id="report") == {"report": (1, 0)}


def test_a_new_version_marks_its_dag_and_the_readers_of_what_it_wrote(sources):
    _refresh(sources)
    _tamper(sources, 9)
    read_again = [{"kind": "uri", "name": "fares", "uri": FARES}]
    ingest_records(sources.store_url, [record("report", "r2", "read_fares", T0 + 6 * HOUR, "report", inputs=read_again)])
    # report read fares after its last write: no longer stale, worked out; the others are kept.
    assert _stale(sources, T0 + 6 * HOUR) == {"ingest": 9, "secret": 9}
    ingest_records(sources.store_url, [record("ingest", "r5", "write_fares", T0 + 7 * HOUR, "fares", uri=FARES)])
    # ingest's clean, report's read and secret's peek all missed this write of fares.
    assert _stale(sources, T0 + 7 * HOUR) == {"ingest": 1, "report": 1, "secret": 1}
    assert _refresh(sources) == 3
    assert _kept(sources) == {"ingest": 1, "report": 1, "secret": 1}


def test_deleting_versions_marks_the_dags_they_decided(sources):
    from ddtrack.store.retention import delete_older_than

    _refresh(sources)
    _tamper(sources, 9)
    # Deletes secret's mirror (T0 + 30 min), which wrote fares: secret and fares' readers are marked.
    report = delete_older_than(sources.store_url, dt.datetime.now(dt.timezone.utc) - (T0 + 45 * MINUTE))
    assert report.total_tries == 1
    assert _stale(sources, T0 + 4 * HOUR) == {"ingest": 9, "report": 1}


def test_a_refresh_deletes_only_the_marks_it_read(sources):
    engine = get_engine(sources.store_url)
    with engine.connect() as conn:
        assert stale_counts.pending(conn, 1)[0] == ["ingest"]  # at most as many DAGs as asked
        dags, marks = stale_counts.pending(conn, 200)
    assert dags == ["ingest", "report", "secret"]
    # A version lands while the refresh counts: its mark is not among those read.
    ingest_records(sources.store_url, [record("report", "r2", "read_fares", T0 + 6 * HOUR, "report")])
    with engine.begin() as conn:
        stale_counts.store(conn, dags, {"ingest": 1, "report": 1}, marks)
    assert _kept(sources) == {"ingest": 1, "secret": 0}  # report's count is not trusted
    assert _refresh(sources) == 1
    assert _kept(sources) == {"ingest": 1, "report": 0, "secret": 0}


def test_overdue_outputs_within_their_window(sources):
    late = T0 + 6 * HOUR  # write_fares last succeeded at T0 + 4 h and wants a version each hour
    assert [(d.dag_id, d.task_id, d.name) for d in queries.overdue_outputs(sources, allowed=ALLOWED, now=late)] == [
        ("ingest", "write_fares", "fares")
    ]
    overdue = queries.overdue_outputs(sources, allowed=ALLOWED, now=late)[0]
    assert overdue.overdue and overdue.fresh_within_s == 3600
    assert queries.overdue_outputs(sources, allowed=ALLOWED, now=T0 + 4 * HOUR + 30 * MINUTE) == []
    assert queries.overdue_outputs(sources, allowed={"report"}, now=late) == []
    assert queries.freshness_counts(sources, allowed=ALLOWED, now=late)["ingest"] == (1, 1)
    assert queries.freshness_counts(sources, allowed=ALLOWED, now=late, dag_id="report") == {"report": (1, 0)}
    assert queries.freshness_counts(sources, allowed=ALLOWED, now=late, dag_id="secret") == {}
    assert [d.name for d in queries.overdue_outputs(sources, allowed=ALLOWED, now=late, dag_id="ingest")] == ["fares"]


def test_once_every_dag_is_counted_the_refresh_stops_looking_for_uncounted_ones(sources, monkeypatch):
    """DAGs stored before migration 0011 are counted once; after that only marks bring DAGs,
    so an idle pass no longer reads every DAG of ddtrack_dataset."""
    from ddtrack.server import stale_refresh

    asked = []
    pending = stale_counts.pending
    monkeypatch.setattr(stale_refresh, "_backfilled", set())
    monkeypatch.setattr(stale_counts, "pending", lambda conn, limit, uncounted=True: asked.append(uncounted) or pending(conn, limit, uncounted))
    assert _refresh(sources) == 3 and _refresh(sources) == 0 and _refresh(sources) == 0
    assert asked == [True, True, False]
    ingest_records(sources.store_url, [record("report", "r2", "read_fares", T0 + 6 * HOUR, "report")])
    assert _refresh(sources) == 1  # the mark still brings its DAG
    assert _kept(sources) == {"ingest": 1, "report": 0, "secret": 0}
