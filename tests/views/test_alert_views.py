"""Delivered alerts on the pages, through Airflow's FastAPI app: where each alert was sent and
when, and acknowledge / mute for users who may edit the DAG (checked again in the callback)."""

from __future__ import annotations

import json

import pytest
from dash_client import error_cards, find, texts
from dev_tools.notify_servers import smtp_server
from records import make_record
from sqlalchemy import select

from ddtrack.server import notify
from ddtrack.store.engine import session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import Alert, AlertDelivery, AlertMute

DAG, TASK, RUN = "quality_check", "alert_probe", "alert_probe_run"
SMTP = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"


@pytest.fixture(scope="module")
def delivered(example_runs, metastore_url):
    """A try of quality_check whose error check failed, its alerts mailed to a real SMTP server."""
    record = make_record(dag_id=DAG, run_id=RUN, task_id=TASK)
    record["outputs"][0]["checks"] = [
        {"check": "unique", "column": "id", "severity": "error", "status": "fail", "value": 2,
         "message": "id has 1 duplicate value"},
    ]
    channel = {"name": "team-mail", "notifier": SMTP, "kwargs": {"to": "a@example.com", "smtp_conn_id": "probe_smtp"},
               "dags": [DAG]}
    from ddtrack.server.ingest_worker import worker

    with smtp_server() as mail, pytest.MonkeyPatch.context() as mp:
        # This process's ingest thread delivers from the same store: it would race the
        # deliverer below for the alert (sent once either way, but counted by only one).
        mp.setattr(worker, "_deliver_alerts", lambda ingested: None)
        assert worker.wait_idle(120)
        mp.setenv("AIRFLOW_CONN_PROBE_SMTP", mail.connection())
        mp.setenv("AIRFLOW__DDTRACK__ALERT_NOTIFIERS", json.dumps([channel]))
        assert ingest_records(metastore_url, [record]).failed == 0
        report = notify.Deliverer().deliver(metastore_url, None, wait_s=60)
        assert report.sent == 1 and len(mail.messages) == 1
    with session_factory(metastore_url)() as s:
        return s.scalar(select(Alert.id).where(Alert.task_id == TASK))


def _ti(user):
    return user.page("ti", f"?dag_id={DAG}&task_id={TASK}&run_id={RUN}")


def _act(user, trigger: dict):
    """The acknowledge/mute callback as the browser calls it (one button of each kind on the page)."""
    ack = {"id": {"type": "alert-ack", "id": trigger.get("id", 0)}, "property": "n_clicks",
           "value": 1 if trigger["type"] == "alert-ack" else 0}
    mute = {"id": {"type": "alert-mute", "seconds": trigger.get("seconds", 3600)}, "property": "n_clicks",
            "value": 1 if trigger["type"] == "alert-mute" else 0}
    body = {
        "output": "ti-alert-action-result.children",
        "outputs": {"id": "ti-alert-action-result", "property": "children"},
        "inputs": [[ack], [mute]],
        "state": [{"id": "url", "property": "search", "value": f"?dag_id={DAG}&task_id={TASK}&run_id={RUN}"}],
        "changedPropIds": [json.dumps(trigger, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
    }
    resp = user.client.post("/ddtrack/_dash-update-component", json=body, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return json.dumps(resp.json())


def test_the_instance_page_says_where_each_alert_was_sent(admin, viewer, delivered):
    page = _ti(admin)
    assert not error_cards(page)
    card = find(page, lambda n: n["props"].get("id") == "ti-deliveries")[0]
    assert any(w.startswith("sent to team-mail ") for w in texts(card))
    assert find(card, lambda n: n["props"].get("id") == {"type": "alert-ack", "id": delivered})
    assert "Only users who may edit this DAG can acknowledge or mute alerts." in texts(_ti(viewer))
    assert not find(_ti(viewer), lambda n: str((n["props"].get("id") or {}).get("type", "")).startswith("alert-")
                    if isinstance(n["props"].get("id"), dict) else False)


def test_a_reader_cannot_acknowledge_or_mute_even_by_forging_the_callback(viewer, metastore_url, delivered):
    refused = _act(viewer, {"type": "alert-ack", "id": delivered})
    unknown = _act(viewer, {"type": "alert-ack", "id": 10**9})
    assert "Refused" in refused and "edit rights" in refused
    assert refused.replace(str(delivered), "N") == unknown.replace(str(10**9), "N")  # no probing for ids
    assert "Refused" in _act(viewer, {"type": "alert-mute", "seconds": 3600})
    with session_factory(metastore_url)() as s:
        assert s.get(Alert, delivered).acked_at is None
        assert s.scalars(select(AlertMute)).all() == []


def test_an_editor_acknowledges_and_mutes(admin, metastore_url, delivered):
    assert "Acknowledged" in _act(admin, {"type": "alert-ack", "id": delivered})
    assert "muted until" in _act(admin, {"type": "alert-mute", "seconds": 86400})
    with session_factory(metastore_url)() as s:
        assert s.get(Alert, delivered).acked_by == "admin"
        # this DAG's rows only: other test modules of the process share the session's store
        assert [(m.task_id, m.output_name, m.muted_by) for m in s.scalars(select(AlertMute).where(AlertMute.dag_id == DAG))] == [
            (TASK, "return_value", "admin")]
        mine = select(AlertDelivery).join(Alert, Alert.id == AlertDelivery.alert_id).where(Alert.task_id == TASK)
        assert {d.state for d in s.scalars(mine)} <= {"sent", "acked", "muted", "failed"}
    assert any("; acknowledged by admin " in w for w in texts(_ti(admin)))
