"""Alert channels: ``[ddtrack] alert_notifiers`` parsed, and which alerts each one takes.

The option is a JSON list; each item names an Airflow notifier (a ``BaseNotifier``
subclass, by import path) with its keyword arguments, and optional routing::

    [{"notifier": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
      "kwargs": {"to": "data@example.com", "smtp_conn_id": "smtp_default"},
      "name": "data-team-mail",            # optional; default: class name + hash of kwargs
      "dags": ["sales_*"],                 # glob patterns of DAG ids (default: every DAG)
      "tags": ["team=data", "critical"],   # ddtrack tags: key, or key=value (default: any)
      "kinds": ["drift", "check"],         # drift, anomaly, check, overdue, stale (default: all)
      "min_status": "fail"}]               # warn (default) or fail

Parsing imports no Airflow: it happens where records are ingested (the outbox rows are
written in the ingest transaction), and a bad item is reported with its position, never
raised into ingest. :func:`load` also imports and tries each notifier class (for ``ddtrack
status`` and the deliverer); sending is :mod:`ddtrack.server.notify`'s work.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ddtrack import conf

KINDS = ("drift", "anomaly", "check", "overdue", "stale")
STATUS_RANK = {"warn": 0, "fail": 1}
_KEYS = {"notifier", "kwargs", "name", "dags", "tags", "kinds", "min_status"}


@dataclass(frozen=True)
class Channel:
    """One configured notifier and the alerts routed to it."""

    name: str
    notifier: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    dags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = KINDS
    min_status: str = "warn"

    def takes(self, alert: Mapping[str, Any], tags: Iterable[tuple[str, str | None]] = ()) -> bool:
        """Whether this channel should deliver ``alert`` (a dict with dag_id, kind, status);
        ``tags`` are the (key, value) ddtrack tags of the alert's try or output."""
        if alert.get("kind") not in self.kinds:
            return False
        if STATUS_RANK.get(str(alert.get("status")), 0) < STATUS_RANK[self.min_status]:
            return False
        if self.dags and not any(fnmatch.fnmatchcase(str(alert.get("dag_id")), p) for p in self.dags):
            return False
        if self.tags:
            have = {(k, v) for k, v in tags}
            keys = {k for k, _ in have}
            return any(
                (t.split("=", 1)[0], t.split("=", 1)[1]) in have if "=" in t else t in keys for t in self.tags
            )
        return True


@dataclass(frozen=True)
class Parsed:
    channels: tuple[Channel, ...]
    errors: tuple[str, ...]


def parse(raw: str) -> Parsed:
    """The channels of the option's text, and one message per item that is not usable."""
    if not raw or not raw.strip():
        return Parsed((), ())
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Parsed((), (f"[ddtrack] alert_notifiers is not valid JSON: {exc}",))
    if not isinstance(items, list):
        return Parsed((), ("[ddtrack] alert_notifiers must be a JSON list of notifier objects",))
    channels: list[Channel] = []
    errors: list[str] = []
    for position, item in enumerate(items, 1):
        try:
            channel = _channel(item)
        except ValueError as exc:
            errors.append(f"[ddtrack] alert_notifiers item {position}: {exc}")
            continue
        if any(c.name == channel.name for c in channels):
            errors.append(f"[ddtrack] alert_notifiers item {position}: the name {channel.name!r} is used twice")
            continue
        channels.append(channel)
    return Parsed(tuple(channels), tuple(errors))


def configured() -> tuple[Channel, ...]:
    """The usable channels of ``[ddtrack] alert_notifiers`` as configured now (parsed once per text)."""
    return _parsed(conf.alert_notifiers()).channels


@functools.lru_cache(maxsize=4)
def _parsed(raw: str) -> Parsed:
    return parse(raw)


def page_url(alert: Mapping[str, Any]) -> str:
    """The URL of the ddtrack page that shows ``alert`` (absolute when ``[api] base_url`` is
    set): the task-instance page, or the output's catalog page for an overdue output."""
    base = conf.api_base_url()
    if alert.get("kind") == "overdue":
        query = {"dag_id": alert["dag_id"], "task_id": alert["task_id"], "name": alert.get("output")}
        return f"{base}/ddtrack/catalog/output?{urlencode(query)}"
    query = {"dag_id": alert["dag_id"], "run_id": alert.get("run_id"), "task_id": alert["task_id"],
             "map_index": alert.get("map_index", -1)}
    if alert.get("try_number") is not None:
        query["try_number"] = alert["try_number"]
    return f"{base}/ddtrack/ti?{urlencode(query)}"


