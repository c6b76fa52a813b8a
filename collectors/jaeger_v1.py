"""Jaeger's query API v1 trace JSON (`/api/traces/{id}`): typed tags, logs, references, processes."""

from __future__ import annotations

import base64
from typing import Any

from collectors.otlp import Decoded, SpanRecord

_KIND = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def decode_jaeger_v1(document: dict[str, Any]) -> Decoded:
    """Either the whole response `{"data": [trace, ...]}` or one trace of it."""
    traces = document.get("data") if isinstance(document.get("data"), list) else [document]
    decoded = Decoded([])
    for trace in traces:
        processes = trace.get("processes") or {}
        for span in trace.get("spans") or []:
            trace_id, span_id = _hex_id(span.get("traceID"), 32), _hex_id(span.get("spanID"), 16)
            if trace_id is None or span_id is None:
                decoded.reject(f"span '{span.get('operationName', '?')}' has no valid traceID/spanID")
                continue
            tags = {t["key"]: _tag(t) for t in span.get("tags") or []}
            process = processes.get(span.get("processID"), {})
            start_ns = int(span.get("startTime") or 0) * 1000
            failed = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
            decoded.spans.append(SpanRecord(
                trace_id=trace_id, span_id=span_id, parent_span_id=_parent(span, trace_id),
                service=str(process.get("serviceName") or "unknown_service"),
                name=str(span.get("operationName", "")), kind=_KIND.get(str(tags.get("span.kind", "")), 0),
                start_ns=start_ns, end_ns=start_ns + int(span.get("duration") or 0) * 1000,
                status_code=2 if failed else 0, status_message=str(tags.get("otel.status_description") or ""),
                attributes=tags,
                events=[_log(log) for log in span.get("logs") or []],
            ))
    return decoded


def _parent(span: dict[str, Any], trace_id: str) -> str | None:
    """The CHILD_OF reference within the same trace (references to other traces are links, not parents)."""
    for reference in span.get("references") or []:
        if reference.get("refType") == "CHILD_OF" and _hex_id(reference.get("traceID"), 32) == trace_id:
            return _hex_id(reference.get("spanID"), 16)
    return None


def _log(log: dict[str, Any]) -> dict[str, Any]:
    fields = {f["key"]: _tag(f) for f in log.get("fields") or []}
    name = str(fields.pop("event", "log"))
    return {"name": name, "time_ns": int(log.get("timestamp") or 0) * 1000, "attributes": fields}


def _tag(tag: dict[str, Any]) -> Any:
    value, kind = tag.get("value"), tag.get("type", "string")
    if kind == "int64":
        return int(value)
    if kind == "float64":
        return float(value)
    if kind == "bool":
        return value in (True, "true")
    if kind == "binary":
        return base64.b64decode(value).hex()
    return value


def _hex_id(value: Any, digits: int) -> str | None:
    """Jaeger drops leading zeros and uses 64-bit trace ids for old clients: pad to full width."""
    if not value:
        return None
    text = str(value).strip().lower()
    if len(text) > digits:
        return None
    try:
        if int(text, 16) == 0:
            return None
    except ValueError:
        return None
    return text.rjust(digits, "0")
