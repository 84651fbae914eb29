"""Plotly figures as plain dicts: fast to build (no validation pass) and easy to test.

Plotly renders a small HTML subset (``<b>``, ``<br>``, ``<a>``) inside text, titles, tick
and hover labels. Every user string goes through :func:`plot_text`, which escapes it, so
a column named ``<b>x</b>`` appears literally.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

from ddtrack.views.common import fmt_duration, fmt_time, local_time, state_color

ACCENT = "#017cee"  # Airflow's blue
MUTED = "rgba(128,128,128,0.55)"
GRID = "rgba(128,128,128,0.18)"
FONT = {
    "family": "Inter, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    "size": 12,
    "color": "#8a8a94",
}


def plot_text(value: Any) -> str:
    """A user string made safe for Plotly's pseudo-HTML (entities are shown literally)."""
    return html.escape(str(value), quote=False)


def base_layout(height: int = 220, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 12, "t": 28, "b": 36},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": FONT,
        "showlegend": False,
        "xaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "hoverlabel": {"font": {"family": FONT["family"]}},
    }
    layout.update(extra)
    return layout


def graph_config() -> dict[str, Any]:
    return {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def histogram(
    column: str, edges: Sequence[Any], counts: Sequence[int], *, is_time: bool = False
) -> dict[str, Any]:
    """Bars over the profiler's bins (edges n+1, counts n), as recorded."""
    if len(edges) < 2 or not counts:
        return empty_figure("no histogram recorded")
    if is_time:
        lefts, rights = list(edges[:-1]), list(edges[1:])
        centers = [_mid_time(a, b) for a, b in zip(lefts, rights, strict=False)]
        widths = None
    else:
        lefts = [float(e) for e in edges[:-1]]
        rights = [float(e) for e in edges[1:]]
        centers = [(a + b) / 2 for a, b in zip(lefts, rights, strict=False)]
        widths = [max(b - a, 0) for a, b in zip(lefts, rights, strict=False)]
    hover = [f"{_fmt(a)} – {_fmt(b)}: {c:,}" for a, b, c in zip(lefts, rights, counts, strict=False)]
    trace: dict[str, Any] = {
        "type": "bar",
        "x": centers,
        "y": list(counts),
        "marker": {"color": ACCENT, "line": {"width": 0}},
        "hovertext": hover,
        "hoverinfo": "text",
        "name": plot_text(column),
    }
    if widths is not None:
        trace["width"] = widths
    layout = base_layout(200, bargap=0.02, title={"text": plot_text(column), "font": {"size": 13}, "x": 0.01})
    return {"data": [trace], "layout": layout}


def _mid_time(a: Any, b: Any) -> str:
    try:
        ta, tb = dt.datetime.fromisoformat(str(a)), dt.datetime.fromisoformat(str(b))
        return (ta + (tb - ta) / 2).isoformat()
    except ValueError:
        return str(a)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return plot_text(v)


def top_values(column: str, values: Sequence[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    """Horizontal bars of the most frequent values, most frequent on top."""
    if not values:
        return empty_figure("no top values recorded")
    items = list(values)[:15][::-1]
    labels = [plot_text(v.get("value")) for v in items]
    counts = [int(v.get("count") or 0) for v in items]
    hover = [
        f"{lab}: {c:,}" + (f" ({100 * c / total:.1f}%)" if total else "")
        for lab, c in zip(labels, counts, strict=False)
    ]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": counts,
        "y": [f"{lab}\u2009" for lab in labels],  # thin space: numbers-as-text stay categories
        "marker": {"color": "#8b5cf6"},
        "hovertext": hover,
        "hoverinfo": "text",
    }
    layout = base_layout(
        max(160, 22 * len(items) + 50), title={"text": plot_text(column), "font": {"size": 13}, "x": 0.01}
    )
    layout["yaxis"] = {"type": "category", "automargin": True}
    return {"data": [trace], "layout": layout}


def nulls_and_distinct(columns: Sequence[Any]) -> dict[str, Any]:
    """Null and distinct counts of every column, side by side."""
    names = [plot_text(c.name) for c in columns]
    nulls = [c.nulls or 0 for c in columns]
    distinct = [c.n_distinct or 0 for c in columns]
    data = [
        {"type": "bar", "name": "nulls", "x": names, "y": nulls, "marker": {"color": "#dc2626"}},
        {"type": "bar", "name": "distinct", "x": names, "y": distinct, "marker": {"color": ACCENT}},
    ]
    layout = base_layout(
        240, barmode="group", showlegend=True, legend={"orientation": "h", "y": 1.15, "x": 0}
    )
    layout["xaxis"] = {"type": "category", "automargin": True, "tickangle": -30 if len(names) > 8 else 0}
    layout["yaxis"] = {
        "gridcolor": GRID,
        "type": "log" if max(distinct + nulls + [1]) > 1000 else "linear",
        "automargin": True,
    }
    return {"data": data, "layout": layout}


def rows_per_index(parts: Sequence[Any]) -> dict[str, Any]:
    """Rows of each output per map index of a mapped task (bars), the state in the hover."""
    names = list(dict.fromkeys(n for p in parts for n in p.rows))
    x = [str(p.map_index) for p in parts]
    data = [
        {
            "type": "bar",
            "name": plot_text(name),
            "x": x,
            "y": [p.rows.get(name) or 0 for p in parts],
            "customdata": [[p.state, p.try_number] for p in parts],
            "hovertemplate": "map index %{x}: %{y:,} rows<br>%{customdata[0]}, try %{customdata[1]}<extra></extra>",
        }
        for name in names
    ]
    layout = base_layout(200, barmode="group", showlegend=len(names) > 1, legend={"orientation": "h", "y": 1.2, "x": 0})
    layout["xaxis"] = {"type": "category", "title": {"text": "map index"}, "automargin": True}
    layout["yaxis"] = {"gridcolor": GRID, "title": {"text": "rows"}, "automargin": True}
    return {"data": data, "layout": layout}


def sparkline(points: Sequence[tuple[Any, int]]) -> dict[str, Any]:
    """A tiny row-count line over recent runs (no axes)."""
    # Wall-clock times in the user's zone, without an offset (Plotly would drop it anyway).
    xs = [local_time(p[0]).replace(tzinfo=None).isoformat() if isinstance(p[0], dt.datetime) else str(p[0]) for p in points]
    ys = [p[1] for p in points]
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "x": xs,
        "y": ys,
        "line": {"color": ACCENT, "width": 2},
        "marker": {"size": 4},
        "hovertemplate": "%{y:,} rows<extra></extra>",
    }
    layout = {
        "height": 36,
        "width": 140,
        "margin": {"l": 2, "r": 2, "t": 2, "b": 2},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "showlegend": False,
    }
    return {"data": [trace], "layout": layout}


def task_history(rows: Sequence[Any]) -> dict[str, Any]:
    """Duration bars coloured by state, schema changes marked. Rows and null rates are per
    output and column: the trend chart (:func:`column_trend`) shows them one at a time."""
    rows = list(reversed(rows))  # oldest left
    xs = _history_labels(rows)
    hover = [
        f"{plot_text(r.run_id)}<br>try {r.try_number} · {plot_text(r.state)}<br>{fmt_duration(r.duration_s)}"
        + (f"<br>{plot_text(r.error)[:200]}" if r.error else "")
        for r in rows
    ]
    data = [
        {
            "type": "bar",
            "name": "duration (s)",
            "x": xs,
            "y": [r.duration_s or 0 for r in rows],
            "marker": {"color": [state_color(r.state) for r in rows]},
            "hovertext": hover,
            "hoverinfo": "text",
        }
    ]
    changes = [x for x, r in zip(xs, rows, strict=False) if r.schema_changed]
    annotations = [
        {"x": x, "y": 1.0, "xref": "x", "yref": "paper", "text": "schema changed", "showarrow": False,
         "font": {"color": SCHEMA_CHANGE, "size": 10}, "yanchor": "bottom"}
        for x in changes
    ]
    annotations.append(_panel_title("duration, coloured by state", 1.0))
    layout = base_layout(240, shapes=[_change_line(x, SCHEMA_CHANGE) for x in changes], annotations=annotations,
                         margin={"l": 56, "r": 12, "t": 24, "b": 36})
    layout["yaxis"] = {"gridcolor": GRID, "automargin": True, "ticksuffix": " s"}
    layout["xaxis"] = {"type": "category", "gridcolor": GRID, "automargin": True, "tickangle": -30, "nticks": 12}
    layout["bargap"] = 0.25 if len(rows) > 3 else 0.6
    return {"data": data, "layout": layout}


def _history_labels(rows: Sequence[Any]) -> list[str]:
    """Evenly spaced, unique category labels (start time, try, map index) for the history."""
    labels, seen = [], set()
    for r in rows:
        label = local_time(r.started_at).strftime("%m-%d %H:%M:%S") if r.started_at else plot_text(r.run_id)[:24]
        if r.map_index >= 0:
            label += f" [{r.map_index}]"
        if r.try_number > 1:
            label += f" try {r.try_number}"
        while label in seen:
            label += "\u200b"
        seen.add(label)
        labels.append(label)
    return labels


def waterfall(tasks: Sequence[Any]) -> dict[str, Any]:
    """One horizontal bar per task (:class:`~ddtrack.queries.runs.TaskSummary`) from its first
    instance's start to its last one's end, coloured by state: a 1,000-instance fan-out is
    one bar, its instances' count, states and durations in the hover."""
    timed = [t for t in tasks if t.start is not None]
    if not timed:
        return empty_figure("no task has started yet")
    t0 = min(t.start for t in timed)
    labels, bases, lengths, colors, hover = [], [], [], [], []
    for t in timed:
        end = t.end or t.start
        label = t.task_id + (f" ×{t.instances:,}" if t.mapped else "")
        labels.append(plot_text(label) + "\u2009")
        bases.append((t.start - t0).total_seconds())
        lengths.append(max((end - t.start).total_seconds(), 0.002))
        colors.append(state_color(t.state))
        states = ", ".join(f"{n:,} {plot_text(s)}" for s, n in t.states.items())
        spread = (
            f"{fmt_duration(t.min_duration_s)} to {fmt_duration(t.max_duration_s)} each"
            if t.mapped
            else fmt_duration(t.max_duration_s)
        )
        hover.append(
            f"{plot_text(t.task_id)}{f' · {t.instances:,} instances' if t.mapped else ''}<br>{states} · {spread}"
            f"<br>started {fmt_time(t.start)} (+{(t.start - t0).total_seconds():.2f}s)"
        )
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": labels[::-1],
        "x": lengths[::-1],
        "base": bases[::-1],
        "marker": {"color": colors[::-1]},
        "hovertext": hover[::-1],
        "hoverinfo": "text",
    }
    layout = base_layout(max(160, 28 * len(labels) + 60))
    layout["xaxis"] = {
        "title": {"text": f"seconds since the first task started ({fmt_time(t0)})"},
        "gridcolor": GRID,
        "zeroline": False,
    }
    layout["yaxis"] = {"type": "category", "automargin": True}
    return {"data": [trace], "layout": layout}


