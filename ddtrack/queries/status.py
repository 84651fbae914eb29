"""Does tracking work in this deployment? The one question behind ``ddtrack status``.

:func:`deployment_status` checks each link of the chain a record travels (Airflow loads the
plugin, records wait in XCom, the listener ingests them into ddtrack's tables, the spool
holds what could not be stored) and returns a plain :class:`DeploymentStatus`: the CLI
prints it, and a page can show it (:mod:`ddtrack.views.status_panel`). Each problem says
what to do. The database checks (:func:`metastore_state`, :func:`store_state`) are also
what every command runs before it starts, so all of them fail with the same clear line.

Every probe is bounded: the engines have connect and statement timeouts, XCom keys are
compared in batches, and nothing here writes (a SQLite file that does not exist is
reported, not created).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text, tuple_
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from ddtrack import conf
from ddtrack.integrations.airflow_compat import MIN_AIRFLOW
from ddtrack.queries.sources import Sources, utc
from ddtrack.record import XCOM_KEY
from ddtrack.store.airflow_tables import DAG_RUN, TASK_INSTANCE, XCOM
from ddtrack.store.engine import get_engine
from ddtrack.store.models import Base, TaskRun
from ddtrack.store.spool_folder import DEAD, dead_letters, pending

# A finished run's records are ingested by the listener within seconds; after this long
# they are stuck.
STALE_AFTER = dt.timedelta(minutes=10)
_BATCH = 500
_AIRFLOW_TABLES = ("xcom", "dag_run", "task_instance", "alembic_version")


@dataclass(frozen=True)
class DatabaseState:
    """One database as ddtrack sees it. ``state`` is ``ok``, ``missing``, ``unreachable``,
    ``invalid`` (no SQLAlchemy URL), ``not_migrated`` (Airflow's tables absent), ``not_installed`` (ddtrack's tables
    absent), ``outdated`` or ``newer`` (ddtrack's schema behind or ahead of the code)."""

    url: str  # password hidden
    state: str
    detail: str = ""
    revision: str | None = None
    head: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True)
class PluginState:
    loaded: bool
    listener_active: bool
    capture_active: bool
    detail: str = ""


@dataclass(frozen=True)
class DeploymentStatus:
    airflow_version: str
    airflow_supported: bool
    metastore: DatabaseState
    store: DatabaseState
    plugin: PluginState
    waiting_in_xcom: int | None  # None: could not be counted (a database is not ok)
    oldest_waiting: dt.datetime | None
    stuck_in_xcom: int | None  # of those, records of runs that ended over STALE_AFTER ago
    spool_dir: str
    spool_pending: int
    dead_letters: int
    last_ingest: dt.datetime | None
    retention_days: int
    table_rows: dict[str, int] = field(default_factory=dict)
    follow_airflow_deletes: bool = False
    alerts: str = "not configured"  # the channels and their deliveries, one line
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value


def safe_url(url: str) -> str:
    """``url`` with its password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as such, never echoed (it may hold a password)
        return "<unparsable URL>"


def _invalid(url: str) -> str | None:
    """Why ``url`` is no SQLAlchemy URL, if it is not one."""
    try:
        make_url(url)
    except Exception as exc:  # ArgumentError, ValueError: both mean a malformed setting
        return f"not a SQLAlchemy URL: {exc}"
    return None


def _missing_sqlite_file(url: str) -> bool:
    """A SQLite URL whose file does not exist: connecting would create an empty one."""
    try:
        parsed = make_url(url)
    except Exception:
        return False
    db = parsed.database
    return parsed.get_backend_name() == "sqlite" and db not in (None, "", ":memory:") and not Path(db).exists()


def error_cause(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's statement and link."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def metastore_state(url: str) -> DatabaseState:
    """Is Airflow's metastore there, reachable and migrated?"""
    shown = safe_url(url) if url else ""
    if not url:
        return DatabaseState(shown, "missing", "[database] sql_alchemy_conn is not set")
    if _invalid(url):
        return DatabaseState(shown, "invalid", _invalid(url) or "")
    if _missing_sqlite_file(url):
        return DatabaseState(shown, "missing", "no such file")
    try:
        with get_engine(url).connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except (SQLAlchemyError, OSError, ValueError) as exc:
        return DatabaseState(shown, "unreachable", error_cause(exc))
    absent = [t for t in _AIRFLOW_TABLES if t not in tables]
    if absent:
        return DatabaseState(shown, "not_migrated", f"no {', '.join(absent)} table")
    return DatabaseState(shown, "ok")


