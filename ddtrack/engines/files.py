"""Files where they are: a Parquet file, or a folder or glob of Parquet, CSV or JSON-lines files.

``log_output(ObjectStoragePath("s3://aws_default@bucket/events/"), name=...)`` or
``log_output(ddtrack.Files("/data/events/*.parquet"), name=...)``.  The files are read
with ``pyarrow.dataset`` as a stream of record batches and profiled chunk by chunk
(:mod:`ddtrack.engines.batches`), so memory follows the chunk size, not the data:
one chunk of about 8 MB of Arrow data, one record batch being decoded ahead of it on
another thread, and for Parquet the compressed column chunks of the row group being read
(``pre_buffer`` off, so a row group's columns are read one page stream at a time).

Where the files are:

* an ``airflow.sdk.ObjectStoragePath``: any protocol Airflow's object storage knows
  (``s3://``, ``gs://``, ``abfs://``, ``file://``, ...), with the credentials of the
  connection it names, through its own fsspec filesystem;
* ``Files(url)``: a local path or glob, or an fsspec URL (``s3://bucket/key``, needing
  that protocol's fsspec package, e.g. ``s3fs``, and its usual credentials).

A folder is read recursively; names starting with ``_`` or ``.`` are skipped (Spark's
``_SUCCESS`` and ``.crc`` files), and ``key=value`` folders become columns (Hive
partitioning, as Spark writes them).  The format is ``format=`` or, when not given, the
files' extension (``.parquet``/``.pq``, ``.csv``/``.tsv``, ``.json``/``.jsonl``/
``.ndjson``, optionally compressed: ``.gz``, ``.bz2``, ``.zst``, ...); files of other
extensions are then left out.

The output's URI follows OpenLineage's dataset naming: ``file:///abs/path`` for local
files, ``<scheme>://<bucket>/<key>`` for object storage (the connection id of an
``ObjectStoragePath`` is not part of it).  A glob's URI is the folder it starts in.
"""

from __future__ import annotations

import glob as globlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ddtrack import conf
from ddtrack.engines import Adapter, InPlaceOptions, InPlaceResult, evidence
from ddtrack.engines.batches import BatchProfiler, Deadline

FORMATS = {
    "parquet": (".parquet", ".pq", ".parq"),
    "csv": (".csv", ".tsv"),
    "json": (".json", ".jsonl", ".ndjson"),
}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".zstd", ".lz4", ".br")
GLOB_CHARS = "*?["
LOCAL_PROTOCOLS = ("", "file", "local")
# Rows per record batch read from the files, and the Arrow data profiled at once.
# Measured on 12M rows x 10 columns of Parquet (benchmarks/files_speed.py): chunks of
# one or two 65,536-row batches profile faster than 16 MB ones (the columns need no
# concatenating, and their sorts fit in cache) and keep the peak lower.
BATCH_ROWS = 1 << 16
CHUNK_BYTES = 8 << 20
READ_BUFFER = 1 << 16


def is_object_storage_path(obj: Any) -> bool:
    """An ``airflow.sdk.ObjectStoragePath`` (recognised without importing Airflow)."""
    return any(c.__name__ == "ObjectStoragePath" and c.__module__.startswith("airflow") for c in type(obj).__mro__)


@dataclass
class Location:
    """The files to read: their filesystem (fsspec, or None for the local one), paths,
    the folder Hive partitions start from, and the dataset's URI."""

    fs: Any
    paths: list[str]
    base: str
    uri: str


def _where(source: Any) -> tuple[Any, str, str]:
    """(fsspec filesystem or None for the local one, protocol, path) of ``source``."""
    if is_object_storage_path(source):
        protocol = _protocol(source.protocol)
        if protocol in LOCAL_PROTOCOLS:
            return None, "file", _local_path(source.path)
        return source.fs, protocol, source.path.rstrip("/")
    url = source.url
    if "://" not in url or url.startswith("file://"):
        return None, "file", _local_path(url.removeprefix("file://"))
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(url)
    return fs, _protocol(fs.protocol), path.rstrip("/")


