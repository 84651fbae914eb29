"""What a page needs to answer one request: where the data is, and what the user may read."""

from __future__ import annotations

from dataclasses import dataclass

from ddtrack import auth, queries

_sources: queries.Sources | None = None


def sources() -> queries.Sources:
    """The configured databases, read once per process."""
    global _sources
    if _sources is None:
        _sources = queries.default_sources()
    return _sources


def set_sources(value: queries.Sources | None) -> None:
    """Point the views at other databases (tests, the benchmark)."""
    global _sources
    _sources = value


@dataclass(frozen=True)
class PageContext:
    sources: queries.Sources
    allowed: set[str]

    def can_read(self, dag_id: str | None) -> bool:
        return bool(dag_id) and dag_id in self.allowed


def request_context() -> PageContext:
    """The current Flask request's readable DAG ids (raises if unauthenticated)."""
    return PageContext(sources(), auth.current_readable_dag_ids())
