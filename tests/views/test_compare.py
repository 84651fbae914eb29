"""Comparing two runs: the query (records ingested for real, every store backend) and the
compare page served by Airflow's FastAPI app (two runs of the example titanic DAG)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
from dash_client import DashClient, error_cards, find, texts
from records import changed, frame, make_record

from ddtrack import queries
from ddtrack.record import code_hash
from ddtrack.store.ingest import ingest_records

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
NEW_SOURCE = "def load():\n    frame = read()\n    return frame[frame.amount > 0]\n"


def _after(rows: int) -> pd.DataFrame:
    """Run 2's data: more rows, amount shifted, email gone, a new column, id now float."""
    data = frame(rows, seed=1)
    data["amount"] = data["amount"] + 6.0
    data["id"] = data["id"].astype(float)
    data["score"] = np.linspace(0, 1, rows)
    data["city"] = np.where(np.arange(rows) % 2 == 0, "Rome", data["city"])
    return data.drop(columns=["email"])


def _wide(rows: int, columns: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"c{i:03d}": rng.normal(i, 1, rows) for i in range(columns)})


@pytest.fixture
def sources(installed_store) -> queries.Sources:
    load_a = make_record("cmp", "run_1", "load", rows=200, started=T0)
    load_b = make_record("cmp", "run_2", "load", started=T0 + dt.timedelta(days=1), data=_after(300))
    load_b = changed(load_b, source=NEW_SOURCE, code_hash=code_hash(NEW_SOURCE), duration_s=5.0)
    load_b["ended_at"] = (T0 + dt.timedelta(days=1, seconds=5)).isoformat()
    records = [load_a, load_b]
    for run, day, rows in (("run_1", 0, 10), ("run_2", 1, 20)):
        start = T0 + dt.timedelta(days=day, seconds=10)
        records += [make_record("cmp", run, "split", map_index=i, rows=rows, started=start) for i in range(3)]
        records.append(make_record("cmp", run, "wide", started=start, data=_wide(50, 40, day)))
    records.append(make_record("secret", "run_1", "load", started=T0))
    records.append(make_record("secret", "run_2", "load", started=T0 + dt.timedelta(days=1)))
    report = ingest_records(installed_store, records)
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


def _output(cmp: queries.RunComparison, task_id: str, name: str = "return_value") -> queries.OutputComparison:
    return next(o for o in cmp.outputs if o.task_id == task_id and o.name == name)


def test_compare_rows_schema_stats_and_code(sources):
    cmp = queries.compare_runs(sources, {"cmp"}, "cmp", "run_1", "run_2")
    assert cmp is not None and (cmp.run_a, cmp.run_b) == ("run_1", "run_2")
    load = _output(cmp, "load")
    assert (load.rows_a, load.rows_b) == (200, 300)
    assert load.added == ["score"] and load.removed == ["email"]
    assert [r[0] for r in load.retyped] == ["id"] and load.retyped[0][1] != load.retyped[0][2]
    amount = next(c for c in load.columns if c.name == "amount")
    assert amount.stats_a["mean"] == pytest.approx(10, abs=0.5)
    assert amount.changes["mean"] == pytest.approx(amount.stats_b["mean"] - amount.stats_a["mean"])
    assert amount.changes["mean"] == pytest.approx(6, abs=0.6)
    assert amount.drift is not None and amount.drift["drifted"]
    assert {c.name: c.change for c in load.columns}["email"] == "removed"
    # the diff of the two sources, as text
    assert load.code_diff and load.code_diff.startswith("--- run_1\n+++ run_2\n")
    assert "+    return frame[frame.amount > 0]\n" in load.code_diff
    assert _output(cmp, "wide").code_diff is None
    task = next(t for t in cmp.tasks if t.task_id == "load")
    assert (task.duration_a, task.duration_b, task.change_s) == (3.0, 5.0, 2.0)
    assert task.offset_a == 0.0 and task.offset_b == 0.0 and task.code_diff == load.code_diff


def test_histograms_on_common_bins_and_top_value_shift(sources):
    load = _output(queries.compare_runs(sources, None, "cmp", "run_1", "run_2"), "load")
    amount = next(c for c in load.columns if c.name == "amount")
    edges, before, after = amount.bins
    assert len(edges) == len(before) + 1 == len(after) + 1 and edges == sorted(edges)
    assert (sum(before), sum(after)) == (200, 300)
    assert edges[0] <= amount.stats_a["min"] and edges[-1] >= amount.stats_b["max"]
    # the shift shows: run 1 sits in the low bins, run 2 in the high ones
    middle = len(before) // 2
    assert sum(before[:middle]) > 150 and sum(after[middle:]) > 250
    city = next(c for c in load.columns if c.name == "city")
    assert city.bins is None
    rome = next(r for r in city.top_values if r["value"] == "Rome")
    assert (rome["before"], rome["after"]) == (0, 150)
    assert city.drift["new_categories"] == ["Rome"]


def test_mapped_tasks_compare_their_merged_wholes(sources):
    cmp = queries.compare_runs(sources, None, "cmp", "run_1", "run_2")
    split = _output(cmp, "split")
    assert split.mapped and (split.rows_a, split.rows_b) == (30, 60)
    amount = next(c for c in split.columns if c.name == "amount")
    assert (amount.stats_a["count"], amount.stats_b["count"]) == (30, 60)
    assert sum(amount.bins[1]) == 30 and sum(amount.bins[2]) == 60
    assert [t.task_id for t in cmp.tasks].count("split") == 1


