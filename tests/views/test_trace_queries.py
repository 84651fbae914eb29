"""Trace, impact, path, PII and flag/review on records ingested through the real ingest
into each store backend (SQLite, PostgreSQL, MariaDB): three DAGs joined by a URI and an
Asset, a self-feeding URI chain and a cycle (``trace_data``)."""

from __future__ import annotations

import os

import pytest
from trace_data import FARES, FEATURES, LOOP_RUNS, chain_records, loop_records

from ddtrack import queries
from ddtrack.queries import (
    find_version,
    flag_version,
    flags_of,
    impact,
    path,
    pii_report,
    review_version,
    suspects,
    trace,
)
from ddtrack.store.ingest import ingest_records

A, B, C = "ingest_a", "model_b", "report_c"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)],
)
def sources(request, tmp_path_factory):
    """One store per backend for the module (the questions only read; the flag test, last,
    leaves no flag open), filled through the real ingest."""
    from dev_tools.airflow_local import create_mariadb_database, create_postgres_database, drop_database

    from ddtrack.store.engine import dispose_all
    from ddtrack.store.schema import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('trace') / 'ddtrack.db'}"
    else:
        make = create_postgres_database if request.param == "postgres" else create_mariadb_database
        try:
            url = make()
        except Exception as exc:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{request.param} is required in CI but unreachable: {exc}")
            pytest.skip(f"{request.param} unreachable: {exc}")
    upgrade(url)
    report = ingest_records(url, chain_records() + loop_records())
    assert report.failed == 0, report.errors
    yield queries.Sources(store_url=url, metastore_url="")
    dispose_all()
    if request.param != "sqlite":
        drop_database(url)


def version(sources, dag, run, task, allowed=None):
    found = find_version(sources, dag, run, task, allowed=allowed)
    assert found is not None, (dag, run, task)
    return found


def versions_of(result) -> set[tuple[str, str, str]]:
    return {(n.dag_id, n.run_id, n.task_id) for n in result.nodes if n.kind == "version"}


# -- trace -------------------------------------------------------------------------------------


def test_trace_crosses_two_dags_to_the_exact_versions_used(sources):
    first_report = version(sources, C, "report_run_1", "report")
    result = trace(sources, first_report.output_id, allowed=None)
    assert result.direction == "upstream" and result.root == f"version:{first_report.output_id}"
    # The first report run read the first run of everything upstream, not the newest.
    assert versions_of(result) == {
        (C, "report_run_1", "report"),
        (B, "model_run_1", "features"),
        (A, "a_run_1", "clean"),
        (A, "a_run_1", "load"),
    }
    external = [n for n in result.nodes if n.kind == "external"]
    assert [n.uri for n in external] == [FARES]
    tries = {n.id: n for n in result.nodes if n.kind == "try"}
    assert {(n.dag_id, n.task_id) for n in tries.values()} == {(C, "report"), (B, "features"), (A, "clean"), (A, "load")}
    assert all(n.code_hash and n.started_at for n in tries.values())
    by_id = {n.id: n for n in result.nodes}
    # Edges run producer -> consumer: the external file is read by load's try, whose output clean reads.
    load_try = next(n.id for n in tries.values() if n.task_id == "load")
    assert any(e.source == f"uri:{FARES}" and e.target == load_try and e.kind == "read" for e in result.edges)
    features = next(n for n in result.nodes if n.kind == "version" and n.task_id == "features")
    assert features.uri == FEATURES and features.depth == 1
    assert max(n.depth for n in result.nodes) == 4
    assert all(e.source in by_id and e.target in by_id for e in result.edges)
    assert not result.truncated and result.hidden == 0

    second = trace(sources, version(sources, C, "report_run_2", "report").output_id, allowed=None)
    assert (B, "model_run_2", "features") in versions_of(second)
    assert (A, "a_run_2", "load") in versions_of(second)
    assert not {r for _, r, _ in versions_of(second)} & {"a_run_1", "model_run_1"}


