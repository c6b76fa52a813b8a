"""Linking violations to the traces of their transactions, with a root-cause hint for each.

A violation's trace ids come from the driver row's trace column (a trace id or a W3C traceparent),
else from the span key index (a business attribute such as `order.id`), else from a search of the
configured Jaeger or Tempo (cached in the store; the trace is then pulled into the span store so
the dashboard can draw it). The hint names the span that failed (preferring the rule's `steps`),
the expected spans that are missing, and the service where the transaction was last seen.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from checks.kinds.base import RuleKind
from collectors.ingest import SpanIngest
from collectors.otlp import parse_trace_reference
from collectors.remote import TraceBackend, TraceBackendError
from concord.clock import Clock
from concord.keys import decode_key
from concord.store.db import Store
from concord.store.runs import naive_utc
from concord.store.schema import OPEN_STATUSES, remote_trace_searches, violations
from concord.store.spans import trace_spans, traces_for_key

log = logging.getLogger("concord.correlate")


@dataclass
class LinkCounts:
    violations: int = 0
    linked: int = 0
    not_found: int = 0


class Correlator:
    def __init__(self, kinds: list[RuleKind], store: Store, clock: Clock, backend: TraceBackend | None = None,
                 ingest: SpanIngest | None = None) -> None:
        self.kinds = {kind.name: kind for kind in kinds}
        self.store = store
        self.clock = clock
        self.backend = backend
        self.ingest = ingest

    def link_open(self, relink: bool = False) -> LinkCounts:
        """Link every open violation whose trace is not known yet (or all of them with relink)."""
        query = select(violations.c.id, violations.c.rule, violations.c.key_text, violations.c.evidence,
                       violations.c.trace_ids, violations.c.hint).where(violations.c.status.in_(OPEN_STATUSES))
        with self.store.read() as connection:
            rows = connection.execute(query).all()
        counts = LinkCounts()
        for row in rows:
            kind = self.kinds.get(row.rule)
            if kind is None or (not relink and row.hint and json.loads(row.hint).get("trace_found")):
                continue
            counts.violations += 1
            trace_ids, hint = self.link(kind, decode_key(row.key_text), json.loads(row.evidence or "{}"))
            counts.linked += bool(hint["trace_found"])
            counts.not_found += not hint["trace_found"]
            with self.store.begin() as connection:
                connection.execute(violations.update().where(violations.c.id == row.id).values(
                    trace_ids=json.dumps(trace_ids), hint=json.dumps(hint, ensure_ascii=False)))
        return counts

    def link(self, kind: RuleKind, key: tuple[Any, ...], evidence: dict[str, Any]) -> tuple[list[str], dict]:
        trace_ids, source = self._trace_ids(kind, key, evidence)
        with self.store.read() as connection:
            spans = [span for trace_id in trace_ids for span in trace_spans(connection, trace_id)]
        if trace_ids and not spans and self.backend is not None:
            spans = self._pull(trace_ids)
        return trace_ids, root_cause_hint(kind, trace_ids, spans, source)

    def _trace_ids(self, kind: RuleKind, key: tuple[Any, ...], evidence: dict[str, Any]) -> tuple[list[str], str]:
        settings = kind.rule.trace
        direct = parse_trace_reference(evidence.get("trace_id"))
        if direct:
            return [direct], "row"
        if settings is None or not settings.attribute:
            return [], "none"
        value = key_value(kind, key)
        with self.store.read() as connection:
            indexed = traces_for_key(connection, settings.attribute, value)
        if indexed:
            return sorted(indexed), "key index"
        if self.backend is None:
            return [], "key index"
        return self._search(kind, value, evidence), self.backend.name

    def _search(self, kind: RuleKind, value: Any, evidence: dict[str, Any]) -> list[str]:
        settings = kind.rule.trace
        assert settings is not None and settings.attribute and self.backend is not None
        query = f"{settings.service or ''}|{settings.attribute}={value}"
        with self.store.read() as connection:
            cached = connection.execute(select(remote_trace_searches.c.trace_ids).where(
                remote_trace_searches.c.backend == self.backend.name,
                remote_trace_searches.c.query == query[:500])).scalar()
        if cached is not None:
            return json.loads(cached)
        around = _row_time(kind, evidence) or self.clock.now()
        window = self.backend.config.search_window
        try:
            found = self.backend.search(settings.attribute, value, settings.service, around - window, around + window)
        except TraceBackendError as exc:
            log.warning("rule %s: trace search failed: %s", kind.name, exc)
            return []
        with self.store.begin() as connection:
            connection.execute(remote_trace_searches.insert().values(
                backend=self.backend.name, query=query[:500], trace_ids=json.dumps(found),
                searched_at=naive_utc(self.clock.now())))
        return found

    def _pull(self, trace_ids: list[str]) -> list[dict[str, Any]]:
        """Fetch traces from the backend into the span store, then read them back as the dashboard will."""
        assert self.backend is not None
        for trace_id in trace_ids:
            try:
                decoded = self.backend.fetch(trace_id)
            except TraceBackendError as exc:
                log.warning("could not fetch trace %s: %s", trace_id, exc)
                continue
            if decoded.spans and self.ingest is not None:
                self.ingest.write(decoded.spans)
        with self.store.read() as connection:
            return [span for trace_id in trace_ids for span in trace_spans(connection, trace_id)]


def key_value(kind: RuleKind, key: tuple[Any, ...]) -> Any:
    """The key column the trace attribute carries: `trace.key_column`, else the key's first column."""
    settings = kind.rule.trace
    columns = kind.key_columns
    if settings is not None and settings.key_column in columns:
        return key[columns.index(settings.key_column)]
    return key[0]


