"""Data profiled where it lives, as a stream of batches: files (Parquet, CSV, JSON lines;
local, fsspec, Airflow's ObjectStoragePath), polars LazyFrames and DuckDB relations.

Each profile is compared with the in-memory profile of the same data: the exact fields
(rows, counts, nulls, min, max, mean, std) must agree, and merged quantiles stay within
the documented rank error.  Checks that need the values are answered on the batches.
"""

from __future__ import annotations

import gzip
import json

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ddtrack import checks
from ddtrack.engines import batches, bound_to_task, files, profile_in_place, uri_of
from ddtrack.profile import profile
from ddtrack.references import Files

EXACT = ("count", "nulls", "min", "max", "zeros", "negatives")


def orders(rows: int, seed: int = 0, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 30.0, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    return pa.table({
        "order_id": pa.array(np.arange(start, start + rows, dtype=np.int64) * 7),
        "customer": pa.array(rng.integers(0, 50_000, rows)),
        "amount": pa.array(amount, from_pandas=True),
        "code": pa.array(np.array([f"C{i:03d}" for i in range(500)])[rng.integers(0, 500, rows)]),
        "paid": pa.array(rng.random(rows) < 0.7),
    })


def assert_same_exact_fields(streamed: dict, in_memory: dict) -> None:
    assert streamed["rows"] == in_memory["rows"]
    mine = {c["name"]: c for c in streamed["columns"]}
    for ref in in_memory["columns"]:
        col = mine[ref["name"]]
        for field in EXACT:
            assert col[field] == ref[field], (ref["name"], field)
        for field in ("mean", "std"):
            if ref[field] is None:
                assert col[field] is None
            else:
                assert col[field] == pytest.approx(ref[field], rel=1e-9), (ref["name"], field)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 50,000 rows, so a few hundred thousand rows take several chunks and merges."""
    monkeypatch.setattr(batches, "CHUNK_ROWS", 50_000)


@pytest.fixture
def events(tmp_path):
    """A Spark-like output folder: two Hive partitions, bookkeeping files beside the data."""
    root = tmp_path / "events"
    parts = [orders(120_000, seed=1), orders(80_000, seed=2, start=120_000)]
    for day, part in zip(("2024-01-01", "2024-01-02"), parts, strict=True):
        (root / f"day={day}").mkdir(parents=True)
        pq.write_table(part, root / f"day={day}" / "part-00000.snappy.parquet", row_group_size=30_000)
    (root / "_SUCCESS").write_text("")
    (root / "day=2024-01-01" / ".part-00000.snappy.parquet.crc").write_bytes(b"\x00\x01")
    return root, pa.concat_tables(parts)


def test_a_parquet_folder_profiles_like_the_same_data_in_memory(events, small_chunks):
    root, table = events
    result = profile_in_place(Files(str(root)))
    prof = result.profile
    assert (prof["kind"], prof["type"]) == ("files", "parquet")
    assert result.uri == f"file://{root}"
    assert_same_exact_fields(prof, profile(table).to_dict())
    day = next(c for c in prof["columns"] if c["name"] == "day")  # the Hive partition is a column
    assert {t["value"]: t["count"] for t in day["top_values"]} == {"2024-01-01": 120_000, "2024-01-02": 80_000}
    # quantiles of merged chunks: within the documented 1/128 rank error (one merge level)
    amount = next(c for c in prof["columns"] if c["name"] == "amount")
    values = np.sort(table.column("amount").to_numpy(zero_copy_only=False))
    values = values[~np.isnan(values)]
    for q, v in amount["quantiles"].items():
        rank = np.searchsorted(values, v) / values.size
        assert abs(rank - float(q)) <= 1 / 128 + 1e-3, (q, rank)
    assert "quantiles" in amount["estimates"]


def test_dictionary_stored_strings_are_read_as_codes_and_profiled_as_strings(tmp_path, monkeypatch):
    """Parquet stores repeated strings with a dictionary: they are read as Arrow dictionaries
    (the codes) and profiled as the string column they encode, as in memory; a later file
    that stores the column plainly is read the same way (one schema for every batch)."""
    table = orders(60_000, seed=4)
    (tmp_path / "ev").mkdir()
    pq.write_table(table.slice(0, 30_000), tmp_path / "ev" / "a.parquet", row_group_size=10_000)
    pq.write_table(table.slice(30_000), tmp_path / "ev" / "b.parquet", use_dictionary=False)
    assert files.dictionary_columns(pq.ParquetFile(tmp_path / "ev" / "a.parquet").metadata) == ["code"]
    assert files.dictionary_columns(pq.ParquetFile(tmp_path / "ev" / "b.parquet").metadata) == []
    kinds = []
    profile_chunk = batches.BatchProfiler._profile

    def spy(self, chunk):
        kinds.append(str(chunk.schema.field("code").type))
        return profile_chunk(self, chunk)

    monkeypatch.setattr(batches.BatchProfiler, "_profile", spy)
    got = next(c for c in profile_in_place(Files(str(tmp_path / "ev"))).profile["columns"] if c["name"] == "code")
    want = next(c for c in profile(table).to_dict()["columns"] if c["name"] == "code")
    assert kinds and all(k.startswith("dictionary<values=string") for k in kinds)
    fields = ("kind", "dtype", "count", "nulls", "distinct", "min", "max", "str_len")
    assert {f: got[f] for f in fields} == {f: want[f] for f in fields}
    assert got["kind"] == "string" and got["dtype"] == "string"


def test_files_are_read_in_bounded_chunks_never_whole(events, monkeypatch):
    root, _ = events
    seen = []
    profile_chunk = batches.BatchProfiler._profile

    def spy(self, chunk):
        seen.append(chunk.num_rows)
        return profile_chunk(self, chunk)

    monkeypatch.setattr(batches, "CHUNK_ROWS", 40_000)
    monkeypatch.setattr(files, "BATCH_ROWS", 10_000)
    monkeypatch.setattr(batches.BatchProfiler, "_profile", spy)
    assert profile_in_place(Files(str(root))).profile["rows"] == 200_000
    assert len(seen) >= 5 and max(seen) <= 40_000 + 10_000  # a chunk is full before one more read batch


def test_glob_csv_json_lines_and_compression(tmp_path):
    table = orders(5_000)
    frame = table.to_pandas()
    (tmp_path / "csv").mkdir()
    pacsv.write_csv(table.slice(0, 3_000), tmp_path / "csv" / "a.csv")
    with gzip.open(tmp_path / "csv" / "b.csv.gz", "wb") as f:
        pacsv.write_csv(table.slice(3_000), f)
    (tmp_path / "csv" / "notes.txt").write_text("not data")
    prof = profile_in_place(Files(str(tmp_path / "csv"))).profile
    assert prof["type"] == "csv" and prof["rows"] == 5_000
    assert_same_exact_fields(prof, profile(table).to_dict())

    (tmp_path / "json").mkdir()
    with open(tmp_path / "json" / "rows.jsonl", "w") as f:
        for row in frame.head(1000).to_dict("records"):
            f.write(json.dumps({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}) + "\n")
    result = profile_in_place(Files(f"{tmp_path}/json/*.jsonl"))
    assert result.profile["type"] == "json" and result.profile["rows"] == 1000
    assert result.uri == f"file://{tmp_path}/json"  # a glob names the folder it starts in

    (tmp_path / "raw").mkdir()
    pq.write_table(table, tmp_path / "raw" / "data")  # no extension: format= says it
    assert profile_in_place(Files(str(tmp_path / "raw"), format="parquet")).profile["rows"] == 5_000
    with pytest.raises(ValueError, match="format="):
        profile_in_place(Files(str(tmp_path / "raw")))


def test_unusable_locations_say_why(tmp_path):
    (tmp_path / "mixed").mkdir()
    pq.write_table(orders(10), tmp_path / "mixed" / "a.parquet")
    pacsv.write_csv(orders(10), tmp_path / "mixed" / "b.csv")
    with pytest.raises(ValueError, match="several formats"):
        profile_in_place(Files(str(tmp_path / "mixed")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no data files"):
        profile_in_place(Files(str(tmp_path / "empty")))
    with pytest.raises(FileNotFoundError, match="no file or folder"):
        profile_in_place(Files(str(tmp_path / "missing")))
    with pytest.raises(ValueError, match="format must be"):
        Files("x", format="xlsx")


def test_fsspec_urls_and_object_storage_paths(tmp_path):
    import fsspec
    from airflow.sdk import ObjectStoragePath

    table = orders(20_000)
    fs = fsspec.filesystem("memory")
    fs.mkdir("/lake/events")
    with fs.open("/lake/events/part-0.parquet", "wb") as f:
        pq.write_table(table, f)
    result = profile_in_place(Files("memory://lake/events/"))
    assert result.uri == "memory:///lake/events"
    assert_same_exact_fields(result.profile, profile(table).to_dict())
    assert uri_of(Files("memory://lake/events/")) == result.uri

    pq.write_table(table, tmp_path / "one.parquet")
    path = ObjectStoragePath(f"file://{tmp_path}/one.parquet")
    result = profile_in_place(path)
    assert result.uri == f"file://{tmp_path}/one.parquet" and result.profile["rows"] == 20_000
    assert uri_of(ObjectStoragePath(f"file://{tmp_path}/")) == f"file://{tmp_path}"


def test_pii_and_sample_as_in_memory(events):
    root, table = events
    prof = profile_in_place(Files(str(root)), pii=["code"], sample=3).profile
    code = next(c for c in prof["columns"] if c["name"] == "code")
    assert code["top_values"] is None and code["min"] is None and prof["pii"] == ["code"]
    assert len(prof["sample"]) == 3 and all("code" not in row for row in prof["sample"])
    assert prof["sample"][0]["order_id"] == table.column("order_id")[0].as_py()


def test_checks_that_need_values_are_answered_on_the_batches(tmp_path, small_chunks):
    (tmp_path / "ev").mkdir()
    first, second = orders(150_000), orders(150_000, seed=3, start=150_000)
    dup = second.column("order_id").to_numpy().copy()
    dup[-1] = first.column("order_id")[10].as_py()  # one id repeated across files and chunks
    second = second.set_column(0, "order_id", pa.array(dup))
    pq.write_table(first, tmp_path / "ev" / "a.parquet")
    pq.write_table(second, tmp_path / "ev" / "b.parquet")
    result = profile_in_place(Files(str(tmp_path / "ev")))
    ids = next(c for c in result.profile["columns"] if c["name"] == "order_id")
    assert ids["distinct_estimated"]  # the profile alone cannot decide
    allowed = [f"C{i:03d}" for i in range(499)]
    unique_id, unique_customer, codes = checks.unique("order_id"), checks.unique("customer"), checks.values_in("code", allowed)
    found = result.evidence([unique_id, unique_customer, codes, checks.unique("nope")])
    assert (found[unique_id].count, found[unique_id].duplicates) == (300_000, 1)
    assert found[unique_customer].duplicates > 0
    assert (found[codes].outside, found[codes].n_outside) == (("C499",), 1)
    assert "no column 'nope'" in found[checks.unique("nope")].problem
    judged = checks.evaluate(result.profile, [unique_id, codes], "events", found)
    assert [r["status"] for r in judged] == ["fail", "fail"]


def test_a_unique_check_past_its_memory_bound_cannot_be_evaluated(tmp_path, small_chunks, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__CHECK_MEMORY_MB", "1")
    pq.write_table(orders(300_000), tmp_path / "a.parquet")
    result = profile_in_place(Files(str(tmp_path / "a.parquet")))
    found = result.evidence([checks.unique("order_id")])[checks.unique("order_id")]
    assert found.count is None and "check_memory_mb" in found.problem


def test_a_profile_past_its_time_fails_with_a_timeout(events, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__IN_PLACE_TIMEOUT", "0.000001")
    with pytest.raises(TimeoutError, match="took longer"):
        profile_in_place(Files(str(events[0])))


def test_polars_lazy_frame_streams_in_chunks(small_chunks, monkeypatch):
    monkeypatch.setattr("ddtrack.engines.lazy.MIN_CHUNK_ROWS", 10_000)
    frame = pl.from_arrow(orders(200_000))
    lazy = frame.lazy().with_columns(net=pl.col("amount") * 0.8).filter(pl.col("customer") >= 0)
    result = profile_in_place(lazy)
    prof = result.profile
    assert (prof["kind"], prof["type"], result.uri) == ("polars", "polars.LazyFrame", None)
    collected = profile(lazy.collect()).to_dict()
    assert [c["dtype"] for c in prof["columns"]] == [c["dtype"] for c in collected["columns"]]  # polars' own types
    assert_same_exact_fields(prof, collected)
    assert "quantiles" in next(c for c in prof["columns"] if c["name"] == "net")["estimates"]  # merged chunks
    found = result.evidence([checks.unique("order_id"), checks.values_in("paid", ["True"])])
    assert found[checks.unique("order_id")].duplicates == 0
    assert found[checks.values_in("paid", ["True"])].outside == ("False",)
    empty = profile_in_place(lazy.filter(pl.col("customer") < 0)).profile
    assert empty["rows"] == 0 and [c["name"] for c in empty["columns"]] == lazy.collect_schema().names()


def test_duckdb_relation_streams_record_batches(small_chunks):
    con = duckdb.connect()
    table = orders(150_000)
    rel = con.from_arrow(table).filter("customer >= 0")
    result = profile_in_place(rel)
    assert (result.profile["kind"], result.profile["type"]) == ("duckdb", "duckdb.DuckDBPyRelation")
    assert_same_exact_fields(result.profile, profile(table).to_dict())
    found = result.evidence([checks.unique("customer"), checks.values_in("code", ["C000"])])
    assert found[checks.unique("customer")].duplicates == 150_000 - len(np.unique(table.column("customer")))
    assert found[checks.values_in("code", ["C000"])].n_outside == 499
    empty = profile_in_place(con.sql("select 1::INTEGER as a, 'x' as b where false")).profile
    assert empty["rows"] == 0 and [c["name"] for c in empty["columns"]] == ["a", "b"]


def test_queries_bound_to_the_task_are_not_handed_to_airflow():
    con = duckdb.connect()
    assert bound_to_task(con.sql("select 1"))
    assert bound_to_task(pl.LazyFrame({"a": [1]}))
    assert not bound_to_task(pl.DataFrame({"a": [1]}))
    assert not bound_to_task(pd.DataFrame({"a": [1]}))
    assert not bound_to_task(Files("/data"))
    assert profile_in_place(pd.DataFrame({"a": [1]})) is None  # in memory: the profiler's


def test_read_ahead_thread_ends_when_the_consumer_stops_early():
    """A consumer that stops (a time-out, a failure) with the queue full must not leave the
    reading thread waiting forever on its last put."""
    import threading

    from ddtrack.engines.files import read_ahead

    reached_the_end = threading.Event()

    def source():
        yield from range(2)
        reached_the_end.set()
        raise OSError("the bucket went away")

    reader = read_ahead(source(), depth=1)
    assert next(reader) == 0  # item 1 then fills the queue; the error waits to be queued
    assert reached_the_end.wait(timeout=10)
    reader.close()
    for thread in [t for t in threading.enumerate() if t.name == "ddtrack-read-ahead"]:
        thread.join(timeout=10)
        assert not thread.is_alive()
