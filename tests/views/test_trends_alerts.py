"""Trends, drift heatmap, alerts, checks, badges, needs attention and pinning a baseline.

Query tests ingest records of a task whose data drifts on purpose (``across_runs_data``)
into each store backend; view tests go through Airflow's own FastAPI app with tokens of
the configured SimpleAuthManager (admin edits every DAG, a viewer only reads).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from across_runs_data import CHECKS, DRIFTED_RUN, STABLE_RUNS, drifting_records
from dash_client import DashClient, error_cards, find, texts
from test_views import restricted_probe  # noqa: F401 - the fixture: html_probe readable by team "secret" only

from ddtrack import queries
from ddtrack.queries import alerts, baseline, trends
from ddtrack.store.ingest import ingest_records

DAG, OTHER = "drifting", "secret_dag"
ALL_RUNS = STABLE_RUNS + 1


@pytest.fixture
def sources(installed_store) -> queries.Sources:
    report = ingest_records(installed_store, drifting_records(DAG) + drifting_records(OTHER, "hidden_task"))
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


# -- trends ---------------------------------------------------------------------------------


def test_column_trend_plots_one_column_with_its_marks(sources):
    trend = trends.column_trend(sources, {DAG}, DAG, "load", "return_value", "amount")
    points = trend.points
    assert [p.run_id for p in points] == [f"run_{i:02d}" for i in range(1, ALL_RUNS + 1)]  # oldest first
    assert all(p.rows == 1000 for p in points)
    assert all(p.p5 < p.p50 < p.p95 and p.min <= p.p5 and p.p95 <= p.max for p in points)
    assert [p.run_id for p in points if p.code_changed] == ["run_08"]
    assert [p.run_id for p in points if p.schema_changed] == ["run_10"]  # email dropped
    assert [p.run_id for p in points if p.drifted] == [DRIFTED_RUN]
    assert points[-1].anomalies == ["mean"] and not any(p.anomalies for p in points[:-1])
    assert 9.5 < points[0].mean < 10.5 and 15.5 < points[-1].mean < 16.5
    band = trend.bands["mean"]
    assert band is not None and band.low < 10 < band.high < points[-1].mean
    assert trend.bands["rows"].low <= 1000 <= trend.bands["rows"].high


def test_column_trend_is_per_output_column_not_blended(sources):
    """Another column of the same output has its own values (no averaging across columns)."""
    city = trends.column_trend(sources, {DAG}, DAG, "load", "return_value", "city")
    assert all(p.mean is None and p.p50 is None for p in city.points)
    assert [p.distinct for p in city.points] == [3] * STABLE_RUNS + [4]
    email = trends.column_trend(sources, {DAG}, DAG, "load", "return_value", "email")
    assert [p.null_pct is None for p in email.points] == [False] * 9 + [True] * 4  # gone from run 10


def test_column_trend_is_bounded_and_newest(sources):
    trend = trends.column_trend(sources, {DAG}, DAG, "load", "return_value", "amount", limit=3)
    assert [p.run_id for p in trend.points] == ["run_11", "run_12", DRIFTED_RUN]
    assert all(b is None for b in trend.bands.values())  # 3 runs: below the minimum history


def test_trend_choices_are_the_newest_columns(sources):
    assert trends.trend_choices(sources, {DAG}, DAG, "load") == {"return_value": ["a_code", "id", "amount", "city"]}


def test_trends_of_an_unreadable_dag_are_empty(sources):
    assert trends.column_trend(sources, {DAG}, OTHER, "hidden_task", "return_value", "amount") is None
    assert trends.trend_choices(sources, {DAG}, OTHER, "hidden_task") == {}
    assert trends.drift_heatmap(sources, {DAG}, OTHER, "hidden_task").cells == []
    assert trends.run_drift(sources, {DAG}, OTHER, DRIFTED_RUN) is None


def test_drift_heatmap_puts_drifted_columns_first(sources):
    heatmap = trends.drift_heatmap(sources, None, DAG, "load", runs=5)
    assert [r.run_id for r in heatmap.runs] == ["run_09", "run_10", "run_11", "run_12", DRIFTED_RUN]
    assert heatmap.cells[:2] == [("return_value", "amount"), ("return_value", "city")]  # most drifted first
    for i, (_, column) in enumerate(heatmap.cells):
        if column != "email":
            assert heatmap.drifted[i] == [False] * 4 + [column in ("amount", "city")]
    email = heatmap.cells.index(("return_value", "email"))
    assert heatmap.drifted[email] == [False, None, None, None, None]  # not compared once gone
    assert heatmap.psi[0][-1] > 0.2 and "PSI" in heatmap.reasons[0][-1]


def test_run_drift_stored_and_against_a_chosen_baseline(sources):
    stored = {r["column"]: r for r in trends.run_drift(sources, {DAG}, DAG, DRIFTED_RUN)}
    assert {c for c, r in stored.items() if r["drifted"]} == {"amount", "city"}
    assert stored["amount"]["baseline_run_id"] == "run_12" and stored["amount"]["psi"] > 0.2
    assert stored["city"]["new_categories"] == ["Rome"]
    against_first = {r["column"]: r for r in trends.run_drift(sources, {DAG}, DAG, DRIFTED_RUN, "run_01")}
    assert against_first["amount"]["drifted"] and against_first["amount"]["baseline_run_id"] == "run_01"
    assert "email" not in against_first  # not in the drifted run
    assert not any(r["drifted"] for r in trends.run_drift(sources, {DAG}, DAG, "run_05", "run_01"))
    assert trends.run_drift(sources, {DAG}, DAG, "no_such_run") is None
    assert trends.run_drift(sources, {DAG}, DAG, DRIFTED_RUN, "no_such_run") is None


# -- alerts, checks, badges, needs attention ------------------------------------------------


def test_alerts_list_drift_anomalies_and_checks_of_readable_dags_only(sources):
    found = alerts.alerts(sources, {DAG})
    assert found and {a["dag_id"] for a in found} == {DAG}
    assert "hidden_task" not in json.dumps(found, default=str) and OTHER not in json.dumps(found, default=str)
    drift = [a for a in found if a["kind"] == "drift"]
    assert {a["column"] for a in drift} == {"amount", "city"} and all(a["status"] == "warn" for a in drift)
    anomalies = [a for a in found if a["kind"] == "anomaly"]
    assert {(a["column"], a["metric"]) for a in anomalies} == {("amount", "mean"), ("city", "distinct")}
    assert all(a["anomaly"] for a in anomalies)
    failed = [a for a in found if a["kind"] == "check" and a["status"] == "fail"]
    assert [(a["run_id"], a["column"], a["metric"]) for a in failed] == [(DRIFTED_RUN, "city", "values_in")]
    assert "'Rome'" in failed[0]["detail"]
    unevaluated = [a for a in found if a.get("check_status") == "error"]
    assert len(unevaluated) == ALL_RUNS and all(a["status"] == "warn" for a in unevaluated)
    started = [a["started_at"] for a in found]
    assert started == sorted(started, reverse=True)
    assert {a["dag_id"] for a in alerts.alerts(sources, None)} == {DAG, OTHER}
    assert alerts.alerts(sources, set()) == []
    assert alerts.alerts(sources, {DAG}, dag_id=OTHER) == []


def test_alerts_since_and_limit(sources):
    newest = alerts.alerts(sources, {DAG}, since="2026-03-01T18:30")  # only the drifted run
    assert newest and {a["run_id"] for a in newest} == {DRIFTED_RUN}
    assert len(alerts.alerts(sources, {DAG}, limit=2)) == 2
    with pytest.raises(ValueError, match="not a time"):
        alerts.alerts(sources, {DAG}, since="yesterday-ish")


def test_checks_of_a_try_include_passes_and_unevaluated(sources):
    results = alerts.checks_of(sources, {DAG}, DAG, DRIFTED_RUN, "load")
    assert len(results) == len(CHECKS)
    by_check = {r["check"]: r for r in results}
    assert by_check["rows_between"]["status"] == "pass"
    assert by_check["values_in"]["status"] == "fail" and by_check["values_in"]["column"] == "city"
    assert by_check["min_max"]["status"] == "error" and "no_such_column" in by_check["min_max"]["message"]
    assert len(alerts.checks_of(sources, {DAG}, DAG)) == len(CHECKS) * ALL_RUNS
    assert alerts.checks_of(sources, {DAG}, OTHER) == []


def test_badge_counts_and_attention_are_filtered(sources):
    since = "2026-01-01"
    counts = alerts.alert_counts(sources, {DAG}, since=since)
    assert counts == {DAG: {"drift": 2, "anomaly": 2, "fail": 1, "warn": ALL_RUNS}}
    assert set(alerts.alert_counts(sources, None, since=since)) == {DAG, OTHER}
    assert alerts.alert_counts(sources, {DAG}, [OTHER], since=since) == {}
    assert alerts.alert_counts(sources, {DAG}) == {}  # nothing in the last 7 days
    groups = alerts.attention(sources, {DAG}, since=since)
    assert [(g["dag_id"], g["task_id"]) for g in groups] == [(DAG, "load")]
    assert groups[0]["run_id"] == DRIFTED_RUN and groups[0]["fail"] == 1 and len(groups[0]["alerts"]) == 5
    assert OTHER not in json.dumps(groups, default=str)


# -- pinning a baseline ---------------------------------------------------------------------


def test_pin_needs_edit_rights_and_changes_the_next_drift(sources):
    with pytest.raises(PermissionError, match="edit rights"):
        baseline.pin_baseline(sources, {OTHER}, DAG, "load", "run_01", by="reader")
    with pytest.raises(PermissionError):
        baseline.unpin_baseline(sources, set(), DAG, "load")
    assert baseline.pins_of(sources, None, DAG, "load") == []
    baseline.pin_baseline(sources, {DAG}, DAG, "load", "run_01", by="editor")
    assert [(p["run_id"], p["pinned_by"]) for p in baseline.pins_of(sources, {DAG}, DAG, "load")] == [("run_01", "editor")]
    assert baseline.pins_of(sources, {OTHER}, DAG, "load") == []
    later = drifting_records(DAG, t0=dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc))[4]
    later["run_id"] = "run_after_pin"
    assert ingest_records(sources.store_url, [later]).failed == 0
    rows = trends.run_drift(sources, {DAG}, DAG, "run_after_pin")
    assert rows and {r["baseline_run_id"] for r in rows} == {"run_01"}
    assert baseline.unpin_baseline(sources, {DAG}, DAG, "load") is True
    with pytest.raises(LookupError):
        baseline.pin_baseline(sources, {DAG}, DAG, "load", "no_such_run")


# -- the views, through Airflow's FastAPI app ---------------------------------------------------

VIEW_DAG, VIEW_TASK = "quality_check", "drift_probe"  # a DAG the metastore knows; a task of records only
SECRET_DAG, SECRET_TASK = "html_probe", "secret_drift_probe"  # restricted to team "secret" by restricted_probe


@pytest.fixture(scope="module")
def drifting_in_airflow(example_runs, metastore_url):
    """The drifting task's runs, ending an hour ago, in the session's store."""
    t0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=ALL_RUNS + 1)
    records = drifting_records(VIEW_DAG, VIEW_TASK, t0=t0)
    records += drifting_records(SECRET_DAG, SECRET_TASK, t0=t0 - dt.timedelta(minutes=30))
    for r in records:
        r["run_id"] = "probe_" + r["run_id"]
    assert ingest_records(metastore_url, records).failed == 0
    return records


def _graph(tree, ident: str) -> dict:
    return find(tree, lambda n: n["props"].get("id") == ident)[0]["props"]["figure"]


def test_task_page_trend_heatmap_and_checks(admin, drifting_in_airflow):
    page = admin.page("task", f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}&output=return_value&column=amount")
    assert not error_cards(page)
    trend = _graph(page, "task-trend-graph")
    means = next(t for t in trend["data"] if t["name"] == "mean")
    assert len(means["y"]) == ALL_RUNS and means["y"][-1] > 15
    assert means["marker"]["color"][-1] == "#dc2626"  # the anomaly, marked
    assert any(s["type"] == "rect" and s["yref"] == "y4" for s in trend["layout"]["shapes"])  # the mean's band
    labels = [a["text"] for a in trend["layout"]["annotations"]]
    assert "code changed" in labels and "schema changed" in labels
    assert {"p5", "p95", "p50", "min", "max"} <= {t["name"] for t in trend["data"]}
    heatmap = _graph(page, "task-drift-heatmap")["data"][0]
    assert heatmap["type"] == "heatmap" and heatmap["y"][-1] == "amount\u2009"  # the most drifted on top
    assert heatmap["text"][-1][-1] == "●" and heatmap["text"][-1][:-1] == [""] * (len(heatmap["x"]) - 1)
    words = texts(page)
    assert "1 fail" in words and "1 not evaluated" in words  # checks of the drifted try, in the history
    assert "Pin as baseline" in words


def _callback_output(client, input_id: str) -> str:
    """The output key Dash gave the callback fed by ``input_id`` (``url.search@<hash>`` for a
    second callback writing the URL)."""
    deps = client.get("/ddtrack/_dash-dependencies", headers=ADMIN_HEADERS[0]).json()
    return next(d["output"] for d in deps if any(i["id"] == input_id for i in d["inputs"]))


ADMIN_HEADERS: list[dict] = []


def test_trend_picker_puts_output_and_column_in_the_url(client, admin, drifting_in_airflow):
    ADMIN_HEADERS[:] = [admin.headers]
    output = _callback_output(client, "task-trend-output")
    ids = {"id": "task-trend-ids", "property": "data", "value": {"dag_id": VIEW_DAG, "task_id": VIEW_TASK, "n": 50}}

    def choose(changed: str, column: str) -> str:
        body = {
            "output": output,
            "outputs": {"id": "url", "property": "search"},
            "inputs": [{"id": "task-trend-output", "property": "value", "value": "return_value"},
                       {"id": "task-trend-column", "property": "value", "value": column}],
            "state": [ids],
            "changedPropIds": [f"{changed}.value"],
        }
        resp = client.post("/ddtrack/_dash-update-component", json=body, headers=admin.headers)
        assert resp.status_code == 200, resp.text
        return resp.json()["response"]["url"]["search"]

    assert choose("task-trend-column", "city") == (
        f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}&n=50&output=return_value&column=city"
    )
    assert choose("task-trend-output", "city") == f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}&n=50&output=return_value"
    page = admin.page("task", f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}&output=return_value&column=city")
    distinct = next(t for t in _graph(page, "task-trend-graph")["data"] if t["name"] == "distinct")
    assert distinct["y"] == [3] * STABLE_RUNS + [4]


def test_instance_page_has_checks_and_badges(admin, drifting_in_airflow):
    page = admin.page("ti", f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}&run_id=probe_{DRIFTED_RUN}")
    assert not error_cards(page)
    words = texts(page)
    assert "2 drifted columns" in words and "2 anomalies" in words
    checks = find(page, lambda n: n["props"].get("id") == "ti-checks")[0]
    statuses = [n["props"]["children"] for n in find(checks, lambda n: "dd-badge-" in str(n["props"].get("className")))]
    assert "fail" in statuses and "not evaluated" in statuses and "pass" in statuses
    assert any("'Rome'" in w for w in texts(checks))


def test_dag_page_and_home_show_badges_and_attention(admin, drifting_in_airflow):
    dag = admin.page("dag", f"?dag_id={VIEW_DAG}")
    assert "2 drifted columns" in texts(find(dag, lambda n: n["props"].get("id") == "dag-alerts"))
    home = admin.page("")
    row = find(home, lambda n: n["props"].get("data-dag-id") == VIEW_DAG)[0]
    assert "1 failed check" in texts(row)
    panel = find(home, lambda n: n["props"].get("id") == "home-attention")[0]
    # Other tests of the session may have run DAGs with alerts of their own: look for ours.
    groups = {g["props"]["data-attention-dag-id"]: g for g in find(panel, lambda n: "data-attention-dag-id" in n["props"])}
    assert f"{VIEW_DAG} · {VIEW_TASK}" in texts(groups[VIEW_DAG])


@pytest.mark.usefixtures("restricted_probe")
def test_alerts_of_a_dag_the_user_cannot_read_stay_hidden(client, make_token, drifting_in_airflow):
    """html_probe belongs to team "secret": otto (another team) reads quality_check but not
    html_probe, and none of html_probe's alerts reach him; sam (team secret) sees both."""
    sam = DashClient(client, make_token("sam", "viewer", ["secret"]))
    otto = DashClient(client, make_token("otto", "viewer", ["analytics"]))

    def attention_dags(user: DashClient) -> list[str]:
        panel = find(user.page(""), lambda n: n["props"].get("id") == "home-attention")
        return [g["props"]["data-attention-dag-id"] for g in find(panel, lambda n: "data-attention-dag-id" in n["props"])]

    assert {VIEW_DAG, SECRET_DAG} <= set(attention_dags(sam))
    # Other tests of the session may have added DAGs with alerts otto may read; html_probe is never among them.
    assert VIEW_DAG in attention_dags(otto) and SECRET_DAG not in attention_dags(otto)
    assert SECRET_TASK not in json.dumps(otto.page("")) and SECRET_TASK not in json.dumps(otto.page("dag", f"?dag_id={SECRET_DAG}"))
    assert SECRET_TASK not in json.dumps(otto.page("task", f"?dag_id={SECRET_DAG}&task_id={SECRET_TASK}"))
    outsider = DashClient(client, make_token("olga", None))
    assert VIEW_TASK not in json.dumps(outsider.page("")) and SECRET_TASK not in json.dumps(outsider.page(""))