def empty_figure(message: str) -> dict[str, Any]:
    layout = base_layout(120)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {"text": plot_text(message), "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
    ]
    return {"data": [], "layout": layout}


# -- comparing two runs ---------------------------------------------------------------------

RUN_A_COLOR = "#a1a1aa"  # "before": neutral grey, readable on light and dark
RUN_B_COLOR = ACCENT  # "after": Airflow's blue


def compare_waterfall(tasks: Sequence[Any], label_a: str, label_b: str) -> dict[str, Any]:
    """Both runs' task bars on one axis of seconds since each run's start; the "after" bar
    is labelled with the task's duration change."""
    timed = [t for t in tasks if t.offset_a is not None or t.offset_b is not None]
    if not timed:
        return empty_figure("no task of either run has started")
    labels = [plot_text(t.task_id) + "\u2009" for t in timed][::-1]
    data = []
    for side, name, color in (("a", label_a, RUN_A_COLOR), ("b", label_b, RUN_B_COLOR)):
        rows = timed[::-1]
        offsets = [getattr(t, f"offset_{side}") for t in rows]
        durations = [getattr(t, f"duration_{side}") for t in rows]
        states = [getattr(t, f"state_{side}") for t in rows]
        text = [_change_text(t.change_s) if side == "b" else "" for t in rows]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": plot_text(name),
                "y": labels,
                "x": [max(d or 0.0, 0.002) if o is not None else None for o, d in zip(offsets, durations, strict=True)],
                "base": [o if o is not None else 0 for o in offsets],
                "marker": {"color": color},
                "text": text,
                "textposition": "outside",
                "cliponaxis": False,
                "hovertext": [
                    f"{plot_text(name)}<br>{lab}<br>{plot_text(s or 'not run')} · {fmt_duration(d)}"
                    + (f"<br>+{o:.2f}s from the run's start" if o is not None else "")
                    for lab, s, d, o in zip(labels, states, durations, offsets, strict=True)
                ],
                "hoverinfo": "text",
            }
        )
    layout = base_layout(
        max(180, 44 * len(timed) + 80), barmode="group", showlegend=True,
        legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom", "traceorder": "normal"},
    )
    layout["xaxis"] = {"title": {"text": "seconds since the run started"}, "gridcolor": GRID, "zeroline": False}
    layout["yaxis"] = {"type": "category", "automargin": True}
    return {"data": data, "layout": layout}


