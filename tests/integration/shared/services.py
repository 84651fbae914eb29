"""Services the shared deployment starts beside Airflow, one function each.

Each service is a context manager taking the deployment's home folder and yielding a
:class:`Service`: the environment it adds to every Airflow process (connections, ddtrack
options) and a handle the tests read (a mailbox, a warehouse URL). Add a feature's service
here and to ``SERVICES``; it is started before Airflow and stopped after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Service:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    handle: Any = None


# name -> factory; the deployment exposes each handle as ``airflow.services[name]``.
SERVICES: dict[str, Callable[[Path], AbstractContextManager[Service]]] = {}


def started(home: Path, stack) -> Iterator[Service]:
    """Start every service of ``SERVICES`` on ``stack`` (an ExitStack), in order."""
    for name, factory in SERVICES.items():
        service = stack.enter_context(factory(home / name))
        yield service


RUN_KINDS = ["drift", "anomaly", "check"]


@contextmanager
def alert_channels(home: Path) -> Iterator[Service]:
    """A real SMTP server and a Slack-like webhook, and ``[ddtrack] alert_notifiers`` sending
    the alerts of ``drifting_sales``'s runs (drift, anomalies, checks: not the periodic stale
    and overdue sweeps, which do not belong to a run) to both through Airflow's SmtpNotifier
    and SlackWebhookNotifier. Handle: ``(mailbox, webhook)``."""
    from dev_tools.notify_servers import smtp_server, webhook_server

    with smtp_server() as mail, webhook_server() as hook:
        channels = [
            {"name": "mail", "notifier": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
             "kwargs": {"to": "data@example.com", "smtp_conn_id": "ddtrack_smtp"}, "dags": ["drifting_sales"],
             "kinds": RUN_KINDS},
            {"name": "slack", "notifier": "airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier",
             "kwargs": {"slack_webhook_conn_id": "ddtrack_slack"}, "dags": ["drifting_sales"], "kinds": RUN_KINDS},
        ]
        yield Service("alert_channels", {
            "AIRFLOW_CONN_DDTRACK_SMTP": mail.connection(),
            "AIRFLOW_CONN_DDTRACK_SLACK": hook.connection(),
            "AIRFLOW__DDTRACK__ALERT_NOTIFIERS": json.dumps(channels),
        }, (mail, hook))


SERVICES["alert_channels"] = alert_channels


@contextmanager
def warehouse(home: Path) -> Iterator[Service]:
    """A second PostgreSQL database on the local server, the warehouse the ``warehouse_tables``
    DAG writes and profiles in place, reached through the Airflow connection ``warehouse``
    (``AIRFLOW_CONN_WAREHOUSE``); dropped after the deployment stops. Handle: its URL."""
    import sqlalchemy as sa
    from dev_tools.airflow_local import create_postgres_database, drop_database

    url = create_postgres_database()
    parsed = sa.engine.make_url(url)
    conn = f"postgres://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}"
    try:
        yield Service("warehouse", {"AIRFLOW_CONN_WAREHOUSE": conn}, url)
    finally:
        drop_database(url)


SERVICES["warehouse"] = warehouse