def _pin(user: DashClient, run_id: str):
    return user.callback(
        "task-pin-result.children",
        {"id": "task-pin-result", "property": "children"},
        [{"id": "task-pin-button", "property": "n_clicks", "value": 1},
         {"id": "task-unpin-button", "property": "n_clicks", "value": 0}],
        [{"id": "task-pin-run", "property": "value", "value": run_id},
         {"id": "task-trend-ids", "property": "data", "value": {"dag_id": VIEW_DAG, "task_id": VIEW_TASK, "n": 50}}],
    )


def test_a_reader_cannot_pin_even_by_forging_the_callback(viewer, metastore_url, drifting_in_airflow):
    page = viewer.page("task", f"?dag_id={VIEW_DAG}&task_id={VIEW_TASK}")
    assert "Only users who may edit this DAG can pin a baseline." in texts(page)
    assert not find(page, lambda n: n["props"].get("id") == "task-pin-button")
    resp = _pin(viewer, "probe_run_01")
    assert resp.status_code == 200, resp.text
    answer = json.dumps(resp.json())
    assert "Refused" in answer and "edit rights" in answer
    assert baseline.pins_of(queries.Sources(metastore_url, ""), None, VIEW_DAG, VIEW_TASK) == []


def test_an_editor_pins_and_unpins(admin, metastore_url, drifting_in_airflow):
    sources = queries.Sources(metastore_url, "")
    resp = _pin(admin, "probe_run_01")
    assert resp.status_code == 200 and "now the baseline" in resp.text
    try:
        assert [p["run_id"] for p in baseline.pins_of(sources, None, VIEW_DAG, VIEW_TASK)] == ["probe_run_01"]
        assert [p["pinned_by"] for p in baseline.pins_of(sources, None, VIEW_DAG, VIEW_TASK)] == ["admin"]
    finally:
        baseline.unpin_baseline(sources, None, VIEW_DAG, VIEW_TASK)


def test_column_names_and_reasons_are_text_in_the_figures():
    from ddtrack.views import figures

    name = "<b>bold</b>"
    heatmap = trends.DriftHeatmap(
        "d", "t", [trends.HeatmapRun("<i>run</i>", dt.datetime(2026, 1, 1), -1, 1)], [("out", name)],
        [[0.5]], [[True]], [["new categories: '<img src=x>'"]], 1,
    )
    trace = figures.drift_heatmap(heatmap)["data"][0]
    assert trace["y"] == ["&lt;b&gt;bold&lt;/b&gt;\u2009"]
    hover = json.dumps(trace["hovertext"])
    assert "<img" not in hover and "<i>run" not in hover and "<b>bold" not in hover and "&lt;b&gt;bold" in hover
