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

from ddtrack.views.common import fmt_duration, state_color

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
    xs = [p[0].isoformat() if isinstance(p[0], dt.datetime) else str(p[0]) for p in points]
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
    """Duration bars coloured by state, rows and null rate lines, schema changes marked."""
    rows = list(reversed(rows))  # oldest left
    xs = _history_labels(rows)
    hover = [
        f"{plot_text(r.run_id)}<br>try {r.try_number} · {plot_text(r.state)}<br>{fmt_duration(r.duration_s)}"
        + (f"<br>{r.rows:,} rows" if r.rows is not None else "")
        + (f"<br>{plot_text(r.error)[:200]}" if r.error else "")
        for r in rows
    ]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "duration (s)",
            "x": xs,
            "y": [r.duration_s or 0 for r in rows],
            "marker": {"color": [state_color(r.state) for r in rows]},
            "hovertext": hover,
            "hoverinfo": "text",
            "xaxis": "x",
            "yaxis": "y",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "rows",
            "x": xs,
            "y": [r.rows for r in rows],
            "line": {"color": ACCENT},
            "connectgaps": False,
            "xaxis": "x",
            "yaxis": "y2",
            "hovertemplate": "%{y:,} rows<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "null rate (%)",
            "x": xs,
            "y": [r.null_pct for r in rows],
            "line": {"color": "#f97316"},
            "xaxis": "x",
            "yaxis": "y3",
            "hovertemplate": "%{y:.2f}% null<extra></extra>",
        },
    ]
    changes = [x for x, r in zip(xs, rows, strict=False) if r.schema_changed]
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#a855f7", "width": 1.5, "dash": "dot"},
        }
        for x in changes
    ]
    annotations = [
        {
            "x": x,
            "y": 1.0,
            "xref": "x",
            "yref": "paper",
            "text": "schema changed",
            "showarrow": False,
            "font": {"color": "#a855f7", "size": 10},
            "yanchor": "bottom",
        }
        for x in changes
    ]
    layout = base_layout(
        420,
        showlegend=False,
        shapes=shapes,
        annotations=annotations
        + [
            {
                "text": "duration, coloured by state",
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1.0,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11},
            },
            {
                "text": "rows",
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 0.6,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11},
            },
            {
                "text": "mean null rate (%)",
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 0.27,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11},
            },
        ],
        margin={"l": 56, "r": 12, "t": 24, "b": 36},
    )
    layout["yaxis"] = {"domain": [0.66, 1.0], "gridcolor": GRID, "automargin": True, "ticksuffix": " s"}
    layout["yaxis2"] = {"domain": [0.34, 0.6], "gridcolor": GRID, "automargin": True, "rangemode": "tozero"}
    layout["yaxis3"] = {"domain": [0.0, 0.27], "gridcolor": GRID, "automargin": True, "rangemode": "tozero"}
    layout["xaxis"] = {
        "type": "category",
        "gridcolor": GRID,
        "automargin": True,
        "anchor": "y3",
        "tickangle": -30,
        "nticks": 12,
    }
    layout["bargap"] = 0.25 if len(rows) > 3 else 0.6
    return {"data": data, "layout": layout}


def _history_labels(rows: Sequence[Any]) -> list[str]:
    """Evenly spaced, unique category labels (start time, try, map index) for the history."""
    labels, seen = [], set()
    for r in rows:
        label = r.started_at.strftime("%m-%d %H:%M:%S") if r.started_at else plot_text(r.run_id)[:24]
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
    """One horizontal bar per task instance from its start to its end, coloured by state."""
    timed = [t for t in tasks if t.start is not None]
    if not timed:
        return empty_figure("no task has started yet")
    t0 = min(t.start for t in timed)
    labels, bases, lengths, colors, hover = [], [], [], [], []
    for t in timed:
        end = t.end or t.start
        label = t.task_id + (f"[{t.map_index}]" if t.map_index >= 0 else "")
        labels.append(plot_text(label) + "\u2009")
        bases.append((t.start - t0).total_seconds())
        lengths.append(max((end - t.start).total_seconds(), 0.002))
        colors.append(state_color(t.state))
        hover.append(
            f"{plot_text(label)}<br>{plot_text(t.state)} · {fmt_duration((end - t.start).total_seconds())}<br>+{(t.start - t0).total_seconds():.2f}s"
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
        "title": {"text": "seconds since the first task started"},
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
