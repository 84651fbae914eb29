"""SQL tables profiled in their own database: SQLAlchemy Core pushdown.

``log_output(Table("public.orders", conn_id="warehouse"), name="orders")`` never reads the
table's rows into the task.  The profile comes from a fixed number of statements, whatever
the column count:

1. the columns and their types, from the database's catalog (SQLAlchemy reflection);
2. **moments**, the one scan of the whole table: rows, and per column count, min, max,
   mean, std (``stddev_samp``; on SQLite, without it, from sums with a second pass when the
   mean dominates the spread), zeros and negatives.  All exact.  A float column whose min or
   max is infinite gets one more statement: its finite extremes and its infinities;
3. the **sketch statement** (one ``UNION ALL`` of three parts), on the whole table when it
   has at most ``SAMPLE_ROWS`` (200,000) rows, else on a sample of about that many rows:
   ``TABLESAMPLE SYSTEM (p) REPEATABLE (seed)`` (a block sample: whole pages drawn at
   random, and only they are read) on PostgreSQL, DuckDB, Snowflake and Trino; a row-level
   ``random()`` filter on SQLite, MariaDB and Redshift, which still reads the table but
   groups only the sampled rows:

   * **numeric bins**: every numeric and datetime column binned at once, in one pass with
     ``GROUP BY GROUPING SETS`` (one set per column; on SQLite and MariaDB, which have no
     grouping sets, the columns are unpivoted by a cross join with a small constant table
     and grouped by (column, bin)).  Integer columns whose range holds at most 16,384
     values get one bin per value; other columns get up to 16,384 equal-width bins between
     the exact min and max, nested in the histogram's bins;
   * **numeric distinct**: the other numeric and datetime columns grouped the same way (as
     float64) by value: values seen, and values seen once;
   * **text values**: string and boolean columns grouped the same way by value, cut with
     window functions to the 20 most frequent values per column, with the number of values
     seen and seen once, and the shortest, longest and mean length of the values seen;
4. optionally, the first ``sample`` rows (``LIMIT``), PII columns left out.

A table of 10M rows is thus read in full once (the moments), then each part reads the same
2 % of its pages, and the groupings see 200,000 rows.

Error bounds
------------
* rows, count, nulls, min, max, mean, std, zeros, negatives, infinities: exact (the
  database's float64 arithmetic for mean and std), sampled or not.
* ``str_len`` (shortest, mean and longest length of a string column's values): exact up to
  ``SAMPLE_ROWS`` rows; sampled, those of the sampled values (the mean within the sampling
  error of a mean; a length rarer than about ``1 / m`` may be missed at the extremes).
  Measuring every value's length in the moments scan cost half as much again as the scan.
* Up to ``SAMPLE_ROWS`` rows (nothing sampled): histograms exact (up to floating-point
  rounding of a value lying exactly on a bin edge); top values and distinct counts exact
  (those of float and datetime columns over their float64 values: integers beyond 2**53 that
  round alike count once); quantiles exact for integer columns of range <= 16,384, otherwise
  within one fine bin, ``(max - min) / 16,384``, of the exact value.
* Sampled (``m`` rows of ``N``; every column's ``distinct_estimated`` is true).  The bounds
  below are those of a sample of independent rows (the random filter).  A block sample is as
  good when values are spread over the pages independently of where rows are stored; for a
  column stored in its own order (a load timestamp, a serial id, a table clustered on it),
  rows of a page come together and the effective ``m`` is the number of pages sampled
  (``m`` / rows per page: ~2,500 for 200,000 rows of ~80 per page, a median rank error of
  1 %), and ``Duj1`` under-counts the distinct values of a column stored in runs of
  equal values (a table sorted by it), by up to the sampling factor ``N / m``:

  - histogram counts are the sample's scaled to the column's exact count (largest
    remainders, so they sum to it): a bin holding a share ``s`` of the values has a relative
    standard error of about ``sqrt((1 - s) / (s m))`` (2.2 % for a 1 % bin with m = 200,000);
  - quantiles (and the 129-point summary) are the sample's: the rank of each has a standard
    error of ``sqrt(q (1 - q) / m)`` of the rows (0.11 % for the median with m = 200,000), plus
    the fine-bin width above;
  - top values are the sample's most frequent, their counts scaled by ``count / m_col``
    (``m_col`` the column's sampled non-null values): the same relative error as a bin; a
    value rarer than about ``1 / m`` may be missed;
  - distinct counts use Haas and Stokes' ``Duj1`` estimator (``estimate_distinct``), the
    one PostgreSQL's ANALYZE uses: ``n d / (n - f1 + f1 n / N)`` from the ``d`` values seen,
    ``f1`` of them once, in ``n`` sampled values.  It is exact when every value recurs in the
    sample (low cardinality) and when every sampled value is unique (a key); between, on
    skewed data, its error can reach a factor ``sqrt(N / n)`` (about 7 for 10M rows sampled
    to 200,000), the bound no estimator from a sample can beat (Charikar et al., 2000).

* No HyperLogLog registers: the database's hash of a value is not ddtrack's, so the
  ``sketch`` holds the summary only; merged profiles of such outputs take distinct counts
  from the parts when they can and leave them unknown otherwise.
* ``unique`` and ``values_in`` checks stay exact: they are gates, answered by their own
  aggregation over the whole table (``SqlEvidence``) unless the profile is exact.

``Table(..., sample_percent=p)`` sets the sample's share instead (any table size).

Timeouts
--------
Every statement runs under ``[ddtrack] in_place_timeout`` seconds (the remaining share of
it): PostgreSQL ``statement_timeout`` (``SET LOCAL``), MariaDB ``max_statement_time``,
MySQL ``max_execution_time``, SQLite a progress handler, DuckDB ``interrupt()``.  Past it,
the database cancels the statement and the output's profile fails with one warning.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from ddtrack import conf
from ddtrack.engines import Adapter, InPlaceOptions, InPlaceResult
from ddtrack.profile.exact import OUTSIDE_KEPT
from ddtrack.references import Table

FINE_BINS = 16384
# Tables with more rows get their sketches (quantiles, histograms, top values, distinct
# counts) from a Bernoulli sample of about this many rows; smaller ones are read whole.
SAMPLE_ROWS = 200_000
SEED = 20260101  # of the sample's pages: the same table gives the same sample
TOP_N = 20
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MAX_BINS = 50
SUMMARY_POINTS = 129
_BIG = 1.7976931348623157e308  # the largest float64: anything beyond is an infinity
_NAN_DIALECTS = frozenset({"postgresql", "duckdb"})  # float columns there can hold NaN


def matches(obj: Any) -> bool:
    return isinstance(obj, Table)


@dataclass
class _Column:
    name: str
    position: int
    dtype: str
    kind: str  # integer, float, boolean, datetime, string, other
    expr: Any  # the SQLAlchemy column
    pii: bool
    tz: str | None = None
    nan: bool = False  # a float column of a database that stores NaN: read through _nan_as_null


def profile(table: Table, options: InPlaceOptions) -> InPlaceResult:
    """Profile ``table`` in its database (see the module docstring for what runs there)."""
    engine = engine_of(table)
    deadline = time.monotonic() + conf.in_place_timeout()
    with engine.connect() as conn:
        sa_table = reflect(conn, table)
        columns = _columns(sa_table, conn.dialect, set(options.pii))
        if conn.dialect.name == "sqlite":
            _sqlite_storage_kinds(conn, columns, deadline)
        prof = _Profiler(conn, sa_table, columns, table.sample_percent, deadline).run(options.sample)
    prof["pii"] = [c.name for c in columns if c.pii]
    evidence = SqlEvidence(engine, table, prof, conf.in_place_timeout())
    return InPlaceResult(profile=prof, uri=dataset_uri(engine.url, table), evidence=evidence)


def uri(table: Table) -> str:
    return dataset_uri(engine_of(table).url, table)


ADAPTER = Adapter("sql", matches, profile, uri)


# ---------------------------------------------------------------- connections and names
def engine_of(table: Table) -> sa.engine.Engine:
    """The table's SQLAlchemy engine: given, or made by the Airflow connection's hook."""
    if table.engine is not None:
        return table.engine
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(table.conn_id).get_hook()
    return hook.get_sqlalchemy_engine()


_SCHEMES = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite",
            "duckdb": "duckdb", "redshift": "redshift", "snowflake": "snowflake", "trino": "trino",
            "bigquery": "bigquery", "mssql": "mssql"}
_PORTS = {"postgres": 5432, "mysql": 3306, "redshift": 5439, "trino": 8080, "mssql": 1433}


def dataset_uri(url: sa.engine.URL, table: Table) -> str:
    """The table's dataset URI in OpenLineage's naming (``postgres://host:5432/db.schema.table``,
    ``mysql://host:3306/db.table``; embedded files as ``sqlite:///path.table``)."""
    scheme = _SCHEMES.get(url.get_backend_name(), url.get_backend_name())
    if scheme in ("sqlite", "duckdb"):
        return f"{scheme}://{url.database or ':memory:'}.{table.qualified_name}"
    host = f"{url.host or 'localhost'}:{url.port or _PORTS.get(scheme, 0)}"
    if scheme == "mysql":  # MySQL's database is its schema: db.table
        return f"{scheme}://{host}/{table.schema or url.database}.{table.name}"
    schema = table.schema or ("public" if scheme in ("postgres", "redshift") else None)
    parts = [p for p in (url.database, schema, table.name) if p]
    return f"{scheme}://{host}/{'.'.join(parts)}"


# ---------------------------------------------------------------- columns and their kinds
def reflect(conn: Any, table: Table) -> sa.Table:
    """The table's columns and types from the database's catalog.

    DuckDB through duckdb_engine: SQLAlchemy's PostgreSQL reflection (which duckdb_engine
    inherits) asks for catalog tables DuckDB lacks, so its columns come from
    ``information_schema.columns`` and the dialect's type names.
    """
    if conn.dialect.name != "duckdb":
        return sa.Table(table.name, sa.MetaData(), schema=table.schema, autoload_with=conn)
    q = sa.text(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t"
        + (" AND table_schema = :s" if table.schema else "") + " ORDER BY ordinal_position"
    )
    found = conn.execute(q, {"t": table.name, "s": table.schema}).all()
    if not found:
        raise sa.exc.NoSuchTableError(table.qualified_name)
    names = conn.dialect.ischema_names
    cols = []
    for name, data_type in found:
        text = str(data_type).lower()
        type_ = names.get(text) or names.get(text.split("(")[0]) or {"double": sa.Double}.get(text, sa.types.NullType)
        cols.append(sa.Column(name, type_() if isinstance(type_, type) else type_))
    return sa.Table(table.name, sa.MetaData(), *cols, schema=table.schema)


def _kind(t: sa.types.TypeEngine) -> str:
    if isinstance(t, sa.Boolean):
        return "boolean"
    if isinstance(t, sa.Integer):
        return "integer"
    if isinstance(t, (sa.Float, sa.Numeric)):
        return "integer" if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and t.scale == 0 else "float"
    if isinstance(t, (sa.DateTime, sa.Date)):
        return "datetime"
    if isinstance(t, (sa.String, sa.Enum, sa.Uuid)):
        return "string"
    return "other"


def _columns(sa_table: sa.Table, dialect: Any, pii: set[str]) -> list[_Column]:
    out = []
    for i, c in enumerate(sa_table.columns):
        try:
            dtype = c.type.compile(dialect=dialect).lower()
        except Exception:  # noqa: BLE001 - a type SQLAlchemy cannot render still gets its class name
            dtype = type(c.type).__name__.lower()
        kind = _kind(c.type)
        tz = "UTC" if kind == "datetime" and getattr(c.type, "timezone", False) else None
        nan = kind == "float" and dialect.name in _NAN_DIALECTS
        out.append(_Column(str(c.name), i, dtype, kind, _nan_as_null(c) if nan else c, str(c.name) in pii, tz, nan))
    return out


def _nan_as_null(x: Any) -> Any:
    """``x`` with NaN read as NULL, as the in-memory profile counts it.  PostgreSQL and
    DuckDB store NaN, count it as a value and order it above +infinity, so it would pass
    for an infinity and turn the mean into NaN."""
    return sa.type_coerce(sa.func.nullif(x, sa.cast(sa.literal("NaN"), x.type)), x.type)


def _sqlite_storage_kinds(conn: Any, columns: list[_Column], deadline: float) -> None:
    """SQLite columns without a declared type (``CREATE TABLE ... AS SELECT`` of expressions)
    take the kind of the values they hold: one statement reads every such column's
    storage classes (``typeof``)."""
    untyped = [c for c in columns if isinstance(c.expr.type, sa.types.NullType)]
    if not untyped:
        return
    stmt = sa.select(*[sa.func.group_concat(sa.distinct(sa.func.typeof(c.expr))) for c in untyped])
    with _statement_timeout(conn, deadline):
        row = conn.execute(stmt.select_from(untyped[0].expr.table)).one()
    for c, found in zip(untyped, row, strict=True):
        classes = set((found or "").split(",")) - {"null", ""}
        c.dtype = "/".join(sorted(classes)) or c.dtype
        if classes == {"integer"}:
            c.kind, c.expr = "integer", sa.type_coerce(c.expr, sa.Integer())
        elif classes and classes <= {"integer", "real"}:
            c.kind, c.expr = "float", sa.type_coerce(c.expr, sa.Double())
        elif classes == {"text"}:
            c.kind, c.expr = "string", sa.type_coerce(c.expr, sa.String())


# ---------------------------------------------------------------- statements
def _epoch(col: Any, dialect: str) -> Any:
    """Seconds since 1970 (float) of a date/time column, in the dialect's own functions."""
    if dialect == "sqlite":  # whole seconds, plus the fraction of '%f' (SS.SSS): exact to the ms
        seconds = sa.cast(sa.func.strftime("%s", col), sa.Double())
        fraction = sa.cast(sa.func.strftime("%f", col), sa.Double()) - sa.cast(
            sa.func.strftime("%S", col), sa.Integer())
        return seconds + fraction
    if dialect in ("mysql", "mariadb"):
        return sa.func.unix_timestamp(col)
    if dialect == "postgresql":  # a float8; EXTRACT gives a numeric (PostgreSQL 14+), several times slower
        return sa.func.date_part("epoch", col)
    return sa.extract("epoch", col)


def _as_float(expr: Any) -> Any:
    return sa.cast(expr, sa.Double())


def _count_if(cond: Any) -> Any:
    """Rows where ``cond`` holds: ``count`` of a CASE (cheaper than a sum of 1s and 0s)."""
    return sa.func.count(sa.case((cond, 1)))


def _moments_select(sa_table: Any, columns: Sequence[_Column], dialect: str) -> tuple[sa.Select, list[tuple[str, str]]]:
    """One single-scan SELECT of every exact statistic; returns it and (column, field) per output.

    Kept close to a plain aggregate pass (its cost is the anchor of the speed target): each
    extra expression is paid per row, so infinities are counted only where the min or max
    shows one (:func:`_infinities_select`), and string lengths per distinct value."""
    exprs: list[Any] = [sa.func.count()]
    keys: list[tuple[str, str]] = [("", "rows")]

    def add(name: str, field: str, expr: Any) -> None:
        exprs.append(expr)
        keys.append((name, field))

    has_stddev = dialect != "sqlite"
    for c in columns:
        x = c.expr
        add(c.name, "count", sa.func.count(x))
        if c.kind in ("integer", "float"):
            f = _as_float(x)
            # an infinity shows as the min or max: only then are they counted (_Profiler._infinities)
            add(c.name, "min", sa.func.min(x))
            add(c.name, "max", sa.func.max(x))
            add(c.name, "mean", sa.func.avg(f))
            if has_stddev:
                add(c.name, "std", sa.func.stddev_samp(f))
            else:
                add(c.name, "sumsq", sa.func.sum(f * f))
            add(c.name, "zeros", _count_if(x == 0))
            add(c.name, "negatives", _count_if(x < 0))
        elif c.kind == "datetime":
            # seconds of the extremes, not extremes of seconds: PostgreSQL's epoch is a numeric, slow per row
            add(c.name, "min", _epoch(sa.func.min(x), dialect))
            add(c.name, "max", _epoch(sa.func.max(x), dialect))
        elif c.kind == "boolean":
            add(c.name, "mean", sa.func.avg(sa.case((x, 1.0), else_=0.0)))
        elif c.kind == "string":  # lengths come with the values (_values_select): counted per distinct value
            add(c.name, "min", sa.func.min(x))
            add(c.name, "max", sa.func.max(x))
    return sa.select(*[e.label(f"m{i}") for i, e in enumerate(exprs)]).select_from(sa_table), keys


def _infinities_select(sa_table: Any, columns: Sequence[_Column]) -> sa.Select:
    """Per float column: finite min and max, +infinities and -infinities (4 values each)."""
    exprs = []
    for c in columns:
        f = _as_float(c.expr)
        finite = sa.and_(f <= _BIG, f >= -_BIG)
        exprs += [sa.func.min(sa.case((finite, f))), sa.func.max(sa.case((finite, f))),
                  _count_if(f > _BIG), _count_if(f < -_BIG)]
    return sa.select(*exprs).select_from(sa_table)


def _is_infinite(v: Any) -> bool:
    """An infinite float, or an infinite ``numeric`` (PostgreSQL 14+ stores those too)."""
    return isinstance(v, float | decimal.Decimal) and math.isinf(v)


def _unpivot(source: Any, branches: Sequence[Any], label: str) -> Any:
    """(k, value) pairs: ``branches[k]`` evaluated on every row, in one scan of ``source``."""
    ks = sa.union_all(*[sa.select(sa.literal(i).label("k")) for i in range(len(branches))]).subquery("ks")
    value = sa.case(*[(ks.c.k == i, b) for i, b in enumerate(branches)]) if len(branches) > 1 else branches[0]
    return sa.select(ks.c.k, value.label(label)).select_from(source).join(ks, sa.true()).subquery("u")


# The sketch statement is one UNION ALL of up to three parts, each row laid out as
# (part, k, b, v, n, d, f1, seen, len_min, len_max, len_sum): part 0 a fine bin ``b`` of
# numeric column ``k`` holding ``n`` values; part 1 numeric column ``k``'s ``d`` values seen,
# ``f1`` of them once, in ``seen`` values; part 2 string/boolean column ``k``'s value ``v``
# (one of its 20 most frequent) seen ``n`` times, with ``d``, ``f1`` and ``seen`` as in part
# 1, and the shortest, longest and summed lengths of the values seen.
BINS, DISTINCT, VALUES = 0, 1, 2
# Databases without GROUPING SETS: there the columns are unpivoted and grouped by (k, value).
_NO_GROUPING_SETS = frozenset({"sqlite", "mysql", "mariadb"})


def _null(t: Any = None) -> Any:
    return sa.cast(sa.null(), t if t is not None else sa.BigInteger())


def _no_lengths() -> list[Any]:
    return [_null().label("len_min"), _null().label("len_max"), _null().label("len_sum")]


def _grouped(source: Any, branches: Sequence[Any], label: str, dialect: str) -> Any:
    """(k, value, n): each of ``branches`` evaluated on the rows of ``source`` and its values
    counted (NULL among them), all branches in one scan.

    With GROUPING SETS the database keeps one small hash table per branch and evaluates each
    branch once per row (PostgreSQL: 0.8 s for the benchmark's sample, where the unpivot's
    sort of every (k, value) pair took 3 s).  Without them (SQLite, MariaDB) each row is
    joined with the branch numbers and the pairs are grouped (:func:`_unpivot`)."""
    if dialect in _NO_GROUPING_SETS or len(branches) == 1:
        u = _unpivot(source, branches, label)
        return sa.select(u.c.k, u.c[label], sa.func.count().label("n")).group_by(u.c.k, u.c[label]).subquery("g")
    inner = sa.select(*[b.label(f"{label}{i}") for i, b in enumerate(branches)]).select_from(source).subquery("t")
    sets = [inner.c[f"{label}{i}"] for i in range(len(branches))]
    k = sa.case(*[(sa.func.grouping(v) == 0, i) for i, v in enumerate(sets)])  # the set a row belongs to
    value = sa.func.coalesce(*sets)  # the other sets' columns are NULL in a set's rows
    return (sa.select(k.label("k"), value.label(label), sa.func.count().label("n")).select_from(inner)
            .group_by(sa.func.grouping_sets(*[sa.tuple_(v) for v in sets])).subquery("g"))


def _bins_select(source: Any, plans: Sequence[_BinPlan], dialect: str) -> sa.Select:
    g = _grouped(source, [p.key_expr for p in plans], "b", dialect)
    return sa.select(
        sa.literal_column(str(BINS)).label("part"), g.c.k, sa.cast(g.c.b, sa.BigInteger()).label("b"),
        _null(sa.String()).label("v"), g.c.n, _null().label("d"), _null().label("f1"), _null().label("seen"),
        *_no_lengths(),
    ).where(g.c.b.is_not(None))


def _values_select(source: Any, columns: Sequence[_Column], dialect: str) -> sa.Select:
    """Per column: its 20 most frequent values (as text) with counts, its distinct count, and
    the lengths of its values (each distinct value measured once)."""
    text = sa.String()
    values = [_in(source, c) for c in columns]
    branches = [sa.cast(_bool_text(x) if c.kind == "boolean" else x, text) for c, x in zip(columns, values, strict=True)]
    g = _grouped(source, branches, "v", dialect)
    length = (sa.func.length if dialect == "sqlite" else sa.func.char_length)(g.c.v)
    by_k = {"partition_by": g.c.k}
    windowed = sa.select(
        g.c.k, g.c.v, g.c.n,
        sa.func.row_number().over(partition_by=g.c.k, order_by=(g.c.n.desc(), g.c.v)).label("r"),
        sa.func.count().over(**by_k).label("d"),
        sa.func.sum(sa.case((g.c.n == 1, 1), else_=0)).over(**by_k).label("f1"),
        sa.func.sum(g.c.n).over(**by_k).label("seen"),
        sa.func.min(length).over(**by_k).label("len_min"),
        sa.func.max(length).over(**by_k).label("len_max"),
        sa.func.sum(length * g.c.n).over(**by_k).label("len_sum"),
    ).where(g.c.v.is_not(None)).subquery("w")
    w = windowed.c
    big = sa.BigInteger()
    return sa.select(
        sa.literal_column(str(VALUES)).label("part"), w.k, _null().label("b"), w.v, w.n, w.d,
        sa.cast(w.f1, big).label("f1"), sa.cast(w.seen, big).label("seen"),
        sa.cast(w.len_min, big).label("len_min"), sa.cast(w.len_max, big).label("len_max"),
        sa.cast(w.len_sum, big).label("len_sum"),
    ).where(w.r <= TOP_N)


def _distinct_select(source: Any, branches: Sequence[Any], dialect: str) -> sa.Select:
    """Per numeric/datetime column (values as float64): values seen, values seen once, and
    rows seen, from one grouping of the source."""
    g = _grouped(source, branches, "v", dialect)
    return sa.select(
        sa.literal_column(str(DISTINCT)).label("part"), g.c.k, _null().label("b"), _null(sa.String()).label("v"),
        _null().label("n"), sa.func.count().label("d"), _count_if(g.c.n == 1).label("f1"),
        sa.cast(sa.func.sum(g.c.n), sa.BigInteger()).label("seen"), *_no_lengths(),
    ).where(g.c.v.is_not(None)).group_by(g.c.k)


def estimate_distinct(d: int, f1: int, seen: int, total: int) -> int:
    """Distinct values of a column from a uniform sample: Haas and Stokes' ``Duj1`` estimator,
    ``n d / (n - f1 + f1 n / N)`` (``d`` values seen in ``n`` sampled rows, ``f1`` of them once,
    ``N`` rows in the table), the one PostgreSQL's ANALYZE uses; clamped to [d, N]."""
    if seen <= 0 or seen >= total:
        return d
    denominator = seen - f1 + f1 * seen / total
    estimate = seen * d / denominator if denominator > 0 else total
    return int(round(min(max(estimate, d), total)))


def _in(source: Any, c: _Column) -> Any:
    """Column ``c`` of ``source`` (the table or its sample), typed as profiled."""
    x = sa.type_coerce(source.c[c.name], c.expr.type)
    return _nan_as_null(x) if c.nan else x


def _bool_text(x: Any) -> Any:
    """Booleans as the in-memory profile lists them: "True"/"False"."""
    return sa.case((x.is_(None), sa.null()), (x, "True"), else_="False")


def _sampled(sa_table: Any, percent: float | None, dialect: str) -> Any:
    """The source of the sketch statement: the table, or a sample of about ``percent`` of it.

    Where there is TABLESAMPLE, a ``SYSTEM`` (block) sample with a fixed seed, so each part of
    the statement reads the same pages and only those: a Bernoulli sample would read every page
    of the table once per part (4.6 s against 0.4 s for 10 % of a 10M-row table).  Elsewhere a
    ``random()`` filter (rows, reading the whole table) in a CTE, kept (materialised) on SQLite,
    which would otherwise draw random() again for each joined row.
    """
    if not percent:
        return sa_table
    p = float(percent)
    if dialect in ("sqlite", "mysql", "mariadb", "redshift"):  # no TABLESAMPLE
        rand = {"sqlite": sa.func.abs(sa.func.random()) / 9223372036854775808.0,
                "redshift": sa.func.random()}.get(dialect, sa.func.rand())
        sample = sa.select(sa_table).where(rand < p / 100).cte("s")
        return sample.prefix_with("MATERIALIZED") if dialect == "sqlite" else sample
    # a literal, not a parameter: DuckDB takes no parameter there, and reads a bare number as rows
    share = sa.literal_column(f"{p!r} PERCENT" if dialect == "duckdb" else repr(p))
    return sa.tablesample(sa_table, sa.func.system(share), name="s", seed=sa.literal_column(str(SEED)))


def _scaled(counts: np.ndarray, total: int) -> np.ndarray:
    """Sampled bin counts scaled to the column's exact ``total``, as integers summing to it
    (largest remainders); counts already summing to it are returned as they are."""
    seen = counts.sum()
    if seen == total or seen == 0:
        return counts
    raw = counts * (total / seen)
    out = np.floor(raw)
    short = int(total - out.sum())
    if short > 0:
        out[np.argsort(out - raw, kind="stable")[:short]] += 1
    return out


# ---------------------------------------------------------------- bins of one numeric column
@dataclass
class _BinPlan:
    column: _Column
    lo: float
    hi: float
    n: int  # finite values
    exact: bool  # one bin per integer value
    n_hist: int  # histogram bins
    fine: int  # fine bins
    key_expr: Any = None
    value: Any = None  # the column's values as binned (float64, or seconds for datetimes)

    @classmethod
    def make(cls, c: _Column, lo: float, hi: float, n: int, value: Any) -> _BinPlan:
        exact = c.kind == "integer" and hi - lo + 1 <= FINE_BINS
        if exact:
            n_hist = int(hi - lo + 1) if hi - lo + 1 <= MAX_BINS else _n_bins(n)
            fine = int(hi - lo + 1)
            key = value - int(lo)
        else:
            n_hist = _n_bins(n) if hi > lo else 1
            fine = n_hist * (FINE_BINS // n_hist) if hi > lo else 1
            scale = fine / (hi - lo) if hi > lo else 0.0
            f = _as_float(value) if c.kind == "integer" else value  # float arithmetic, never numeric
            # NULL (no bin) for NULL (SQLAlchemy's own floor() for SQLite fails on NULL), for
            # infinities and for values outside [lo, hi] (rows written since the moments)
            key = sa.case((f == hi, fine - 1), (sa.and_(f >= lo, f < hi), sa.func.floor((f - lo) * scale)))
        return cls(c, lo, hi, n, exact, n_hist, fine, key, value)

    def edges(self) -> np.ndarray:
        if self.hi == self.lo:
            return np.array([self.lo, self.hi])
        if self.exact and self.hi - self.lo + 1 <= MAX_BINS:
            return np.arange(self.lo, self.hi + 2, dtype=np.float64)
        return np.linspace(self.lo, self.hi, self.n_hist + 1)

    def fine_counts(self, rows: Sequence[tuple[int, int]]) -> np.ndarray:
        counts = np.zeros(self.fine, dtype=np.float64)
        for b, n in rows:
            counts[min(max(int(b), 0), self.fine - 1)] += n
        return counts

    def histogram(self, counts: np.ndarray) -> list[int]:
        if self.exact:
            values = self.lo + np.arange(self.fine)
            edges = self.edges()
            inner = np.searchsorted(values, np.ceil(edges[1:-1]), "left")
            bounds = np.concatenate([[0], inner, [self.fine]])
            return [int(round(counts[a:b].sum())) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        per = self.fine // self.n_hist
        return [int(round(x)) for x in counts.reshape(self.n_hist, per).sum(axis=1)]

    def at_ranks(self, counts: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Values at fractional 0-based ranks (numpy "linear" interpolation between neighbours)."""
        total = counts.sum()
        cum = np.cumsum(counts)
        width = 1.0 if self.exact else (self.hi - self.lo) / self.fine

        def value(i: np.ndarray) -> np.ndarray:
            b = np.minimum(np.searchsorted(cum, i, "right"), self.fine - 1)
            if self.exact:
                return self.lo + b.astype(np.float64)
            before = cum[b] - counts[b]
            frac = (i - before + 0.5) / np.maximum(counts[b], 1)
            return np.clip(self.lo + (b + np.clip(frac, 0, 1)) * width, self.lo, self.hi)

        r = np.clip(ranks, 0, max(total - 1, 0))
        lo_i, hi_i = np.floor(r), np.ceil(r)
        a, b = value(lo_i), value(hi_i)
        return a + (b - a) * (r - lo_i)


def _n_bins(n: int) -> int:
    return int(min(MAX_BINS, max(1, math.ceil(math.sqrt(n)))))


# ---------------------------------------------------------------- running the statements
class _Profiler:
    def __init__(self, conn: Any, sa_table: Any, columns: list[_Column], sample_percent: float | None,
                 deadline: float) -> None:
        self.conn, self.table, self.columns = conn, sa_table, columns
        self.dialect = conn.dialect.name
        self.sample_percent = sample_percent
        self.deadline = deadline

    def execute(self, stmt: Any) -> Any:
        with _statement_timeout(self.conn, self.deadline):
            return self.conn.execute(stmt).all()

    def run(self, n_sample: int) -> dict[str, Any]:
        from ddtrack.profile._profile import empty_profile, fingerprint

        stmt, keys = _moments_select(self.table, self.columns, self.dialect)
        row = self.execute(stmt)[0]
        m: dict[str, dict[str, Any]] = {}
        for (name, field), v in zip(keys, row, strict=True):
            m.setdefault(name, {})[field] = v
        rows = int(m[""]["rows"])
        self._infinities(m)
        self._fix_std(m)
        cols = {c.name: self._column(c, m[c.name], rows) for c in self.columns}
        self._sketches(cols, m, rows)
        prof = empty_profile("sql", f"sql.{self.dialect}")
        prof["rows"] = rows
        prof["n_columns"] = len(self.columns)
        prof["schema"] = [{"name": c.name, "dtype": c.dtype} for c in self.columns]
        prof["schema_fingerprint"] = fingerprint(prof["schema"])
        prof["columns"] = [cols[c.name] for c in self.columns]
        if n_sample > 0:
            prof["sample"] = self._sample_rows(n_sample)
        return prof

    def _infinities(self, m: dict[str, dict[str, Any]]) -> None:
        """Float columns whose min or max is infinite: their finite extremes and how many
        infinities, in one more statement (rare, so the moments scan does not pay for it)."""
        cols = [c for c in self.columns
                if c.kind == "float" and (_is_infinite(m[c.name].get("min")) or _is_infinite(m[c.name].get("max")))]
        if not cols:
            return
        row = self.execute(_infinities_select(self.table, cols))[0]
        for i, c in enumerate(cols):
            s = m[c.name]
            s["min"], s["max"], s["pos_inf"], s["neg_inf"] = row[4 * i : 4 * i + 4]

    def _fix_std(self, m: dict[str, dict[str, Any]]) -> None:
        """Without stddev_samp (SQLite): std from the sum of squares, or from a second scan of
        squared deviations where the mean dominates the spread (cancellation)."""
        redo = []
        for c in self.columns:
            s = m[c.name]
            if "sumsq" not in s:
                continue
            n, mean, sq = s["count"] or 0, s["mean"], s.pop("sumsq")
            if n < 2 or mean is None or sq is None:
                s["std"] = None
                continue
            var = (float(sq) - n * float(mean) ** 2) / (n - 1)
            if var > 0 and float(mean) ** 2 <= 1e3 * var:
                s["std"] = math.sqrt(var)
            else:
                redo.append(c)
        if redo:
            exprs = [sa.func.sum((_as_float(c.expr) - float(m[c.name]["mean"])) ** 2) for c in redo]
            row = self.execute(sa.select(*exprs).select_from(self.table))[0]
            for c, ss in zip(redo, row, strict=True):
                m[c.name]["std"] = math.sqrt(max(float(ss or 0.0), 0.0) / (m[c.name]["count"] - 1))

    def _column(self, c: _Column, s: dict[str, Any], rows: int) -> dict[str, Any]:
        from ddtrack.profile._columns import base_column

        count = int(s["count"] or 0)
        col = base_column(c.name, c.position, c.dtype, c.kind, count, rows - count)
        if s.get("distinct") is not None:
            col["distinct"] = int(s["distinct"])
        if c.pii:
            return col
        if c.kind in ("integer", "float"):
            is_int = c.kind == "integer"
            pos, neg = int(s.get("pos_inf") or 0), int(s.get("neg_inf") or 0)
            col["infinities"] = pos + neg
            col["min"] = "-inf" if neg else _number(s["min"], is_int)
            col["max"] = "inf" if pos else _number(s["max"], is_int)
            col["mean"] = None if pos or neg else _number(s["mean"], False)
            col["std"] = None if pos or neg else _number(s.get("std"), False)
            if (pos or neg) and not (pos and neg):
                col["mean"] = "inf" if pos else "-inf"
            col["zeros"], col["negatives"] = int(s["zeros"] or 0), int(s["negatives"] or 0)
        elif c.kind == "datetime":
            col["min"], col["max"] = self._iso(s["min"], c), self._iso(s["max"], c)
        elif c.kind == "boolean":
            mean = s.get("mean")
            if mean is not None and count:
                p = float(mean)
                col["mean"] = p
                col["std"] = math.sqrt(count / (count - 1) * p * (1 - p)) if count > 1 else None
        elif c.kind == "string" and count:
            col["min"], col["max"] = _text(s["min"]), _text(s["max"])
        return col

    @staticmethod
    def _iso(epoch_s: Any, c: _Column) -> str | None:
        from ddtrack.profile._columns import ticks_to_iso

        return None if epoch_s is None else ticks_to_iso(int(round(float(epoch_s) * 1e6)), "us", c.tz)

    def _percent(self, rows: int) -> float | None:
        """The share of the table the sketches read: ``sample_percent`` if given, else about
        ``SAMPLE_ROWS`` rows of a larger table; None (the whole table, exact) otherwise."""
        if self.sample_percent:
            return float(self.sample_percent)
        if rows > SAMPLE_ROWS:
            return 100.0 * SAMPLE_ROWS / rows
        return None

    def _sketches(self, cols: dict[str, dict[str, Any]], m: dict[str, dict[str, Any]], rows: int) -> None:
        """Bins and distinct counts of numeric/datetime columns, and values of string/boolean
        columns (the sketch statements), on the table or its sample."""
        from ddtrack.profile._sketch import encode_floats

        percent = self._percent(rows)
        source = _sampled(self.table, percent, self.dialect)
        sampled = percent is not None
        plans, spread = [], []
        for c in self.columns:
            s = m[c.name]
            if c.kind not in ("integer", "float", "datetime") or s.get("min") is None:
                continue
            n = int(s["count"] or 0) - int(s.get("pos_inf") or 0) - int(s.get("neg_inf") or 0)
            value = _epoch(_in(source, c), self.dialect) if c.kind == "datetime" else _in(source, c)
            if c.kind == "float":
                value = _as_float(value)
            plan = _BinPlan.make(c, float(s["min"]), float(s["max"]), n, value)
            if not c.pii:
                plans.append(plan)
            if c.pii or not plan.exact:
                spread.append(plan)
        groups = [c for c in self.columns if c.kind in ("string", "boolean")]
        parts = []
        if plans:
            parts.append(_bins_select(source, plans, self.dialect))
        if spread:
            parts.append(_distinct_select(source, [_as_float(p.value) for p in spread], self.dialect))
        if groups:
            parts.append(_values_select(source, groups, self.dialect))
        if not parts:
            return
        bins: dict[int, list[tuple[int, int]]] = {}
        seen_of: dict[tuple[int, int], tuple[int, int, int]] = {}
        found: dict[int, list[tuple[str, int]]] = {}
        lengths: dict[int, tuple[int, int, int]] = {}
        for part, k, b, v, n, d, f1, seen, *length in self.execute(parts[0] if len(parts) == 1 else sa.union_all(*parts)):
            part, k = int(part), int(k)
            if part == BINS:
                bins.setdefault(k, []).append((int(b), int(n)))
                continue
            seen_of[(part, k)] = (int(d), int(f1 or 0), int(seen or 0))
            if part == VALUES:
                found.setdefault(k, []).append((str(v), int(n)))
                lengths[k] = tuple(int(x or 0) for x in length)

        def distinct(col: dict[str, Any], d: int, f1: int, seen: int, total: int) -> None:
            col["distinct"] = estimate_distinct(d, f1, seen, total) if sampled else d
            col["distinct_estimated"] = sampled

        for k, plan in enumerate(plans):
            counts = plan.fine_counts(bins.get(k, []))
            col = cols[plan.column.name]
            if plan.exact:
                d, f1 = int(np.count_nonzero(counts)), int(np.count_nonzero(counts == 1))
                distinct(col, d, f1, int(counts.sum()), plan.n)
            self._fill_numeric(col, plan, _scaled(counts, plan.n), encode_floats)
        for k, plan in enumerate(spread):
            distinct(cols[plan.column.name], *seen_of.get((DISTINCT, k), (0, 0, 0)), plan.n)
        for k, c in enumerate(groups):
            col = cols[c.name]
            d, f1, seen = seen_of.get((VALUES, k), (0, 0, 0))
            count = int(col["count"])
            distinct(col, d, f1, seen, count)
            if c.pii:
                continue
            top = sorted(found.get(k, []), key=lambda t: (-t[1], t[0]))[:TOP_N]
            factor = count / seen if sampled and seen else 1.0
            col["top_values"] = [{"value": v[:200], "count": int(round(n * factor))} for v, n in top]
            if c.kind == "string" and seen:
                shortest, longest, total = lengths[k]
                col["str_len"] = {"min": shortest, "mean": total / seen, "max": longest}
            if c.kind == "boolean":
                values = {v for v, _ in top}
                col["min"] = None if not values else "False" not in values
                col["max"] = None if not values else "True" in values

    def _fill_numeric(self, col: dict[str, Any], plan: _BinPlan, counts: np.ndarray, encode: Any) -> None:
        n = int(round(counts.sum()))
        if n == 0:
            return
        ranks = np.asarray(QUANTILES) * (n - 1)
        summary_ranks = np.linspace(0.0, n - 1, SUMMARY_POINTS) if n > SUMMARY_POINTS else np.arange(n, dtype=float)
        at = plan.at_ranks(counts, np.concatenate([ranks, summary_ranks]))
        q, summary = at[: len(QUANTILES)], at[len(QUANTILES):]
        hist = plan.histogram(counts)
        edges = plan.edges()
        if plan.column.kind == "datetime":
            fmt = (lambda v: self._iso(v, plan.column))  # noqa: E731
            col["quantiles"] = {str(k): fmt(v) for k, v in zip(QUANTILES, q, strict=True)}
            col["histogram"] = {"edges": [fmt(e) for e in edges], "counts": hist}
            col["sketch"] = {"summary": encode(summary * 1e9), "summary_n": n, "unit": "ns"}
            if plan.column.tz:
                col["sketch"]["tz"] = plan.column.tz
            return
        col["quantiles"] = {str(k): float(v) for k, v in zip(QUANTILES, q, strict=True)}
        col["histogram"] = {"edges": [float(e) for e in edges], "counts": hist}
        col["sketch"] = {"summary": encode(summary), "summary_n": n}

    def _sample_rows(self, n: int) -> list[dict[str, Any]]:
        from ddtrack.record import to_json_safe

        shown = [c for c in self.columns if not c.pii]
        if not shown:
            return []
        rows = self.execute(sa.select(*[c.expr for c in shown]).limit(n))
        return [to_json_safe({c.name: _cell(v) for c, v in zip(shown, r, strict=True)}) for r in rows]


def _cell(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, str) and len(v) > 200:
        return v[:200]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _text(v: Any) -> str | None:
    return None if v is None else str(v)[:200]


def _number(v: Any, is_int: bool) -> Any:
    if v is None:
        return None
    f = float(v)
    if is_int and f.is_integer():
        return int(v)
    return f if math.isfinite(f) else ("inf" if f > 0 else "-inf")


# ---------------------------------------------------------------- statement timeouts
@contextlib.contextmanager
def _statement_timeout(conn: Any, deadline: float) -> Iterator[None]:
    """Run one statement under the time left until ``deadline``, cancelled by the database."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the in-place profile ran out of time ([ddtrack] in_place_timeout)")
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(sa.text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(left * 1000))})
        yield
    elif name in ("mysql", "mariadb"):
        mariadb = getattr(conn.dialect, "is_mariadb", False)
        var = "max_statement_time" if mariadb else "max_execution_time"
        value = f"{left:.3f}" if mariadb else str(int(left * 1000))
        conn.execute(sa.text(f"SET SESSION {var} = {value}"))
        try:
            yield
        finally:
            conn.execute(sa.text(f"SET SESSION {var} = 0"))
    elif name == "sqlite":
        raw = conn.connection.dbapi_connection
        raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
    elif name == "duckdb":
        raw = conn.connection.dbapi_connection
        timer = threading.Timer(left, raw.interrupt)
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
    else:
        yield


# ---------------------------------------------------------------- checks that need the values


def _distinct_is_exact_on_values(col: Mapping[str, Any]) -> bool:
    """Whether the profile's distinct count decides ``unique``: counted without sampling, on
    keys that are the values themselves.  Numbers and times are grouped as float64 keys: exact
    for integers within +-2**53 (the usual ids, so no second scan), not for larger integers,
    fractions or close instants."""
    if not isinstance(col.get("distinct"), int) or col.get("distinct_estimated"):
        return False
    if col.get("kind") in ("string", "boolean"):
        return True
    low, high = col.get("min"), col.get("max")
    return (col.get("kind") == "integer" and isinstance(low, int | float) and isinstance(high, int | float)
            and max(abs(low), abs(high)) <= 2**53)


class SqlEvidence:
    """``unique`` and ``values_in`` checks answered by the database, exactly.

    ``unique``: the profile's distinct count when it was counted on the values themselves
    (:func:`_distinct_is_exact_on_values`), else ``count(x) - count(DISTINCT x)`` for all
    such columns in one statement.  ``values_in``: one statement per check listing the
    distinct values outside the set (as text, as the profile's top values show them; up to
    1,000) and counting them.
    """

    def __init__(self, engine: Any, table: Table, prof: dict[str, Any], timeout: float) -> None:
        self.engine, self.table, self.profile, self.timeout = engine, table, prof, timeout

    def __call__(self, checks: Sequence[Any]) -> dict[Any, Any]:
        from ddtrack.checks import Evidence, Unique, ValuesIn

        cols = {str(c["name"]): c for c in self.profile["columns"]}
        out: dict[Any, Any] = {}
        asked = [c for c in checks if isinstance(c, Unique | ValuesIn)]
        missing = [c for c in asked if c.column not in cols]
        for check in missing:
            out[check] = Evidence(problem=f"the table has no column {check.column!r}")
        asked = [c for c in asked if c.column in cols]
        unique = [c for c in asked if isinstance(c, Unique)]
        todo = []
        for check in unique:
            col = cols[check.column]
            if _distinct_is_exact_on_values(col):
                out[check] = Evidence(count=int(col["count"]), duplicates=int(col["count"]) - int(col["distinct"]))
            else:
                todo.append(check)
        values_in = [c for c in asked if isinstance(c, ValuesIn)]
        if not todo and not values_in:
            return out
        deadline = time.monotonic() + self.timeout
        with self.engine.connect() as conn:
            t = reflect(conn, self.table)
            if todo:
                exprs = [e for c in todo for e in (sa.func.count(t.c[c.column]), sa.func.count(sa.distinct(t.c[c.column])))]
                with _statement_timeout(conn, deadline):
                    row = conn.execute(sa.select(*exprs).select_from(t)).one()
                for i, check in enumerate(todo):
                    n, d = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
                    out[check] = Evidence(count=n, duplicates=n - d)
            for check in values_in:
                x = t.c[check.column]
                v = sa.cast(_bool_text(x) if isinstance(x.type, sa.Boolean) else x, sa.String()).label("v")
                outside = sa.select(v).where(v.is_not(None), v.not_in(list(check.values))).distinct().subquery("o")
                listed = sa.select(outside.c.v, sa.func.count().over().label("n")).order_by(outside.c.v).limit(OUTSIDE_KEPT)
                with _statement_timeout(conn, deadline):
                    rows = conn.execute(listed).all()
                out[check] = Evidence(outside=tuple(str(r[0]) for r in rows), n_outside=int(rows[0][1]) if rows else 0)
        return out
