#!/usr/bin/env python
"""A PostgreSQL table profiled where it lives, against its anchors, in one run.

Run from the repository root (inside the heavy-work lock on shared machines)::

    flock /tmp/ddtrack-heavy.lock .venv/bin/python benchmarks/sql_table_speed.py

Options: ``--rows N`` (default 10,000,000), ``--reps N`` (rounds; medians reported),
``--url URL`` (a PostgreSQL server; default the local one), ``--no-read-sql`` (skip the
slow read_sql anchor), ``--json FILE``.

The table (built once, kept in database ``ddtrack_bench_sql``; rebuilt when its row count
differs): 10 columns shaped like an orders table: ``id`` bigint (unique), ``customer_id``
int (100,000 values), ``amount`` float8 (log-uniform, 5 % NULL), ``quantity`` int (1..20),
``discount`` float8 (a third zero), ``status`` text (5 values), ``country`` text (60),
``sku`` text (50,000), ``created_at`` timestamptz (one per second), ``gift`` boolean.

What is timed, in turn each round:

* ``ddtrack``: ``ddtrack.engines.profile_in_place(Table("public.orders", engine=...))``, the
  whole profile: exact moments over the whole table, then quantiles, histograms, top values and
  distinct counts from a block sample (``TABLESAMPLE SYSTEM``) of about 200,000 rows (``sql.SAMPLE_ROWS``);
* ``anchor``: one single-pass aggregate query: ``count(*)`` and, for every column,
  ``count(col), min(col), max(col)`` and ``avg(col)`` of numeric columns (booleans:
  ``bool_and``/``bool_or`` and the average as 0/1);
* ``read_sql + profile``: ``pandas.read_sql_table`` of the whole table and ddtrack's
  in-memory profile of the frame (what a task without pushdown would do), once.

Then, once: each statement of the last pushdown profile with its time (where the time goes),
and the ``unique("id")`` and ``values_in("status", ...)`` checks answered exactly by the
database (gates: they scan the whole table, timed apart from the profile).

It also prints the task process's memory growth during the pushdown profile (peak RSS from
``/proc/self/status`` VmHWM, reset before the run) and PASS/FAIL lines for the targets:
ddtrack <= 3 x anchor, >= 10 x faster than read_sql + profile, memory growth <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddtrack.engines import profile_in_place  # noqa: E402
from ddtrack.references import Table  # noqa: E402

DB = "ddtrack_bench_sql"
BUILD = """
DROP TABLE IF EXISTS public.orders;
CREATE TABLE public.orders AS
SELECT g AS id,
       (g * 7919 % 100000)::int AS customer_id,
       CASE WHEN g % 20 = 0 THEN NULL ELSE round(exp(random() * 6)::numeric, 2)::float8 END AS amount,
       (1 + g % 20)::int AS quantity,
       CASE WHEN g % 3 = 0 THEN 0 ELSE random() END AS discount,
       (ARRAY['new','paid','shipped','delivered','returned'])[1 + g % 5] AS status,
       'C' || lpad((g * 31 % 60)::text, 2, '0') AS country,
       'sku-' || (g * 104729 % 50000) AS sku,
       timestamptz '2026-01-01' + (g || ' seconds')::interval AS created_at,
       (g % 7 = 0) AS gift
