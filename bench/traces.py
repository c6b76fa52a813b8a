"""Trace benchmarks: sustained OTLP ingest through the receiver into SQLite, and trace lookup by
business key with many spans stored."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from bench.load import write_batches
from collectors.ingest import SpanIngest
from collectors.otlp import SpanRecord
from collectors.receiver import OtlpReceiver
from concord.clock import FrozenClock
from concord.config import ReceiverConfig, TracesConfig
from concord.store import open_store
from concord.store.spans import store_spans, trace_spans, traces_for_key
from demo.tracing import ShopTracer

BATCH = 512
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def sdk_batches(total_spans: int, seed: int = 1) -> list[bytes]:
    """Distinct spans from the SDK (5 per order), encoded once per batch of 512 with the SDK's encoder."""
    tracer = ShopTracer(seed)
    start = NOW - timedelta(hours=1)
    for order in range(total_spans // 5 + 1):
        at = start + timedelta(milliseconds=order)
        root = tracer.span("order-service", "checkout", at, at + timedelta(milliseconds=40),
                           attributes={"order.id": order})
        for name, service in (("payment.create", "payment-service"), ("gateway.charge", "payment-service"),
                              ("payment.callback", "payment-service"), ("inventory.deduct", "inventory-service")):
            tracer.span(service, name, at, at + timedelta(milliseconds=20), root,
                        {"order.id": order, "payment.id": order + 7})
    spans = tracer.exporter.spans[:total_spans]
    return [encode_spans(spans[i:i + BATCH]).SerializeToString() for i in range(0, len(spans), BATCH)]


def measure_ingest(total_spans: int, connections: int = 2) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="concord-ingest-"))
    batches = sdk_batches(total_spans)
    write_batches(work / "batches.bin", batches)
    store = open_store(f"sqlite:///{work / 'store.db'}")
    ingest = SpanIngest(store, TracesConfig(index_attributes=["order.id", "payment.id"]), FrozenClock(NOW))
    receiver = OtlpReceiver(ingest.write, ReceiverConfig(port=0, max_concurrent_writes=2)).start()
    cpu_before = time.process_time()
    result = subprocess.run([sys.executable, "-m", "bench.load", receiver.endpoint, str(work / "batches.bin"),
                             str(connections)], capture_output=True, text=True, check=True)
    cpu = time.process_time() - cpu_before
    receiver.stop()
    load = json.loads(result.stdout)
    spans = receiver.stats.spans_accepted
    store.dispose()
    return {"spans": spans, "seconds": load["seconds"], "spans_per_second": spans / load["seconds"],
            "receiver_cpu_seconds": cpu, "receiver_cpu_share": cpu / load["seconds"], "retried": load["retried"],
            "connections": connections}


def measure_lookup(total_spans: int, lookups: int = 2000) -> dict[str, Any]:
    """Fill a store with `total_spans` spans (5 per trace, order.id indexed), then time key lookups."""
    work = Path(tempfile.mkdtemp(prefix="concord-lookup-"))
    store = open_store(f"sqlite:///{work / 'store.db'}")
    traces = total_spans // 5
    rng = random.Random(3)
    started = time.perf_counter()
    fill_spans(store, traces)
    fill_seconds = time.perf_counter() - started
    keys = [rng.randrange(traces) for _ in range(lookups)]
    key_ms, trace_ms = [], []
    with store.read() as connection:
        for key in keys:
            t0 = time.perf_counter()
            (trace_id,) = traces_for_key(connection, "order.id", key)
            t1 = time.perf_counter()
            assert len(trace_spans(connection, trace_id)) == 5
            t2 = time.perf_counter()
            key_ms.append((t1 - t0) * 1000)
            trace_ms.append((t2 - t1) * 1000)
    store.dispose()
    size = sum(p.stat().st_size for p in work.glob("store.db*"))
    return {"spans": traces * 5, "fill_seconds": fill_seconds, "store_mb": size / 1e6,
            "key_p50_ms": statistics.median(key_ms), "key_p99_ms": _p99(key_ms),
            "trace_p50_ms": statistics.median(trace_ms), "trace_p99_ms": _p99(trace_ms)}


def fill_spans(store: Any, traces: int, seed: int = 3) -> None:
    """`traces` traces of five spans each, `order.id` indexed, written in transactions of 10,000 spans."""
    rng = random.Random(seed)
    for first in range(0, traces, 2000):
        records = []
        for order in range(first, min(first + 2000, traces)):
            trace = f"{rng.getrandbits(128):032x}"
            for n, name in enumerate(("checkout", "payment.create", "gateway.charge", "payment.callback",
                                      "inventory.deduct")):
                records.append(SpanRecord(trace, f"{rng.getrandbits(64):016x}", None, "svc", name, 1,
                                          n, n + 10, 0, "", {"order.id": order}, []))
        with store.begin() as connection:
            store_spans(connection, records, NOW, ["order.id"])


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
