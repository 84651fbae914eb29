"""The run page of a 1,000-instance fan-out stays bounded: the waterfall and the table are
grouped by task (one bar, one row, with the instances' count, states and durations), and a
task's instances open a page at a time. The run is real ddtrack records, ingested."""

from __future__ import annotations

import datetime as dt
import json

import plotly
import pytest
from dash_client import find, texts
from records import changed, make_record

from ddtrack import queries
from ddtrack.store.ingest import ingest_records
from ddtrack.views.context import PageContext
from ddtrack.views.pages import run

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
FAN_OUT = 1000


def tree(component) -> dict:
    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


@pytest.fixture(scope="module")
def fanout(tmp_path_factory) -> PageContext:
    """One run: ``extract``, then ``fan`` mapped 1,000 times (every 100th failed, durations
    1-10 s), then ``combine``. Ingested once (SQLite; the grouping is the same on every backend)."""
    from ddtrack.store.engine import dispose_all
    from ddtrack.store.schema import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('fanout') / 'ddtrack.db'}"
    upgrade(url)
    records = [make_record("fanout", "run_1", "extract", rows=5, started=T0)]
    one = {state: make_record("fanout", "run_1", "fan", rows=5, state=state) for state in ("success", "failed")}
    for i in range(FAN_OUT):
        started, duration = T0 + dt.timedelta(seconds=5 + i // 10), 1 + i % 10
        record = one["failed" if i % 100 == 7 else "success"]
        records.append(changed(record, map_index=i, started_at=started.isoformat(), duration_s=duration,
                               ended_at=(started + dt.timedelta(seconds=duration)).isoformat()))
    records.append(make_record("fanout", "run_1", "combine", rows=5, started=T0 + dt.timedelta(minutes=5)))
    report = ingest_records(url, records)
    assert report.failed == 0, report.errors
    yield PageContext(queries.Sources(store_url=url, metastore_url=""), {"fanout"})
    dispose_all()


def rows_of(page: dict, card_id: str) -> list[dict]:
    (section,) = find(page, lambda n: n["props"].get("id") == card_id)
    return find(section, lambda n: n["type"] == "Tr")[1:]  # the header row aside


def test_a_fan_out_is_one_bar_and_one_row(fanout):
    page = tree(run.layout(fanout, {"dag_id": "fanout", "run_id": "run_1"}))
    (graph,) = find(page, lambda n: n["props"].get("id") == "run-waterfall")
    (bars,) = graph["props"]["figure"]["data"]
    assert [y.strip("\u2009") for y in bars["y"]] == ["combine", "fan ×1,000", "extract"]
    fan = bars["hovertext"][1]
    assert "1,000 instances" in fan and "990 success, 10 failed" in fan and "1.0 s to 10.0 s each" in fan
    assert bars["marker"]["color"][1] == "#dc2626"  # failed instances colour the task's bar
    table = rows_of(page, "run-tasks")
    assert len(table) == 3
    assert " 1,000 instances ▸" in texts(table[1]) and "1.0 s – 10.0 s" in texts(table[1])
    assert "return_value (5,000 rows)" in texts(table[1])  # rows summed over the instances
    assert not find(page, lambda n: n["props"].get("id") == "run-instances")
    # The whole page, as the browser receives it, is a few tens of KB, not one entry per instance.
    assert len(json.dumps(page)) < 40_000


def test_a_tasks_instances_open_a_page_at_a_time(fanout):
    page = tree(run.layout(fanout, {"dag_id": "fanout", "run_id": "run_1", "task": "fan", "ipage": "3"}))
    rows = rows_of(page, "run-instances")
    assert [texts(r)[0] for r in rows] == [f"[{i}]" for i in range(100, 150)]
    words = texts(page)
    assert "Instances 101–150 of 1,000" in words and " 1,000 instances ▾" in words
    links = {n["props"]["href"] for n in find(page, lambda n: n["type"] == "Link")}
    assert any("ipage=2" in h and "task=fan" in h for h in links) and any("ipage=4" in h for h in links)
    assert any("map_index=all" in h and "task_id=fan" in h for h in links)
    assert len(json.dumps(page)) < 80_000
    last = tree(run.layout(fanout, {"dag_id": "fanout", "run_id": "run_1", "task": "fan", "ipage": "99"}))
    assert [texts(r)[0] for r in rows_of(last, "run-instances")] == [f"[{i}]" for i in range(950, 1000)]


def test_many_tasks_page_through_waterfall_and_table(installed_store, monkeypatch):
    records = [
        make_record("wide", "run_1", f"t{i:03d}", rows=5, started=T0 + dt.timedelta(seconds=i)) for i in range(25)
    ]
    assert ingest_records(installed_store, records).failed == 0
    ctx = PageContext(queries.Sources(store_url=installed_store, metastore_url=""), {"wide"})
    monkeypatch.setattr(run, "TASKS_PER_PAGE", 10)
    page = tree(run.layout(ctx, {"dag_id": "wide", "run_id": "run_1", "tpage": "3"}))
    (graph,) = find(page, lambda n: n["props"].get("id") == "run-waterfall")
    assert [y.strip("\u2009") for y in graph["props"]["figure"]["data"][0]["y"]] == [f"t{i:03d}" for i in range(24, 19, -1)]
    assert len(rows_of(page, "run-tasks")) == 5 and "Tasks 21–25 of 25" in texts(page)


@pytest.mark.parametrize("odd", ["0", "-3", "²", "9" * 900, "1e3", "", "x"])
def test_odd_page_numbers_show_a_page(fanout, odd):
    page = tree(run.layout(fanout, {"dag_id": "fanout", "run_id": "run_1", "task": "fan", "ipage": odd, "tpage": odd}))
    shown = [texts(r)[0] for r in rows_of(page, "run-instances")]
    assert shown in ([f"[{i}]" for i in range(50)], [f"[{i}]" for i in range(950, 1000)])
    assert len(rows_of(page, "run-tasks")) == 3
