"""Pages bounded at any scale (issue 20, item 5) and three leaks of item 6.

On records ingested through the real ingest (``trace_data``: ingest_a -> model_b -> report_c)
into a SQLite store: a DAG page's badges ask about that DAG only; a flag of an id that is not
stored and of one in a DAG the user cannot read get one answer; the PII report's cap keeps
readable outputs. Through Airflow's real app (in process) with a user who may not read
``sales_consumer``: home's summary is kept per set of rights, and an error shows a plain
sentence while the log has its cause.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from records import make_record
from test_across_dags_views import SECRET, badges, hidden_consumer, partial, version  # noqa: F401 (fixtures)
from trace_data import chain_records

from ddtrack import queries
from ddtrack.queries.badges import across_badges, dag_badges, forget_summaries
from ddtrack.queries.flags import flag_version, review_version
from ddtrack.queries.pii import pii_report
from ddtrack.store import flags as store_flags
from ddtrack.store.engine import get_engine
from ddtrack.store.ingest import ingest_records
from ddtrack.store.schema import upgrade

A, B, C = "ingest_a", "model_b", "report_c"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('badges') / 'ddtrack.db'}"
    upgrade(url)
    report = ingest_records(url, chain_records())
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=url, metastore_url="")


@contextmanager
def statements(url: str):
    """Every statement sent to the store while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    engine = get_engine(url)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def newest(store, dag_id: str, task_id: str) -> queries.VersionRef:
    run = {A: "a_run_2", B: "model_run_2", C: "report_run_2"}[dag_id]
    found = queries.find_version(store, dag_id, run, task_id, allowed=None)
    assert found is not None
    return found


def test_a_dag_page_asks_about_its_dag_only(store):
    """The badges of report_c: no statement lists every DAG's newest versions, PII outputs or
    open flags (today's code ran freshness, the whole PII report and a walk per open flag)."""
    flag = flag_version(store, newest(store, A, "load").output_id, "bad fares", "ana", editable=None)
    try:
        with statements(store.store_url) as seen:
            found = dag_badges(store, C, allowed={A, C})
        assert found.failed == ()
        assert found.counts["suspect"] == 1  # report_c's newest version reads the flagged load's descendants
        assert found.counts["flagged"] == 0 and found.counts["pii"] == 0
        on_datasets = [s for s in seen if "FROM ddtrack_dataset" in s]
        one_dag = ("ddtrack_dataset.dag_id = ?", "ddtrack_dataset.dag_id IN (?)")  # one bound DAG id
        assert on_datasets and all(any(f in s for f in one_dag) for s in on_datasets), "\n\n".join(on_datasets)
        assert not [s for s in seen if "ORDER BY ddtrack_flag.flagged_at" in s]  # no listing of every open flag
        assert not [s for s in seen if "has_pii IS 1" in s and "dag_id = ?" not in s]  # no PII report
        # Home, for the same user, counts every readable DAG: the suspect versions downstream
        # of the flag in ingest_a and report_c (model_b's is not readable), and the PII output.
        forget_summaries()
        home = across_badges(store, allowed={A, C})
        assert (home.counts["suspect"], home.counts["flagged"], home.counts["pii"]) == (2, 1, 1)
        listed = queries.suspects(store, allowed={A, C})  # the suspects page: one walk per flag
        assert home.counts["suspect"] == len({s.version.output_id for s in listed})
        cleared = newest(store, C, "report")
        review_version(store, cleared.output_id, "checked", "ana", editable=None)
        forget_summaries()
        assert across_badges(store, allowed={A, C}).counts["suspect"] == 1  # cleared under that flag only
        assert dag_badges(store, C, allowed={A, C}).counts["suspect"] == 0
    finally:
        store_flags.close(store.store_url, flag.output_id, "done", "ana")
        forget_summaries()


def test_a_dag_whose_outputs_fill_the_node_cap_still_finds_its_suspects(store, monkeypatch):
    """The DAG's newest versions are the walk's roots: as many of them as one trace's node cap
    must still leave the walk room to reach the flag upstream (it found nothing before). A
    version flagged twice is one flagged version."""
    from ddtrack.queries import flags

    monkeypatch.setattr(flags, "MAX_NODES", 1)  # report_c's one output fills a cap of one
    load = newest(store, A, "load").output_id
    first = flag_version(store, load, "bad fares", "ana", editable=None)
    flag_version(store, load, "still bad", "bo", editable=None)
    try:
        found = dag_badges(store, C, allowed={A, C})
        assert found.counts["suspect"] == 1
        assert dag_badges(store, A, allowed={A, C}).counts["flagged"] == 1
    finally:
        store_flags.close(store.store_url, first.output_id, "done", "ana")
        forget_summaries()