def _change_text(change: float | None) -> str:
    if change is None:
        return ""
    sign = "+" if change >= 0 else "−"
    return f"{sign}{fmt_duration(abs(change))}"


def overlaid_histogram(
    column: str, edges: Sequence[Any], before: Sequence[int], after: Sequence[int], label_a: str, label_b: str,
    *, is_time: bool = False,
) -> dict[str, Any]:
    """Both runs' distributions on common bins, overlaid, as shares of each run's values
    (row counts may differ); the hover gives the counts too."""
    if len(edges) < 2 or not before:
        return empty_figure("no histogram recorded")
    if is_time:
        centers: list[Any] = [_mid_time(a, b) for a, b in zip(edges[:-1], edges[1:], strict=False)]
        widths = None
    else:
        lefts, rights = [float(e) for e in edges[:-1]], [float(e) for e in edges[1:]]
        centers = [(a + b) / 2 for a, b in zip(lefts, rights, strict=True)]
        widths = [max(b - a, 0) for a, b in zip(lefts, rights, strict=True)]
    data = []
    for name, counts, color in ((label_a, before, RUN_A_COLOR), (label_b, after, RUN_B_COLOR)):
        total = sum(counts) or 1
        trace: dict[str, Any] = {
            "type": "bar",
            "name": plot_text(name),
            "x": centers,
            "y": [100.0 * c / total for c in counts],
            "marker": {"color": color, "opacity": 0.6, "line": {"width": 0}},
            "hovertext": [
                f"{plot_text(name)}<br>{_fmt(a)} – {_fmt(b)}: {c:,} ({100.0 * c / total:.1f}%)"
                for a, b, c in zip(edges[:-1], edges[1:], counts, strict=False)
            ],
            "hoverinfo": "text",
        }
        if widths is not None:
            trace["width"] = widths
        data.append(trace)
    layout = base_layout(
        220, barmode="overlay", bargap=0.02, showlegend=True,
        legend={"orientation": "h", "y": -0.25, "x": 0},
        title={"text": plot_text(column), "font": {"size": 13}, "x": 0.01},
    )
    layout["yaxis"] = {"gridcolor": GRID, "ticksuffix": "%", "automargin": True, "rangemode": "tozero"}
    return {"data": data, "layout": layout}


