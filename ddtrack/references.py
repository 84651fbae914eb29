"""References to data that lives outside the task: small value objects of the public API.

A reference names data held by an engine (a database table, files in object storage); it
holds no data and opens no connection when made, so a DAG file can build one at parse
time. ``ddtrack.engines`` turns a reference into a profile computed where the data is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Files", "Table"]


@dataclass(frozen=True)
class Table:
    """A table (or view) in a SQL database, profiled in place by ``log_output`` / ``track``.

    ``Table("public.orders", conn_id="warehouse")`` or
    ``Table("orders", schema="public", conn_id="warehouse")``: the database is reached
    through an Airflow connection.  ``engine=`` (a SQLAlchemy ``Engine``) is the
    alternative outside Airflow's connections (a notebook, a test, an embedded database).

    ``sample_percent`` (0 < p < 100) computes quantiles, histograms, top values and
    distinct counts on a ``TABLESAMPLE`` of about that share of the table instead of the
    whole table (see ``ddtrack.engines.sql`` for the error it adds); rows, counts, nulls,
    min, max, mean and std are always exact over the whole table.
    """

    name: str
    conn_id: str | None = None
    schema: str | None = None
    engine: Any = None
    sample_percent: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Table: name must be a non-empty table name, not {self.name!r}")
        if (self.conn_id is None) == (self.engine is None):
            raise ValueError(f"Table {self.name!r}: give exactly one of conn_id= (an Airflow connection) or engine=")
        if self.schema is None and "." in self.name:
            schema, _, table = self.name.rpartition(".")
            object.__setattr__(self, "schema", schema)
            object.__setattr__(self, "name", table)
        if self.sample_percent is not None and not 0 < float(self.sample_percent) < 100:
            raise ValueError(f"Table {self.name!r}: sample_percent must be between 0 and 100, not {self.sample_percent!r}")

    @property
    def qualified_name(self) -> str:
        """``schema.name``, or ``name`` when no schema is given."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def __repr__(self) -> str:  # the engine's repr may hold a URL with a password
        where = f"conn_id={self.conn_id!r}" if self.conn_id else "engine=..."
        return f"Table({self.qualified_name!r}, {where})"


# format= spellings, by the format they name
FILE_FORMATS = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "tsv": "csv",
                "json": "json", "jsonl": "json", "ndjson": "json"}


@dataclass(frozen=True)
class Files:
    """A Parquet file, or a folder or glob of Parquet, CSV or JSON-lines files, profiled in
    place by ``log_output`` (streamed in record batches, never loaded whole).

    ``Files("/data/events/")``, ``Files("/data/events/*.parquet")``,
    ``Files("s3://bucket/events/", format="parquet")`` (any fsspec URL; its filesystem
    package and credentials as fsspec finds them).  ``format`` is "parquet", "csv" or
    "json" (JSON lines); by default the files' extension decides.  Inside Airflow, an
    ``airflow.sdk.ObjectStoragePath`` does the same through its connection.
    """

    url: str
    format: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.strip():
            raise ValueError(f"Files: url must be a non-empty path, glob or URL, not {self.url!r}")
        if self.format is not None:
            fmt = FILE_FORMATS.get(str(self.format).lower().lstrip("."))
            if fmt is None:
                raise ValueError(f"Files {self.url!r}: format must be one of {', '.join(sorted(FILE_FORMATS))}, "
                                 f"not {self.format!r}")
            object.__setattr__(self, "format", fmt)
