"""ddtrack's settings: the ``[ddtrack]`` section of airflow.cfg (or ``AIRFLOW__DDTRACK__*``).

Read through Airflow's own configuration when Airflow is importable, so a setting behaves
the same in airflow.cfg and in the environment; plain environment variables otherwise
(a notebook, a benchmark).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SECTION = "ddtrack"

DEFAULTS: dict[str, str] = {
    # Raise tracking errors instead of logging a warning (for tests of ddtrack itself).
    "strict": "False",
    # Where ddtrack's own tables live; empty means Airflow's metastore.
    "sql_alchemy_conn": "",
    # Upper bound of one task try's record as sent through XCom (MariaDB's packet is 16 MB).
    "max_record_bytes": str(2 * 1024 * 1024),
    # Ingest a DAG run's records from the scheduler when the run ends.
    "ingest_on_dag_run_end": "True",
    # Keep records of earlier tries: copy a try's record before Airflow clears its XComs.
    "capture_before_retry": "True",
    # Days of records kept; older ones are deleted in the background (0 keeps all).
    "retention_days": "0",
    # Where records wait when ddtrack's database is down; empty: $AIRFLOW_HOME/ddtrack_spool.
    "spool_dir": "",
}


def _airflow_conf():
    try:
        from airflow.configuration import conf
    except Exception:  # Airflow missing or broken: fall back to the environment.
        return None
    return conf


def get(key: str) -> str:
    """One raw setting, airflow.cfg / environment first, then ddtrack's default."""
    conf = _airflow_conf()
    if conf is not None:
        try:
            if conf.has_option(SECTION, key):
                return str(conf.get(SECTION, key))
        except Exception:
            pass
    return os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}", DEFAULTS[key])


def get_bool(key: str) -> bool:
    return get(key).strip().lower() in {"1", "true", "t", "yes", "y", "on"}


def get_int(key: str) -> int:
    return int(get(key).strip())


@dataclass(frozen=True)
class StoreSettings:
    url: str


def metastore_url() -> str:
    """Airflow's metastore URL, or '' where it is unknown or blocked (task code)."""
    conf = _airflow_conf()
    url = ""
    if conf is not None:
        try:
            url = conf.get("database", "sql_alchemy_conn")
        except Exception:
            url = ""
    url = url or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    return "" if url.startswith("airflow-db-not-allowed") else url


def store_settings() -> StoreSettings:
    """Where ddtrack's side tables live: ``[ddtrack] sql_alchemy_conn`` or the metastore."""
    own = get("sql_alchemy_conn").strip()
    if own:
        return StoreSettings(url=own)
    return StoreSettings(url=metastore_url())


def strict() -> bool:
    return get_bool("strict")
