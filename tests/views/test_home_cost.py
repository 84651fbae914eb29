"""Home's table of DAGs costs the page, not the rights nor the history (issue 20 item 5).

A user who may read 1,000 DAGs must not send those 1,000 ids once per DAG of the page (50
branches of 1,000 ids took 1 s on PostgreSQL), and a warm home must not read output rows
again for DAGs that have no newer try: their sparklines are kept while the newest try is
the same, and a new run shows at once. On every store backend.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import sqlalchemy as sa
from records import make_record

from ddtrack import queries
from ddtrack.queries.home import forget_sparklines, home_page
from ddtrack.store.engine import get_engine
from ddtrack.store.ingest import ingest_records

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
READABLE = [f"dag_{d:02d}" for d in range(3)] + [f"other_{d}" for d in range(1000)]


@contextmanager
def statements(url: str):
    """The (SQL, parameter count) of each statement run on the store meanwhile."""
    seen: list[tuple[str, int]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, len(parameters or ())))

    engine = get_engine(url)
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def ingest(url: str, dag_id: str, run: int, rows: int) -> None:
    started = T0 + dt.timedelta(hours=run)
    report = ingest_records(url, [make_record(dag_id, f"run_{run:02d}", "load", rows=rows, started=started)])
    assert report.failed == 0, report.errors


def test_home_sends_each_readable_id_once(installed_store):
    for d in range(3):
        for r in range(2):
            ingest(installed_store, f"dag_{d:02d}", r, 100 + r)
    sources = queries.Sources(store_url=installed_store, metastore_url="")
    forget_sparklines()
    with statements(installed_store) as seen:
        page = home_page(sources, READABLE)
    assert [d.dag_id for d in page.dags] == ["dag_00", "dag_01", "dag_02"]
    assert [p[1] for p in page.dags[0].rows_by_run] == [100, 101]
    # A statement may filter by every readable id once, never once per DAG of the page
    # (the newest tries were 3 branches of 1,003 ids each before).
    assert max(n for _, n in seen) < 2 * len(READABLE), sorted(n for _, n in seen)


def test_a_warm_home_reads_no_output_rows_and_shows_a_new_run_at_once(installed_store):
    for d in range(3):
        for r in range(3):
            ingest(installed_store, f"dag_{d:02d}", r, 100 + r)
    sources = queries.Sources(store_url=installed_store, metastore_url="")
    forget_sparklines()
    first = home_page(sources, READABLE)
    with statements(installed_store) as seen:
        warm = home_page(sources, READABLE)
    assert [d.rows_by_run for d in warm.dags] == [d.rows_by_run for d in first.dags]
    assert not [sql for sql, _ in seen if "ddtrack_output" in sql], "a warm home read output rows"
    ingest(installed_store, "dag_01", 3, 999)
    after = {d.dag_id: d for d in home_page(sources, READABLE).dags}
    assert [p[1] for p in after["dag_01"].rows_by_run] == [100, 101, 102, 999]
    assert after["dag_01"].last_run_id == "run_03"  # no metastore: the store's own newest run
    assert [p[1] for p in after["dag_00"].rows_by_run] == [100, 101, 102]
    # The kept sparklines serve only DAGs the caller may read: the page itself is filtered.
    assert [d.dag_id for d in home_page(sources, ["dag_02"]).dags] == ["dag_02"]