def top_value_shift(column: str, rows: Sequence[dict[str, Any]], label_a: str, label_b: str) -> dict[str, Any]:
    """Each listed value's share in both runs (grouped horizontal bars), "other" last."""
    items = [r for r in rows if not r.get("other")][:15]
    items += [r for r in rows if r.get("other") and (r.get("before") or r.get("after"))]
    if not items:
        return empty_figure("no top values recorded")
    items = items[::-1]
    labels = ["(other values)" if r.get("other") else plot_text(r.get("value")) + "\u2009" for r in items]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": plot_text(name),
            "y": labels,
            "x": [r.get(f"{side}_pct") or 0 for r in items],
            "marker": {"color": color},
            "hovertext": [
                f"{plot_text(name)}<br>{lab}: "
                + ("not listed" if r.get(side) is None else f"{r[side]:,} ({r.get(f'{side}_pct') or 0:.1f}%)")
                for lab, r in zip(labels, items, strict=True)
            ],
            "hoverinfo": "text",
        }
        for side, name, color in (("before", label_a, RUN_A_COLOR), ("after", label_b, RUN_B_COLOR))
    ]
    layout = base_layout(
        max(180, 30 * len(items) + 80), barmode="group", showlegend=True,
        legend={"orientation": "h", "y": -0.2, "x": 0},
        title={"text": plot_text(column), "font": {"size": 13}, "x": 0.01},
    )
    layout["yaxis"] = {"type": "category", "automargin": True}
    layout["xaxis"] = {"gridcolor": GRID, "ticksuffix": "%", "automargin": True}
    return {"data": data, "layout": layout}


