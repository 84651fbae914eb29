"""Spark DataFrames profiled by Spark: each partition by ddtrack's profiler, merged on the driver.

``log_output(df, name=...)`` with a ``pyspark.sql.DataFrame`` (classic or Spark Connect),
and ``@track`` on a task that returns one, profile the frame where Spark holds it:

* ``df.mapInArrow`` hands each partition's rows to ddtrack's own profiler on the executors,
  as Arrow record batches gathered into chunks of about 16 MB
  (:mod:`ddtrack.engines.batches`); each partition yields one small profile (a few KB per
  column), never a row.  With more than 64 partitions, the partition profiles are merged
  on the executors again, 64 at a time, so the driver receives at most a few dozen
  profiles whatever the frame's size; it merges them with ``merge_profiles``.
* So the profile has the in-memory format and is mergeable: rows, counts, nulls, min, max,
  mean and std are exact; distinct counts, quantiles and histograms follow the merge's
  bounds (HyperLogLog, relative standard error 1.6 %; quantile rank error at most 1/128
  per merge level: chunks of a partition, partitions of a group, groups on the driver,
  i.e. at most 3/128 = 2.3 %).  Top values are exact within a partition; summed over
  partitions they are lower bounds (listed in the column's ``estimates``).  NaN counts as
  null in float columns, as in every ddtrack profile (Spark itself counts NaN as a value).
* The executors run ddtrack: their Python (``PYSPARK_PYTHON``) needs ddtrack installed,
  as any Python UDF needs its libraries there.  ``dtype`` is the Arrow type Spark sends
  (``int64`` for ``bigint``, ``double``, ``string``, ``timestamp[us, tz=...]``, ...).
* ``unique`` and ``values_in`` checks are Spark aggregations (:class:`SparkQuestions`):
  ``count(x) - count(distinct x)`` and the distinct values outside the set.

Every Spark job started here carries a job tag and is interrupted after
``[ddtrack] in_place_timeout`` seconds; the profile then fails with ``TimeoutError``.

A ``@track`` task that returns a DataFrame returns ``None`` to Airflow: a DataFrame lives
in its task's SparkSession and cannot be an XCom (Airflow has no serializer for it).
"""

from __future__ import annotations

import functools
import json
import math
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ddtrack import conf
from ddtrack.engines import Adapter, InPlaceOptions, InPlaceResult, evidence
from ddtrack.engines.batches import KEEP, BatchProfiler, label, merge_parts

TYPE_NAME = "pyspark.sql.DataFrame"
PROFILE_SCHEMA = "profile string"


def matches(obj: Any) -> bool:
    """A pyspark DataFrame (pyspark is imported by then: the user made the frame)."""
    sql = sys.modules.get("pyspark.sql")
    frame = getattr(sql, "DataFrame", None)
    return frame is not None and isinstance(obj, frame)


def profile(df: Any, options: InPlaceOptions) -> InPlaceResult:
    """The frame's profile, computed by its executors (see the module docstring)."""
    timeout = conf.in_place_timeout()
    schema = arrow_schema(df)
    run = functools.partial(profile_partition, schema=schema, pii=options.pii, sample=options.sample,
                            strict=options.strict)
    profiles = df.mapInArrow(run, PROFILE_SCHEMA)
    partitions = _partitions(df)
    if partitions is None or partitions > KEEP:
        groups = max(1, math.ceil((partitions or KEEP * KEEP) / KEEP))
        profiles = profiles.repartition(groups).mapInArrow(merge_partition, PROFILE_SCHEMA)
    with interrupted_after(df.sparkSession, timeout, "profiling a Spark DataFrame"):
        parts = [json.loads(row[0]) for row in profiles.collect()]
    if not parts:  # no partition had a row
        parts = [_empty(schema, options)]
    prof = label(merge_parts(parts), "spark", TYPE_NAME)
    questions = SparkQuestions(df, timeout)
    return InPlaceResult(prof, None, evidence.answers(prof, questions.unique, questions.outside))


ADAPTER = Adapter("spark", matches, profile)


def arrow_schema(df: Any) -> Any:
    """The Arrow schema Spark sends the frame's batches in (empty if Spark cannot say)."""
    import pyarrow as pa

    try:
        from pyspark.sql.pandas.types import to_arrow_schema

        tz = df.sparkSession.conf.get("spark.sql.session.timeZone")
        return to_arrow_schema(df.schema, timezone=tz)
    except Exception:  # noqa: BLE001 - a type Arrow cannot hold: only an empty frame needs it
        return pa.schema([])


def _partitions(df: Any) -> int | None:
    """The frame's number of partitions, or None where Spark does not say (Spark Connect)."""
    try:
        return int(df.rdd.getNumPartitions())
    except Exception:  # noqa: BLE001
        return None


def _empty(schema: Any, options: InPlaceOptions) -> dict[str, Any]:
    profiler = BatchProfiler(kind="spark", type_name=TYPE_NAME, pii=options.pii, strict=options.strict)
    return profiler.result(schema.empty_table())