def test_wide_outputs_detail_only_the_shown_columns(sources):
    cmp = queries.compare_runs(sources, None, "cmp", "run_1", "run_2", detail=5)
    wide = _output(cmp, "wide")
    assert len(wide.columns) == 40 and wide.detailed == 5
    assert all(c.bins for c in wide.columns[:5]) and not any(c.bins or c.drift for c in wide.columns[5:])
    assert all(c.stats_a["mean"] is not None and c.changes["mean"] is not None for c in wide.columns)
    picked = queries.output_comparison(sources, None, "cmp", "run_1", "run_2", "wide", "return_value", ["c030"])
    assert [c.name for c in picked.columns if c.bins] == ["c030"]


def test_unknown_runs_and_unreadable_dags_get_none(sources):
    assert queries.compare_runs(sources, None, "cmp", "run_1", "nope") is None
    assert queries.compare_runs(sources, None, "nope", "run_1", "run_2") is None
    assert queries.compare_runs(sources, None, "secret", "run_1", "run_2") is not None
    for allowed in ({"cmp"}, set()):
        assert queries.compare_runs(sources, allowed, "secret", "run_1", "run_2") is None
        assert queries.output_comparison(sources, allowed, "secret", "run_1", "run_2", "load", "return_value") is None


# -- the page, through Airflow's FastAPI app ---------------------------------------------


@pytest.fixture
def titanic_runs(example_runs) -> tuple[str, str]:
    a, b = example_runs["titanic"][:2]
    return a.run_id, b.run_id


def _search(dag_id: str, a: str, b: str) -> str:
    return "?" + urlencode({"dag_id": dag_id, "a": a, "b": b})


def test_compare_page_of_two_titanic_runs(admin, titanic_runs):
    a, b = titanic_runs
    page = admin.page("compare", _search("titanic", a, b))
    assert not error_cards(page)
    words = " ".join(texts(page))
    assert a in words and b in words and "Rows:" in words and "Schema:" in words
    waterfall = _by_id(page, "compare-waterfall")
    assert {t["name"] for t in waterfall["props"]["figure"]["data"]} == {f"a: {a}", f"b: {b}"}
    overlaid = [g for g in _graphs(page) if g["layout"].get("barmode") == "overlay"]
    assert overlaid and all(len(g["data"]) == 2 for g in overlaid)


def test_compare_page_messages_never_tracebacks(admin, titanic_runs, client, make_token):
    a, _ = titanic_runs
    for search, expected in (
        (_search("titanic", a, "nope"), "No runs"),
        (_search("nope", a, a), "No DAG"),
        ("?dag_id=titanic", "Pick two runs"),
    ):
        words = " ".join(texts(admin.page("compare", search)))
        assert expected in words and "Traceback" not in words
    outsider = DashClient(client, make_token("olga", None))
    words = " ".join(texts(outsider.page("compare", _search("titanic", a, a))))
    assert "No DAG 'titanic'" in words and a not in words


def test_run_picker_builds_the_compare_link(admin, titanic_runs):
    a, b = titanic_runs
    for page, search in (("dag", "?dag_id=titanic"), ("run", "?" + urlencode({"dag_id": "titanic", "run_id": b}))):
        tree = admin.page(page, search)
        assert _by_id(tree, "dd-compare-a")["props"]["value"] and _by_id(tree, "dd-compare-b"), page
    resp = admin.callback(
        "dd-compare-go.href",
        {"id": "dd-compare-go", "property": "href"},
        [{"id": "dd-compare-a", "property": "value", "value": a}, {"id": "dd-compare-b", "property": "value", "value": b}],
        [{"id": "dd-compare-dag", "property": "data", "value": "titanic"}],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["response"]["dd-compare-go"]["href"].endswith("compare" + _search("titanic", a, b))


def _by_id(tree, ident: str) -> dict:
    (found,) = find(tree, lambda n: n["props"].get("id") == ident)
    return found


def _graphs(tree) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Graph" and isinstance(props.get("figure"), dict):
                found.append(props["figure"])
            for v in props.values():
                walk(v)

    walk(tree)
    return found


def test_compare_grid_searches_sorts_and_bounds_its_blocks():
    """The compare grid's rows come from the server a block at a time: searched by name and by
    change, sorted by a statistic's change, never more than GRID_BLOCK rows."""
    from ddtrack.queries import ColumnComparison
    from ddtrack.views.output import GRID_BLOCK
    from ddtrack.views.pages.compare import grid_rows

    columns = [
        ColumnComparison(f"col_{i:04d}", "float", {"mean": i}, {"mean": 2 * i}, {"mean": float(i)},
                         change="added" if i % 500 == 0 else "same")
        for i in range(3000)
    ]
    assert len(grid_rows(columns, {"startRow": 0, "endRow": 5000})["rowData"]) == GRID_BLOCK
    found = grid_rows(columns, {"startRow": 0, "endRow": 100, "filterModel": {"column": {"filter": "COL_2999"}}})
    assert found["rowCount"] == 1
    added = grid_rows(columns, {"startRow": 0, "endRow": 100, "filterModel": {"change": {"filter": "added"}}})
    assert added["rowCount"] == 6
    top = grid_rows(columns, {"startRow": 0, "endRow": 1, "sortModel": [{"colId": "Δ mean", "sort": "desc"}]})
    assert top["rowCount"] == 3000 and "col_2999" in json.dumps(top["rowData"])
