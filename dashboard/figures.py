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


LABELLED_ROWS = 150
GAP_MS = 1000.0  # idle stretches longer than this are drawn short, so a trace spread over hours stays legible


def waterfall_figure(spans: Sequence[dict[str, Any]], failing_span_id: str | None = None,
                     missing: Sequence[str] = (), masked: Sequence[str] = ()) -> go.Figure:
    """Spans on a time axis, nested under their parents and grouped by service; errors in red, the
    failing span outlined and labelled, missing expected spans as grey placeholder rows.

    Asynchronous steps can be hours apart (a shipment after a payment): idle gaps over a second are
    compressed on the axis and labelled with their real length; hover shows real offsets.
    """
    ordered = nest(spans)
    origin = min((s["start_ns"] for s in spans), default=0)
    scale = TimeScale([((s["start_ns"] - origin) / 1e6, (s["end_ns"] - origin) / 1e6) for s in spans])
    hidden = {name.lower() for name in masked}
    labels, bases, widths, colors, lines, hovers, ids = [], [], [], [], [], [], []
    for depth, span in ordered:
        label = "› " * min(depth, 6) + f"{span['service']} · {span['name']}"
        labels.append(f"{label[:46]}{'…' if len(label) > 46 else ''} ({span['span_id'][:6]})")
        start, end = scale.to_axis((span["start_ns"] - origin) / 1e6), scale.to_axis((span["end_ns"] - origin) / 1e6)
        bases.append(start)
        widths.append(max(end - start, scale.minimum_width))
        colors.append(ERROR_RED if span["status_code"] == 2 else OK_BLUE)
        lines.append(4 if span["span_id"] == failing_span_id else 0)
        hovers.append(_hover(span, hidden, (span["start_ns"] - origin) / 1e6))
        ids.append(span["span_id"])
    figure = go.Figure(go.Bar(
        y=labels, x=widths, base=bases, orientation="h", marker={"color": colors, "line": {
            "width": lines, "color": "#000000"}},
        hovertext=hovers, hoverinfo="text", customdata=ids, name="spans",
    ))
    if missing:
        end = scale.axis_end or 1.0
        figure.add_trace(go.Bar(y=[f"missing · {name}" for name in missing], x=[end] * len(missing),
                                base=[0.0] * len(missing), orientation="h", name="missing expected span",
                                marker={"color": "rgba(158,158,158,0.25)", "line": {"color": MISSING_GREY,
                                                                                     "width": 1}},
                                hovertext=[f"expected span {html.escape(n)} is missing from the trace"
                                           for n in missing], hoverinfo="text"))
    for at, real_ms in scale.gaps:
        figure.add_vline(x=at, line={"color": MISSING_GREY, "dash": "dot", "width": 1})
        figure.add_annotation(x=at, y=1.0, yref="paper", text=f"⋯ {_duration(real_ms)} ⋯", showarrow=False,
                              yanchor="bottom", font={"size": 10, "color": MISSING_GREY})
    if failing_span_id in ids:
        row = ids.index(failing_span_id)
        figure.add_annotation(x=bases[row] + widths[row], y=labels[row], text="◀ failing span", showarrow=False,
                              xanchor="left", font={"color": ERROR_RED, "size": 13})
    # Fixed margins: plotly's automargin measures every tick label and redraws; labels are cut to a known
    # width instead. Past LABELLED_ROWS the rows get thin and unlabelled (names are in the hover), so a
    # thousand-span trace draws in a screenful rather than 26,000 pixels.
    rows = len(labels) + len(missing)
    compact = rows > LABELLED_ROWS
    figure.update_yaxes(autorange="reversed", title=None, automargin=False, tickfont={"size": 11},
                        showticklabels=not compact)
    figure.update_xaxes(title="time since the trace started (ms; idle gaps over 1 s compressed)",
                        showticklabels=not scale.gaps)
    figure.update_layout(height=1400 if compact else max(260, 26 * rows + 110), showlegend=bool(missing),
                         margin={"l": 40 if compact else 330, "r": 90, "t": 50, "b": 50}, bargap=0.25,
                         title=f"Trace waterfall ({len(labels)} spans{'; names on hover' if compact else ''})")
    return figure


class TimeScale:
    """Maps real milliseconds to axis units, shrinking every idle gap longer than GAP_MS."""

    def __init__(self, intervals: Sequence[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1] + GAP_MS:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        busy = sum(end - start for start, end in merged) or 1.0
        self.gap_width = max(busy * 0.08, 1.0) if len(merged) > 1 else 0.0
        self.segments: list[tuple[float, float, float]] = []  # (real start, real end, axis start)
        self.gaps: list[tuple[float, float]] = []  # (axis position, real gap length)
        axis = 0.0
        for index, (start, end) in enumerate(merged):
            if index:
                self.gaps.append((axis + self.gap_width / 2, start - merged[index - 1][1]))
                axis += self.gap_width
            self.segments.append((start, end, axis))
            axis += end - start
        self.axis_end = axis
        self.minimum_width = max(axis * 0.004, 0.05)

    def to_axis(self, real_ms: float) -> float:
        for start, end, axis in self.segments:
            if real_ms <= end:
                return axis + max(0.0, real_ms - start)
        return self.axis_end


def _duration(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


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


def _hover(span: dict[str, Any], hidden: set[str], offset_ms: float) -> str:
    attributes = {k: ("•••" if k.lower() in hidden else v) for k, v in (span.get("attributes") or {}).items()}
    lines = [f"<b>{html.escape(span['service'])} · {html.escape(span['name'])}</b>",
             f"starts at +{_duration(offset_ms) if offset_ms >= 1000 else f'{offset_ms:,.1f} ms'}, "
             f"lasts {(span['end_ns'] - span['start_ns']) / 1e6:,.1f} ms"
             + (" · ERROR " + html.escape(span.get("status_message") or "") if span["status_code"] == 2 else "")]
    for key, value in list(attributes.items())[:12]:
        shown = json.dumps(value, default=str, ensure_ascii=False)
        lines.append(f"{html.escape(str(key))} = {html.escape(shown)[:120]}")
    for event in (span.get("events") or [])[:3]:
        details = "; ".join(f"{k}={v}" for k, v in (event.get("attributes") or {}).items())
        lines.append(f"event {html.escape(str(event.get('name')))}: {html.escape(details)[:160]}")
    return "<br>".join(lines)