def _local_path(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _protocol(protocol: Any) -> str:
    return str(protocol[0] if isinstance(protocol, (tuple, list)) else protocol or "")


def uri(source: Any) -> str:
    """The dataset URI of ``source`` (OpenLineage naming), without reading anything."""
    _, protocol, path = _where(source)
    return uri_for(protocol, path)


def _uri(protocol: str, path: str) -> str:
    path = path.rstrip("/") or "/"
    return f"file://{path}" if protocol == "file" else f"{protocol}://{path}"


def locate(source: Any) -> tuple[Location, str | None]:
    """(the files of ``source``, its format or None) for a ``Files`` or an ObjectStoragePath."""
    fs, protocol, path = _where(source)
    fmt = None if is_object_storage_path(source) else source.format
    return (_local(path) if fs is None else _remote(fs, protocol, path)), fmt


def _local(path: str) -> Location:
    if _is_glob(path):
        base = _static_prefix(path)
        paths = sorted(p for p in globlib.glob(path, recursive=True) if os.path.isfile(p) and _visible(p, base))
    elif os.path.isdir(path):
        base = path
        paths = sorted(
            os.path.join(root, name)
            for root, dirs, names in os.walk(path)
            for name in names
            if _visible(os.path.join(root, name), base)
        )
    elif os.path.isfile(path):
        base, paths = os.path.dirname(path), [path]
    else:
        raise FileNotFoundError(f"no file or folder at {path}")
    return Location(None, paths, base, uri_for("file", path))


def _remote(fs: Any, protocol: str, path: str) -> Location:
    if _is_glob(path):
        base = _static_prefix(path)
        paths = sorted(p for p in fs.glob(path) if fs.isfile(p) and _visible(p, base))
    elif fs.isdir(path):
        base = path
        paths = sorted(p for p in fs.find(path) if _visible(p, base))
    elif fs.isfile(path):
        base, paths = path.rpartition("/")[0], [path]
    else:
        raise FileNotFoundError(f"no file or folder at {protocol}://{path}")
    return Location(fs, paths, base, uri_for(protocol, path))


def uri_for(protocol: str, path: str) -> str:
    """OpenLineage's name for files at ``path`` (a glob: the folder it starts in)."""
    return _uri(protocol, _static_prefix(path) if _is_glob(path) else path)


def _is_glob(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def _static_prefix(pattern: str) -> str:
    """The folder a glob starts in: its components before the first wildcard."""
    parts = pattern.split("/")
    static = next(i for i, part in enumerate(parts) if _is_glob(part))
    return "/".join(parts[:static]) or "/"


def _visible(path: str, base: str) -> bool:
    """Not a hidden or bookkeeping file: no component below ``base`` starts with '.' or '_'."""
    rel = path[len(base):].lstrip("/") if path.startswith(base) else os.path.basename(path)
    return not any(part.startswith((".", "_")) for part in rel.split("/"))


def _format_of(path: str) -> str | None:
    name = path.lower()
    for suffix in COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    return next((fmt for fmt, exts in FORMATS.items() if name.endswith(exts)), None)


def choose_format(location: Location, fmt: str | None) -> tuple[str, list[str]]:
    """(format, files to read): ``fmt`` reads every file; otherwise the one format the
    files' extensions name (files of other extensions are left out)."""
    if not location.paths:
        raise FileNotFoundError(f"no data files at {location.uri}")
    if fmt is not None:
        return fmt, location.paths
    by_format: dict[str, list[str]] = {}
    for path in location.paths:
        found = _format_of(path)
        if found is not None:
            by_format.setdefault(found, []).append(path)
    if len(by_format) != 1:
        what = "no Parquet, CSV or JSON-lines files" if not by_format else f"files of several formats ({', '.join(sorted(by_format))})"
        raise ValueError(f"{location.uri} holds {what}; name the format with Files(..., format=...)")
    ((name, paths),) = by_format.items()
    return name, paths


def dataset(location: Location, fmt: str, paths: list[str]) -> Any:
    """The ``pyarrow.dataset`` over the files, Hive partitions as columns."""
    import pyarrow.dataset as ds

    file_format = {"parquet": ds.ParquetFileFormat, "csv": ds.CsvFileFormat, "json": ds.JsonFileFormat}[fmt]()
    partitioning = ds.HivePartitioning.discover(infer_dictionary=False)
    return ds.dataset(paths, filesystem=_arrow_fs(location), format=file_format, partitioning=partitioning,
                      partition_base_dir=location.base)


def _arrow_fs(location: Location) -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem() if location.fs is None else pafs.PyFileSystem(pafs.FSSpecHandler(location.fs))


def batches(data: Any, fmt: str, columns: list[str] | None = None) -> Iterator[Any]:
    """The dataset's record batches (only ``columns``, if given), decoded a few at a time.

    Parquet files are read file by file with ``ParquetFile.iter_batches``, which decodes a
    row group page stream by page stream: the dataset scanner would decode whole row groups
    (Spark writes 128 MB ones) and keep several in flight.  Its columns are decoded on the
    calling thread (``use_threads=False``; :func:`read_ahead` runs it beside the profile):
    Arrow's decoding threads each keep their own allocator heap, which took the peak
    memory from about 125 to 180-225 MB and saved no time once decoding overlaps profiling.  String columns stored with a
    dictionary are read as Arrow dictionaries (the codes, not a copy of every string: 5 times
    cheaper to read, and counted on the codes; see ``profile(encoded_strings=True)``).  CSV
    and JSON-lines are read in blocks by the scanner.
    """
    if fmt != "parquet":
        yield from data.to_batches(columns=columns, batch_size=BATCH_ROWS, batch_readahead=2, fragment_readahead=1)
        return
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    encoded: list[str] | None = None
    for fragment in data.get_fragments():
        keys = ds.get_partition_keys(fragment.partition_expression)
        with fragment.filesystem.open_input_file(fragment.path) as raw:
            if encoded is None:  # decided on the first file, so every batch has the same schema
                encoded = dictionary_columns(pq.ParquetFile(raw).metadata)
            reader = pq.ParquetFile(raw, buffer_size=READ_BUFFER, pre_buffer=False, read_dictionary=encoded)
            stored = [c for c in columns if c not in keys] if columns is not None else None
            for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=stored, use_threads=False):
                for key, value in keys.items():
                    if columns is None or key in columns:
                        field = data.schema.field(key)
                        batch = batch.append_column(field, pa.array([value] * batch.num_rows, field.type))
                yield batch


def dictionary_columns(metadata: Any) -> list[str]:
    """Top-level string columns that every row group of a Parquet file stores with a
    dictionary (how writers store columns of repeated values)."""
    import pyarrow as pa

    schema = metadata.schema.to_arrow_schema()
    strings = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    out = set(strings)
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for j in range(group.num_columns):
            chunk = group.column(j)
            if chunk.path_in_schema in out and not chunk.has_dictionary_page:
                out.discard(chunk.path_in_schema)
    return sorted(out)


def read_ahead(source: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """``source``'s items, produced on a thread up to ``depth`` ahead of the consumer, so
    decoding (which releases the GIL) overlaps with profiling; one item ahead keeps both
    cores busy, more only holds more memory."""
    done = object()
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Queue ``item`` unless the consumer has stopped (then the thread must not wait)."""
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer
            offer(exc)

    thread = threading.Thread(target=produce, name="ddtrack-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def matches(obj: Any) -> bool:
    """A ``ddtrack.Files`` reference or an Airflow ``ObjectStoragePath``."""
    from ddtrack.references import Files

    return isinstance(obj, Files) or is_object_storage_path(obj)


def profile(source: Any, options: InPlaceOptions) -> InPlaceResult:
    """The profile and URI of the files ``source`` names; ``unique`` and ``values_in``
    read the one column again (:func:`ddtrack.engines.evidence.from_batches`)."""
    location, fmt = locate(source)
    fmt, paths = choose_format(location, fmt)
    data = dataset(location, fmt, paths)
    timeout = conf.in_place_timeout()
    profiler = BatchProfiler(
        kind="files", type_name=fmt, pii=options.pii, sample=options.sample, strict=options.strict,
        deadline=Deadline(timeout, location.uri), encoded_strings=True, chunk_bytes=CHUNK_BYTES,
    )
    prof = profiler.add_all(read_ahead(batches(data, fmt))).result(data.schema.empty_table())

    def column_batches(column: str) -> Iterator[Any]:
        return (batch.column(0) for batch in read_ahead(batches(data, fmt, [column])))

    return InPlaceResult(prof, location.uri, evidence.from_batches(prof, column_batches, timeout))


ADAPTER = Adapter("files", matches, profile, uri)