def root_cause_hint(kind: RuleKind, trace_ids: list[str], spans: list[dict[str, Any]], source: str) -> dict:
    settings = kind.rule.trace
    expected = list(settings.expect_spans) if settings else []
    steps = set(settings.steps if settings else []) | set(expected)
    if not spans:
        reason = (f"trace {', '.join(trace_ids)} is not in the span store (not collected, or past retention)"
                  if trace_ids else "no trace is linked to this entity")
        return {"trace_found": False, "source": source, "summary": reason}
    errors = sorted((s for s in spans if s["status_code"] == 2), key=lambda s: (s["start_ns"], s["span_id"]))
    failing = next((s for s in errors if s["name"] in steps), errors[0] if errors else None)
    names = {s["name"] for s in spans}
    missing = [name for name in expected if name not in names]
    last = max(spans, key=lambda s: (s["end_ns"], s["start_ns"]))
    hint: dict[str, Any] = {"trace_found": True, "source": source, "trace_ids": trace_ids, "missing_spans": missing,
                            "last_service": last["service"], "failing_span": None}
    parts = []
    if failing is not None:
        message = failing.get("status_message") or _exception_message(failing)
        hint["failing_span"] = {"trace_id": failing["trace_id"], "span_id": failing["span_id"],
                                "service": failing["service"], "name": failing["name"], "message": message}
        parts.append(f"{failing['name']} failed in {failing['service']}" + (f": {message}" if message else ""))
    if missing:
        parts.append(f"expected span{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing")
    parts.append(f"last reached {last['service']}")
    hint["summary"] = "; ".join(parts)
    return hint


def _exception_message(span: dict[str, Any]) -> str:
    for event in span.get("events") or []:
        if event.get("name") == "exception":
            attributes = event.get("attributes") or {}
            kind, message = attributes.get("exception.type"), attributes.get("exception.message")
            return ": ".join(str(p) for p in (kind, message) if p)
    return ""


def _row_time(kind: RuleKind, evidence: dict[str, Any]) -> datetime | None:
    column = kind.time_column
    value = (evidence.get("row") or {}).get(column) if column else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # naive times are in the driver source's own time zone
        source = kind.config.sources.get(kind.source_names[0])
        moment = moment.replace(tzinfo=ZoneInfo(source.timezone if source else "UTC"))
    return moment