def test_trace_depth_limit_and_truncation(sources):
    newest = version(sources, "loop", f"loop_{LOOP_RUNS:02d}", "step")
    three = trace(sources, newest.output_id, allowed=None, depth=3)
    assert len([n for n in three.nodes if n.kind == "try"]) == 3
    assert three.truncated and three.depth == 3
    default = trace(sources, newest.output_id, allowed=None)
    assert len([n for n in default.nodes if n.kind == "try"]) == 10 and default.truncated
    whole = trace(sources, newest.output_id, allowed=None, depth=50)
    assert len([n for n in whole.nodes if n.kind == "try"]) == LOOP_RUNS and not whole.truncated
    # The first run read the URI before anything wrote it: an external input.
    assert [n.label for n in whole.nodes if n.kind == "external"] == ["file:///data/loop.parquet"]
    capped = trace(sources, newest.output_id, allowed=None, depth=50, max_nodes=7)
    assert len(capped.nodes) == 7 and capped.truncated


def test_a_cycle_in_recorded_data_ends(sources):
    x = version(sources, "loop", "cycle", "x")
    result = trace(sources, x.output_id, allowed=None, depth=50)
    assert sorted(n.task_id for n in result.nodes) == ["x", "x", "y", "y"]  # a version and a try each
    assert not result.truncated
    down = impact(sources, output_id=x.output_id, allowed=None, depth=50)
    assert sorted(n.task_id for n in down.nodes) == ["x", "x", "y", "y"]


def test_unknown_version(sources):
    with pytest.raises(LookupError, match="123456"):
        trace(sources, 123456, allowed=None)
    assert find_version(sources, A, "no_such_run", "load", allowed=None) is None


# -- impact ------------------------------------------------------------------------------------


def test_impact_of_a_version_reaches_only_the_runs_that_used_it(sources):
    first_load = version(sources, A, "a_run_1", "load")
    result = impact(sources, output_id=first_load.output_id, allowed=None)
    assert result.direction == "downstream"
    assert versions_of(result) == {
        (A, "a_run_1", "load"),
        (A, "a_run_1", "clean"),
        (B, "model_run_1", "features"),
        (B, "model_run_1", "train"),
        (C, "report_run_1", "report"),
    }
    assert all(e.kind in ("produced", "read") for e in result.edges)


def test_impact_from_a_task_a_uri_and_a_tag(sources):
    from_task = impact(sources, dag_id=A, task_id="load", allowed=None)  # its newest run
    assert (C, "report_run_2", "report") in versions_of(from_task)
    assert not {r for _, r, _ in versions_of(from_task)} & {"a_run_1", "model_run_1", "report_run_1"}

    from_uri = impact(sources, uri=FARES, allowed=None)
    assert from_uri.root == f"uri:{FARES}"
    assert {(C, "report_run_1", "report"), (C, "report_run_2", "report")} <= versions_of(from_uri)

    for tag in ("source=manifest", "source"):
        from_tag = impact(sources, tag=tag, allowed=None)
        assert (A, "a_run_2", "load") in versions_of(from_tag)
        assert (C, "report_run_2", "report") in versions_of(from_tag)
    with pytest.raises(queries.UnknownNode):
        impact(sources, tag="no_such_tag", allowed=None)
    with pytest.raises(queries.UnknownNode):
        impact(sources, dag_id=A, task_id="no_such_task", allowed=None)


def test_impact_depth(sources):
    first_load = version(sources, A, "a_run_1", "load")
    one = impact(sources, output_id=first_load.output_id, allowed=None, depth=1)
    assert versions_of(one) == {(A, "a_run_1", "load"), (A, "a_run_1", "clean")} and one.truncated
    # Cut exactly where the chain ends: nothing was left unread.
    three = impact(sources, output_id=first_load.output_id, allowed=None, depth=3)
    assert (C, "report_run_1", "report") in versions_of(three) and not three.truncated
    leaf = version(sources, C, "report_run_1", "report")
    assert not impact(sources, output_id=leaf.output_id, allowed=None, depth=0).truncated
    # The node cap cuts an impact walk too.
    capped = impact(sources, output_id=first_load.output_id, allowed=None, max_nodes=3)
    assert len(capped.nodes) == 3 and capped.truncated


# -- path --------------------------------------------------------------------------------------


