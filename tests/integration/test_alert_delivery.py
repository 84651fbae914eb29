"""Alerts delivered through Airflow's own notifiers, to real servers on 127.0.0.1.

``SmtpNotifier`` (apache-airflow-providers-smtp) mails an aiosmtpd server through an Airflow
connection; ``SlackWebhookNotifier`` posts to an HTTP server answering like Slack. Records are
ingested into ddtrack's store as the scheduler's thread would (``ingest_records``), which
fills the outbox in the ingest transaction; the deliverer then sends one digest per DAG run
and channel, exactly once.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading

import pytest
from dev_tools.notify_servers import smtp_server, webhook_server
from records import make_record
from sqlalchemy import func, select

from ddtrack.channels import load
from ddtrack.server import notify
from ddtrack.store import outbox
from ddtrack.store.engine import in_transaction, session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import Alert, AlertDelivery

SMTP = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
SLACK = "airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier"


def failing_record(run_id: str = "run_1", task_id: str = "load", dag_id: str = "sales", column: str = "id",
                   try_number: int = 1) -> dict:
    """A try whose error-severity check on ``column`` failed, and a warning check."""
    record = make_record(dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=try_number)
    record["outputs"][0]["checks"] = [
        {"check": "unique", "column": column, "severity": "error", "status": "fail", "value": 2,
         "message": f"{column} has 1 duplicate value"},
        {"check": "null_pct_at_most", "column": "amount", "severity": "warn", "status": "warn", "value": 7.0,
         "bound": 5.0, "message": "amount is 7% null"},
    ]
    return record


@pytest.fixture(autouse=True)
def no_background_delivery(monkeypatch):
    """Keep this process's ingest thread out of these tests. Other modules run on this xdist
    worker start it against the session's store; while a test here has channels configured
    (process-wide, through the environment), its periodic pass would sweep that store for
    overdue outputs and send their alerts to this test's servers. The tests here deliver
    with their own ``Deliverer``."""
    from ddtrack.server.ingest_worker import worker

    monkeypatch.setattr(worker, "_deliver_alerts", lambda ingested: None)
    assert worker.wait_idle(120)  # a pass begun before the patch ends before the test starts


@pytest.fixture
def mail(monkeypatch):
    with smtp_server() as box:
        monkeypatch.setenv("AIRFLOW_CONN_DDTRACK_SMTP", box.connection())
        yield box


@pytest.fixture
def slack(monkeypatch):
    with webhook_server() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_DDTRACK_SLACK", hook.connection())
        yield hook


def configure(monkeypatch, *channels: dict, timeout: float = 10, attempts: int = 4) -> None:
    monkeypatch.setenv("AIRFLOW__DDTRACK__ALERT_NOTIFIERS", json.dumps(list(channels)))
    monkeypatch.setenv("AIRFLOW__DDTRACK__ALERT_SEND_TIMEOUT", str(timeout))
    monkeypatch.setenv("AIRFLOW__DDTRACK__ALERT_ATTEMPTS", str(attempts))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080")


MAIL = {"name": "mail", "notifier": SMTP, "kwargs": {"to": "data@example.com", "smtp_conn_id": "ddtrack_smtp"}}
HOOK = {"name": "slack", "notifier": SLACK, "kwargs": {"slack_webhook_conn_id": "ddtrack_slack"}}


@pytest.fixture
def sqlite_store(tmp_path):
    """ddtrack's schema on SQLite: the outbox's behaviour beyond the SQL of each backend."""
    from ddtrack.store.engine import dispose_all
    from ddtrack.store.schema import upgrade

    url = f"sqlite:///{tmp_path / 'ddtrack.db'}"
    upgrade(url)
    yield url
    dispose_all()


def deliveries(store: str) -> list[tuple[str, str]]:
    with session_factory(store)() as s:
        return sorted((d.channel, d.state) for d in s.scalars(select(AlertDelivery)))


def test_a_bad_configuration_is_reported_item_by_item():
    cases = {
        "not json": "not valid JSON",
        json.dumps({"notifier": SMTP}): "must be a JSON list",
        json.dumps([{"notifier": "no.such.Notifier"}]): "cannot import no.such.Notifier",
        json.dumps([{"notifier": "collections.OrderedDict"}]): "is not a subclass of airflow.sdk.BaseNotifier",
        json.dumps([{"notifier": SMTP, "kwargs": {"colour": "red"}}]): "fails: TypeError",
        json.dumps([{"notifier": SMTP, "kinds": ["weather"]}]): "unknown kind(s) ['weather']",
        json.dumps([{"notifier": SMTP, "kwargs": {"to": "a@b.c"}, "min_status": "error"}]): "'min_status'",
        json.dumps([{"notifier": SMTP, "routes": []}]): "unknown key(s) ['routes']",
    }
    for raw, expected in cases.items():
        channels, errors = load(raw)
        assert channels == [] and len(errors) == 1 and expected in errors[0], (raw, errors)
    channels, errors = load(json.dumps([MAIL, {"notifier": "no.such.Notifier"}]))
    assert [spec.name for spec, _ in channels] == ["mail"] and "item 2" not in errors[0] and "no.such" in errors[0]


def test_one_digest_per_run_and_channel_exactly_once(installed_store, monkeypatch, mail, slack):
    configure(monkeypatch, MAIL, HOOK)
    records = [failing_record("run_1", "load"), failing_record("run_1", "clean", column="email"),
               failing_record("run_2", "load")]
    assert ingest_records(installed_store, records).failed == 0
    # The same alerts written again (a rewritten try) and a second ingest: nothing new queued.
    rewritten = copy.deepcopy(records[0])
    rewritten["duration_s"] = 4.0
    assert ingest_records(installed_store, [rewritten, *records]).failed == 0
    assert deliveries(installed_store) == [("mail", "pending")] * 6 + [("slack", "pending")] * 6

    deliverer = notify.Deliverer()
    report = deliverer.deliver(installed_store, None, wait_s=60)
    assert report.digests == 4 and report.sent == 12
    assert deliveries(installed_store) == [("mail", "sent")] * 6 + [("slack", "sent")] * 6
    assert sorted(mail.subjects()) == ["[ddtrack] 2 alerts in sales (run_2)", "[ddtrack] 4 alerts in sales (run_1)"]
    body = next(m for m in mail.messages if "run_1" in m["Subject"]).get_payload()[0].get_payload(decode=True).decode()
    assert "email has 1 duplicate value" in body and "http://airflow.example:8080/ddtrack/ti?dag_id=sales" in body
    texts = sorted((p["text"] for p in slack.posts), key=len, reverse=True)
    assert len(texts) == 2 and texts[0].startswith("ddtrack: 4 alerts in sales, run run_1")
    assert "- [fail] check load.return_value column id: id has 1 duplicate value" in texts[0]

    assert notify.Deliverer().deliver(installed_store, None, wait_s=10).digests == 0
    assert len(mail.messages) == 2 and len(slack.posts) == 2


def test_routing_by_dag_kind_status_and_tag(sqlite_store, monkeypatch, mail):
    configure(
        monkeypatch,
        {"name": "fails-only", "notifier": SMTP, "kwargs": {"to": "a@example.com", "smtp_conn_id": "ddtrack_smtp"},
         "min_status": "fail"},
        {"name": "other-dags", "notifier": SMTP, "kwargs": {"to": "b@example.com", "smtp_conn_id": "ddtrack_smtp"},
         "dags": ["marketing_*"]},
        {"name": "raw-stage", "notifier": SMTP, "kwargs": {"to": "c@example.com", "smtp_conn_id": "ddtrack_smtp"},
         "tags": ["team=data-eng"], "kinds": ["check"]},
    )
    ingest_records(sqlite_store, [failing_record()])
    assert deliveries(sqlite_store) == [("fails-only", "pending"), ("raw-stage", "pending"), ("raw-stage", "pending")]


def test_a_restart_between_the_alert_and_its_send_sends_it_once(sqlite_store, monkeypatch, mail):
    configure(monkeypatch, MAIL)
    ingest_records(sqlite_store, [failing_record()])  # the process "dies" before delivering
    assert notify.Deliverer().deliver(sqlite_store, None, wait_s=60).sent == 2  # a new process
    assert notify.Deliverer().deliver(sqlite_store, None, wait_s=10).sent == 0
    assert len(mail.messages) == 1


@pytest.mark.postgres
def test_two_ingests_racing_on_one_record_queue_each_alert_once(monkeypatch, mail):
    from dev_tools.airflow_local import create_postgres_database, drop_database

    from ddtrack.store.engine import dispose_all
    from ddtrack.store.schema import upgrade

    store = create_postgres_database()
    try:
        upgrade(store)
        configure(monkeypatch, MAIL, HOOK)
        record = failing_record()
        start = threading.Barrier(4)

        def ingest():
            start.wait()
            ingest_records(store, [record])

        threads = [threading.Thread(target=ingest) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with session_factory(store)() as s:
            assert s.scalar(select(func.count()).select_from(Alert)) == 2
            assert s.scalar(select(func.count()).select_from(AlertDelivery)) == 4
        notify.Deliverer().deliver(store, None, wait_s=60)
        assert len(mail.messages) == 1
    finally:
        dispose_all()
        drop_database(store)


def test_a_hanging_channel_never_delays_the_others(sqlite_store, monkeypatch, mail):
    from helpers import wait_for

    with webhook_server(hang=True) as hanging:
        monkeypatch.setenv("AIRFLOW_CONN_DDTRACK_SLACK", hanging.connection())
        # The Slack client's own timeout is longer than ddtrack's: ddtrack's must decide.
        configure(monkeypatch, {**HOOK, "kwargs": {**HOOK["kwargs"], "timeout": 300}}, MAIL, timeout=1)
        ingest_records(sqlite_store, [failing_record()])
        deliverer = notify.Deliverer()
        deliverer.deliver(sqlite_store, None)  # hands each digest to its channel's thread, returns
        try:
            wait_for(lambda: len(mail.messages) == 1, timeout=60, what="the mail, while the webhook hangs")
        except TimeoutError:  # say what became of the mail's rows
            with session_factory(sqlite_store)() as s:
                rows = [(d.channel, d.state, d.attempts, d.last_error) for d in s.scalars(select(AlertDelivery))]
            raise AssertionError(f"no mail within 60 s while the webhook hangs; deliveries: {rows}") from None
        assert hanging.posts == []
        assert deliveries(sqlite_store) == [("mail", "sent")] * 2 + [("slack", "sending")] * 2
        # Past the send timeout the hung send counts as one failed attempt, to be tried again.
        wait_for(lambda: deliverer.deliver(sqlite_store, None) is not None and all(
            state == "pending" for channel, state in deliveries(sqlite_store) if channel == "slack"),
            what="the hung send timed out")
        with session_factory(sqlite_store)() as s:
            hung = s.scalars(select(AlertDelivery).where(AlertDelivery.channel == "slack")).all()
        assert {(d.state, d.attempts, d.last_error) for d in hung} == {("pending", 1, "no answer within 1 s")}


def test_a_failing_channel_is_marked_failed_after_its_attempts(sqlite_store, monkeypatch):
    from dev_tools.airflow_local import free_port

    monkeypatch.setenv("AIRFLOW_CONN_DDTRACK_SMTP", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": free_port(),
         "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 2, "retry_limit": 1}}))
    configure(monkeypatch, MAIL, attempts=2)
    ingest_records(sqlite_store, [failing_record()])
    deliverer = notify.Deliverer()
    deliverer.deliver(sqlite_store, None, wait_s=60)
    assert deliveries(sqlite_store) == [("mail", "pending")] * 2
    with session_factory(sqlite_store)() as s:
        s.execute(AlertDelivery.__table__.update().values(next_attempt_at=outbox.utcnow()))  # past the back-off
        s.commit()
    deliverer.deliver(sqlite_store, None, wait_s=60)
    with session_factory(sqlite_store)() as s:
        rows = s.scalars(select(AlertDelivery)).all()
    assert {(d.state, d.attempts) for d in rows} == {("failed", 2)}
    assert all("Connection refused" in d.last_error or "ConnectionRefused" in d.last_error for d in rows), rows[0].last_error


def test_overdue_outputs_alert_once_per_missed_window(sqlite_store, monkeypatch, mail):
    configure(monkeypatch, {**MAIL, "kinds": ["overdue"]})
    old = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    record = make_record(dag_id="daily", run_id="r1", started=old)
    record["outputs"][0]["fresh_within_s"] = 3600
    ingest_records(sqlite_store, [record])
    assert notify.sweep_freshness(sqlite_store) == 1
    assert notify.sweep_freshness(sqlite_store) == 0  # the same missed window
    notify.Deliverer().deliver(sqlite_store, None, wait_s=60)
    assert mail.subjects() == ["[ddtrack] 1 alert in daily"]
    # A new success, missed again: one more alert.
    newer = make_record(dag_id="daily", run_id="r2", started=old + dt.timedelta(days=1))
    newer["outputs"][0]["fresh_within_s"] = 3600
    ingest_records(sqlite_store, [newer])
    assert notify.sweep_freshness(sqlite_store) == 1
    with session_factory(sqlite_store)() as s:
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "overdue")) == 2


def test_a_muted_output_and_an_acknowledged_alert_are_not_sent(sqlite_store, monkeypatch, mail):
    configure(monkeypatch, MAIL)
    make = session_factory(sqlite_store)
    until = outbox.utcnow() + dt.timedelta(days=1)
    in_transaction(make, lambda s: outbox.mute(s, "sales", "load", "return_value", until, "admin"))
    ingest_records(sqlite_store, [failing_record("run_1", "load"), failing_record("run_1", "clean")])
    with make() as s:
        clean = s.scalars(select(Alert).where(Alert.task_id == "clean")).first()
    in_transaction(make, lambda s: outbox.acknowledge(s, clean.id, "admin"))
    notify.Deliverer().deliver(sqlite_store, None, wait_s=30)
    assert mail.subjects() == ["[ddtrack] 1 alert in sales (run_1)"]
    assert sorted(state for _, state in deliveries(sqlite_store)) == ["acked", "muted", "muted", "sent"]


def test_the_cli_lists_pending_and_sent_alerts_acknowledges_and_mutes(sqlite_store, monkeypatch, mail):
    from click.testing import CliRunner

    from ddtrack.cli import main

    configure(monkeypatch, MAIL)
    monkeypatch.setenv("AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN", sqlite_store)
    ingest_records(sqlite_store, [failing_record("run_1", "load"), failing_record("run_1", "clean")])
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    pending = json.loads(run("alerts", "--pending", "--json"))
    assert sorted((p["task_id"], p["channel"], p["state"]) for p in pending) == [
        ("clean", "mail", "pending"), ("clean", "mail", "pending"), ("load", "mail", "pending"), ("load", "mail", "pending")]
    clean = next(p["id"] for p in pending if p["task_id"] == "clean")
    assert f"acknowledged alert {clean}: check of sales.clean.return_value" in run("alerts", "ack", str(clean), "--by", "ops")
    assert "muted sales.load.return_value until" in run("alerts", "mute", "sales", "load", "return_value", "--for", "2h")
    notify.Deliverer().deliver(sqlite_store, None, wait_s=60)
    assert mail.subjects() == ["[ddtrack] 1 alert in sales (run_1)"]
    rows = json.loads(run("alerts", "--dag", "sales", "--json"))
    by_task = {(r["task_id"], r["column"]): {d["state"] for d in r["deliveries"]} for r in rows}
    assert by_task == {("clean", "id"): {"acked"}, ("clean", "amount"): {"sent"}, ("load", "id"): {"muted"},
                       ("load", "amount"): {"muted"}}
    assert run("alerts", "--pending", "--json").strip() == "[]"
    missing = runner.invoke(main, ["alerts", "ack", "999999"])
    assert missing.exit_code != 0 and "no alert 999999" in missing.output


def test_status_reports_bad_channels_and_failed_deliveries(sqlite_store, monkeypatch):
    from ddtrack.queries import Sources
    from ddtrack.queries.status import deployment_status, summary_lines

    configure(monkeypatch, MAIL, {"name": "typo", "notifier": "airflow.providers.smtp.notifications.smtp.SmtpNotifer"})
    ingest_records(sqlite_store, [failing_record()])
    with session_factory(sqlite_store)() as s:
        s.execute(AlertDelivery.__table__.update().values(state="failed", attempts=4, last_error="refused"))
        s.commit()
    report = deployment_status(Sources(store_url=sqlite_store, metastore_url=""))
    assert dict(summary_lines(report))["alerts"] == "mail: 0 sent, 0 pending, 2 failed"
    assert any("channel 'typo': cannot import airflow.providers.smtp.notifications.smtp.SmtpNotifer" in p
               for p in report.problems)
    assert any("2 alert(s) could not be delivered to 'mail'" in p for p in report.problems)


def test_a_stale_output_alerts_once_per_version(sqlite_store, monkeypatch, mail):
    """report read fares.parquet; ingest wrote it again since: report's newest version is stale."""
    configure(monkeypatch, {**MAIL, "kinds": ["stale"]})
    fares = "file:///data/fares.parquet"
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    records = [make_record(dag_id="ingest", run_id="r1", task_id="write", started=t0, output_uri=fares),
               make_record(dag_id="report", run_id="r1", task_id="read", started=t0 + dt.timedelta(hours=1),
                           inputs=[{"kind": "uri", "name": "fares", "uri": fares}]),
               make_record(dag_id="ingest", run_id="r2", task_id="write", started=t0 + dt.timedelta(hours=2),
                           output_uri=fares)]
    ingest_records(sqlite_store, records)
    assert notify.sweep_freshness(sqlite_store) == 1
    assert notify.sweep_freshness(sqlite_store) == 0
    notify.Deliverer().deliver(sqlite_store, None, wait_s=60)
    (message,) = mail.messages
    assert message["Subject"] == "[ddtrack] 1 alert in report"
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert "fares.parquet changed 1 run ago" in body


