"""The demo's spans reach Concord as a service's would: the SDK's OTLP/HTTP exporter posts them to the
receiver. And the trace side of the score: does each true violation lead to its trace, and does its
hint name the step the fault injector broke?"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import select

from collectors.ingest import SpanIngest
from collectors.receiver import OtlpReceiver
from concord.config import Config, ReceiverConfig
from concord.store import Store
from concord.store.schema import violations
from demo.faults import Fault

BATCH = 512


def send_spans(spans: list[Any], store: Store, config: Config, clock: Any) -> int:
    """Start a receiver on a free port, export every span through it with gzip, stop it; returns spans sent."""
    receiver_config = ReceiverConfig(**{**config.traces.receiver.model_dump(), "port": 0})
    receiver = OtlpReceiver(SpanIngest(store, config.traces, clock).write, receiver_config).start()
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint, compression=Compression.Gzip, timeout=30)
    try:
        for start in range(0, len(spans), BATCH):
            if exporter.export(spans[start:start + BATCH]) is not SpanExportResult.SUCCESS:
                raise RuntimeError("the receiver refused the demo's spans; see the log")
    finally:
        exporter.shutdown()
        receiver.stop()
    return receiver.stats.spans_accepted


def score_trace_links(store: Store, faults: list[Fault], expected: set[tuple[str, str]]) -> dict[str, int]:
    """Among the true violations: how many have their trace, and a hint naming the injector's step."""
    steps = {(rule, key): fault.step for fault in faults for rule, key in fault.expected_at(1) + fault.expected_at(2)}
    with store.read() as connection:
        rows = connection.execute(select(violations.c.rule, violations.c.key_text, violations.c.hint)).all()
    linked = correct = 0
    for rule, key, hint_text in rows:
        if (rule, key) not in expected:
            continue
        hint = json.loads(hint_text or "{}")
        if not hint.get("trace_found"):
            continue
        linked += 1
        failing = (hint.get("failing_span") or {}).get("name")
        if steps.get((rule, key)) in ({failing} | set(hint.get("missing_spans") or [])):
            correct += 1
    return {"violations": len(expected), "trace_linked": linked, "hint_correct": correct}
