"""SQL tables profiled in their own database (ddtrack.engines.sql): SQLite, PostgreSQL,
MariaDB and DuckDB for real; Snowflake, BigQuery, Redshift and Trino compiled."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ddtrack import checks
from ddtrack.engines import profile_in_place, uri_of
from ddtrack.engines import sql as sql_engine
from ddtrack.profile import merge_profiles, profile
from ddtrack.references import Table


def frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n).round(2)
    amount[rng.random(n) < 0.1] = np.nan
    status = rng.choice(["new", "paid", "shipped", "returned"], n).astype(object)
    status[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64) * 7 - 500,  # unique, negatives, a zero, range > 16,384
        "qty": rng.integers(0, 12, n),  # small range: exact bins
        "amount": amount,
        "status": status,
        "ordered_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**7, n), "s"),
    })


def load(df: pd.DataFrame, name: str, engine: sa.Engine) -> None:
    """``df`` as table ``name``; DuckDB gets multi-row INSERTs (duckdb_engine runs pandas'
    default one-row-at-a-time inserts slowly: 8,000 rows took a minute)."""
    multi = {"method": "multi", "chunksize": 500} if engine.dialect.name == "duckdb" else {}
    df.to_sql(name, engine, index=False, **multi)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb), "duckdb"])
def warehouse(request, tmp_path):
    """An empty database on each engine tested for real: SQLite, PostgreSQL, MariaDB and
    DuckDB (through duckdb_engine)."""
    from dev_tools.airflow_local import create_mariadb_database, create_postgres_database, drop_database

    made = {"postgres": create_postgres_database, "mariadb": create_mariadb_database}.get(request.param)
    url = made() if made else f"{request.param}:///{tmp_path / 'w.db'}"
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()
    if made:
        drop_database(url)


def _in_place(table: Table, **options):
    result = profile_in_place(table, **options)
    assert result is not None
    return result


def _close(a, b, rel=1e-9):
    return a == b or math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def test_the_profile_is_the_in_memory_profile_where_it_is_exact(warehouse):
    df = frame()
    load(df, "orders", warehouse)
    got = _in_place(Table("orders", engine=warehouse)).profile
    want = profile(df).to_dict()
    assert got["format"] == 1 and got["rows"] == want["rows"] == len(df)
    assert [c["name"] for c in got["columns"]] == list(df.columns)
    for g, w in zip(got["columns"], want["columns"], strict=True):
        name = g["name"]
        assert g["kind"] == w["kind"], name
        for field in ("count", "nulls", "distinct", "zeros", "negatives", "top_values", "str_len"):
            assert g[field] == w[field], (name, field)
        if g["kind"] == "datetime":  # MariaDB's DATETIME has no time zone: compare the instants
            def instant(v):
                return dt.datetime.fromisoformat(v).replace(tzinfo=dt.timezone.utc)

            assert (instant(g["min"]), instant(g["max"])) == (instant(w["min"]), instant(w["max"]))
            continue
        assert g["min"] == w["min"] and g["max"] == w["max"], name
        for field in ("mean", "std"):
            assert (g[field] is None) == (w[field] is None) and (g[field] is None or _close(g[field], w[field])), (name, field)
        if g["kind"] in ("integer", "float"):
            assert sum(g["histogram"]["counts"]) == sum(w["histogram"]["counts"])
            assert g["histogram"]["edges"] == pytest.approx(w["histogram"]["edges"])
            assert g["histogram"]["counts"] == w["histogram"]["counts"], name
            bound = 0 if name == "qty" else (w["max"] - w["min"]) / sql_engine.FINE_BINS
            for q, value in w["quantiles"].items():
                assert abs(g["quantiles"][q] - value) <= bound + 1e-9, (name, q)


def test_the_profile_merges_with_in_memory_profiles(warehouse):
    df = frame(500)
    load(df, "part", warehouse)
    merged = merge_profiles([_in_place(Table("part", engine=warehouse)).profile, profile(df).to_dict()])
    assert merged["rows"] == 1000
    qty = next(c for c in merged["columns"] if c["name"] == "qty")
    assert qty["count"] == 1000 and qty["min"] == int(df["qty"].min())
    assert sum(qty["histogram"]["counts"]) == 1000


def test_a_bounded_number_of_statements_whatever_the_column_count(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    rng = np.random.default_rng(1)
    narrow = pd.DataFrame({"a": rng.integers(0, 5, 100), "f": rng.random(100), "s": rng.choice(["x", "y"], 100)})
    wide = pd.DataFrame({f"c{i}": rng.random(100) if i % 2 else rng.choice(["x", "y"], 100) for i in range(60)})
    load(narrow, "narrow", engine)
    load(wide, "wide", engine)
    scans = {}
    for name in ("narrow", "wide"):
        statements: list[str] = []

        def listen(conn, cursor, statement, *rest, seen=statements):
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", listen)
        try:
            _in_place(Table(name, engine=engine))
        finally:
            sa.event.remove(engine, "before_cursor_execute", listen)
        scans[name] = [s for s in statements if f"FROM {name}" in s or f"FROM main.{name}" in s]
    assert len(scans["wide"]) == len(scans["narrow"]) == 2  # moments; bins, distinct counts and values in one


def test_sampling_keeps_the_moments_exact_and_says_what_is_estimated():
    from dev_tools.airflow_local import create_postgres_database, drop_database

    url = create_postgres_database()
    try:
        engine = sa.create_engine(url)
        load(frame(20000), "orders", engine)
        full = _in_place(Table("orders", engine=engine)).profile
        sampled = _in_place(Table("orders", engine=engine, sample_percent=50)).profile
        for f, s in zip(full["columns"], sampled["columns"], strict=True):
            assert (s["count"], s["nulls"], s["min"], s["max"]) == (f["count"], f["nulls"], f["min"], f["max"])
        status = next(c for c in sampled["columns"] if c["name"] == "status")
        assert status["distinct_estimated"] is True
        amount = next(c for c in sampled["columns"] if c["name"] == "amount")
        assert sum(amount["histogram"]["counts"]) == amount["count"]  # scaled to the exact count
        engine.dispose()
    finally:
        drop_database(url)


def test_a_large_table_gets_its_sketches_from_a_sample_and_its_moments_exact(warehouse, monkeypatch):
    df = frame(8000)
    load(df, "orders", warehouse)
    want = {c["name"]: c for c in profile(df).to_dict()["columns"]}
    monkeypatch.setattr(sql_engine, "SAMPLE_ROWS", 2000)  # 8,000 rows: a quarter is sampled
    statements: list[str] = []

    def listen(conn, cursor, statement, *rest):
        statements.append(statement)

    sa.event.listen(warehouse, "before_cursor_execute", listen)
    result = _in_place(Table("orders", engine=warehouse))
    sa.event.remove(warehouse, "before_cursor_execute", listen)
    got = {c["name"]: c for c in result.profile["columns"]}
    assert result.profile["rows"] == 8000
    for name, g in got.items():
        w = want[name]
        assert (g["count"], g["nulls"], g["distinct_estimated"]) == (w["count"], w["nulls"], True), name
        if g["kind"] in ("integer", "float"):
            assert (g["min"], g["max"]) == (w["min"], w["max"]) and _close(g["mean"], w["mean"]) and _close(g["std"], w["std"])
            assert sum(g["histogram"]["counts"]) == g["count"], name  # scaled to the exact count
    # Duj1 is exact when every sampled value is seen once (a unique column) or more than once
    assert (got["id"]["distinct"], got["qty"]["distinct"], got["status"]["distinct"]) == (8000, 12, 4)
    assert sum(v["count"] for v in got["status"]["top_values"]) == pytest.approx(got["status"]["count"], rel=1e-3)
    assert abs(got["amount"]["quantiles"]["0.5"] - want["amount"]["quantiles"]["0.5"]) < 0.1 * want["amount"]["std"]
    sampled = "TABLESAMPLE" if warehouse.dialect.name in ("postgresql", "duckdb") else "rand"
    assert sum(sampled in s for s in statements) == 1  # one sketch statement, on one sample
    unique = checks.unique("id")
    assert result.evidence([unique])[unique].duplicates == 0  # the gate stays exact


def test_the_distinct_estimator():
    assert sql_engine.estimate_distinct(d=10, f1=0, seen=100, total=1000) == 10  # every value seen twice
    assert sql_engine.estimate_distinct(d=100, f1=100, seen=100, total=1000) == 1000  # all unique
    assert sql_engine.estimate_distinct(d=7, f1=3, seen=50, total=50) == 7  # the whole table
    assert 10 < sql_engine.estimate_distinct(d=60, f1=40, seen=100, total=1000) < 1000


def test_a_statement_past_the_timeout_is_cancelled_by_the_database(monkeypatch):
    from dev_tools.airflow_local import create_postgres_database, drop_database

    url = create_postgres_database()
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE VIEW slow AS SELECT g AS x FROM generate_series(1, 3) g, pg_sleep(30)"))
        # 5 s: a loaded machine can spend a second on reflection before the slow statement starts
        monkeypatch.setenv("AIRFLOW__DDTRACK__IN_PLACE_TIMEOUT", "5")
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
            profile_in_place(Table("slow", engine=engine))
        engine.dispose()
    finally:
        drop_database(url)


def test_sqlite_statements_are_interrupted_past_the_timeout(tmp_path, monkeypatch):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE VIEW endless AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
        ))
    monkeypatch.setenv("AIRFLOW__DDTRACK__IN_PLACE_TIMEOUT", "1")
    with pytest.raises(sa.exc.OperationalError, match="interrupted"):
        profile_in_place(Table("endless", engine=engine))


def test_checks_that_need_values_are_answered_by_the_database(warehouse):
    df = frame(400)
    df.loc[5, "id"] = df.loc[6, "id"]  # one duplicate
    df.loc[7, "status"] = "lost"
    load(df, "orders", warehouse)
    result = _in_place(Table("orders", engine=warehouse))
    asked = [checks.unique("id"), checks.unique("qty"), checks.values_in("status", ["new", "paid", "shipped", "returned"]),
             checks.values_in("status", ["new", "paid", "shipped", "returned", "lost"]), checks.unique("nope")]
    evidence = result.evidence(asked)
    assert (evidence[asked[0]].count, evidence[asked[0]].duplicates) == (400, 1)
    assert evidence[asked[1]].duplicates == 400 - df["qty"].nunique()
    assert evidence[asked[2]].outside == ("lost",) and evidence[asked[2]].n_outside == 1
    assert evidence[asked[3]].n_outside == 0
    assert "no column" in evidence[asked[4]].problem


def test_unique_is_judged_on_the_values_not_on_float_keys(tmp_path):
    """Ids above 2**53 and instants a microsecond apart are distinct, though equal as float64
    (how the profile groups numbers and times): ``unique`` must ask the database."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    base = 2**53
    pd.DataFrame({
        "id": np.array([base + i for i in range(1, 301)], dtype=np.int64),
        "at": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(300), "us"),
    }).to_sql("events", engine, index=False)
    result = _in_place(Table("events", engine=engine))
    asked = [checks.unique("id"), checks.unique("at")]
    evidence = result.evidence(asked)
    assert [evidence[c].duplicates for c in asked] == [0, 0]