def _channel(item: Any) -> Channel:
    if not isinstance(item, dict):
        raise ValueError("must be an object with a 'notifier' import path")
    unknown = set(item) - _KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    notifier = item.get("notifier")
    if not isinstance(notifier, str) or "." not in notifier:
        raise ValueError("'notifier' must be the import path of a BaseNotifier subclass, e.g. "
                         "airflow.providers.smtp.notifications.smtp.SmtpNotifier")
    kwargs = item.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ValueError("'kwargs' must be an object of the notifier's arguments")
    kinds = tuple(_strings(item, "kinds")) or KINDS
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown kind(s) {bad}; kinds are {list(KINDS)}")
    min_status = item.get("min_status", "warn")
    if min_status not in STATUS_RANK:
        raise ValueError(f"'min_status' must be 'warn' or 'fail', not {min_status!r}")
    name = item.get("name") or _default_name(notifier, kwargs)
    if not isinstance(name, str) or len(name) > 100:
        raise ValueError("'name' must be a string of at most 100 characters")
    return Channel(name, notifier, kwargs, tuple(_strings(item, "dags")), tuple(_strings(item, "tags")), kinds,
                   min_status)


def _strings(item: Mapping[str, Any], key: str) -> list[str]:
    value = item.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return value


def _default_name(notifier: str, kwargs: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{notifier.rsplit('.', 1)[-1]}-{digest}"


# ---------------------------------------------------------------- notifier classes
SUBJECT_FIELDS = ("subject", "title", "summary")
HTML_FIELDS = ("html_content",)
TEXT_FIELDS = ("text", "message", "body")

SUBJECT = (
    "[ddtrack] {{ ddtrack_alerts|length }} alert{{ 's' if ddtrack_alerts|length != 1 }} in {{ dag_id }}"
    "{% if run_id %} ({{ run_id }}){% endif %}"
)
TEXT = (
    "ddtrack: {{ ddtrack_alerts|length }} alert{{ 's' if ddtrack_alerts|length != 1 }} in {{ dag_id }}"
    "{% if run_id %}, run {{ run_id }}{% endif %}\n"
    "{% for a in ddtrack_alerts %}- [{{ a.status }}] {{ a.kind }} {{ a.task_id }}"
    "{% if a.output %}.{{ a.output }}{% endif %}{% if a.column %} column {{ a.column }}{% endif %}: {{ a.detail }}"
    "{% if a.url %} {{ a.url }}{% endif %}\n{% endfor %}"
)
HTML = (
    "<p>ddtrack: {{ ddtrack_alerts|length }} alert{{ 's' if ddtrack_alerts|length != 1 }} in "
    "<b>{{ dag_id }}</b>{% if run_id %}, run {{ run_id }}{% endif %}</p><table border='1' cellpadding='4'>"
    "<tr><th>status</th><th>kind</th><th>task</th><th>output</th><th>column</th><th>detail</th></tr>"
    "{% for a in ddtrack_alerts %}<tr><td>{{ a.status }}</td><td>{{ a.kind }}</td><td>{{ a.task_id }}</td>"
    "<td>{{ a.output or '' }}</td><td>{{ a.column or '' }}</td><td>{{ a.detail }}"
    "{% if a.url %} <a href='{{ a.url }}'>open</a>{% endif %}</td></tr>{% endfor %}</table>"
)


class ConfigError(ValueError):
    """A channel of ``[ddtrack] alert_notifiers`` that cannot be used (reported, never raised into ingest)."""


def with_defaults(cls: type, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ddtrack's digest templates for the notifier's subject/body arguments
    left unset (SmtpNotifier's own default template expects a task's context)."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return dict(kwargs)
    filled = dict(kwargs)
    for names, template in ((SUBJECT_FIELDS, SUBJECT), (HTML_FIELDS, HTML), (TEXT_FIELDS, TEXT)):
        for name in names:
            if name in params and filled.get(name) in (None, ""):
                filled[name] = template
    return filled


def load(raw: str) -> tuple[list[tuple[Channel, type]], list[str]]:
    """The usable channels of ``[ddtrack] alert_notifiers`` and a message per unusable one:
    invalid JSON, an unknown class, a class that is no notifier, arguments it refuses."""
    parsed = parse(raw)
    loaded: list[tuple[Channel, type]] = []
    errors = list(parsed.errors)
    for spec in parsed.channels:
        try:
            loaded.append((spec, notifier_class(spec)))
        except ConfigError as exc:
            errors.append(f"[ddtrack] alert_notifiers channel {spec.name!r}: {exc}")
    return loaded, errors


def notifier_class(spec: Channel) -> type:
    """The notifier class of ``spec``, checked: importable, a BaseNotifier, taking its kwargs."""
    module_name, _, class_name = spec.notifier.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is a configuration error
        raise ConfigError(f"cannot import {spec.notifier}: {type(exc).__name__}: {exc}") from None
    from airflow.sdk import BaseNotifier

    if not (isinstance(cls, type) and issubclass(cls, BaseNotifier)):
        raise ConfigError(f"{spec.notifier} is not a subclass of airflow.sdk.BaseNotifier")
    try:
        cls(**with_defaults(cls, spec.kwargs))
    except Exception as exc:  # noqa: BLE001 - the notifier's own argument checks
        raise ConfigError(f"{spec.notifier}({', '.join(spec.kwargs)}) fails: {type(exc).__name__}: {exc}") from None
    return cls
