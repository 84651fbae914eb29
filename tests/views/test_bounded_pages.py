"""Pages stay bounded whatever the data's size: home a page of DAGs at a time, a wide
output's page a few charts, a summary and a grid served a block at a time, a mapped task's
chips a window of its map indexes. Run on every store backend (the home query is one
statement of per-DAG range scans, written for SQLite, PostgreSQL and MariaDB alike).
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import plotly
import pytest
from dash_client import DashClient, find, outputs_spec, texts
from records import make_record

from ddtrack import queries
from ddtrack.queries.home import home_page
from ddtrack.queries.instances import OutputRef, column_block
from ddtrack.store.ingest import ingest_records
from ddtrack.views import column_browser, output
from ddtrack.views.context import PageContext
from ddtrack.views.pages import home, instance, mapped

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
IMG = "<img src=x onerror=\"document.title='pwned'\">"
WIDE = 10_000


def tree(component) -> dict:
    """A layout as the browser receives it (plain JSON)."""
    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


# -- home -----------------------------------------------------------------------------------


@pytest.fixture
def dags_store(installed_store) -> str:
    """7 DAGs with 3 runs each (rows 100 + run), and dag_06 with 25 runs."""
    records = []
    for d in range(7):
        for r in range(25 if d == 6 else 3):
            started = T0 + dt.timedelta(hours=r, minutes=d)
            records.append(make_record(f"dag_{d:02d}", f"run_{r:02d}", "load", rows=100 + r, started=started))
    report = ingest_records(installed_store, records)
    assert report.failed == 0, report.errors
    return installed_store


def test_home_pages_through_the_dags(dags_store):
    sources = queries.Sources(store_url=dags_store, metastore_url="")
    first = home_page(sources, None, page=1, page_size=3)
    second = home_page(sources, None, page=2, page_size=3)
    last = home_page(sources, None, page=3, page_size=3)
    assert [d.dag_id for d in first.dags] == ["dag_00", "dag_01", "dag_02"]
    assert [d.dag_id for d in second.dags] == ["dag_03", "dag_04", "dag_05"]
    assert [d.dag_id for d in last.dags] == ["dag_06"]
    assert first.total == second.total == last.total == 7 and first.pages == 3
    assert second.dags[0].rows_by_run == [(T0.replace(tzinfo=None) + dt.timedelta(hours=r, minutes=3), 100 + r) for r in range(3)]
    past = home_page(sources, None, page=9, page_size=3)
    assert past.dags == [] and past.total == 7
    readable = home_page(sources, {"dag_01", "dag_05", "dag_99"}, page=1, page_size=3)
    assert [d.dag_id for d in readable.dags] == ["dag_01", "dag_05"] and readable.total == 2


def test_home_sparkline_is_the_newest_runs_oldest_first(dags_store, monkeypatch):
    sources = queries.Sources(store_url=dags_store, metastore_url="")
    (dag,) = [d for d in home_page(sources, None, page=3, page_size=3).dags]
    assert [rows for _, rows in dag.rows_by_run] == [100 + r for r in range(5, 25)]
    # Each DAG's newest tries are read up to a bound; the oldest run read may lack tries: not drawn.
    monkeypatch.setattr("ddtrack.queries.home.TRIES_PER_DAG", 10)
    (dag,) = [d for d in home_page(sources, None, page=3, page_size=3).dags]
    assert [rows for _, rows in dag.rows_by_run] == [100 + r for r in range(16, 25)]


def test_home_page_links_to_the_other_pages(dags_store):
    ctx = PageContext(queries.Sources(store_url=dags_store, metastore_url=""), {f"dag_{d:02d}" for d in range(7)})
    page = tree(home.layout(ctx, {"page": "2", "per_page": "3", "q": "load"}))
    assert "DAGs 4–6 of 7" in texts(page)
    assert [r["props"]["data-dag-id"] for r in find(page, lambda n: "data-dag-id" in n["props"])] == ["dag_03", "dag_04", "dag_05"]
    hrefs = [n["props"]["href"] for n in find(page, lambda n: n["type"] == "Link" and "page=" in n["props"].get("href", ""))]
    assert hrefs == ["/ddtrack/?page=1&per_page=3&q=load", "/ddtrack/?page=3&per_page=3&q=load"]
    whole = tree(home.layout(ctx, {}))
    assert "DAGs 1–7 of 7" in texts(whole)
    assert not find(whole, lambda n: n["type"] == "Link" and "page=" in n["props"].get("href", ""))


def test_home_says_when_the_metastore_cannot_be_read(dags_store, tmp_path):
    """A configured metastore that fails (here: a database without Airflow's tables) is
    said on the page; the DAGs and their sparklines from the side tables still show."""
    broken = queries.Sources(store_url=dags_store, metastore_url=f"sqlite:///{tmp_path / 'empty.db'}")
    result = home_page(broken, None)
    assert result.metastore_error and "Airflow's metadata could not be read" in result.metastore_error
    assert len(result.dags) == 7 and result.dags[0].rows_by_run
    page = tree(home.layout(PageContext(broken, {"dag_00"}), {}))
    assert "Airflow's metadata could not be read: last runs are not shown." in texts(page)
    alone = queries.Sources(store_url=dags_store, metastore_url="")  # no metastore: a deliberate fallback
    assert home_page(alone, None).metastore_error is None
    assert "Airflow's metadata could not be read: last runs are not shown." not in texts(
        tree(home.layout(PageContext(alone, {"dag_00"}), {}))
    )


# -- a 10,000-column output -----------------------------------------------------------------


def _column(i: int) -> dict:
    name = IMG if i == 5 else f"feat_{i:05d}"
    if i % 1000 == 999:
        return {"name": name, "position": i, "dtype": "object", "kind": "error", "count": 10, "nulls": 0,
                "error": f"TypeError: column {i} cannot be profiled"}
    return {
        "name": name, "position": i, "dtype": "float64", "kind": "float", "count": 10, "nulls": i % 11,
        "null_pct": (i % 11) * 100 / 21, "distinct": i % 13, "distinct_estimated": False, "mean": float(i),
        "std": 1.0, "min": 0.0, "max": float(i), "quantiles": {"0.5": float(i)},
        "histogram": {"edges": [0.0, 1.0, 2.0], "counts": [4, 6]},
    }


@pytest.fixture
def wide_store(installed_store) -> queries.Sources:
    record = make_record("wide", "run_1", "features")
    profile = record["outputs"][0]["profile"]
    profile["columns"] = [_column(i) for i in range(WIDE)]
    profile["schema"] = [{"name": c["name"], "dtype": c["dtype"]} for c in profile["columns"]]
    profile["n_columns"] = WIDE
    profile["sample"] = [{c["name"]: 1.0 for c in profile["columns"]} for _ in range(5)]
    report = ingest_records(installed_store, [record])
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


def test_a_wide_output_page_stays_small(wide_store):
    page = tree(
        instance.layout(PageContext(wide_store, {"wide"}), {"dag_id": "wide", "run_id": "run_1", "task_id": "features"})
    )
    payload = json.dumps(page)
    assert len(payload) < 150_000  # 4.5 MB before: every column a table row, a chart bar and a schema row
    assert len(find(page, lambda n: "data-column" in n["props"])) == output.MAX_CHARTS
    (grid,) = find(page, lambda n: n["type"] == "AgGrid")
    assert grid["props"]["rowModelType"] == "infinite" and "rowData" not in grid["props"]
    assert all("cellRenderer" not in d for d in grid["props"]["columnDefs"])  # values are text, never markup
    words = " ".join(texts(page))
    assert "Columns whose profile failed (10)" in words
    assert "TypeError: column 999 cannot be profiled" in words
    assert f"{WIDE - output.MAX_TABLE_ROWS:,} more columns" in words  # schema cut, and said so
    assert find(page, lambda n: n["type"] == "Dropdown")  # the picker for the other columns


def test_the_grid_serves_a_block_searched_and_sorted_on_the_server(wide_store):
    detail = queries.task_instance(wide_store, "wide", "run_1", "features", allowed={"wide"})
    columns = detail.outputs[0].columns
    block = output.grid_rows(columns, {"startRow": 0, "endRow": 5000})
    assert block["rowCount"] == WIDE and len(block["rowData"]) == output.GRID_BLOCK
    assert block["rowData"][5]["column"] == IMG  # a cell value: AG Grid shows it as text
    found = output.grid_rows(columns, {"startRow": 0, "endRow": 100, "filterModel": {"column": {"filter": "FEAT_0999"}}})
    assert [r["column"] for r in found["rowData"]] == [f"feat_0999{i}" for i in range(10)] and found["rowCount"] == 10
    errors = output.grid_rows(columns, {"startRow": 0, "endRow": 100, "filterModel": {"kind": {"filter": "error"}}})
    assert errors["rowCount"] == 10 and errors["rowData"][0]["error"] == "TypeError: column 999 cannot be profiled"
    by_mean = output.grid_rows(columns, {"startRow": 0, "endRow": 3, "sortModel": [{"colId": "mean", "sort": "desc"}]})
    assert [r["column"] for r in by_mean["rowData"]] == ["feat_09998", "feat_09997", "feat_09996"]
    by_median = output.grid_rows(columns, {"startRow": 0, "endRow": 1, "sortModel": [{"colId": "q50%", "sort": "desc"}]})
    assert by_median["rowData"][0]["column"] == "feat_09998"
    for junk in (None, "x", {"startRow": "a", "sortModel": [{"colId": 3}], "filterModel": {"column": 5}}):
        assert len(output.grid_rows(columns, junk)["rowData"]) == output.GRID_BLOCK


@pytest.mark.parametrize(
    ("contains", "sort", "descending", "start"),
    [({}, None, False, 9_950), ({"column": "feat_0999"}, None, False, 0), ({"kind": "error"}, "null %", True, 0),
     ({}, "mean", True, 0), ({}, "q50%", True, 0), ({}, "max", False, 100), ({}, "error", False, 0),
     ({"column": "%_"}, None, False, 0)],
)
def test_a_grid_block_is_read_from_the_database_as_the_page_sorts_it(wide_store, contains, sort, descending, start):
    """The describe grid's block query answers as sorting and searching all 10,000 profiles in
    memory does, reading only the block's profiles ("%" and "_" are searched as text)."""
    detail = queries.task_instance(wide_store, "wide", "run_1", "features", allowed={"wide"})
    request = {"startRow": start, "endRow": start + 100, "filterModel": {f: {"filter": t} for f, t in contains.items()},
               "sortModel": [{"colId": sort, "sort": "desc" if descending else "asc"}] if sort else []}
    expected = output.grid_rows(detail.outputs[0].columns, request)
    ref = OutputRef("wide", "run_1", "features", -1, None, "return_value")
    block = column_block(wide_store, ref, allowed={"wide"}, contains=contains, sort=sort, descending=descending,
                         start=start, size=100)
    assert block.total == expected["rowCount"]
    assert [c.name for c in block.columns] == [r["column"] for r in expected["rowData"]]
    assert column_block(wide_store, ref, allowed={"other"}) is None  # not the caller's DAG: nothing


def test_map_index_chips_stay_bounded():
    chips = mapped.map_index_chips("d", "r", "t", list(range(1000)), 500)
    labels = [c.children for c in chips if getattr(c, "href", None)]
    assert len(labels) <= 2 * (mapped.CHIP_WINDOW + mapped.CHIP_ENDS) + 2
    assert {"all 1,000 (merged)", "0", "490", "500", "510", "999"} <= set(labels)
    assert "489" not in labels
    assert find(tree(chips), lambda n: n["props"].get("id") == "ti-map-index-go")  # any other index: typed
    few = mapped.map_index_chips("d", "r", "t", [0, 1, 2, 3], 2)
    assert [c.children for c in few if getattr(c, "href", None)] == ["all 4 (merged)", "0", "1", "2", "3"]


# -- the callbacks through Airflow's app, as a reader and as an outsider ----------------------


def _answer(client: DashClient, out_type: str, out_prop: str, inputs: list[dict], state: list[dict]) -> dict:
    """A pattern-matching callback's whole answer for output 0 (each output's id string ->
    its properties), called as the browser calls it."""
    deps = client.client.get("/ddtrack/_dash-dependencies", headers=client.headers).json()
    (name,) = [d["output"] for d in deps if f'"type":"{out_type}"' in d["output"] and f".{out_prop}" in d["output"]]
    specs = outputs_spec(name)
    specs = [{"id": {**s["id"], "index": 0}, "property": s["property"]} for s in (specs if isinstance(specs, list) else [specs])]
    resp = client.callback(name, specs if len(specs) > 1 else specs[0], inputs, state)
    assert resp.status_code == 200, resp.text
    return resp.json()["response"]


def _call(client: DashClient, out_type: str, out_prop: str, inputs: list[dict], state: list[dict]):
    """One output's value in a callback's answer."""
    answer = _answer(client, out_type, out_prop, inputs, state)
    return next(v[out_prop] for k, v in answer.items() if f'"type":"{out_type}"' in k)


KEY_ID = {"type": "dd-output-key", "index": 0}
GRID_ID = {"type": "dd-columns-grid", "index": 0}
PICK_ID = {"type": "dd-chart-pick", "index": 0}


def _grid_request(client: DashClient, key: dict, request: dict) -> dict:
    inputs = [{"id": GRID_ID, "property": "getRowsRequest", "value": request}]
    return _call(client, "dd-columns-grid", "getRowsResponse", inputs, [{"id": KEY_ID, "property": "data", "value": key}])


def _picked(client: DashClient, key: dict, search: str, chosen: list[str]) -> tuple[list, list]:
    """The picker's options for ``search``, and the charts of the ``chosen`` columns."""
    state = [{"id": KEY_ID, "property": "data", "value": key}]
    options = _call(
        client,
        "dd-chart-pick",
        "options",
        [{"id": PICK_ID, "property": "search_value", "value": search}],
        [{"id": PICK_ID, "property": "value", "value": []}, *state],
    )
    charts = _call(client, "dd-chart-picked", "children", [{"id": PICK_ID, "property": "value", "value": chosen}], state)
    return options, charts


def test_grid_and_picker_callbacks_answer_readers_only(client, make_token, example_runs):
    run_id = example_runs["titanic"][-1].run_id
    admin = DashClient(client, make_token("admin", "admin"))
    page = admin.page("ti", f"?dag_id=titanic&task_id=load_passengers&run_id={quote(run_id)}")
    (store,) = find(page, lambda n: n["props"].get("id") == {"type": "dd-output-key", "index": 0})
    key = store["props"]["data"]
    assert key == output.output_key("titanic", run_id, "load_passengers", -1, key["try_number"], "return_value")
    answer = _grid_request(admin, key, {"startRow": 0, "endRow": 100, "filterModel": {"column": {"filter": "ag"}}})
    assert [r["column"] for r in answer["rowData"]] == ["age"] and answer["rowCount"] == 1
    options, charts = _picked(admin, key, "AG", ["age", "nope"])
    assert options == [{"label": "age", "value": "age"}]
    assert charts[0]["props"]["data-column"] == "age" and charts[0]["props"]["children"]["type"] == "Graph"
    assert "No distribution recorded for nope." in texts(charts)
    outsider = DashClient(client, make_token("olga", None))
    assert _grid_request(outsider, key, {"startRow": 0, "endRow": 100}) == {"rowData": [], "rowCount": 0}
    assert _picked(outsider, key, "AG", ["age"]) == ([], [])
    told = _grid_answer(outsider, key, {"startRow": 0, "endRow": 100})
    assert column_browser.GONE in texts(_status_of(told))  # said, not an empty grid alone


def _grid_answer(client: DashClient, key: dict, request: dict) -> dict:
    inputs = [{"id": GRID_ID, "property": "getRowsRequest", "value": request}]
    return _answer(client, "dd-columns-grid", "getRowsResponse", inputs, [{"id": KEY_ID, "property": "data", "value": key}])


def _status_of(answer: dict):
    return next(v["children"] for k, v in answer.items() if "dd-columns-status" in k)


def test_a_grid_block_reads_its_rows_not_the_task_instance(client, make_token, example_runs, metastore_url):
    """Each scroll of the grid reads the block it shows: not the try's lineage, tags, code or
    previous run (the whole task-instance query it ran before), and column profiles only
    with a LIMIT."""
    from sqlalchemy import event

    from ddtrack.store.engine import get_engine

    run_id = example_runs["titanic"][-1].run_id
    admin = DashClient(client, make_token("admin", "admin"))
    page = admin.page("ti", f"?dag_id=titanic&task_id=load_passengers&run_id={quote(run_id)}")
    (store,) = find(page, lambda n: n["props"].get("id") == KEY_ID)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    engine = get_engine(metastore_url)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        answer = _grid_request(admin, store["props"]["data"], {"startRow": 0, "endRow": 3})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(answer["rowData"]) == 3 and answer["rowCount"] > 3
    assert statements and not [s for s in statements if any(t in s for t in ("ddtrack_lineage", "ddtrack_source", "ddtrack_tag"))]
    full_reads = [s for s in statements if "ddtrack_column.stats" in s]
    assert full_reads and all("limit" in s for s in full_reads)


def test_a_grid_that_fails_says_so_and_logs_why(client, make_token, example_runs, caplog):
    """A database error while reading a block is logged with its cause and told to the user
    in the grid's status line; before, the grid stayed empty and nobody knew why."""
    run_id = example_runs["titanic"][-1].run_id
    admin = DashClient(client, make_token("admin", "admin"))
    key = output.output_key("titanic", run_id, "load_passengers", 2**70, None, "return_value")  # no database takes it
    with caplog.at_level("ERROR", logger="ddtrack.views"):
        answer = _grid_answer(admin, key, {"startRow": 0, "endRow": 100})
    assert next(v["getRowsResponse"] for k, v in answer.items() if "dd-columns-grid" in k) == {"rowData": [], "rowCount": 0}
    assert column_browser.FAILED in texts(_status_of(answer))
    assert any("could not read a block" in r.getMessage() and r.exc_info for r in caplog.records)
