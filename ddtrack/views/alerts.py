"""Pieces of the across-runs views every page shares: alert badges, a checks table, home's
"needs attention" panel, where each alert was delivered, and (for users who may edit the
DAG) acknowledging an alert or muting an output's alerts. Names and messages are data:
text children only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dash import ALL, Input, Output, State, html

from ddtrack.views.common import fmt_number, fmt_time, href, link, safe

MUTE_CHOICES = (("1 hour", 3600), ("1 day", 86400), ("1 week", 7 * 86400))

BADGE_LABELS = (
    ("fail", "failed check", "failed checks"),
    ("drift", "drifted column", "drifted columns"),
    ("anomaly", "anomaly", "anomalies"),
    ("warn", "warning", "warnings"),
)


def badges(counts: Mapping[str, int] | None, title: str = "") -> html.Span | None:
    """'2 drifted columns', '1 anomaly'… as coloured badges; None when there is nothing."""
    if not counts:
        return None
    items = [
        html.Span(f"{counts[key]} {one if counts[key] == 1 else many}", className=f"dd-badge dd-badge-{key}", title=title)
        for key, one, many in BADGE_LABELS
        if counts.get(key)
    ]
    return html.Span(items, className="dd-badges") if items else None


def check_badge(status: str) -> html.Span:
    text = {"error": "not evaluated"}.get(status, status)
    hint = {"error": "the check could not be evaluated (unknown column, wrong type, inexact profile)"}.get(status, "")
    return html.Span(text, className=f"dd-badge dd-badge-{status}", title=hint)


def checks_table(results: Sequence[Mapping[str, Any]]) -> html.Table:
    """Status, check, output, column, value, bound and message of each result."""
    rows = [
        html.Tr(
            [
                html.Td(check_badge(r["status"])),
                html.Td(r["check"]),
                html.Td(r["severity"]),
                html.Td(r["output"]),
                html.Td(r["column"] or "–"),
                html.Td(_value(r.get("value")), className="dd-num"),
                html.Td(_value(r.get("bound"))),
                html.Td(r.get("message") or ""),
            ],
            className=f"dd-check-{r['status']}",
        )
        for r in results
    ]
    header = ("Status", "Check", "Severity", "Output", "Column", "Value", "Bound", "Message")
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
                      className="dd-table dd-checks")


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {fmt_number(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value[:10]) + (" …" if len(value) > 10 else "")
    return fmt_number(value)


def check_summary(results: Sequence[Mapping[str, Any]]) -> html.Span | None:
    """One try's checks at a glance: counts per status (table cell of the task history)."""
    if not results:
        return None
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return html.Span(
        [html.Span(f"{n} {'not evaluated' if s == 'error' else s}", className=f"dd-badge dd-badge-{s}")
         for s, n in sorted(counts.items(), key=lambda item: ("fail", "warn", "error", "pass").index(item[0])
                            if item[0] in ("fail", "warn", "error", "pass") else 9)],
        className="dd-badges",
    )


def alert_line(a: Mapping[str, Any], ack: bool = False) -> html.Li:
    """One alert, with its ``deliveries`` (where and when) if it has them; ``ack``: offer to acknowledge it."""
    sent = a.get("deliveries") or ()
    where = " · ".join(str(x) for x in (a.get("output"), a.get("column")) if x)
    kind = "failed check" if a["kind"] == "check" and a["status"] == "fail" else (
        "check warning" if a["kind"] == "check" else a["kind"])
    parts: list[Any] = [html.Span(kind, className=f"dd-badge dd-badge-{_badge_key(a)}"), " ",
                        html.Span(where + ": " if where else ""), a.get("detail") or ""]
    if sent:
        parts += [" ", delivery_note(sent)]
        alert_id = sent[0]["alert_id"]
        if ack and not sent[0].get("acked_at"):
            parts += [" ", html.Button("Acknowledge", id={"type": "alert-ack", "id": alert_id}, n_clicks=0,
                                       className="dd-button dd-button-small")]
    return html.Li(parts)


def delivery_note(sent: Sequence[Mapping[str, Any]]) -> html.Span:
    """'sent to mail 20:31, slack 20:31' / 'pending for slack (2 attempts: error)' / acknowledged."""
    notes = []
    for d in sent:
        if d["state"] == "sent":
            notes.append(f"sent to {d['channel']} {fmt_time(d['sent_at'])}")
        elif d["state"] in ("pending", "sending") and d["attempts"]:
            notes.append(f"{d['channel']}: retrying after {d['attempts']} failed attempt(s): {d.get('error') or ''}")
        else:
            notes.append(f"{d['channel']}: {d['state']}" + (f" ({d['error']})" if d.get("error") else ""))
    if sent[0].get("acked_at"):
        notes.append(f"acknowledged by {sent[0].get('acked_by') or '?'} {fmt_time(sent[0]['acked_at'])}")
    failed = any(d["state"] == "failed" for d in sent)
    return html.Span("; ".join(notes), className="dd-muted dd-delivery" + (" dd-warning" if failed else ""))