# ---------------------------------------------------------------- on the executors
def profile_partition(
    batches: Iterator[Any], *, schema: Any, pii: Sequence[str], sample: int, strict: bool
) -> Iterator[Any]:
    """One partition's profile, as a one-row Arrow batch (nothing for an empty partition)."""
    import pyarrow as pa

    profiler = BatchProfiler(kind="spark", type_name=TYPE_NAME, pii=pii, sample=sample, strict=strict)
    profiler.add_all(batches)
    if profiler.rows:
        yield pa.RecordBatch.from_pydict({"profile": [json.dumps(profiler.result(schema.empty_table()))]})


def merge_partition(batches: Iterator[Any]) -> Iterator[Any]:
    """The partition profiles of one group merged into one (a second merge level)."""
    import pyarrow as pa

    parts = [json.loads(text) for batch in batches for text in batch.column(0).to_pylist()]
    if parts:
        yield pa.RecordBatch.from_pydict({"profile": [json.dumps(merge_parts(parts))]})


# ---------------------------------------------------------------- checks
class SparkQuestions:
    """``unique`` and ``values_in`` asked of Spark as aggregations (never collecting rows).

    Float NaN counts as null, as in the profile; values compare as the profile lists them
    (booleans as "True"/"False", other non-text values as Spark casts them to text).
    """

    def __init__(self, df: Any, timeout: float) -> None:
        self.df, self.timeout = df, timeout

    def _column(self, column: str) -> tuple[Any, bool]:
        from pyspark.sql import functions as F
        from pyspark.sql.types import BooleanType, DoubleType, FloatType

        kind = self.df.schema[column].dataType
        c = F.col("`" + column.replace("`", "``") + "`")
        if isinstance(kind, DoubleType | FloatType):
            c = F.nanvl(c, F.lit(None).cast(kind))
        return c, isinstance(kind, BooleanType)

    def unique(self, column: str) -> tuple[int, int]:
        """(non-null values, non-null values minus distinct ones): one aggregation."""
        from pyspark.sql import functions as F

        c, _ = self._column(column)
        with interrupted_after(self.df.sparkSession, self.timeout, f"checking {column!r} for duplicates"):
            n, d = self.df.select(F.count(c), F.count_distinct(c)).collect()[0]
        return int(n or 0), int(n or 0) - int(d or 0)

    def outside(self, column: str, allowed: Sequence[str]) -> tuple[list[str], int]:
        """(the first distinct values outside ``allowed``, how many there are)."""
        from pyspark.sql import functions as F

        c, boolean = self._column(column)
        text = F.when(c, F.lit("True")).when(~c, F.lit("False")) if boolean else c.cast("string")
        v = F.col("v")
        found = self.df.select(text.alias("v")).where(v.isNotNull() & ~v.isin(list(allowed))).distinct()
        with interrupted_after(self.df.sparkSession, self.timeout, f"checking the values of {column!r}"):
            listed = [str(r[0]) for r in found.orderBy("v").limit(evidence.OUTSIDE_KEPT).collect()]
            n = found.count() if len(listed) == evidence.OUTSIDE_KEPT else len(listed)
        return listed, n


# ---------------------------------------------------------------- time limit
@contextmanager
def interrupted_after(spark: Any, seconds: float, what: str) -> Iterator[None]:
    """Cancel the Spark jobs started inside after ``seconds`` and raise ``TimeoutError``.

    Classic Spark: a job tag on this thread (``SparkContext.addJobTag``, Spark 3.5+) and
    ``cancelJobsWithTag``, with the running tasks' threads interrupted.  Spark Connect
    (no SparkContext): a session tag and ``interruptTag``.  Other threads' jobs are left alone.
    """
    tag = f"ddtrack-{uuid.uuid4().hex}"
    fired = threading.Event()
    try:
        sc = spark.sparkContext
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        sc = None
    if sc is not None:
        interrupting = sc.getLocalProperty("spark.job.interruptOnCancel")
        sc.addJobTag(tag)
        sc.setInterruptOnCancel(True)
        cancel, untag = functools.partial(sc.cancelJobsWithTag, tag), functools.partial(sc.removeJobTag, tag)
    else:
        spark.addTag(tag)
        cancel, untag = functools.partial(spark.interruptTag, tag), functools.partial(spark.removeTag, tag)

    done = threading.Event()

    def interrupt() -> None:
        """At the deadline, and every second after it: a job submitted late is cancelled too."""
        if done.wait(seconds):
            return
        fired.set()
        while not done.is_set():
            cancel()
            done.wait(1.0)

    watcher = threading.Thread(target=interrupt, name="ddtrack-spark-deadline", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise TimeoutError(f"{what} took longer than [ddtrack] in_place_timeout ({seconds:g} s)") from exc
        raise
    finally:
        done.set()
        untag()
        if sc is not None:
            sc.setLocalProperty("spark.job.interruptOnCancel", interrupting)
