"""ddtrack's settings: one typed function per ``[ddtrack]`` option.

Each option is read through Airflow's own configuration when Airflow is importable, so it
behaves the same in airflow.cfg and as ``AIRFLOW__DDTRACK__<OPTION>``; from the plain
environment otherwise (a notebook, a benchmark). This is the only module that reads
configuration: every other module calls the function of the option it needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the profile package imports numpy: not at configuration time
    from ddtrack.profile.drift import DriftThresholds

SECTION = "ddtrack"

_DEFAULTS: dict[str, str] = {
    "strict": "False",
    "sql_alchemy_conn": "",
    "max_record_bytes": str(2 * 1024 * 1024),
    "ingest_on_dag_run_end": "True",
    "capture_before_retry": "True",
    "retention_days": "0",
    "follow_airflow_deletes": "False",
    "spool_dir": "",
    "db_connect_timeout": "3",
    "db_statement_timeout": "30",
    "drift_psi": "0.2",
    "drift_ks": "0.2",
    "drift_wasserstein": "0.25",
    "drift_js": "0.05",
    "drift_null_rate": "5",
    "drift_distinct_ratio": "0.5",
    "anomaly_sensitivity": "4",
    "anomaly_min_history": "8",
    "anomaly_history": "30",
    "default_fresh_within": "",
    "in_place_timeout": "600",
    "check_memory_mb": "256",
    "alert_notifiers": "",
    "alert_send_timeout": "30",
    "alert_attempts": "4",
}


def _airflow_conf():
    try:
        from airflow.configuration import conf
    except Exception:  # Airflow missing or broken: fall back to the environment.
        return None
    return conf


def _raw(option: str) -> str:
    conf = _airflow_conf()
    if conf is not None:
        try:
            if conf.has_option(SECTION, option):
                return str(conf.get(SECTION, option))
        except Exception:  # a broken airflow.cfg must not stop a task: use the environment
            pass
    return os.environ.get(f"AIRFLOW__{SECTION.upper()}__{option.upper()}", _DEFAULTS[option])


def _bool(option: str) -> bool:
    return _raw(option).strip().lower() in {"1", "true", "t", "yes", "y", "on"}


def _number(option: str, kind: type[int] | type[float]) -> int | float:
    text = _raw(option).strip()
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"[ddtrack] {option} must be a number, got {text!r}") from None


def strict() -> bool:
    """``[ddtrack] strict``: raise tracking errors instead of logging a warning (ddtrack's own tests)."""
    return _bool("strict")


def sql_alchemy_conn() -> str:
    """``[ddtrack] sql_alchemy_conn``: where ddtrack's own tables live; empty means Airflow's metastore."""
    return _raw("sql_alchemy_conn").strip()


def max_record_bytes() -> int:
    """``[ddtrack] max_record_bytes``: upper bound of one try's record in XCom (MariaDB's packet is 16 MB)."""
    return int(_number("max_record_bytes", int))


def ingest_on_dag_run_end() -> bool:
    """``[ddtrack] ingest_on_dag_run_end``: ingest a DAG run's records from the scheduler when it ends."""
    return _bool("ingest_on_dag_run_end")


def capture_before_retry() -> bool:
    """``[ddtrack] capture_before_retry``: keep earlier tries' records before Airflow clears their XComs."""
    return _bool("capture_before_retry")


def retention_days() -> int:
    """``[ddtrack] retention_days``: days of records kept, older ones deleted in the background (0 keeps all)."""
    return int(_number("retention_days", int))


def spool_dir() -> Path:
    """``[ddtrack] spool_dir``: where records wait while ddtrack's database is down
    (default ``$AIRFLOW_HOME/ddtrack_spool``)."""
    configured = _raw("spool_dir").strip()
    if configured:
        return Path(configured)
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "ddtrack_spool"


def db_connect_timeout() -> float:
    """``[ddtrack] db_connect_timeout``: seconds to wait for a connection to ddtrack's database."""
    return float(_number("db_connect_timeout", float))


def db_statement_timeout() -> float:
    """``[ddtrack] db_statement_timeout``: seconds one statement of ddtrack's may run (and SQLite's busy wait)."""
    return float(_number("db_statement_timeout", float))


def drift_psi() -> float:
    """``[ddtrack] drift_psi``: population stability index at or above which a column has drifted."""
    return float(_number("drift_psi", float))


def drift_ks() -> float:
    """``[ddtrack] drift_ks``: KS distance (0 to 1) at or above which a column has drifted."""
    return float(_number("drift_ks", float))


def drift_null_rate() -> float:
    """``[ddtrack] drift_null_rate``: change of a column's null % (in points) at or above which it
    has drifted, when sampling noise cannot explain it."""
    return float(_number("drift_null_rate", float))


def drift_distinct_ratio() -> float:
    """``[ddtrack] drift_distinct_ratio``: relative change of a distinct count (beyond what the row
    count explains) at or above which a column has drifted."""
    return float(_number("drift_distinct_ratio", float))


def drift_thresholds() -> DriftThresholds:
    """The ``[ddtrack] drift_*`` options as the thresholds ``ddtrack.profile.drift`` applies."""
    from ddtrack.profile.drift import DriftThresholds

    return DriftThresholds(
        psi=drift_psi(), ks=drift_ks(), wasserstein=drift_wasserstein(), js=drift_js(),
        null_rate=drift_null_rate(), distinct_ratio=drift_distinct_ratio(),
    )


def anomaly_sensitivity() -> float:
    """``[ddtrack] anomaly_sensitivity``: k of the median ± k·MAD band; larger flags fewer values."""
    return float(_number("anomaly_sensitivity", float))


def anomaly_min_history() -> int:
    """``[ddtrack] anomaly_min_history``: successful runs a metric needs before its values are judged."""
    return int(_number("anomaly_min_history", int))


def anomaly_history() -> int:
    """``[ddtrack] anomaly_history``: how many of the latest successful runs the band is computed from."""
    return int(_number("anomaly_history", int))


def metastore_url() -> str:
    """``[database] sql_alchemy_conn``: Airflow's metastore, or '' where it is unknown or blocked (task code)."""
    conf = _airflow_conf()
    url = ""
    if conf is not None:
        try:
            url = conf.get("database", "sql_alchemy_conn")
        except Exception:  # no [database] section: the environment may still have it
            url = ""
    url = url or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    return "" if url.startswith("airflow-db-not-allowed") else url


def store_url() -> str:
    """Where ddtrack's side tables live: ``[ddtrack] sql_alchemy_conn``, else the metastore."""
    return sql_alchemy_conn() or metastore_url()


def default_timezone() -> str:
    """``[core] default_timezone``: the pages' timezone until the user picks one in Airflow's UI
    ("utc" when unset; "system" is the server's own zone, as Airflow reads it)."""
    conf = _airflow_conf()
    name = ""
    if conf is not None:
        try:
            name = conf.get("core", "default_timezone", fallback="")
        except Exception:  # a broken airflow.cfg: the environment may still have it
            name = ""
    return (name or os.environ.get("AIRFLOW__CORE__DEFAULT_TIMEZONE", "") or "utc").strip()


def default_fresh_within() -> int | None:
    """``[ddtrack] default_fresh_within``: the window ("1d", "12h", seconds) within which every
    output is expected to land a successful version unless its task says otherwise
    (``fresh_within=``); empty means outputs are never overdue by default."""
    from ddtrack.duration import parse_seconds

    text = _raw("default_fresh_within").strip()
    if not text:
        return None
    return parse_seconds(int(text) if text.isdigit() else text, what="[ddtrack] default_fresh_within")


def follow_airflow_deletes() -> bool:
    """``[ddtrack] follow_airflow_deletes``: the background housekeeping also deletes the
    records of DAG runs Airflow no longer has (``airflow db clean``, deleted DAGs). Off by
    default: ddtrack keeps that history (trends, compare, trace, baselines) until its own
    ``retention_days`` or an explicit ``ddtrack cleanup --orphans``."""
    return _bool("follow_airflow_deletes")


def alert_notifiers() -> str:
    """``[ddtrack] alert_notifiers``: the JSON list of Airflow notifiers alerts are delivered
    through, with their routing (parsed and checked by :mod:`ddtrack.channels`)."""
    return _raw("alert_notifiers")


def alert_send_timeout() -> float:
    """``[ddtrack] alert_send_timeout``: seconds one send to one channel may take before it
    counts as failed (the channel's thread is then left alone until it answers)."""
    return float(_number("alert_send_timeout", float))


def alert_attempts() -> int:
    """``[ddtrack] alert_attempts``: sends tried per alert and channel (with back-off) before
    the delivery is marked failed."""
    return max(1, int(_number("alert_attempts", int)))


def api_base_url() -> str:
    """``[api] base_url``: where Airflow is served, for links in delivered alerts ('' if unset)."""
    conf = _airflow_conf()
    url = ""
    if conf is not None:
        try:
            url = conf.get("api", "base_url", fallback="") or ""
        except Exception:  # a broken airflow.cfg: the environment may still have it
            url = ""
    return (url or os.environ.get("AIRFLOW__API__BASE_URL", "")).rstrip("/")


def check_memory_mb() -> int:
    """``[ddtrack] check_memory_mb``: memory a task may keep per output to judge ``unique``
    exactly across its batches (distinct keys: 8 bytes per number, 16 per text value); past it
    the check cannot be evaluated and, with severity "error", fails the task."""
    return max(1, int(_number("check_memory_mb", int)))


def in_place_timeout() -> float:
    """``[ddtrack] in_place_timeout``: seconds one output's profile may run on the engine that
    holds the data (a SQL table's statements together); past it the database cancels it."""
    value = float(_number("in_place_timeout", float))
    if value <= 0:
        raise ValueError(f"[ddtrack] in_place_timeout must be positive, got {value}")
    return value


def show_traceback() -> bool:
    """``DDTRACK_TRACEBACK`` (an environment variable, not an option): the CLI shows the
    traceback of an unexpected error instead of its one line, for a bug report."""
    return bool(os.environ.get("DDTRACK_TRACEBACK", "").strip())


def string_kernel() -> bool:
    """``DDTRACK_STRING_KERNEL`` (an environment variable of the workers, not an option: the
    profiler knows nothing of Airflow): ``0`` switches off the C kernel that counts strings,
    and Arrow's kernels count instead."""
    return _switch("DDTRACK_STRING_KERNEL")


def hll_kernel() -> bool:
    """``DDTRACK_HLL_KERNEL`` (an environment variable of the workers, as above): ``0``
    switches off the C kernel that builds the distinct-count sketch of numeric columns, and
    numpy builds it instead (the same registers, more slowly)."""
    return _switch("DDTRACK_HLL_KERNEL")


def sort_kernel() -> bool:
    """``DDTRACK_SORT_KERNEL`` (an environment variable of the workers, as above): ``0``
    switches off the C radix sort of numeric columns, and numpy sorts them instead (the same
    order).  Otherwise each process uses whichever of the two it measures faster."""
    return _switch("DDTRACK_SORT_KERNEL")


def _switch(variable: str) -> bool:
    return os.environ.get(variable, "1").strip().lower() not in ("0", "false", "no", "off")


def drift_wasserstein() -> float:
    """``[ddtrack] drift_wasserstein``: normalised Wasserstein distance of a numeric or datetime
    column at or above which it has drifted: how far values moved over their central 90 %, in
    units of the baseline's mean absolute deviation (a spread × 1.5 gives 0.5)."""
    return float(_number("drift_wasserstein", float))


def drift_js() -> float:
    """``[ddtrack] drift_js``: Jensen–Shannon distance (natural log, 0 to 0.83) of a categorical
    column's value shares at or above which it has drifted (a 10-point move gives 0.07 or more)."""
    return float(_number("drift_js", float))