def test_path_between_a_column_and_a_task_across_dags(sources):
    result = path(sources, "load.email", "report_c.report", allowed=None)
    assert result is not None and result.direction == "path"
    assert [n.label for n in result.nodes] == [
        "ingest_a.load.return_value",
        "ingest_a.clean",
        "ingest_a.clean.return_value",
        "model_b.features",
        "model_b.features.return_value",
        "report_c.report",
    ]
    assert [n.kind for n in result.nodes][:2] == ["dataset", "task"]
    assert result.nodes[0].pii
    assert [(e.source, e.target) for e in result.edges] == list(
        zip([n.id for n in result.nodes], [n.id for n in result.nodes][1:], strict=False)
    )
    # Asked the other way round, the same chain.
    reverse = path(sources, "report_c.report", "ingest_a.load.return_value.email", allowed=None)
    assert reverse is not None and [n.label for n in reverse.nodes] == [n.label for n in result.nodes]
    uri = path(sources, FARES, "model_b.train", allowed=None)
    assert uri is not None and uri.nodes[0].kind == "external" and uri.nodes[-1].label == "model_b.train"


def test_path_unknown_and_unconnected(sources):
    with pytest.raises(queries.UnknownNode, match="nothing.here"):
        path(sources, "nothing.here", "report_c.report", allowed=None)
    assert path(sources, "loop.step", "report_c.report", allowed=None) is None


# -- PII ---------------------------------------------------------------------------------------


def test_pii_outputs_and_what_derives_from_them_stop_at_pii_free(sources):
    report = pii_report(sources, allowed=None)
    assert [(d.dag_id, d.task_id, d.name) for d in report.pii_outputs] == [(A, "load", "return_value")]
    assert report.pii_outputs[0].pii_columns == ["email"]
    derived = {(d.dag_id, d.task_id): via for d, via in report.derived}
    assert derived == {
        (A, "clean"): ["ingest_a.load.return_value"],
        (B, "features"): ["ingest_a.load.return_value"],
        (C, "report"): ["ingest_a.load.return_value"],
    }  # model_b.train declared pii_free
    assert report.hidden == 0


# -- authorization -----------------------------------------------------------------------------


def test_a_partly_allowed_user_sees_hidden_nodes_counted_never_named(sources):
    allowed = {A, C}
    report_version = version(sources, C, "report_run_1", "report", allowed)
    up = trace(sources, report_version.output_id, allowed=allowed)
    assert up.hidden == 1  # model_b's features try and its version: one node
    hidden = [n for n in up.nodes if n.kind == "hidden"]
    assert [n.label for n in hidden] == ["a DAG you cannot read"]
    # What lies beyond the unreadable DAG is still found.
    assert {(A, "a_run_1", "clean"), (A, "a_run_1", "load")} <= versions_of(up)
    load = version(sources, A, "a_run_1", "load", allowed)
    down = impact(sources, output_id=load.output_id, allowed=allowed)
    pii = pii_report(sources, allowed=allowed)
    between = path(sources, "load.email", "report_c.report", allowed=allowed)
    assert between is not None and [n.kind for n in between.nodes].count("hidden") == 2
    for result in (up, down, pii, between):
        text = repr(result)
        for secret in (B, "model_run", "features", "train", FEATURES):
            assert secret not in text
    assert down.hidden >= 1 and pii.hidden == 1
    assert (C, "report") in {(d.dag_id, d.task_id) for d, _ in pii.derived}
    assert find_version(sources, B, "model_run_1", "features", allowed=allowed) is None
    with pytest.raises(LookupError):
        trace(sources, version(sources, B, "model_run_1", "features").output_id, allowed=allowed)
    with pytest.raises(queries.UnknownNode):
        path(sources, "model_b.features", "report_c.report", allowed=allowed)


def test_nothing_for_a_user_who_reads_nothing(sources):
    report = pii_report(sources, allowed=set())
    assert report.pii_outputs == [] and report.derived == []
    with pytest.raises(LookupError):
        trace(sources, version(sources, A, "a_run_1", "load").output_id, allowed=set())


# -- flag, suspects, review ----------------------------------------------------------------------