def test_flag_answers_the_same_for_an_unknown_id_and_one_in_an_unreadable_dag(store):
    """A user who edits ingest_a only learns nothing from flagging ids: an id that is not
    stored and one of model_b get the same refusal (today: 'no output version' for one,
    'needs edit rights' for the other)."""
    hidden = newest(store, B, "features").output_id
    missing = 10_000_000 + hidden
    answers = []
    for output_id in (missing, hidden):
        for act in (flag_version, review_version):
            with pytest.raises((PermissionError, LookupError)) as caught:
                act(store, output_id, "x", "eve", editable={A})
            answers.append((type(caught.value), str(caught.value).replace(str(output_id), "N")))
    assert answers[0] == answers[2] and answers[1] == answers[3], answers
    assert all(kind is PermissionError for kind, _ in answers)
    assert not queries.flags_of(store, hidden, allowed=None)  # nothing was written
    with pytest.raises(LookupError):  # a trusted caller (the CLI) is told the id is unknown
        flag_version(store, missing, "x", "ana", editable=None)


def test_the_pii_cap_keeps_readable_outputs(tmp_path):
    """Ten PII outputs of a DAG the user cannot read sort before the user's own: a report cut
    at 3 outputs still names the user's PII output and what derives from it."""
    url = f"sqlite:///{tmp_path / 'pii.db'}"
    upgrade(url)
    records = [make_record("aaa_hidden", "run_1", f"load_{n:02d}") for n in range(10)]
    records.append(make_record("zzz_mine", "run_1", "load"))
    derived = make_record("zzz_mine", "run_1", "clean", inputs=[{"kind": "task", "task_id": "load", "name": "return_value"}])
    derived["outputs"][0]["profile"]["pii"] = []
    records.append(derived)
    assert ingest_records(url, records).failed == 0
    src = queries.Sources(store_url=url, metastore_url="")
    everything = pii_report(src, allowed=None)
    assert len(everything.pii_outputs) == 11  # every record of make_record declares PII
    report = pii_report(src, allowed={"zzz_mine"}, max_datasets=3)
    assert [(d.dag_id, d.task_id) for d in report.pii_outputs] == [("zzz_mine", "load")]
    assert [(d.dag_id, d.task_id) for d, _ in report.derived] == [("zzz_mine", "clean")]
    assert report.hidden == 10


# -- through Airflow's app -------------------------------------------------------------------


def test_home_summary_is_kept_per_set_of_rights(admin, partial, example_runs):  # noqa: F811
    """A flag in sales_consumer: the admin's home counts it, the partial user's never does,
    though the admin's summary was kept just before; a kept summary sends no counting query."""
    from ddtrack.views.context import sources

    target = version(example_runs, SECRET, "store_totals")
    forget_summaries()
    flag = flag_version(sources(), target.output_id, "wrong totals", "admin", editable=None)
    try:
        assert any("1 flagged version" in w for w in _texts(badges(admin, "")))
        assert not any("flagged" in w for w in _texts(badges(partial, "")))
        with statements(sources().store_url) as seen:
            again = _texts(badges(admin, ""))
        assert any("1 flagged version" in w for w in again)
        assert not [s for s in seen if "FROM ddtrack_dataset" in s or "ORDER BY ddtrack_flag.flagged_at" in s], seen
    finally:
        store_flags.close(sources().store_url, flag.output_id, "done", "admin")
        forget_summaries()
    assert not any("flagged" in w for w in _texts(badges(admin, "")))  # a review shows at once


def test_an_error_is_a_plain_sentence_and_the_log_has_its_cause(admin, example_runs, tmp_path, caplog):
    """A store without ddtrack's tables: the badges say which counts failed and the pages say
    what could not be done, with no SQL or driver text; the log has both."""
    from ddtrack.views.context import set_sources, sources

    real = sources()
    set_sources(queries.Sources(store_url=f"sqlite:///{tmp_path / 'empty.db'}", metastore_url=real.metastore_url))
    forget_summaries()
    try:
        with caplog.at_level(logging.WARNING, logger="ddtrack"):
            counted = " ".join(_texts(badges(admin, "")))
            page = " ".join(_texts(admin.page("catalog/output", "?dag_id=titanic&task_id=load_passengers&name=x")))
    finally:
        set_sources(real)
        forget_summaries()
    assert "could not be counted" in counted and "ddtrack could not" in page
    for shown in (counted, page):
        assert not re.search(r"no such table|SELECT|sqlite3|OperationalError", shown), shown
    assert "no such table" in caplog.text and "OperationalError" in caplog.text


def _texts(tree) -> list[str]:
    from dash_client import texts

    return texts(tree)
