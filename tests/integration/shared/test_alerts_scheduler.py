"""Alerts delivered by a real deployment: the scheduler's ingest thread sends one digest per
channel (a real SMTP server through SmtpNotifier, a Slack-like webhook through
SlackWebhookNotifier) after the drifted run of ``drifting_sales``, none for its stable runs,
and ``ddtrack sync`` afterwards sends nothing again."""

from __future__ import annotations

import pytest
from helpers import wait_for
from sqlalchemy import select

from ddtrack.store.engine import session_factory
from ddtrack.store.models import Alert, AlertDelivery

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1200)]


def test_one_digest_per_channel_after_the_drifted_run_and_none_before(shared_airflow):
    airflow = shared_airflow
    mail, hook = airflow.services["alert_channels"]
    airflow.wait_dags(["drifting_sales"])
    stable = []
    for _ in range(2):
        run_id = airflow.trigger("drifting_sales")
        assert airflow.wait_runs([("drifting_sales", run_id)])[("drifting_sales", run_id)] == "success"
        stable.append(run_id)
    drifted = airflow.trigger("drifting_sales", conf={"drift": True})
    assert airflow.wait_runs([("drifting_sales", drifted)])[("drifting_sales", drifted)] == "failed"  # its error check

    wait_for(lambda: len(mail.messages) >= 1 and len(hook.posts) >= 1, timeout=300,
             what="the drifted run's digest by mail and webhook")
    store = airflow.metastore_url
    with session_factory(store)() as s:
        rows = s.execute(select(Alert.run_id, Alert.kind, AlertDelivery.channel, AlertDelivery.state)
                         .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)).all()
    assert {r.run_id for r in rows} == {drifted}
    assert {r.state for r in rows} == {"sent"} and {r.channel for r in rows} == {"mail", "slack"}
    assert {"drift", "check"} <= {r.kind for r in rows}

    sync = airflow.run_cli(["ddtrack", "sync"])
    assert sync.returncode == 0, sync.stderr
    assert len(mail.messages) == 1 and len(hook.posts) == 1
    (message,) = mail.messages
    assert drifted in message["Subject"] and "drifting_sales" in message["Subject"]
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert "city" in body and "/ddtrack/ti?dag_id=drifting_sales" in body
    assert drifted in hook.posts[0]["text"] and not any(run in hook.posts[0]["text"] for run in stable)