def test_flag_suspects_review(sources):
    load = version(sources, A, "a_run_1", "load")
    flag = flag_version(sources, load.output_id, "bad fares file", "ana", editable={A})
    assert (flag.flagged_by, flag.note, flag.reviewed_at) == ("ana", "bad fares file", None)
    assert flag.flagged_at is not None and (flag.dag_id, flag.run_id, flag.output_name) == (A, "a_run_1", "return_value")

    listed = suspects(sources, allowed=None)
    assert {(s.version.dag_id, s.version.run_id, s.version.task_id) for s in listed} == {
        (A, "a_run_1", "clean"),
        (B, "model_run_1", "features"),
        (B, "model_run_1", "train"),
        (C, "report_run_1", "report"),
    }
    assert all(s.flag.id == flag.id and not s.reviewed for s in listed)
    assert [s.hops for s in listed] == sorted(s.hops for s in listed)
    # The trace of a suspect marks it and the flagged version.
    report = version(sources, C, "report_run_1", "report")
    marked = {n.task_id for n in trace(sources, report.output_id, allowed=None).nodes if n.kind == "version" and n.suspect}
    assert marked == {"load", "clean", "features", "report"}

    # A reader may see the flags but not flag or review.
    with pytest.raises(PermissionError, match="edit rights"):
        review_version(sources, report.output_id, "fine", "vera", editable={A})
    with pytest.raises(PermissionError):
        flag_version(sources, load.output_id, "x", "vera", editable=set())

    cleared = review_version(sources, report.output_id, "checked by hand", "bob", editable={C}, allowed={C})
    assert cleared is not None and cleared.id == flag.id and cleared.reviewed_at is None  # the flag stays open
    # The flag is A's, which bob may not read: its id only, nothing of A named.
    assert (cleared.dag_id, cleared.task_id, cleared.run_id, cleared.note, cleared.flagged_by) == ("", "", "", "", "")
    left = {(s.version.dag_id, s.version.task_id) for s in suspects(sources, allowed=None)}
    assert (C, "report") not in left and (B, "features") in left
    # Only readable suspects, and the partly allowed user sees no hidden DAG's.
    assert {s.version.dag_id for s in suspects(sources, allowed={A, C})} == {A}

    assert review_version(sources, version(sources, "loop", "loop_01", "step").output_id, "n/a", "bob", editable=None) is None
    closed = review_version(sources, load.output_id, "file replaced", "ana", editable=None)
    assert closed is not None and (closed.reviewed_by, closed.review_note) == ("ana", "file replaced")
    assert suspects(sources, allowed=None) == []
    history = flags_of(sources, load.output_id, allowed={A})
    assert [(f.note, f.flagged_by, f.reviewed_by) for f in history] == [("bad fares file", "ana", "ana")]
    assert flags_of(sources, load.output_id, allowed={C}) == []
    with pytest.raises(LookupError):
        flag_version(sources, 999_999, "x", "ana", editable=None)


def test_resolve_inputs_names_the_versions_used(sources):
    report = version(sources, C, "report_run_1", "report")
    features = version(sources, B, "model_run_1", "features")
    load = version(sources, A, "a_run_1", "load")
    tries = _try_ids(sources, report, features, load)
    uses = queries.resolve_inputs(sources, tries.values(), allowed=None)
    assert [(u.kind, u.version.output_id) for u in uses[tries["report"]]] == [("uri", features.output_id)]
    assert [(u.kind, u.version and u.version.task_id) for u in uses[tries["features"]]] == [("asset", "clean")]
    assert [(u.uri, u.version, u.visible) for u in uses[tries["load"]]] == [(FARES, None, True)]  # external
    partial = queries.resolve_inputs(sources, tries.values(), allowed={A, C})
    assert tries["features"] not in partial
    [hidden] = partial[tries["report"]]
    assert hidden.version is None and not hidden.visible and B not in repr(partial)


def _try_ids(sources, *refs) -> dict[str, int]:
    from sqlalchemy import select

    from ddtrack.store.engine import get_engine
    from ddtrack.store.models import Output

    with get_engine(sources.store_url).connect() as conn:
        return {
            r.task_id: int(r.task_run_id)
            for r in conn.execute(
                select(Output.task_id, Output.task_run_id).where(Output.id.in_([ref.output_id for ref in refs]))
            )
        }
