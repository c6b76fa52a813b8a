"""The OTLP/HTTP receiver with real clients over a real socket: the SDK's exporter for protobuf (plain,
gzip, deflate), http.client for JSON and chunked bodies, and every refusal with its status."""

from __future__ import annotations

import gzip
import http.client
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from collectors.ingest import SpanIngest
from collectors.receiver import OtlpReceiver
from concord.clock import FrozenClock
from concord.config import ReceiverConfig, TracesConfig
from concord.store import open_store
from concord.store.schema import span_keys, spans
from demo.tracing import otlp_request
from tests.conftest import NOW
from tests.traces import order_spans, trace_of


class Running:
    def __init__(self, tmp_path: Path, **receiver: object) -> None:
        self.path = tmp_path / "store.db"
        self.store = open_store(f"sqlite:///{self.path}", busy_timeout=0.2)
        config = TracesConfig(index_attributes=["order.id"], mask_attributes=["customer.email"])
        self.ingest = SpanIngest(self.store, config, FrozenClock(NOW))
        settings = {"port": 0, "max_body_bytes": 256 * 1024, **receiver}
        self.receiver = OtlpReceiver(self.ingest.write, ReceiverConfig(**settings)).start()

    def count(self) -> int:
        with self.store.read() as connection:
            return int(connection.execute(select(func.count()).select_from(spans)).scalar() or 0)

    def post(self, body: bytes, content_type: str, headers: dict | None = None,
             path: str = "/v1/traces") -> tuple[int, dict, bytes]:
        host, port = self.receiver.address
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), payload


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path)
    yield server
    server.receiver.stop()
    server.store.dispose()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_the_sdk_exporter_delivers_protobuf(running: Running, compression: Compression) -> None:
    batch = order_spans(40, fail_order=7)
    exporter = OTLPSpanExporter(endpoint=running.receiver.endpoint, compression=compression)
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert running.count() == 120
    with running.store.read() as connection:
        keyed = connection.execute(select(span_keys.c.trace_id).where(span_keys.c.value == "7")).scalars().all()
        attributes = connection.execute(select(spans.c.attributes).where(spans.c.name == "checkout")).scalars().first()
    assert keyed == [trace_of(batch, 7)]
    assert "example.com" not in attributes  # span attributes named in the config are masked at ingest


def test_a_duplicate_batch_is_stored_once(running: Running) -> None:
    batch = order_spans(10)
    exporter = OTLPSpanExporter(endpoint=running.receiver.endpoint)
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert running.count() == 30


def test_json_bodies_and_chunked_transfer(running: Running) -> None:
    body = json.dumps(otlp_request(order_spans(5))).encode()
    status, headers, payload = running.post(body, "application/json")
    assert (status, headers["Content-Type"], json.loads(payload)) == (200, "application/json", {})
    host, port = running.receiver.address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    chunks = (body[i:i + 700] for i in range(0, len(body), 700))
    connection.request("POST", "/v1/traces", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json", "Content-Encoding": "identity"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") is not None
    response.read()
    connection.close()
    gzipped = gzip.compress(json.dumps(otlp_request(order_spans(5, seed=2))).encode())
    assert running.post(gzipped, "application/json", {"Content-Encoding": "gzip"})[0] == 200
    assert running.count() == 30


def test_partial_success_names_the_rejected_spans(running: Running) -> None:
    document = otlp_request(order_spans(2))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-hex"
    status, _headers, payload = running.post(json.dumps(document).encode(), "application/json")
    assert status == 200
    assert json.loads(payload)["partialSuccess"]["rejectedSpans"] == "1"
    assert running.count() == 5


@pytest.mark.parametrize(("body", "content_type", "headers", "status"), [
    (b"\xff\xff\xff garbage", "application/x-protobuf", {}, 400),
    (b"{broken json", "application/json", {}, 400),
    (b"not gzip at all", "application/json", {"Content-Encoding": "gzip"}, 400),
    (b"x" * (300 * 1024), "application/x-protobuf", {}, 413),
    (gzip.compress(b"{" + b" " * (2 * 1024 * 1024) + b"}"), "application/json", {"Content-Encoding": "gzip"}, 413),
    (b"{}", "text/plain", {}, 415),
    (b"{}", "application/json", {"Content-Encoding": "br"}, 415),
])
def test_bad_requests_get_the_right_status_and_store_nothing(running: Running, body: bytes, content_type: str,
                                                             headers: dict, status: int) -> None:
    got, reply_headers, payload = running.post(body, content_type, headers)
    assert got == status
    if content_type == "application/json" and status != 415:
        assert json.loads(payload)["message"]
    if content_type == "application/x-protobuf":
        assert reply_headers["Content-Type"] == "application/x-protobuf" and payload[:1] == b"\x08"
    assert running.count() == 0


def test_unknown_path_is_404(running: Running) -> None:
    assert running.post(b"{}", "application/json", path="/v1/metrics")[0] == 404


def test_a_store_that_refuses_writes_gets_503_and_no_answered_span_is_lost(running: Running) -> None:
    blocker = sqlite3.connect(running.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the store
    body = json.dumps(otlp_request(order_spans(3))).encode()
    status, headers, _payload = running.post(body, "application/json")
    assert (status, headers["Retry-After"]) == (503, "5")
    batch = order_spans(20, seed=3)
    result: dict[str, SpanExportResult] = {}
    exporter = OTLPSpanExporter(endpoint=running.receiver.endpoint, timeout=30)
    sender = threading.Thread(target=lambda: result.setdefault("r", exporter.export(batch)))
    sender.start()
    time.sleep(1.5)  # the exporter meets 503s and backs off ...
    blocker.execute("ROLLBACK")  # ... until the store takes writes again
    blocker.close()
    sender.join(30)
    exporter.shutdown()
    assert result["r"] is SpanExportResult.SUCCESS
    assert running.receiver.stats.responses[503] >= 2
    assert running.count() == 60  # every span answered 200 is stored; the refused request stored nothing


def test_an_overloaded_store_gets_429_with_retry_after(tmp_path: Path) -> None:
    server = Running(tmp_path, max_concurrent_writes=1, queue_timeout="200ms")
    try:
        assert server.receiver.slots.acquire()  # a long write holds the only slot
        status, headers, _ = server.post(json.dumps(otlp_request(order_spans(2))).encode(), "application/json")
        assert (status, headers["Retry-After"]) == (429, "1")
        server.receiver.slots.release()
        assert server.count() == 0
    finally:
        server.receiver.stop()
        server.store.dispose()


def test_health_endpoint(running: Running) -> None:
    parsed = urlparse(running.receiver.endpoint)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200
    connection.close()
