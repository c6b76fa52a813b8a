"""OTLP trace payloads (protobuf and JSON, and the variants Jaeger and Tempo return) as plain span records.

Protobuf is walked message by message with the official opentelemetry-proto classes (`MessageToDict`
is many times slower). OTLP JSON is read by hand: its ids are hex, which protobuf's `json_format`
would silently misread as base64; Tempo's v2 API really does send base64 ids, and its v1 API puts
resource spans under `batches`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

SPAN_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
              "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class PayloadError(ValueError):
    """A body that is not a valid OTLP trace payload; the receiver answers 400 with this message."""


@dataclass(slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    service: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.status_code == 2


@dataclass
class Decoded:
    spans: list[SpanRecord]
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < 5:
            self.reasons.append(reason)


# -- protobuf -------------------------------------------------------------------------------------------------------
def decode_protobuf(body: bytes) -> Decoded:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others for garbage
        raise PayloadError(f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}") from None
    decoded = Decoded([])
    for resource_spans in request.resource_spans:
        resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or len(span.span_id) != 8 or not any(span.trace_id) \
                        or not any(span.span_id):
                    decoded.reject(f"span '{span.name}' has a trace id of {len(span.trace_id)} bytes or a span id "
                                   f"of {len(span.span_id)} bytes (16 and 8 expected)")
                    continue
                decoded.spans.append(SpanRecord(
                    trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() if len(span.parent_span_id) == 8 else None,
                    service=service, name=span.name, kind=int(span.kind),
                    start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                    status_code=int(span.status.code), status_message=span.status.message,
                    attributes={a.key: _any_value(a.value) for a in span.attributes},
                    events=[{"name": e.name, "time_ns": e.time_unix_nano,
                             "attributes": {a.key: _any_value(a.value) for a in e.attributes}} for e in span.events],
                ))
    return decoded


def _any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


# -- JSON -----------------------------------------------------------------------------------------------------------
def decode_json(body: bytes | str | dict[str, Any]) -> Decoded:
    """OTLP JSON, also wrapped as Jaeger api/v3 (`result`) or Tempo (`trace`, `batches`) return it."""
    if isinstance(body, dict):
        document = body
    else:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PayloadError("the body must be a JSON object with 'resourceSpans'")
    for wrapper in ("result", "trace"):
        if isinstance(document.get(wrapper), dict):
            document = document[wrapper]
    resource_spans = document.get("resourceSpans", document.get("batches"))
    if resource_spans is None:
        return Decoded([])
    if not isinstance(resource_spans, list):
        raise PayloadError("'resourceSpans' must be a list")
    decoded = Decoded([])
    try:
        for item in resource_spans:
            resource = _attributes((item.get("resource") or {}).get("attributes"))
            service = str(resource.get("service.name") or "unknown_service")
            for scope in item.get("scopeSpans", item.get("instrumentationLibrarySpans", [])) or []:
                for span in scope.get("spans", []) or []:
                    record = _json_span(span, service, decoded)
                    if record is not None:
                        decoded.spans.append(record)
    except (AttributeError, TypeError) as exc:
        raise PayloadError(f"the JSON does not have the OTLP shape: {exc}") from None
    return decoded


def _json_span(span: dict[str, Any], service: str, decoded: Decoded) -> SpanRecord | None:
    trace_id, span_id = otlp_id(span.get("traceId"), 16), otlp_id(span.get("spanId"), 8)
    if trace_id is None or span_id is None:
        decoded.reject(f"span '{span.get('name', '?')}' has no valid traceId/spanId (hex, 32 and 16 digits)")
        return None
    status = span.get("status") or {}
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=otlp_id(span.get("parentSpanId"), 8),
        service=service, name=str(span.get("name", "")), kind=_enum(span.get("kind"), SPAN_KINDS),
        start_ns=int(span.get("startTimeUnixNano") or 0), end_ns=int(span.get("endTimeUnixNano") or 0),
        status_code=_enum(status.get("code"), STATUS_CODES), status_message=str(status.get("message") or ""),
        attributes=_attributes(span.get("attributes")),
        events=[{"name": e.get("name", ""), "time_ns": int(e.get("timeUnixNano") or 0),
                 "attributes": _attributes(e.get("attributes"))} for e in span.get("events") or []],
    )


def otlp_id(value: Any, size: int) -> str | None:
    """Lower-case hex of an id given as hex (OTLP JSON, any case) or base64 (Tempo's v2 API)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == size * 2:
        try:
            raw = bytes.fromhex(text)
            return raw.hex() if any(raw) else None  # all-zero ids are invalid
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != size or not any(raw):
        return None
    return raw.hex()


def _enum(value: Any, names: dict[str, int]) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isdigit() else names.get(text, 0)


def _attributes(items: Any) -> dict[str, Any]:
    return {item["key"]: _json_any(item.get("value") or {}) for item in items or []}


def _json_any(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_json_any(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"]).hex()
    return None


def parse_trace_reference(text: str | None) -> str | None:
    """A trace id from a row: 32 hex digits, or a W3C traceparent `00-<trace>-<span>-<flags>`."""
    if not text:
        return None
    value = str(text).strip().lower()
    parts = value.split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        value = parts[1]
    if len(value) == 32:
        try:
            if int(value, 16):
                return value
        except ValueError:
            return None
    return None