# -- across runs: one column's trend, drift heatmap ------------------------------------------

BAND_FILL = "rgba(1,124,238,0.10)"
ANOMALY = "#dc2626"
DRIFT = "#f97316"
CODE_CHANGE = "#0ea5e9"
SCHEMA_CHANGE = "#a855f7"
# (metric, panel title, trace colour); the last panel also draws min/max and p5–p95.
TREND_PANELS = (
    ("rows", "rows", ACCENT),
    ("null_pct", "null %", "#f97316"),
    ("distinct", "distinct count", "#8b5cf6"),
    ("mean", "mean · p5–p50–p95 · min/max", "#16a34a"),
)


def column_trend(trend: Any) -> dict[str, Any]:
    """One column of one output over runs: a panel per metric with the robust band a next
    run is judged against (shaded), stored anomalies (red) and drift (orange) marked, and
    schema and code changes as vertical lines across every panel."""
    points = trend.points
    xs = _history_labels(points)
    gap = 0.05
    height = (1 - gap * (len(TREND_PANELS) - 1)) / len(TREND_PANELS)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    layout = base_layout(640, margin={"l": 64, "r": 16, "t": 28, "b": 44})
    for i, (metric, title, color) in enumerate(TREND_PANELS):
        axis = "" if i == 0 else str(i + 1)
        top = 1 - i * (height + gap)
        layout[f"yaxis{axis}"] = {"domain": [top - height, top], "gridcolor": GRID, "automargin": True, "zeroline": False}
        annotations.append(_panel_title(title, top))
        if metric == "mean":
            data += _quantile_traces(points, xs, axis)
        values = [getattr(p, metric) for p in points]
        data.append(_metric_trace(metric, values, xs, axis, color, points))
        band = trend.bands.get(metric)
        if band is not None:
            shapes.append(_band_shape(band, axis))
    for label, flag, color in (("code changed", "code_changed", CODE_CHANGE), ("schema changed", "schema_changed", SCHEMA_CHANGE)):
        for x in (x for x, p in zip(xs, points, strict=True) if getattr(p, flag)):
            shapes.append(_change_line(x, color))
            annotations.append({"x": x, "y": 1.0, "xref": "x", "yref": "paper", "text": label, "showarrow": False,
                                "yanchor": "bottom", "font": {"color": color, "size": 10}})
    last_axis = str(len(TREND_PANELS))
    layout["xaxis"] = {"type": "category", "gridcolor": GRID, "automargin": True, "anchor": f"y{last_axis}",
                       "tickangle": -30, "nticks": 12}
    layout["shapes"], layout["annotations"] = shapes, annotations
    return {"data": data, "layout": layout}


def _panel_title(title: str, top: float) -> dict[str, Any]:
    return {"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": top, "showarrow": False,
            "xanchor": "left", "yanchor": "bottom", "font": {"size": 11}}


def _metric_trace(metric: str, values: list, xs: list[str], axis: str, color: str, points: Sequence[Any]) -> dict[str, Any]:
    flagged = [metric in p.anomalies for p in points]
    drifted = [p.drifted for p in points]
    return {
        "type": "scatter", "mode": "lines+markers", "name": metric, "x": xs, "y": values, "xaxis": "x",
        "yaxis": f"y{axis}", "connectgaps": False, "line": {"color": color, "width": 1.5},
        "marker": {
            "size": [9 if f or d else 5 for f, d in zip(flagged, drifted, strict=True)],
            "color": [ANOMALY if f else DRIFT if d else color for f, d in zip(flagged, drifted, strict=True)],
            "symbol": ["diamond" if f else "circle" for f in flagged],
        },
        "customdata": [
            [plot_text(p.run_id), "anomaly" if f else "", "drifted: " + plot_text("; ".join(p.drift_reasons)) if d else ""]
            for p, f, d in zip(points, flagged, drifted, strict=True)
        ],
        "hovertemplate": f"%{{customdata[0]}}<br>{metric}: %{{y:,.4g}}<br>%{{customdata[1]}} %{{customdata[2]}}<extra></extra>",
    }