def test_unique_of_ordinary_integer_ids_is_decided_by_the_profile(tmp_path):
    """Integers within +-2**53 are their own float64 keys: the profile's exact distinct count
    answers, with no second scan of the table."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    load(pd.DataFrame({"id": np.r_[np.arange(300), [7]].astype(np.int64)}), "ids", engine)
    result = _in_place(Table("ids", engine=engine))
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    unique = checks.unique("id")
    assert result.evidence([unique])[unique].duplicates == 1
    assert statements == []


@pytest.mark.parametrize("engine_name", [pytest.param("postgres", marks=pytest.mark.postgres), "duckdb"])
def test_nan_counts_as_null_as_in_memory(engine_name, tmp_path):
    """PostgreSQL and DuckDB store NaN and order it above +infinity: it is a null, as pandas
    counts it, not an infinity, and leaves the mean alone."""
    from dev_tools.airflow_local import create_postgres_database, drop_database

    url = create_postgres_database() if engine_name == "postgres" else f"duckdb:///{tmp_path / 'w.db'}"
    engine = sa.create_engine(url)
    try:
        values = [1.5, math.nan, math.inf, None, 2.5, -1.0, math.nan, -math.inf, math.inf, math.inf, math.inf]
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE m (x DOUBLE PRECISION)"))
            conn.execute(sa.text("INSERT INTO m VALUES (:x)"), [{"x": v} for v in values])
        col = _in_place(Table("m", engine=engine)).profile["columns"][0]
        expected = profile(pd.DataFrame({"x": values})).to_dict()["columns"][0]
        fields = ("count", "nulls", "min", "max", "mean", "infinities", "negatives", "zeros", "distinct")
        assert {f: col[f] for f in fields} == {f: expected[f] for f in fields}
        # histogram and quantiles of the finite values only (an infinity in a bin moves the median)
        assert col["histogram"]["counts"] == expected["histogram"]["counts"]
        bound = (2.5 - -1.0) / sql_engine.FINE_BINS + 1e-9  # the finite values span [-1, 2.5]
        assert all(abs(col["quantiles"][q] - v) <= bound for q, v in expected["quantiles"].items()), col["quantiles"]
    finally:
        engine.dispose()
        if engine_name == "postgres":
            drop_database(url)


@pytest.mark.postgres
def test_infinite_numerics_are_counted_not_binned():
    """PostgreSQL's unconstrained ``numeric`` holds +-Infinity too: counted as infinities, the
    extremes and histogram of the finite values, as for float columns."""
    from dev_tools.airflow_local import create_postgres_database, drop_database

    url = create_postgres_database()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE m (x numeric)"))
            conn.execute(sa.text("INSERT INTO m VALUES (1.5), ('Infinity'), (NULL), (-2), ('-Infinity'), (0)"))
        col = _in_place(Table("m", engine=engine)).profile["columns"][0]
        assert (col["count"], col["nulls"], col["infinities"], col["min"], col["max"]) == (5, 1, 2, "-inf", "inf")
        assert (col["negatives"], col["zeros"], sum(col["histogram"]["counts"])) == (2, 1, 3)
    finally:
        engine.dispose()
        drop_database(url)


def test_uris_follow_openlineage_dataset_naming(tmp_path):
    pg = sa.engine.make_url("postgresql+psycopg2://u:secret@db.example:6543/shop")
    my = sa.engine.make_url("mysql+mysqldb://u@db.example/shop")
    t = Table("public.orders", conn_id="x")
    assert sql_engine.dataset_uri(pg, t) == "postgres://db.example:6543/shop.public.orders"
    assert sql_engine.dataset_uri(pg, Table("orders", conn_id="x")) == "postgres://db.example:6543/shop.public.orders"
    assert sql_engine.dataset_uri(my, Table("orders", conn_id="x")) == "mysql://db.example:3306/shop.orders"
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert uri_of(Table("orders", engine=engine)) == f"sqlite://{tmp_path / 'w.db'}.orders"
    assert "secret" not in repr(Table("orders", engine=sa.create_engine(pg)))


def test_the_statements_compile_for_other_warehouses():
    """Snowflake, BigQuery, Redshift and Trino are not run here: the statements, compiled for
    PostgreSQL, transpile with sqlglot to each dialect and parse back (see the README for
    what differs there)."""
    import sqlglot
    from sqlalchemy.dialects import postgresql

    md = sa.MetaData()
    t = sa.Table("orders", md, sa.Column("id", sa.BigInteger), sa.Column("amount", sa.Double),
                 sa.Column("status", sa.String), sa.Column("at", sa.DateTime(timezone=True)),
                 sa.Column("gift", sa.Boolean), schema="mart")
    cols = sql_engine._columns(t, postgresql.dialect(), set())
    moments, _ = sql_engine._moments_select(t, cols, "postgresql")
    plans = [sql_engine._BinPlan.make(cols[0], 0, 1e6, 1000, t.c.id),
             sql_engine._BinPlan.make(cols[1], 0, 10.0, 1000, t.c.amount)]
    statements = [moments, sql_engine._bins_select(t, plans, "postgresql"),
                  sql_engine._values_select(t, [cols[2], cols[4]], "postgresql"),
                  sql_engine._distinct_select(t, [p.value for p in plans], "postgresql"),
                  sql_engine._infinities_select(t, cols[1:2])]
    assert "GROUPING SETS" in str(statements[1].compile(dialect=postgresql.dialect()))
    for target in ("snowflake", "bigquery", "redshift", "trino"):
        sampled = sql_engine._sampled(t, 10, target)
        bins = sql_engine._bins_select(sampled, [sql_engine._BinPlan.make(cols[0], 0, 1e6, 1000, sampled.c.id)], target)
        for stmt in [*statements, bins]:
            text = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            out = sqlglot.transpile(text, read="postgres", write=target, unsupported_level=sqlglot.ErrorLevel.RAISE)[0]
            assert sqlglot.parse_one(out, read=target) is not None
