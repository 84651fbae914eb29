"""Lazy queries profiled as they stream: polars LazyFrames and DuckDB relations.

``log_output(lazy_frame)`` / ``log_output(duckdb_relation)`` never materialise the whole
result: the query runs once and its rows arrive in chunks, each profiled and merged
(:mod:`ddtrack.engines.batches`, which states what is exact and the sketches' bounds):

* polars: ``LazyFrame.collect_batches`` on polars' streaming engine, in chunks of about
  16 MB (rows = 16 MB / (8 bytes x columns), at most 1M rows), each profiled as a polars
  DataFrame, so ``dtype`` is polars' own (``Int64``, ``String``, ...) as for a collected
  frame.  A query the streaming engine cannot run falls back to polars' in-memory engine
  (polars' rule), which does hold the whole result.  Needs a polars with
  ``collect_batches`` (1.33 or later).
* DuckDB: ``DuckDBPyRelation.to_arrow_reader``, Arrow record batches; ``dtype`` is the
  Arrow type DuckDB sends (``int64`` for ``BIGINT``, ``string`` for ``VARCHAR``, ...).

``unique`` and ``values_in`` run the query again for the one column and answer on its
batches (:func:`ddtrack.engines.evidence.from_batches`).  The time limit,
``[ddtrack] in_place_timeout``, is checked between chunks.  Neither has a dataset URI of
its own: name one with ``log_output(..., uri=...)``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from ddtrack import conf
from ddtrack.engines import Adapter, InPlaceOptions, InPlaceResult, batches, evidence
from ddtrack.engines.batches import BatchProfiler, Deadline

MIN_CHUNK_ROWS = 1 << 14


def chunk_rows(columns: int) -> int:
    """Rows per chunk for a result of ``columns`` columns: about 16 MB of 8-byte values (the
    sizes read from :mod:`ddtrack.engines.batches` when asked, so one setting holds for all)."""
    return max(MIN_CHUNK_ROWS, min(batches.CHUNK_ROWS, batches.CHUNK_BYTES // (8 * max(1, columns))))


# ---------------------------------------------------------------- polars
def is_lazy_frame(obj: Any) -> bool:
    pl = sys.modules.get("polars")
    return pl is not None and isinstance(obj, pl.LazyFrame)


def _polars_chunks(lf: Any, rows: int) -> Iterator[Any]:
    """The query's result in chunks of about ``rows`` rows; the query is stopped if the
    consumer stops early (a time-out, a failure)."""
    if not hasattr(lf, "collect_batches"):
        import polars as pl

        raise RuntimeError(f"profiling a LazyFrame in batches needs polars 1.33 or later (this is {pl.__version__})")
    running = lf.collect_batches(chunk_size=rows)
    try:
        for batch in running:  # chunk_size is a hint: polars may send bigger batches
            for start in range(0, max(1, batch.height), rows):
                yield batch.slice(start, rows)
    finally:
        stop = getattr(running, "stop", None)
        if callable(stop):
            stop()


def profile_lazy_frame(lf: Any, options: InPlaceOptions) -> InPlaceResult:
    timeout = conf.in_place_timeout()
    schema = lf.collect_schema()
    profiler = BatchProfiler(kind="polars", type_name="polars.LazyFrame", pii=options.pii, sample=options.sample,
                             strict=options.strict, deadline=Deadline(timeout, "a polars LazyFrame"))
    for chunk in _polars_chunks(lf, chunk_rows(len(schema))):
        profiler.add_chunk(chunk)
    prof = profiler.result(_empty_polars(schema))

    def column_batches(column: str) -> Iterator[Any]:
        import polars as pl

        one = lf.select(pl.col(column))
        return (chunk.to_series(0).to_arrow() for chunk in _polars_chunks(one, batches.CHUNK_ROWS))

    return InPlaceResult(prof, None, evidence.from_batches(prof, column_batches, timeout))


def _empty_polars(schema: Any) -> Any:
    import polars as pl

    return pl.DataFrame(schema=schema)


# ---------------------------------------------------------------- DuckDB
def is_duckdb_relation(obj: Any) -> bool:
    duckdb = sys.modules.get("duckdb")
    relation = getattr(duckdb, "DuckDBPyRelation", None)
    return relation is not None and isinstance(obj, relation)


def _duckdb_batches(rel: Any, rows: int) -> Iterator[Any]:
    reader = rel.to_arrow_reader(rows) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(rows)
    try:
        yield from reader
    finally:
        reader.close()


def profile_relation(rel: Any, options: InPlaceOptions) -> InPlaceResult:
    timeout = conf.in_place_timeout()
    profiler = BatchProfiler(kind="duckdb", type_name="duckdb.DuckDBPyRelation", pii=options.pii,
                             sample=options.sample, strict=options.strict,
                             deadline=Deadline(timeout, "a DuckDB relation"))
    reader_rows = chunk_rows(len(rel.columns))
    prof = profiler.add_all(_duckdb_batches(rel, reader_rows)).result(_empty_duckdb(rel))

    def column_batches(column: str) -> Iterator[Any]:
        one = rel.project('"' + column.replace('"', '""') + '"')
        return (batch.column(0) for batch in _duckdb_batches(one, batches.CHUNK_ROWS))

    return InPlaceResult(prof, None, evidence.from_batches(prof, column_batches, timeout))


def _empty_duckdb(rel: Any) -> Any:
    """The relation's columns without rows (a query of no rows)."""
    return rel.limit(0).to_arrow_table()


def matches(obj: Any) -> bool:
    return is_lazy_frame(obj) or is_duckdb_relation(obj)


def profile(obj: Any, options: InPlaceOptions) -> InPlaceResult:
    return profile_lazy_frame(obj, options) if is_lazy_frame(obj) else profile_relation(obj, options)


ADAPTER = Adapter("lazy", matches, profile)