def delivered(ctx: Any, found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The alerts shown, each with its ``deliveries``."""
    from ddtrack.queries import deliveries

    return deliveries.with_deliveries(ctx.sources, ctx.allowed, list(found)) if found else []


def _badge_key(a: Mapping[str, Any]) -> str:
    if a["kind"] == "check":
        return "fail" if a["status"] == "fail" else "warn"
    return a["kind"]


def attention_panel(groups: Sequence[Mapping[str, Any]]) -> html.Section | None:
    """Home's "needs attention": one entry per DAG and task, newest first; None if nothing."""
    if not groups:
        return None
    items = []
    for g in groups:
        url = href("task", dag_id=g["dag_id"], task_id=g["task_id"])
        run_url = href("run", dag_id=g["dag_id"], run_id=g["run_id"])
        items.append(
            html.Div(
                [
                    html.Div(
                        [
                            link(f"{g['dag_id']} · {g['task_id']}", url, className="dd-link dd-strong"),
                            badges(g),
                            html.Span(["newest in run ", link(g["run_id"], run_url), f", {fmt_time(g['started_at'])}"],
                                      className="dd-muted"),
                        ],
                        className="dd-attention-head",
                    ),
                    html.Ul([alert_line(a) for a in g["alerts"]], className="dd-attention-list"),
                ],
                className="dd-attention-group",
                **{"data-attention-dag-id": g["dag_id"]},
            )
        )
    return html.Section(
        [html.H3("Needs attention", className="dd-card-title"),
         html.Div("Drift, anomalies and checks that did not pass in the last 7 days, newest first.", className="dd-muted"),
         html.Div(items, className="dd-card-body")],
        className="dd-card dd-attention",
        id="home-attention",
    )


def instance_sections(ctx: Any, d: Any) -> list[Any]:
    """A try's drift/anomaly badges (with what drifted and why) and its Checks section."""
    from ddtrack.queries import alerts as alert_queries

    found = alert_queries.instance_alerts(ctx.sources, ctx.allowed, d.dag_id, d.run_id, d.task_id, d.map_index,
                                          d.try_number)
    results = alert_queries.checks_of(ctx.sources, ctx.allowed, d.dag_id, d.run_id, d.task_id,
                                      map_index=d.map_index, try_number=d.try_number)
    from ddtrack import auth

    sections: list[Any] = []
    counts = {"drift": len(found["drift"]), "anomaly": len(found["anomaly"])}
    failed = [alert_queries.check_as_alert(r) for r in results if r["status"] in ("warn", "fail", "error")]
    shown = delivered(ctx, (found["drift"] + found["anomaly"])[:50] + failed)
    flagged, failed = shown[: len(shown) - len(failed)], shown[len(shown) - len(failed):]
    sent = any(a["deliveries"] for a in shown)
    editable = sent and d.dag_id in auth.current_editable_dag_ids()
    if flagged:
        sections.append(
            html.Div(
                [badges(counts, "against this task's baseline and history"),
                 html.Ul([alert_line(a, editable) for a in flagged], className="dd-attention-list")],
                className="dd-card dd-attention", id="ti-alerts",
            )
        )
    if sent:
        sections.append(_delivery_card(d, [a for a in failed if a["deliveries"]], editable))
    if results:
        sections.append(
            html.Section(
                [html.H3(["Checks ", check_summary(results)], className="dd-card-title"),
                 html.Div(checks_table(results), className="dd-card-body")],
                className="dd-card", id="ti-checks",
            )
        )
    return sections


def dag_sections(ctx: Any, dag_id: str) -> list[Any]:
    """The DAG's alert badges of the last 7 days and its newest alerts (DAG page)."""
    from ddtrack.queries import alerts as alert_queries

    counts = alert_queries.alert_counts(ctx.sources, ctx.allowed, [dag_id]).get(dag_id)
    if not counts:
        return []
    newest = alert_queries.alerts(ctx.sources, ctx.allowed, dag_id=dag_id, since=alert_queries.recent_start(), limit=10)
    items = [
        html.Li([link(a["task_id"], href("task", dag_id=dag_id, task_id=a["task_id"])), " · ",
                 link(a["run_id"], href("ti", dag_id=dag_id, run_id=a["run_id"], task_id=a["task_id"],
                                        map_index=a["map_index"], try_number=a["try_number"])),
                 html.Ul([alert_line(a)], className="dd-attention-list")])
        for a in newest
    ]
    return [
        html.Section(
            [html.H3(["Last 7 days ", badges(counts)], className="dd-card-title"),
             html.Ul(items, className="dd-attention-list")],
            className="dd-card dd-attention", id="dag-alerts",
        )
    ]


def _delivery_card(d: Any, checks: Sequence[Mapping[str, Any]], editable: bool) -> html.Section:
    """Where this try's alerts went; for editors, acknowledge and mute controls."""
    body: list[Any] = []
    if checks:
        body.append(html.Ul([alert_line(a, editable) for a in checks], className="dd-attention-list"))
    if editable:
        body.append(html.Div(
            ["Mute the alerts of this task's outputs for ",
             *[html.Button(label, id={"type": "alert-mute", "seconds": seconds}, n_clicks=0,
                           className="dd-button dd-button-small") for label, seconds in MUTE_CHOICES]],
            className="dd-alert-mute"))
    else:
        body.append(html.Div("Only users who may edit this DAG can acknowledge or mute alerts.", className="dd-muted"))
    body.append(html.Div(id="ti-alert-action-result", role="status"))
    return html.Section(
        [html.H3("Alerts delivered", className="dd-card-title"), html.Div(body, className="dd-card-body")],
        className="dd-card", id="ti-deliveries",
        **{"data-dag-id": d.dag_id, "data-task-id": d.task_id},
    )


def register(app) -> None:
    """Acknowledge and mute: edit rights are checked again here (the callback can be called
    directly by anyone who may log in)."""

    @app.callback(
        Output("ti-alert-action-result", "children"),
        Input({"type": "alert-ack", "id": ALL}, "n_clicks"),
        Input({"type": "alert-mute", "seconds": ALL}, "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    @safe("change the alerts")
    def act(_acks: Any, _mutes: Any, search: Any) -> Any:
        from urllib.parse import parse_qs

        from dash import ctx as dash_ctx
        from dash.exceptions import PreventUpdate

        from ddtrack import auth
        from ddtrack.queries import deliveries
        from ddtrack.views.context import request_context

        trigger = dash_ctx.triggered_id
        clicked = [t for t in dash_ctx.triggered or () if isinstance(t, dict) and isinstance(t.get("value"), int)
                   and t["value"] > 0]
        if not isinstance(trigger, dict) or not clicked:
            raise PreventUpdate
        alert_id, seconds = trigger.get("id"), trigger.get("seconds")
        if trigger.get("type") == "alert-ack" and not (isinstance(alert_id, int) and not isinstance(alert_id, bool)):
            raise PreventUpdate
        if trigger.get("type") == "alert-mute" and seconds not in {s for _, s in MUTE_CHOICES}:
            raise PreventUpdate
        if trigger.get("type") not in ("alert-ack", "alert-mute"):
            raise PreventUpdate
        page = request_context()
        editable = auth.current_editable_dag_ids() & page.allowed  # edit rights without read rights see nothing
        user = _user_name()
        try:
            if trigger.get("type") == "alert-ack":
                alert = deliveries.acknowledge(page.sources, alert_id, user, editable=editable)
                return html.Div(f"Acknowledged: {alert['kind']} of {alert['task_id']} "
                                f"{alert['output'] or ''} {alert['column'] or ''}".rstrip() + ".", className="dd-good")
            params = parse_qs(search.lstrip("?") if isinstance(search, str) else "")
            dag_id, task_id = params.get("dag_id", [""])[0], params.get("task_id", [""])[0]
            until = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=seconds)
            muted = deliveries.mute_task(page.sources, dag_id, task_id, until, user, editable=editable)
            return html.Div(f"Alerts of {', '.join(muted) or task_id} muted until {fmt_time(until)}.",
                            className="dd-good")
        except PermissionError as exc:
            return html.Div(f"Refused: {exc}.", className="dd-warning dd-refused", role="alert")
        except (LookupError, ValueError) as exc:
            return html.Div(str(exc), className="dd-warning", role="alert")


def _user_name() -> str:
    from ddtrack import auth

    try:
        return str(auth.current_user().get_name())
    except Exception:  # noqa: BLE001 - a name is only a note on the action
        return ""
