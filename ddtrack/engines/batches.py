"""Profiles of data that arrives as a stream of Arrow record batches.

Files, polars lazy queries, DuckDB relations and Spark partitions all hand their rows over
as record batches.  None of them is ever held whole: small batches are gathered into
chunks of about :data:`CHUNK_BYTES` (16 MB; or :data:`CHUNK_ROWS`), each chunk is profiled by the
in-memory profiler (``ddtrack.profile``), and the chunks' profiles are merged with
``merge_profiles``.  Memory is bounded by one chunk plus its profiling scratch (about one
column copy per thread), whatever the size of the data.

What stays exact and what is a sketch is the merge's (``ddtrack.profile``'s docstring):
rows, counts, nulls, zeros, negatives, infinities, min, max, mean and std are exact;
distinct counts are exact while the chunks' value lists can be combined, otherwise the
HyperLogLog union (relative standard error 1.6 %); quantiles and histograms come from the
chunks' 129-point summaries, with a normalised rank error of at most 1/128 (0.8 %) per
merge level.  Up to :data:`KEEP` chunk profiles are merged at once (one level, for up to
64 chunks: ~1 GB of Arrow data); beyond that every 64 collapse into one (one more level).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

CHUNK_BYTES = 16 << 20
CHUNK_ROWS = 1 << 20
KEEP = 64


class Deadline:
    """The time a profile may take (None: no limit), checked between chunks."""

    def __init__(self, seconds: float | None, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self._end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        """Raise ``TimeoutError`` once the time is up."""
        if self._end is not None and time.monotonic() > self._end:
            raise TimeoutError(f"profiling {self.what} took longer than {self.seconds:g} s")


class BatchProfiler:
    """Profile a stream of record batches chunk by chunk; :meth:`result` merges the chunks.

    ``kind`` and ``type_name`` label the merged profile (e.g. "files", "parquet").
    ``pii`` and ``sample`` mean what they mean for ``ddtrack.profile``: PII columns keep no
    values, and the first ``sample`` rows (of the first chunk) are kept.
    """

    def __init__(
        self, *, kind: str, type_name: str, pii: Iterable[str] = (), sample: int = 0, strict: bool = False,
        deadline: Deadline | None = None,
        chunk_bytes: int | None = None, chunk_rows: int | None = None, encoded_strings: bool = False,
    ) -> None:
        self.kind, self.type_name = kind, type_name
        self.pii, self.sample, self.strict = tuple(pii), int(sample), strict
        self.deadline = deadline
        self.encoded_strings = encoded_strings  # Arrow dictionaries of strings are the files' encoding
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.chunk_rows = chunk_rows or CHUNK_ROWS
        self.chunks = 0
        self.rows = 0  # rows taken so far
        self._parts: list[dict[str, Any]] = []
        self._pending: list[Any] = []
        self._pending_bytes = self._pending_rows = 0

    def add(self, batch: Any) -> None:
        """Take one ``pyarrow.RecordBatch`` (or Table); profile once a chunk is full."""
        if not batch.num_rows:
            return
        self.rows += batch.num_rows
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        self._pending_rows += batch.num_rows
        if self._pending_bytes >= self.chunk_bytes or self._pending_rows >= self.chunk_rows:
            self._flush()

    def add_chunk(self, frame: Any) -> None:
        """Profile ``frame`` (any frame ``ddtrack.profile`` takes) as one chunk, as it is."""
        self._flush()
        if len(frame):
            self.rows += len(frame)
            self._profile(frame)

    def add_all(self, batches: Iterable[Any]) -> BatchProfiler:
        for batch in batches:
            self.add(batch)
        return self

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        chunk = self._pending[0] if len(self._pending) == 1 else pa.Table.from_batches(
            [b for p in self._pending for b in (p.to_batches() if isinstance(p, pa.Table) else [p])]
        )
        self._pending, self._pending_bytes, self._pending_rows = [], 0, 0
        self._profile(chunk)

    def _profile(self, chunk: Any) -> None:
        from ddtrack.profile import merge_profiles, profile

        if self.deadline is not None:
            self.deadline.check()
        sample = self.sample if not self.chunks else 0
        self._parts.append(profile(
            chunk, pii=self.pii, sample=sample, strict=self.strict, encoded_strings=self.encoded_strings).to_dict())
        self.chunks += 1
        if len(self._parts) >= KEEP:
            self._parts = [merge_profiles(self._parts)]

    def result(self, empty: Any) -> dict[str, Any]:
        """The merged profile (format 1); ``empty`` (a frame of the stream's columns and no
        rows) is profiled instead for a stream that had no rows at all."""
        self._flush()
        if not self._parts:
            self._profile(empty)
        return label(merge_parts(self._parts), self.kind, self.type_name)


def merge_parts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One profile of several parts (a single part is returned as it is)."""
    from ddtrack.profile import merge_profiles

    return parts[0] if len(parts) == 1 else merge_profiles(list(parts))


def label(prof: dict[str, Any], kind: str, type_name: str) -> dict[str, Any]:
    """Name the engine that held the data in a profile computed on its batches; the
    in-memory sizes of the batches are not the data's size, so none is given."""
    prof["kind"], prof["type"], prof["memory_bytes"] = kind, type_name, None
    return prof