FROM generate_series(1::bigint, {rows}::bigint) AS g;
ANALYZE public.orders;
"""
NUMERIC = ("id", "customer_id", "amount", "quantity", "discount")


def ensure_table(server: str, rows: int) -> sa.engine.Engine:
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB}).first():
            conn.execute(sa.text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    engine = sa.create_engine(f"{server}/{DB}")
    with engine.begin() as conn:
        have = conn.execute(sa.text("SELECT to_regclass('public.orders') IS NOT NULL")).scalar()
        n = conn.execute(sa.text("SELECT count(*) FROM public.orders")).scalar() if have else -1
        if n != rows:
            print(f"building public.orders with {rows:,} rows ...", flush=True)
            conn.connection.driver_connection.cursor().execute(BUILD.format(rows=rows))  # no parameters: % is modulo
    return engine


def anchor_sql() -> str:
    parts = ["count(*)"]
    for c in ("id", "customer_id", "amount", "quantity", "discount", "status", "country", "sku", "created_at", "gift"):
        if c == "gift":  # PostgreSQL has no min/max of booleans: bool_and/bool_or are theirs
            parts += ["count(gift)", "bool_and(gift)", "bool_or(gift)", "avg(gift::int)"]
            continue
        parts += [f"count({c})", f"min({c})", f"max({c})"]
        if c in NUMERIC:
            parts.append(f"avg({c})")
    return f"SELECT {', '.join(parts)} FROM public.orders"


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM: the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def statement_times(engine: sa.engine.Engine) -> list[tuple[str, float]]:
    """(first words of the statement, seconds) of every statement run on ``engine`` from now on."""
    times: list[tuple[str, float]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, *rest):
        conn.info["t0"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, *rest):
        times.append((" ".join(statement.split())[:90], time.perf_counter() - conn.info.pop("t0")))

    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432")
    ap.add_argument("--no-read-sql", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    engine = ensure_table(args.url, args.rows)
    table = Table("public.orders", engine=engine)
    with engine.connect() as conn:  # warm the buffer cache alike for every contender
        conn.execute(sa.text(anchor_sql())).all()
    profile_in_place(table)

    rounds: list[dict[str, float]] = []
    growth = []
    for i in range(args.reps):
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text(anchor_sql())).all()
        anchor = time.perf_counter() - t0
        reset_peak()
        before = status_mb("VmRSS")
        t0 = time.perf_counter()
        result = profile_in_place(table)
        ours = time.perf_counter() - t0
        growth.append(status_mb("VmHWM") - before)
        rounds.append({"ddtrack": ours, "anchor": anchor, "ratio": ours / anchor})
        print(f"round {i + 1}: ddtrack {ours:.2f} s, anchor {anchor:.2f} s, ratio {ours / anchor:.2f}, "
              f"memory growth {growth[-1]:.1f} MB", flush=True)
    assert result is not None and result.profile["rows"] == args.rows

    from ddtrack import checks

    times = statement_times(engine)
    t0 = time.perf_counter()
    result = profile_in_place(table)
    traced = time.perf_counter() - t0
    print(f"\nstatements of one more pushdown profile ({traced:.2f} s):")
    for text, seconds in times:
        if seconds >= 0.05:
            print(f"  {seconds:7.2f} s  {text}")
    asked = [checks.unique("id"), checks.values_in("status", ["new", "paid", "shipped", "delivered", "returned"])]
    t0 = time.perf_counter()
    evidence = result.evidence(asked)
    gates = time.perf_counter() - t0
    assert evidence[asked[0]].duplicates == 0 and evidence[asked[1]].n_outside == 0

    med = {k: statistics.median(r[k] for r in rounds) for k in ("ddtrack", "anchor", "ratio")}
    out = {"rows": args.rows, **med, "memory_growth_mb": max(growth), "gates": gates}
    if not args.no_read_sql:
        import pandas as pd

        from ddtrack.profile import profile

        t0 = time.perf_counter()
        frame = pd.read_sql_table("orders", engine, schema="public")
        profile(frame).to_dict()
        out["read_sql_profile"] = time.perf_counter() - t0
        del frame
    print()
    print(f"PostgreSQL table, {args.rows:,} rows x 10 columns (medians of {args.reps} rounds)")
    print(f"  ddtrack pushdown profile   {med['ddtrack']:8.2f} s")
    print(f"  one aggregate pass         {med['anchor']:8.2f} s   ratio {med['ratio']:.2f}  (target <= 3)")
    if "read_sql_profile" in out:
        speedup = out["read_sql_profile"] / med["ddtrack"]
        out["speedup_vs_read_sql"] = speedup
        print(f"  read_sql + profile         {out['read_sql_profile']:8.2f} s   ddtrack is {speedup:.1f} x faster  "
              "(target >= 10)")
    print(f"  unique + values_in checks  {gates:8.2f} s   (exact, on the whole table; apart from the profile)")
    print(f"  task memory growth         {max(growth):8.1f} MB  (target <= 100)")
    print()
    print(f"{'PASS' if med['ratio'] <= 3 else 'FAIL'}: pushdown <= 3 x one aggregate pass")
    if "speedup_vs_read_sql" in out:
        print(f"{'PASS' if out['speedup_vs_read_sql'] >= 10 else 'FAIL'}: >= 10 x faster than read_sql + profile")
    print(f"{'PASS' if max(growth) <= 100 else 'FAIL'}: memory growth <= 100 MB")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
