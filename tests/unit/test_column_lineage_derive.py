"""Column lineage worked out in the task (ddtrack.column_lineage): inference by name,
declarations (overriding inference, renames, ``input_name.column``), warnings for
declarations that name nothing, and the parse-time type check."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from ddtrack import log_output, track
from ddtrack.column_lineage import argument_columns, declaration_argument, derive, frame_columns, known_inputs

CUSTOMERS = {"kind": "task", "task_id": "extract", "name": "return_value", "uri": None,
             "columns": ["id", "name", "amount"], "param": "customers"}
ORDERS = {"kind": "uri", "name": "orders", "uri": "file:///data/orders.parquet", "columns": ["id", "total"]}
OUTLET = {"kind": "asset", "direction": "output", "name": "out", "uri": "asset://out"}


def test_inference_by_name_from_every_input_that_has_the_column():
    lineage, warnings = derive({"return_value": ["id", "amount", "new"]}, [CUSTOMERS, ORDERS, OUTLET], {})
    assert sorted(lineage["return_value"]) == [
        ["amount", 0, "amount", "inferred"], ["id", 0, "id", "inferred"], ["id", 1, "id", "inferred"],
    ]
    assert warnings == []


def test_a_declaration_overrides_inference_and_declares_a_rename():
    declared = {"return_value": {"id": ("orders.id",), "greeting": ("customers.name",), "total2": ("orders.total",)}}
    lineage, warnings = derive({"return_value": ["id", "greeting", "total2"]}, [CUSTOMERS, ORDERS], declared)
    assert sorted(lineage["return_value"]) == [
        ["greeting", 0, "name", "declared"], ["id", 1, "id", "declared"], ["total2", 1, "total", "declared"],
    ]
    assert warnings == []


def test_a_plain_column_names_the_one_input_and_track_declares_for_every_output():
    lineage, _ = derive({"a": ["greeting"], "b": ["greeting", "x"]}, [CUSTOMERS], {}, {"greeting": ("name",)})
    assert lineage == {"a": [["greeting", 0, "name", "declared"]], "b": [["greeting", 0, "name", "declared"]]}


def test_inputs_are_named_by_parameter_task_id_log_input_name_and_uri():
    for ref in ("customers.name", "extract.name"):
        assert derive({"o": ["g"]}, [CUSTOMERS, ORDERS], {"o": {"g": (ref,)}})[0]["o"] == [["g", 0, "name", "declared"]]
    for ref in ("orders.total", "file:///data/orders.parquet.total"):
        assert derive({"o": ["g"]}, [CUSTOMERS, ORDERS], {"o": {"g": (ref,)}})[0]["o"] == [["g", 1, "total", "declared"]]


def test_declarations_that_name_nothing_are_warnings_not_failures():
    declared = {"o": {"ghost": ("name",), "g": ("customers.nothing",), "h": ("name",)}}
    lineage, warnings = derive({"o": ["g", "h"]}, [CUSTOMERS, ORDERS], declared, {"phantom": ("id",)})
    assert lineage["o"] == []  # "h": two inputs, so a bare "name" names none of them
    assert any("no column 'ghost'" in w for w in warnings)
    assert any("no input column 'customers.nothing'" in w for w in warnings)
    assert any("no input column 'name'" in w for w in warnings)
    assert any("no output has a column 'phantom'" in w for w in warnings)


def test_inputs_whose_columns_are_unknown_are_complete_only_when_declared():
    unknown = {"kind": "uri", "name": "raw", "uri": "s3://raw"}
    lineage, _ = derive({"o": ["id"]}, [CUSTOMERS, unknown], {})
    assert known_inputs([CUSTOMERS, unknown], lineage) == {0}
    lineage, _ = derive({"o": ["id"]}, [CUSTOMERS, unknown], {"o": {"id": ("raw.key",)}})
    assert lineage["o"] == [["id", 1, "key", "declared"]] and known_inputs([CUSTOMERS, unknown], lineage) == {0, 1}


def test_frame_columns_read_only_the_schema():
    assert frame_columns(pd.DataFrame({"a": [1], 2: [3]})) == ["a", "2"]
    assert frame_columns(pa.table({"x": [1], "y": ["z"]})) == ["x", "y"]
    assert frame_columns("s3://bucket/file") is None and frame_columns({"a": 1}) is None


def test_argument_columns_binds_the_dags_xcomargs_to_the_values_handed_over():
    def transform(customers, orders=None, limit=3):
        return customers

    refs = {"C": [("extract", "return_value")], "O": [("load", "orders")]}
    found = argument_columns(transform, ["C"], {"orders": "O", "limit": 3}, [pd.DataFrame({"id": [1]})],
                             {"orders": pd.DataFrame({"total": [1.0]}), "limit": 3}, lambda v: refs.get(v, []))
    assert found == [("extract", "return_value", "customers", ["id"]), ("load", "orders", "orders", ["total"])]


@pytest.mark.parametrize("bad", [["name"], {"g": 3}, {"g": ["a", 1]}, {"": ["a"]}, {1: ["a"]}, "g=name"])
def test_a_bad_type_fails_where_the_dag_is_written(bad):
    with pytest.raises(TypeError, match="column_lineage"):
        declaration_argument(bad, "track")
    with pytest.raises(TypeError, match="column_lineage"):
        track(column_lineage=bad)
    with pytest.raises(TypeError, match="column_lineage"):
        log_output(pd.DataFrame({"a": [1]}), "o", column_lineage=bad)


def test_a_good_declaration_accepts_one_column_or_a_list():
    assert declaration_argument({"g": "name", "h": ["a", "b"]}, "track") == {"g": ("name",), "h": ("a", "b")}


def test_sql_lineage_of_create_as_select_and_insert_select():
    from ddtrack.column_lineage import sql_lineage

    sql = """DROP TABLE IF EXISTS mart.t;
    CREATE TABLE mart.t AS SELECT o.id, c.name AS cname, o.amount * 2 AS amt2, COUNT(*) AS n
    FROM raw.orders o JOIN raw.customers c ON c.id = o.cid GROUP BY 1, 2, 3;
    INSERT INTO mart.u (a, b) SELECT id, name FROM raw.customers"""
    inputs = [{"kind": "uri", "name": "raw.orders", "uri": "postgres://h/db.raw.orders"}, {"kind": "uri", "name": "raw.customers"}]
    found = sql_lineage(sql, {"mart.t": None, "mart.u": None, "other": None}, inputs)
    assert found == {
        "mart.t": {"id": [(0, "id")], "cname": [(1, "name")], "amt2": [(0, "amount")]},  # COUNT(*): no column
        "mart.u": {"a": [(1, "id")], "b": [(1, "name")]},
    }
    lineage, _ = derive({"mart.t": ["id", "cname", "amt2", "n"]}, inputs, {}, sql=found)
    assert sorted(lineage["mart.t"]) == [["amt2", 0, "amount", "sql"], ["cname", 1, "name", "sql"], ["id", 0, "id", "sql"]]


def test_sql_lineage_of_a_wide_select_maps_every_column():
    """Each of 400 columns of one statement is followed on the same qualified query (scoped
    once, not once per column, which made wide SELECTs take minutes)."""
    from ddtrack.column_lineage import sql_lineage

    n = 400
    sql = f"CREATE TABLE wide AS SELECT {', '.join(f'a.c{i} + 1 AS d{i}' for i in range(n))} FROM src a"
    found = sql_lineage(sql, {"wide": None}, [{"name": "src", "columns": None}])
    assert found["wide"] == {f"d{i}": [(0, f"c{i}")] for i in range(n)}
