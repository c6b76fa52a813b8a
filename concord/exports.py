"""Incident lists as CSV, JSON and Markdown, each row with its deep link into the dashboard.

Values come from business data, so every format defends itself: CSV cells that a spreadsheet
would run as formulas are neutralised, Markdown cells are escaped, JSON is plain data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

COLUMNS = ("id", "rule", "key", "severity", "status", "first_seen", "last_seen", "trace_id", "hint", "link")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def deep_link(dashboard_url: str, violation_id: int) -> str:
    return f"{dashboard_url.rstrip('/')}/?violation={violation_id}"


def hint_of(violation: dict[str, Any]) -> str:
    """The root-cause hint from the trace when there is one, else what was expected and what was found."""
    hint = _json(violation.get("hint"))
    if hint.get("trace_found"):
        return str(hint.get("summary", ""))
    evidence = violation.get("evidence") or {}
    expected, actual = evidence.get("expected"), evidence.get("actual")
    reason = f"expected {expected}; found {actual}" if expected and actual else str(expected or actual or "")
    return f"{reason} ({hint['summary']})" if hint.get("summary") else reason


def trace_id_of(violation: dict[str, Any]) -> str:
    ids = _json(violation.get("trace_ids"))
    if isinstance(ids, list) and ids:
        return str(ids[0])
    return str((violation.get("evidence") or {}).get("trace_id") or "")


def _json(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value or {}


def incident_rows(violations: Sequence[dict[str, Any]], dashboard_url: str) -> list[dict[str, Any]]:
    rows = []
    for violation in violations:
        rows.append({
            "id": violation["id"],
            "rule": violation["rule"],
            "key": violation["key_display"],
            "severity": violation["severity"],
            "status": violation["status"],
            "first_seen": _time(violation["first_seen"]),
            "last_seen": _time(violation["last_seen"]),
            "trace_id": trace_id_of(violation),
            "hint": hint_of(violation),
            "link": deep_link(dashboard_url, violation["id"]),
        })
    return rows


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise_cell(row.get(k)) for k in COLUMNS})
    return buffer.getvalue()


def neutralise_cell(value: Any) -> Any:
    """Prefix text that Excel or Sheets would evaluate (`=HYPERLINK(...)`, `@SUM(...)`) with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_json(rows: Sequence[dict[str, Any]], violations: Sequence[dict[str, Any]] | None = None) -> str:
    records = []
    for index, row in enumerate(rows):
        record = dict(row)
        if violations is not None:
            record["evidence"] = violations[index].get("evidence") or {}
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False, default=str) + "\n"


def to_markdown(rows: Sequence[dict[str, Any]], title: str = "Concord incident list") -> str:
    lines = [f"# {title}", "", f"{len(rows)} violation(s).", ""]
    headers = ("rule", "key", "severity", "status", "first seen", "last seen", "trace", "hint", "link")
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "---|" * len(headers))
    for row in rows:
        cells = [row["rule"], row["key"], row["severity"], row["status"], row["first_seen"], row["last_seen"],
                 row["trace_id"], row["hint"]]
        rendered = [_md_cell(c) for c in cells] + [f"[open]({row['link']})"]
        lines.append("| " + " | ".join(rendered) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(value: Any) -> str:
    """Business text as literal Markdown: no tables broken, no links or HTML injected."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in ("\\", "|", "`", "*", "_", "[", "]", "#"):
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ").replace("\r", " ")


def _time(value: Any) -> str:
    return value.isoformat(sep=" ", timespec="seconds") + "Z" if isinstance(value, datetime) else str(value or "")
