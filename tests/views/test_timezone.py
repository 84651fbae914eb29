"""Every time a page shows follows the timezone the user picked in Airflow's UI (handed over
by the page's script as the ``ddtrack_tz`` cookie), else ``[core] default_timezone``, else UTC:
tables, the run's waterfall (axis and hover) and the task history's axis labels."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from zoneinfo import ZoneInfo

from dash_client import DashClient, find, texts

from ddtrack.views.common import TZ_COOKIE


def as_user_in(client, make_token, zone: str | None) -> DashClient:
    user = DashClient(client, make_token("admin", "admin"))
    if zone is not None:
        user.headers["Cookie"] = f"{TZ_COOKIE}={quote(zone, safe='')}"
    return user


def shown(value: dt.datetime, zone: str) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def waterfall(page) -> dict:
    return find(page, lambda n: n["props"].get("id") == "run-waterfall")[0]["props"]["figure"]


def test_run_page_times_follow_the_picked_timezone(client, make_token, example_runs):
    run = example_runs["titanic"][-1]
    search = f"?dag_id=titanic&run_id={quote(run.run_id)}"
    tokyo = as_user_in(client, make_token, "Asia/Tokyo").page("run", search)
    started = shown(run.start_date, "Asia/Tokyo")
    assert started.endswith(" JST")
    assert f" · started {started}" in texts(tokyo)
    figure = waterfall(tokyo)
    assert figure["layout"]["xaxis"]["title"]["text"].endswith(" JST)")  # the first task's start
    assert all(" JST" in h and " UTC" not in h for h in figure["data"][0]["hovertext"])
    assert not [t for t in texts(tokyo) if t.endswith(" UTC")]
    paris = as_user_in(client, make_token, "America/New_York").page("run", search)
    assert f" · started {shown(run.start_date, 'America/New_York')}" in texts(paris)


def test_without_a_pick_the_configured_default_applies(client, make_token, example_runs, monkeypatch):
    run = example_runs["titanic"][-1]
    search = f"?dag_id=titanic&run_id={quote(run.run_id)}"
    assert f" · started {shown(run.start_date, 'UTC')}" in texts(as_user_in(client, make_token, None).page("run", search))
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Europe/Paris")
    expected = f" · started {shown(run.start_date, 'Europe/Paris')}"
    assert expected in texts(as_user_in(client, make_token, None).page("run", search))
    # A value no browser sets (or an unknown zone) falls back the same way.
    for odd in ("Not/AZone", "../../etc/passwd", "x" * 500):
        assert expected in texts(as_user_in(client, make_token, odd).page("run", search))


def history_labels(client, make_token, zone: str) -> list[str]:
    page = as_user_in(client, make_token, zone).page("task", "?dag_id=titanic&task_id=features")
    figures = [n["props"]["figure"] for n in find(page, lambda n: n["type"] == "Graph" and "figure" in n["props"])]
    return [x for f in figures for trace in f["data"] for x in trace.get("x", []) if isinstance(x, str) and x[:2].isdigit()]


def test_task_history_axis_follows_the_picked_timezone(client, make_token, example_runs):
    utc, kolkata = history_labels(client, make_token, "UTC"), history_labels(client, make_token, "Asia/Kolkata")
    assert utc and len(utc) == len(kolkata)
    for a, b in zip(utc, kolkata, strict=True):
        ta, tb = (dt.datetime.strptime(x[:14], "%m-%d %H:%M:%S") for x in (a, b))
        assert tb - ta == dt.timedelta(hours=5, minutes=30), (a, b)


def test_catalog_versions_chart_follows_the_picked_timezone(client, make_token, example_runs):
    def xs(zone: str) -> list[str]:
        page = as_user_in(client, make_token, zone).page(
            "catalog/output", "?dag_id=titanic&task_id=load_passengers&name=return_value"
        )
        chart = find(page, lambda n: n["props"].get("id") == "catalog-versions-graph")[0]["props"]["figure"]
        return chart["data"][0]["x"]

    utc, kolkata = xs("UTC"), xs("Asia/Kolkata")
    assert utc and len(utc) == len(kolkata)
    for a, b in zip(utc, kolkata, strict=True):
        assert dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a) == dt.timedelta(hours=5, minutes=30), (a, b)