def store_state(url: str) -> DatabaseState:
    """Are ddtrack's tables reachable, and at the revision this code needs?"""
    from ddtrack.store.schema import VERSION_TABLE, head_revision

    head = head_revision()
    shown = safe_url(url) if url else ""
    if not url:
        return DatabaseState(shown, "missing", "no database configured", head=head)
    if _invalid(url):
        return DatabaseState(shown, "invalid", _invalid(url) or "", head=head)
    if _missing_sqlite_file(url):
        return DatabaseState(shown, "not_installed", "no such file", head=head)
    try:
        with get_engine(url).connect() as conn:
            revision = None
            if inspect(conn).has_table(VERSION_TABLE):
                # Read directly: Alembic's MigrationContext logs to stdout, which --json keeps clean.
                revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except (SQLAlchemyError, OSError, ValueError) as exc:
        return DatabaseState(shown, "unreachable", error_cause(exc), head=head)
    if revision is None:
        return DatabaseState(shown, "not_installed", "", None, head)
    if revision == head:
        return DatabaseState(shown, "ok", "", revision, head)
    state = "outdated" if revision in _known_revisions() else "newer"
    return DatabaseState(shown, state, "", revision, head)


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from ddtrack.store.schema import MIGRATIONS

    return {r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def metastore_problem(state: DatabaseState) -> str | None:
    """The line that says what to do about Airflow's metastore, if anything."""
    if state.state == "missing":
        return f"Airflow's metastore {state.url} does not exist ({state.detail}): run `airflow db migrate`"
    if state.state == "unreachable":
        return (
            f"Airflow's metastore {state.url} is unreachable ({state.detail}): "
            "check that the database runs and [database] sql_alchemy_conn"
        )
    if state.state == "not_migrated":
        return f"Airflow's metastore {state.url} is not migrated ({state.detail}): run `airflow db migrate`"
    if state.state == "invalid":
        return f"Airflow's metastore URL is {state.detail}: fix [database] sql_alchemy_conn"
    return None


def store_problem(state: DatabaseState) -> str | None:
    """The line that says what to do about ddtrack's tables, if anything."""
    if state.state == "missing":
        return "ddtrack has no database: set [database] sql_alchemy_conn or [ddtrack] sql_alchemy_conn"
    if state.state == "unreachable":
        return (
            f"ddtrack's database {state.url} is unreachable ({state.detail}): records wait in XCom and "
            "the spool until it answers; check that it runs and [ddtrack] sql_alchemy_conn"
        )
    if state.state == "invalid":
        return f"ddtrack's database URL is {state.detail}: fix [ddtrack] sql_alchemy_conn (or --conn)"
    if state.state == "not_installed":
        return f"ddtrack's tables are missing at {state.url}: run `ddtrack install`"
    if state.state == "outdated":
        return (
            f"ddtrack's tables at {state.url} are at revision {state.revision}, this ddtrack needs "
            f"{state.head}: run `ddtrack install`"
        )
    if state.state == "newer":
        return (
            f"ddtrack's tables at {state.url} are at revision {state.revision}, newer than this ddtrack "
            f"knows ({state.head}): upgrade ddtrack in this environment"
        )
    return None


def airflow_version() -> tuple[str, bool]:
    """Airflow's version, and whether ddtrack supports it."""
    from ddtrack.integrations import airflow_compat

    version = airflow_compat.airflow_version()
    return version, airflow_compat.is_supported(version)


def plugin_state() -> PluginState:
    """Does Airflow load ddtrack's plugin, and with it the listener and the capture middleware?"""
    from importlib.metadata import entry_points

    if not any(ep.value.startswith("ddtrack.") for ep in entry_points(group="airflow.plugins")):
        return PluginState(False, False, False, "no airflow.plugins entry point for ddtrack")
    try:
        from ddtrack.integrations.airflow_compat import loaded_plugins

        plugins, errors = loaded_plugins()
    except Exception as exc:  # a broken plugin folder of the deployment: report, do not crash
        return PluginState(False, False, False, f"could not ask Airflow for its plugins: {exc}")
    plugin = next((p for p in plugins if getattr(p, "name", None) == "ddtrack"), None)
    if plugin is None:
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items() if "ddtrack" in f"{k}{v}")
        return PluginState(False, False, False, detail or "Airflow did not load it")
    # Compared by name: the status question does not import the server's code.
    has_listener = any(getattr(m, "__name__", None) == "ddtrack.server.listener" for m in plugin.listeners or [])
    has_capture = any(m.get("name") == "ddtrack-capture-before-retry" for m in plugin.fastapi_root_middlewares or [])
    return PluginState(True, has_listener and conf.ingest_on_dag_run_end(), has_capture and conf.capture_before_retry())