def test_a_channel_sends_one_digest_at_a_time_so_a_hang_holds_back_only_that_one(sqlite_store, monkeypatch, mail):
    """Two runs' digests for a hanging channel: one is sent (and hangs), the other stays
    pending in the outbox instead of queueing behind it in the process (where a timeout
    could not see it and another process would send it again)."""
    from helpers import wait_for

    with webhook_server(hang=True) as hanging:
        monkeypatch.setenv("AIRFLOW_CONN_DDTRACK_SLACK", hanging.connection())
        configure(monkeypatch, {**HOOK, "kwargs": {**HOOK["kwargs"], "timeout": 300}}, timeout=1)
        ingest_records(sqlite_store, [failing_record("run_1"), failing_record("run_2")])
        deliverer = notify.Deliverer()
        assert deliverer.deliver(sqlite_store, None).digests == 1
        with session_factory(sqlite_store)() as s:
            by_run = {(a.run_id, d.state) for a, d in s.execute(select(Alert, AlertDelivery).join(AlertDelivery))}
        assert len({run for run, state in by_run if state == "sending"}) == 1
        assert len({run for run, state in by_run if state == "pending"}) == 1
        wait_for(lambda: deliverer.deliver(sqlite_store, None).digests == 0 and "sending" not in
                 {state for _, state in deliveries(sqlite_store)}, what="the hung send timed out")
        assert deliverer.deliver(sqlite_store, None).digests == 0  # the channel stays busy while it hangs


def test_an_output_that_never_succeeded_is_overdue_by_the_default_window(sqlite_store, monkeypatch, mail):
    """The sweep finds overdue outputs as the pages do: [ddtrack] default_fresh_within applies to
    outputs without a window of their own, and one that never succeeded is overdue once it was
    first seen longer ago than its window."""
    configure(monkeypatch, {**MAIL, "kinds": ["overdue"]})
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "1h")
    old = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ingest_records(sqlite_store, [make_record(dag_id="never", run_id="r1", started=old, state="failed")])
    assert notify.sweep_freshness(sqlite_store) == 1
    notify.Deliverer().deliver(sqlite_store, None, wait_s=60)
    body = mail.messages[0].get_payload()[0].get_payload(decode=True).decode()
    assert "no successful version yet (expected within 1h)" in body
