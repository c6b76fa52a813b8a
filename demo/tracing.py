"""Real OpenTelemetry spans for the simulated shop, written as OTLP JSON lines.

Spans are made by the OpenTelemetry SDK (one TracerProvider per service, so each span carries
its service.name) with explicit simulated timestamps and seeded ids, and encoded to OTLP JSON as
the Collector's file exporter writes it: one ExportTraceServiceRequest per line, ids in hex.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Context, Span, SpanKind, Status, StatusCode

SERVICES = ("order-service", "payment-service", "inventory-service")
_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}


class SeededIds(IdGenerator):
    """Reproducible trace and span ids, so a seed gives the same demo, trace ids included."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1


class CollectingExporter(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


class ShopTracer:
    def __init__(self, seed: int) -> None:
        self.exporter = CollectingExporter()
        ids = SeededIds(random.Random(f"traces-{seed}"))
        self.tracers = {}
        for service in SERVICES:
            provider = TracerProvider(resource=Resource.create({"service.name": service}), id_generator=ids)
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.tracers[service] = provider.get_tracer("concord.demo")

    def span(self, service: str, name: str, start: datetime, end: datetime, parent: Span | None = None,
             attributes: dict[str, Any] | None = None, error: str | None = None,
             kind: SpanKind = SpanKind.INTERNAL) -> Span:
        context: Context | None = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracers[service].start_span(name, context=context, kind=kind, attributes=attributes or {},
                                                start_time=_ns(start))
        if error:
            exception_type, _, message = error.partition(": ")
            span.add_event("exception", {"exception.type": exception_type, "exception.message": message},
                           timestamp=_ns(end))
            span.set_status(Status(StatusCode.ERROR, message))
        span.end(end_time=_ns(end))
        return span

    def write_otlp_json(self, path: Path, spans_per_line: int = 500) -> int:
        """OTLP JSON lines; returns the number of spans written."""
        spans = self.exporter.spans
        with path.open("w", encoding="utf-8") as handle:
            for start in range(0, len(spans), spans_per_line):
                handle.write(json.dumps(otlp_request(spans[start:start + spans_per_line]), separators=(",", ":")))
                handle.write("\n")
        return len(spans)


def otlp_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    by_service: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_service.setdefault(str(span.resource.attributes.get("service.name")), []).append(span)
    return {"resourceSpans": [
        {"resource": {"attributes": _attributes({"service.name": service})},
         "scopeSpans": [{"scope": {"name": "concord.demo"}, "spans": [_span(s) for s in group]}]}
        for service, group in by_service.items()
    ]}


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    encoded: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "name": span.name,
        "kind": _KIND.get(span.kind, 1),
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": _attributes(dict(span.attributes or {})),
        "status": {"code": {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[span.status.status_code]},
    }
    if span.parent is not None:
        encoded["parentSpanId"] = f"{span.parent.span_id:016x}"
    if span.status.description:
        encoded["status"]["message"] = span.status.description
    if span.events:
        encoded["events"] = [{"timeUnixNano": str(e.timestamp), "name": e.name,
                              "attributes": _attributes(dict(e.attributes or {}))} for e in span.events]
    return encoded


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    encoded = []
    for key, value in values.items():
        if isinstance(value, bool):
            typed = {"boolValue": value}
        elif isinstance(value, int):
            typed = {"intValue": str(value)}
        elif isinstance(value, float):
            typed = {"doubleValue": value}
        else:
            typed = {"stringValue": str(value)}
        encoded.append({"key": key, "value": typed})
    return encoded


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def trace_id_hex(span: Span | ReadableSpan) -> str:
    return f"{span.get_span_context().trace_id:032x}"