@dataclass(frozen=True)
class _Waiting:
    count: int
    oldest: dt.datetime | None
    stuck: int


def _waiting_in_xcom(meta: Connection, store: Connection, now: dt.datetime) -> _Waiting:
    """Records in XCom whose try is not in ddtrack's tables; only keys are read, in batches."""
    joined = XCOM.join(
        TASK_INSTANCE,
        (XCOM.c.dag_id == TASK_INSTANCE.c.dag_id)
        & (XCOM.c.run_id == TASK_INSTANCE.c.run_id)
        & (XCOM.c.task_id == TASK_INSTANCE.c.task_id)
        & (XCOM.c.map_index == TASK_INSTANCE.c.map_index),
    ).join(DAG_RUN, (XCOM.c.dag_id == DAG_RUN.c.dag_id) & (XCOM.c.run_id == DAG_RUN.c.run_id))
    query = (
        select(
            XCOM.c.dag_id,
            XCOM.c.run_id,
            XCOM.c.task_id,
            XCOM.c.map_index,
            TASK_INSTANCE.c.try_number,
            XCOM.c.timestamp,
            DAG_RUN.c.end_date,
        )
        .select_from(joined)
        .where(XCOM.c.key == XCOM_KEY)
    )
    key_columns = (TaskRun.dag_id, TaskRun.run_id, TaskRun.task_id, TaskRun.map_index, TaskRun.try_number)
    count = stuck = 0
    oldest: dt.datetime | None = None
    for batch in meta.execution_options(yield_per=_BATCH).execute(query).partitions():
        keys = {tuple(row[:5]): row for row in batch}
        stored = {tuple(r) for r in store.execute(select(*key_columns).where(tuple_(*key_columns).in_(list(keys))))}
        for key, row in keys.items():
            if key in stored:
                continue
            count += 1
            pushed = utc(row.timestamp)
            if pushed is not None and (oldest is None or pushed < oldest):
                oldest = pushed
            ended = utc(row.end_date)
            stuck += int(ended is not None and now - ended > STALE_AFTER)
    return _Waiting(count, oldest, stuck)


