"""Profiles computed where the data lives: SQL tables, Spark, files, lazy frames.

``log_output(obj)`` and ``@track``'s return value go through :func:`profile_in_place` first.
It returns ``None`` when ``obj`` is not something an engine holds, and the in-memory
profiler (:mod:`ddtrack.profile`) takes it as before.  Otherwise it returns an
:class:`InPlaceResult` whose profile the engine computed: the same document (format 1,
see ``ddtrack/profile/__init__.py``) and mergeable, so drift, anomalies, checks, compare,
catalog, trace and OpenLineage use it unchanged.

The contract an adapter keeps
-----------------------------
An adapter is an :class:`Adapter` in :data:`ADAPTERS`, tried in order:

* ``matches(obj) -> bool`` is cheap and imports nothing: it looks at the object's class
  (``Table``/``Files`` from :mod:`ddtrack.references`, or the class's module name, e.g.
  ``pyspark.sql``).  pyspark, duckdb, polars and providers are never imported unless the
  user handed over such an object.
* ``profile(obj, options) -> InPlaceResult`` computes the profile on the engine.
  Rows, counts, nulls, min, max, mean and std are exact; quantiles, histograms, top values
  and distinct counts may come from sketches, and the adapter module's docstring states
  their error bounds.  It reuses ``ddtrack.profile``'s sketches and ``merge_profiles``
  (``profile/`` itself stays pure: numpy and the standard library).  PII columns
  (``options.pii``) keep only what the in-memory profiler keeps for them.  It raises on
  failure; the caller turns that into one warning (or a raise under ``[ddtrack] strict``).
* ``InPlaceResult.uri`` follows OpenLineage's dataset naming
  (``postgres://host:5432/db.schema.table``, ``file:///path``, ``s3://bucket/key``), so the
  output joins with Assets, ``log_input`` and OpenLineage events; ``None`` if unknown.
* ``InPlaceResult.evidence(checks)`` answers the ``unique`` and ``values_in`` checks among
  ``checks`` from the values themselves, by asking the engine (a SQL or Spark aggregation:
  ``count(x) - count(DISTINCT x)``, the distinct values outside the set), never by reading
  the rows into the task.  It returns ``{check: ddtrack.checks.Evidence}`` (the checks
  helper's interface: ``count``/``duplicates`` for unique, ``outside``/``n_outside`` for
  values_in, or ``problem``), which ``ddtrack.checks.evaluate`` judges; ``None`` if the
  adapter cannot, and the checks are then judged on the profile alone.

Each adapter module lives next to this one (``sql.py``, ``spark.py``, ``files.py``,
``lazy.py``) and is imported only when :func:`profile_in_place` first runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["ADAPTERS", "Adapter", "InPlaceOptions", "InPlaceResult", "bound_to_task", "profile_in_place", "uri_of"]


@dataclass(frozen=True)
class InPlaceOptions:
    """What the caller asks of a profile: the same options as ``ddtrack.profile.profile``."""

    pii: tuple[str, ...] = ()
    sample: int = 0  # rows stored in the profile's "sample" (PII columns left out)
    strict: bool = False


@dataclass(frozen=True)
class InPlaceResult:
    """A profile computed on the engine, the dataset's URI, and how to ask it for checks."""

    profile: dict[str, Any]
    uri: str | None = None
    # checks -> {check: ddtrack.checks.Evidence} for the unique/values_in checks among them
    evidence: Callable[[Sequence[Any]], Mapping[Any, Any]] | None = None


class Adapter(NamedTuple):
    name: str
    matches: Callable[[Any], bool]
    profile: Callable[[Any, InPlaceOptions], InPlaceResult]
    # The object's dataset URI without profiling it (an input's lineage), if the adapter knows it.
    uri: Callable[[Any], str | None] | None = None


# Adapter modules, in the order they are tried, one a line; each defines ``ADAPTER: Adapter``.
_MODULES: tuple[str, ...] = (
    "ddtrack.engines.sql",
    "ddtrack.engines.files",
    "ddtrack.engines.spark",
    "ddtrack.engines.lazy",
)

ADAPTERS: list[Adapter] = []


def _adapters() -> list[Adapter]:
    if not ADAPTERS:
        ADAPTERS.extend(importlib.import_module(m).ADAPTER for m in _MODULES)
    return ADAPTERS


def profile_in_place(
    obj: Any, *, pii: Sequence[str] = (), sample: int = 0, strict: bool = False
) -> InPlaceResult | None:
    """The engine's profile of ``obj``, or None when no engine holds it (profile it in memory).

    Raises what the engine raised (a failed or timed-out query): the caller decides
    between a warning and a raise.
    """
    options = InPlaceOptions(pii=tuple(pii), sample=int(sample), strict=bool(strict))
    for adapter in _adapters():
        if adapter.matches(obj):
            return adapter.profile(obj, options)
    return None


def uri_of(obj: Any) -> str | None:
    """The dataset URI of an object an engine holds (``track(inputs=[...])``), or None."""
    for adapter in _adapters():
        if adapter.matches(obj):
            return adapter.uri(obj) if adapter.uri is not None else None
    return None


def bound_to_task(obj: Any) -> bool:
    """Whether ``obj`` is a query bound to this task's process (a Spark DataFrame, a polars
    LazyFrame, a DuckDB relation): Airflow cannot store it as an XCom, so a tracked task
    that returns one returns None to Airflow, its profile being what it recorded."""
    from ddtrack.engines import lazy, spark

    return spark.matches(obj) or lazy.matches(obj)
