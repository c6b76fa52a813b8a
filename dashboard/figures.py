"""Plotly figures as pure functions of rows: unit-tested without Streamlit, drawn by the pages.

Business values reach figures only as data (hover text is escaped by plotly's SVG renderer, and we
escape it again), never as HTML we compose.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

ERROR_RED = "#d62728"
OK_BLUE = "#1f77b4"
MISSING_GREY = "#9e9e9e"
SEVERITY_COLORS = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#1565c0",
                   "info": "#607d8b"}


def trend_figure(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Violations opened vs resolved per hour."""
    figure = go.Figure()
    for action, color in (("opened", ERROR_RED), ("resolved", "#2e7d32")):
        points = [r for r in rows if r["action"] == action]
        figure.add_trace(go.Bar(x=[p["hour"] for p in points], y=[p["count"] for p in points], name=action,
                                marker_color=color))
    figure.update_layout(barmode="group", height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         title="Opened vs resolved per hour", legend={"orientation": "h"})
    return figure


def severity_figure(by_severity: dict[str, int]) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(by_severity), y=list(by_severity.values()),
                              marker_color=[SEVERITY_COLORS.get(s, OK_BLUE) for s in by_severity]))
    figure.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Open by severity")
    return figure


def waterfall_figure(spans: Sequence[dict[str, Any]], failing_span_id: str | None = None,
                     missing: Sequence[str] = (), masked: Sequence[str] = ()) -> go.Figure:
    """Spans on a time axis, nested under their parents and grouped by service; errors in red, the
    failing span outlined and labelled, missing expected spans as grey placeholder rows."""
    ordered = nest(spans)
    start = min((s["start_ns"] for s in spans), default=0)
    hidden = {name.lower() for name in masked}
    labels, bases, widths, colors, lines, hovers, ids = [], [], [], [], [], [], []
    for depth, span in ordered:
        labels.append(f"{'  ' * depth}{span['service']} · {span['name']}"[:80] + f" ⟨{span['span_id'][:6]}⟩")
        bases.append((span["start_ns"] - start) / 1e6)
        widths.append(max((span["end_ns"] - span["start_ns"]) / 1e6, 0.05))
        failed = span["status_code"] == 2
        colors.append(ERROR_RED if failed else OK_BLUE)
        lines.append(4 if span["span_id"] == failing_span_id else 0)
        hovers.append(_hover(span, hidden))
        ids.append(span["span_id"])
    figure = go.Figure(go.Bar(
        y=labels, x=widths, base=bases, orientation="h", marker={"color": colors, "line": {
            "width": lines, "color": "#000000"}},
        hovertext=hovers, hoverinfo="text", customdata=ids, name="spans",
    ))
    if missing:
        end = max(b + w for b, w in zip(bases, widths, strict=True)) if bases else 1.0
        figure.add_trace(go.Bar(y=[f"missing · {name}" for name in missing], x=[end] * len(missing),
                                base=[0.0] * len(missing), orientation="h", name="missing expected span",
                                marker={"color": "rgba(158,158,158,0.25)", "line": {"color": MISSING_GREY,
                                                                                     "width": 1}},
                                hovertext=[f"expected span {html.escape(n)} is missing from the trace"
                                           for n in missing], hoverinfo="text"))
    if failing_span_id in ids:
        row = ids.index(failing_span_id)
        figure.add_annotation(x=bases[row] + widths[row], y=labels[row], text="◀ failing span", showarrow=False,
                              xanchor="left", font={"color": ERROR_RED, "size": 13})
    figure.update_yaxes(autorange="reversed", title=None)
    figure.update_xaxes(title="milliseconds since the trace started")
    figure.update_layout(height=max(260, 26 * (len(labels) + len(missing)) + 90), showlegend=bool(missing),
                         margin={"l": 10, "r": 30, "t": 30, "b": 40}, title="Trace waterfall", bargap=0.25)
    return figure


def nest(spans: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first order: each span under its parent, siblings by start time; orphans at the root."""
    present = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_span_id") if span.get("parent_span_id") in present else None
        children.setdefault(parent, []).append(span)
    ordered: list[tuple[int, dict[str, Any]]] = []
    stack = [(0, s) for s in sorted(children.get(None, []), key=_start, reverse=True)]
    while stack:
        depth, span = stack.pop()
        ordered.append((depth, span))
        stack.extend((depth + 1, c) for c in sorted(children.get(span["span_id"], []), key=_start, reverse=True))
    return ordered


def _start(span: dict[str, Any]) -> tuple[int, str]:
    return span["start_ns"], span["span_id"]


def _hover(span: dict[str, Any], hidden: set[str]) -> str:
    attributes = {k: ("•••" if k.lower() in hidden else v) for k, v in (span.get("attributes") or {}).items()}
    lines = [f"<b>{html.escape(span['service'])} · {html.escape(span['name'])}</b>",
             f"{(span['end_ns'] - span['start_ns']) / 1e6:,.1f} ms"
             + (" · ERROR " + html.escape(span.get("status_message") or "") if span["status_code"] == 2 else "")]
    for key, value in list(attributes.items())[:12]:
        lines.append(f"{html.escape(str(key))} = {html.escape(json.dumps(value, default=str, ensure_ascii=False))[:120]}")
    for event in (span.get("events") or [])[:3]:
        details = "; ".join(f"{k}={v}" for k, v in (event.get("attributes") or {}).items())
        lines.append(f"event {html.escape(str(event.get('name')))}: {html.escape(details)[:160]}")
    return "<br>".join(lines)