def _table_rows(store: Connection) -> dict[str, int]:
    present = set(inspect(store).get_table_names())
    tables = [t for t in Base.metadata.sorted_tables if t.name in present]
    return {t.name: int(store.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}


def deployment_status(sources: Sources, *, now: dt.datetime | None = None) -> DeploymentStatus:
    """Everything an operator needs to tell whether tracking works, with what to do if not."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    version, supported = airflow_version()
    meta = metastore_state(sources.metastore_url)
    store = store_state(sources.store_url)
    plugin = plugin_state()
    problems = [p for p in (metastore_problem(meta), store_problem(store)) if p]
    if not supported:
        problems.insert(0, f"Airflow {version} is older than {MIN_AIRFLOW}, the oldest ddtrack supports: upgrade Airflow")
    if not plugin.loaded:
        problems.append(
            f"Airflow does not load the ddtrack plugin ({plugin.detail}): install ddtrack into Airflow's own environment"
        )
    waiting, rows, last_ingest = None, {}, None
    if store.ok:
        with get_engine(sources.store_url).connect() as conn:
            rows = _table_rows(conn)
            last_ingest = utc(conn.execute(select(func.max(TaskRun.ingested_at))).scalar())
            if meta.ok:
                with get_engine(sources.metastore_url).connect() as mconn:
                    waiting = _waiting_in_xcom(mconn, conn, now)
    if waiting is not None and waiting.stuck:
        problems.append(
            f"{waiting.stuck} record(s) of DAG runs that ended over {int(STALE_AFTER.total_seconds() // 60)} min ago "
            "still wait in XCom: run `ddtrack sync`, and check the scheduler's log for ddtrack warnings"
        )
    spool_dir = conf.spool_dir()
    waiting_in_spool, dead = pending(), len(dead_letters())
    if waiting_in_spool and store.ok:
        problems.append(f"{waiting_in_spool} record(s) wait in the spool {spool_dir}: run `ddtrack sync`")
    if dead:
        problems.append(
            f"{dead} record(s) could not be stored and sit in {spool_dir / DEAD}: "
            "the log of the process that spooled them says why"
        )
    alert_line, alert_problems = _alerts(sources, store.ok)
    problems.extend(alert_problems)
    return DeploymentStatus(
        airflow_version=version,
        airflow_supported=supported,
        metastore=meta,
        store=store,
        plugin=plugin,
        waiting_in_xcom=waiting.count if waiting else None,
        oldest_waiting=waiting.oldest if waiting else None,
        stuck_in_xcom=waiting.stuck if waiting else None,
        spool_dir=str(spool_dir),
        spool_pending=waiting_in_spool,
        dead_letters=dead,
        last_ingest=last_ingest,
        retention_days=conf.retention_days(),
        follow_airflow_deletes=conf.follow_airflow_deletes(),
        alerts=alert_line,
        table_rows=rows,
        problems=problems,
    )


def _alerts(sources: Sources, store_ok: bool) -> tuple[str, list[str]]:
    """The alert channels (``[ddtrack] alert_notifiers``) as one line, and what needs action:
    a channel that cannot be used, deliveries that failed for good."""
    from ddtrack import channels

    loaded, errors = channels.load(conf.alert_notifiers())
    problems = [f"{e}: fix the option (alerts of the other channels are still delivered)" for e in errors]
    if not loaded and not errors:
        return "not configured ([ddtrack] alert_notifiers)", problems
    states: dict[str, dict[str, int]] = {}
    if store_ok:
        from ddtrack.queries.deliveries import channel_states

        states = channel_states(sources, None)
    parts = []
    for spec, _ in loaded:
        counts = states.get(spec.name, {})
        parts.append(f"{spec.name}: {counts.get('sent', 0)} sent, {counts.get('pending', 0) + counts.get('sending', 0)} "
                     f"pending, {counts.get('failed', 0)} failed")
        if counts.get("failed"):
            problems.append(f"{counts['failed']} alert(s) could not be delivered to {spec.name!r} after every attempt: "
                            "`ddtrack alerts --pending` shows the errors")
    return "; ".join(parts) or "no usable channel", problems


def _retention_line(report: DeploymentStatus) -> str:
    kept = f"{report.retention_days} days" if report.retention_days > 0 else "keep everything (0)"
    if report.follow_airflow_deletes:
        kept += "; runs Airflow deletes are deleted too (follow_airflow_deletes)"
    return kept


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def _database_line(state: DatabaseState) -> str:
    words = {
        "ok": "reachable",
        "missing": "missing",
        "unreachable": "UNREACHABLE",
        "invalid": "INVALID URL",
        "not_migrated": "not migrated",
        "not_installed": "tables missing",
        "outdated": "schema behind the code",
        "newer": "schema newer than the code",
    }
    detail = f" ({state.detail})" if state.detail else ""
    return f"{state.url or '(not set)'}: {words.get(state.state, state.state)}{detail}"


def summary_lines(report: DeploymentStatus) -> list[tuple[str, str]]:
    """The status as (label, value) lines, the same for the CLI's table and the home page's panel."""
    plugin = report.plugin
    if plugin.loaded:
        active = [
            f"listener {'on' if plugin.listener_active else 'off'}",
            f"capture before retry {'on' if plugin.capture_active else 'off'}",
        ]
        plugin_text = "loaded: " + ", ".join(active)
    else:
        plugin_text = f"NOT LOADED ({plugin.detail})"
    store = report.store
    if store.revision == store.head:
        schema = f"{store.revision} (current)"
    elif store.state in ("unreachable", "missing", "invalid"):
        schema = f"unknown (the code needs {store.head})"
    else:
        schema = f"{store.revision or 'none'} (the code needs {store.head}: run `ddtrack install`)"
    if report.waiting_in_xcom is None:
        waiting = "unknown (a database is not available)"
    elif report.waiting_in_xcom:
        waiting = f"{report.waiting_in_xcom}, oldest pushed {_when(report.oldest_waiting)}"
        if report.stuck_in_xcom:
            waiting += f"; {report.stuck_in_xcom} of runs that ended long ago"
    else:
        waiting = "none"
    return [
        ("Airflow", f"{report.airflow_version} ({'supported' if report.airflow_supported else 'NOT SUPPORTED'}; "
                    f"ddtrack needs {MIN_AIRFLOW} or later)"),
        ("Airflow's metastore", _database_line(report.metastore)),
        ("ddtrack's tables", _database_line(store)),
        ("schema revision", schema),
        ("plugin", plugin_text),
        ("waiting in XCom", waiting),
        ("spool", f"{report.spool_pending} record(s) in {report.spool_dir}; {report.dead_letters} dead letter(s)"),
        ("last ingest", _when(report.last_ingest)),
        ("retention", _retention_line(report)),
        ("alerts", report.alerts),
        ("rows", ", ".join(f"{name.removeprefix('ddtrack_')} {n:,}" for name, n in report.table_rows.items())
                 or "unknown"),
    ]
