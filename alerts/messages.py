"""What a notification says: enough for on-call to act from the chat message alone, with links for more."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from concord.config import Config, RuleConfig
from concord.exports import deep_link, hint_of

VERBS = {"opened": "opened", "reopened": "reopened", "resolved": "resolved"}


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    idempotency_key: str


def idempotency_key(channel: str, rule: str, event: str, outbox_ids: list[int]) -> str:
    """The same group of outbox rows for the same channel always gets the same key, so a resend after a
    crash can be recognised and dropped by the receiver."""
    text = f"{channel}|{rule}|{event}|{min(outbox_ids)}|{max(outbox_ids)}|{len(outbox_ids)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def list_link(dashboard_url: str, rule: str, status: str) -> str:
    return f"{dashboard_url.rstrip('/')}/violations?{urlencode({'rule': rule, 'status': status})}"


def trace_link(config: Config, trace_id: str) -> str:
    backend = config.traces.backend
    if backend is not None and backend.link_template:
        return backend.link_template.format(trace_id=trace_id)
    return f"{config.dashboard_url.rstrip('/')}/?trace={trace_id}"


def build_message(config: Config, rule: RuleConfig, event: str, rows: list[dict[str, Any]], key: str) -> Message:
    """rows: the group's violations (id, key_display, hint, evidence, trace_ids), oldest first."""
    first_keys = config.alerts.first_keys
    count = len(rows)
    noun = "violation" if count == 1 else "violations"
    title = f"[{rule.severity.upper()}] {rule.name}: {count} {noun} {VERBS[event]}"
    keys = "; ".join(r["key_display"] for r in rows[:first_keys])  # composite keys hold commas themselves
    more = f" and {count - first_keys} more" if count > first_keys else ""
    lines = [f"**Rule:** {rule.name} ({rule.severity})" + (f" — {rule.description}" if rule.description else ""),
             f"**Keys ({count}):** {keys}{more}"]
    first = rows[0]
    if event != "resolved":
        hint = hint_of({"hint": first.get("hint"), "evidence": _json(first.get("evidence"))})
        if hint:
            lines.append(f"**Root cause (first key):** {hint}")
    link = deep_link(config.dashboard_url, first["id"]) if count == 1 else \
        list_link(config.dashboard_url, rule.name, "resolved" if event == "resolved" else "open")
    lines.append(f"**Open in Concord:** {link}")
    traces = _json(first.get("trace_ids")) or []
    if traces:
        lines.append(f"**Trace:** {trace_link(config, traces[0])}")
    if rule.runbook:
        lines.append(f"**Runbook:** {rule.runbook}")
    if rule.owner:
        lines.append(f"**Owner:** {rule.owner}")
    lines.append(f"Idempotency key: {key}")
    return Message(title, "\n\n".join(lines), key)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value
