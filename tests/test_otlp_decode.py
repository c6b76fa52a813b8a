"""Every trace document other projects write, read into the same span records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collectors.jaeger_v1 import decode_jaeger_v1
from collectors.otlp import PayloadError, decode_json, decode_protobuf, otlp_id, parse_trace_reference
from collectors.remote import parse_tempo_search

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"  # copied unchanged from shared/fixtures


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_otlp_example_with_upper_case_hex_ids() -> None:
    decoded = decode_json(fixture("otlp-example-trace.json"))
    (span,) = decoded.spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == \
        ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b173")
    assert (span.service, span.kind, span.attributes) == ("my.service", 2, {"my.span.attr": "some value"})
    # protobuf's own JSON parser reads the same hex ids as base64: the trap this decoder avoids
    wrong = json_format.Parse(json.dumps(fixture("otlp-example-trace.json")), ExportTraceServiceRequest(),
                              ignore_unknown_fields=True)
    assert wrong.resource_spans[0].scope_spans[0].spans[0].trace_id.hex() != span.trace_id


def test_telemetrygen_output() -> None:
    spans = decode_json(fixture("otlp-telemetrygen.json")).spans
    assert len(spans) == 2 and {s.service for s in spans} == {"telemetrygen"}
    assert all(len(s.trace_id) == 32 and s.end_ns > s.start_ns for s in spans)


@pytest.mark.parametrize("name", ["jaeger-v3-GetTrace.json", "jaeger-v3-FindTraces.json"])
def test_jaeger_api_v3_wraps_otlp_in_result(name: str) -> None:
    (span,) = decode_json(fixture(name)).spans
    assert (span.trace_id, span.span_id, span.name, span.kind, span.status_code) == \
        ("00000000000000000000000000000001", "0000000000000002", "foobar", 2, 2)


def test_tempo_v1_batches_and_v2_base64_ids_agree() -> None:
    (v1,) = decode_json(fixture("tempo-api-traces-v1.json")).spans
    (v2,) = decode_json(fixture("tempo-api-v2-traces.json")).spans
    assert v1.trace_id == v2.trace_id == "5b8efff798038103d269b633813fc700"
    assert v1.span_id == v2.span_id == "eee19b7ec3c1b100"
    assert (v1.kind, v1.service, v1.start_ns) == (2, "my.service", 1689969302000000000)


def test_tempo_search_ids_are_padded() -> None:
    assert parse_tempo_search(fixture("tempo-api-search.json")) == ["5b8efff798038103d269b633813fc700"]
    assert parse_tempo_search({"traces": [{"traceID": "e0cee77ae5dc9c17ade3689eb2e54"}]}) == \
        ["000e0cee77ae5dc9c17ade3689eb2e54"]


def test_jaeger_v1_tags_logs_references_and_padding() -> None:
    decoded = decode_jaeger_v1(fixture("jaeger-v1-ui_01.json"))
    spans = {(s.span_id, s.name): s for s in decoded.spans}
    first = spans[("0000000000000002", "test-general-conversion")]
    assert first.trace_id == "0" * 31 + "1" and first.end_ns - first.start_ns == 5000
    assert first.events[0] == {"name": "some-event", "time_ns": 1485467191639875000, "attributes": {}}
    tagged = spans[("0000000000000002", "some-operation")]
    assert tagged.status_code == 2 and tagged.attributes["peer.ipv4"] == 23456
    assert tagged.attributes["temperature"] == 72.5 and tagged.attributes["blob"] == "00003039"
    child = spans[("0000000000000003", "some-operation")]
    assert child.parent_span_id == "0000000000000002"
    referenced = spans[("0000000000000004", "reference-test")]
    assert referenced.parent_span_id == "0000000000000002"  # the reference to another trace is not the parent
    services = {s.service for s in decoded.spans}
    assert len(services) >= 2 and "unknown_service" not in services


def test_garbage_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        decode_json(b"{not json")
    with pytest.raises(PayloadError):
        decode_json(b'{"resourceSpans": {"oops": 1}}')
    with pytest.raises(PayloadError):
        decode_protobuf(b"\xff\xff\xff\xff not protobuf")


def test_spans_with_bad_ids_are_rejected_not_stored() -> None:
    document = fixture("otlp-example-trace.json")
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "xyz"
    decoded = decode_json(document)
    assert decoded.spans == [] and decoded.rejected == 1 and "traceId" in decoded.reasons[0]


def test_ids_and_traceparents() -> None:
    assert otlp_id("W47/95gDgQPSabYzgT/HAA==", 16) == "5b8efff798038103d269b633813fc700"
    assert otlp_id("0" * 32, 16) is None
    assert parse_trace_reference("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01") == \
        "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parse_trace_reference("4bf92f3577b34da6a3ce929d0e0e4736") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parse_trace_reference("not-a-trace") is None and parse_trace_reference(None) is None