def _quantile_traces(points: Sequence[Any], xs: list[str], axis: str) -> list[dict[str, Any]]:
    """p5–p95 as a filled band, p50 dashed, min and max dotted."""
    def line(name: str, values: list, **style: Any) -> dict[str, Any]:
        return {"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": values, "xaxis": "x",
                "yaxis": f"y{axis}", "connectgaps": False, "hovertemplate": f"{name}: %{{y:,.4g}}<extra></extra>", **style}

    numbers = [_as_number(p.min) for p in points], [_as_number(p.max) for p in points]
    return [
        line("p5", [p.p5 for p in points], line={"color": "rgba(22,163,74,0.0)"}),
        line("p95", [p.p95 for p in points], line={"color": "rgba(22,163,74,0.0)"}, fill="tonexty",
             fillcolor="rgba(22,163,74,0.15)"),
        line("p50", [p.p50 for p in points], line={"color": "#16a34a", "dash": "dash", "width": 1}),
        line("min", numbers[0], line={"color": MUTED, "dash": "dot", "width": 1}),
        line("max", numbers[1], line={"color": MUTED, "dash": "dot", "width": 1}),
    ]


def _as_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _band_shape(band: Any, axis: str) -> dict[str, Any]:
    return {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": f"y{axis}", "y0": band.low, "y1": band.high,
            "fillcolor": BAND_FILL, "line": {"width": 0}, "layer": "below"}


def _change_line(x: str, color: str) -> dict[str, Any]:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"color": color, "width": 1.5, "dash": "dot"}}


def drift_heatmap(heatmap: Any) -> dict[str, Any]:
    """Columns × runs: colour by PSI (capped at 1), drifted cells marked, reasons in the hover."""
    if not heatmap.cells or not heatmap.runs:
        return empty_figure("no drift computed yet: it needs two successful runs")
    xs = _history_labels(heatmap.runs)
    several = len({output for output, _ in heatmap.cells}) > 1
    ys = [plot_text(f"{output} · {column}" if several else column) + "\u2009" for output, column in heatmap.cells][::-1]
    rows = list(range(len(heatmap.cells)))[::-1]
    z = [[None if v is None else min(float(v), 1.0) for v in heatmap.psi[i]] for i in rows]
    text = [["drifted" if d else "" for d in heatmap.drifted[i]] for i in rows]
    marks = [["●" if d else "" for d in heatmap.drifted[i]] for i in rows]
    hover = [
        [
            f"{plot_text(heatmap.cells[i][1])}<br>{plot_text(r.run_id)}<br>"
            + ("not compared" if heatmap.drifted[i][j] is None else
               f"PSI {_fmt(heatmap.psi[i][j]) if heatmap.psi[i][j] is not None else '–'} {t}<br>{plot_text(heatmap.reasons[i][j])}")
            for j, (r, t) in enumerate(zip(heatmap.runs, text[rows.index(i)], strict=True))
        ]
        for i in rows
    ]
    trace = {
        "type": "heatmap", "x": xs, "y": ys, "z": z, "zmin": 0, "zmax": 1, "text": marks,
        "texttemplate": "%{text}", "textfont": {"color": "#ffffff", "size": 11},
        "colorscale": [[0, "rgba(22,163,74,0.20)"], [0.2, "rgba(234,179,8,0.55)"], [1, "#dc2626"]],
        "colorbar": {"title": {"text": "PSI"}, "thickness": 10}, "hovertext": hover, "hoverinfo": "text",
        "xgap": 2, "ygap": 2,
    }
    layout = base_layout(max(160, 24 * len(ys) + 90), margin={"l": 64, "r": 16, "t": 16, "b": 60})
    layout["xaxis"] = {"type": "category", "tickangle": -30, "automargin": True, "nticks": 12}
    layout["yaxis"] = {"type": "category", "automargin": True}
    return {"data": [trace], "layout": layout}
