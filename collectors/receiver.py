"""The OTLP/HTTP trace receiver: `POST /v1/traces` in protobuf or JSON, plain, gzip or deflate.

A request is answered 200 only after its spans are committed to the store; when the store cannot
take them (busy past the queue timeout, or failing) the answer is 429 or 503 with Retry-After, so
the exporter retries and no span is silently dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from collectors.otlp import Decoded, PayloadError, SpanRecord, decode_json, decode_protobuf
from concord import metrics
from concord.config import ReceiverConfig

log = logging.getLogger("concord.receiver")
PROTOBUF, JSON = "application/x-protobuf", "application/json"
_GRPC_CODE = {400: 3, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 503: 14}
_DRAIN_LIMIT = 64 * 1024 * 1024
_REASONS = {400: "malformed", 404: "not_found", 405: "method", 413: "too_large", 415: "unsupported_media_type",
            429: "overloaded", 503: "store_unavailable"}


class BodyTooLarge(Exception):
    pass


class ReceiverStats:
    """Counters for /metrics and the benchmarks; bounded labels only (status codes and reasons)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses: Counter[int] = Counter()
        self.spans_accepted = 0
        self.spans_rejected: Counter[str] = Counter()

    def count(self, status: int, accepted: int = 0, rejected: int = 0, reason: str = "") -> None:
        """A refused request counts once under its reason, since its spans could not be counted."""
        with self.lock:
            self.responses[status] += 1
            self.spans_accepted += accepted
            if rejected:
                self.spans_rejected[reason or "invalid"] += rejected
        if accepted:
            metrics.SPANS_RECEIVED.labels("otlp_http").inc(accepted)
        if rejected:
            metrics.SPANS_REJECTED.labels(reason or "invalid").inc(rejected)
        elif status != 200:
            metrics.SPANS_REJECTED.labels(_REASONS.get(status, "other")).inc()


class OtlpReceiver:
    """Runs the HTTP server in a background thread; `write` must commit the spans or raise."""

    def __init__(self, write: Callable[[list[SpanRecord]], None], config: ReceiverConfig) -> None:
        self.write = write
        self.config = config
        self.stats = ReceiverStats()
        self.slots = threading.BoundedSemaphore(config.max_concurrent_writes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "the receiver is not started"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/v1/traces"

    def start(self) -> OtlpReceiver:
        handler = type("BoundHandler", (_Handler,), {"receiver": self})
        self._server = ThreadingHTTPServer((self.config.host, self.config.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()
        log.info("OTLP/HTTP receiver listening on %s", self.endpoint)
        return self

    def stop(self) -> None:
        """Stop accepting; requests being handled finish (their spans are stored or refused) first."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accept(self, content_type: str, body: bytes) -> Decoded:
        decoded = decode_protobuf(body) if content_type == PROTOBUF else decode_json(body)
        if decoded.spans:
            if not self.slots.acquire(timeout=self.config.queue_timeout.total_seconds()):
                raise Overloaded
            try:
                self.write(decoded.spans)
            finally:
                self.slots.release()
        return decoded


class Overloaded(Exception):
    """Every store write slot stayed busy past the queue timeout."""


class _Handler(BaseHTTPRequestHandler):
    receiver: OtlpReceiver
    protocol_version = "HTTP/1.1"
    server_version = "concord-otlp"
    _started = 0.0

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._started = time.perf_counter()
        if self.path == "/healthz":
            self._reply(200, "text/plain", b"ok\n")
        else:
            self._error(404, "text/plain", "not found; send traces with POST /v1/traces")

    def do_POST(self) -> None:  # noqa: N802
        self._started = time.perf_counter()
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.path.split("?")[0] != "/v1/traces":
            self._drain()
            return self._error(404, content_type, "not found; the OTLP trace path is /v1/traces")
        if content_type not in (PROTOBUF, JSON):
            self._drain()
            return self._error(415, content_type, f"unsupported content type '{content_type}'; send "
                                                  f"{PROTOBUF} or {JSON}")
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        if encoding not in ("identity", "gzip", "deflate"):
            self._drain()
            return self._error(415, content_type, f"unsupported content encoding '{encoding}'; use none, gzip "
                                                  "or deflate")
        limit = self.receiver.config.max_body_bytes
        try:
            body = _decompress(self._read_body(limit), encoding, limit)
            decoded = self.receiver.accept(content_type, body)
        except BodyTooLarge:
            return self._error(413, content_type, f"the request is larger than {limit} bytes; send smaller batches")
        except PayloadError as exc:
            return self._error(400, content_type, str(exc))
        except zlib.error as exc:
            return self._error(400, content_type, f"the body is not valid {encoding} data: {exc}")
        except Overloaded:
            return self._error(429, content_type, "the store is busy; retry later", retry_after=1)
        except Exception as exc:  # noqa: BLE001 - a store failure must be answered, never swallowed
            log.warning("could not store spans: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            return self._error(503, content_type, "the span store is unavailable; retry later", retry_after=5)
        self.receiver.stats.count(200, len(decoded.spans), decoded.rejected, "invalid_id")
        self._reply(200, content_type, _success(content_type, decoded))

    # -- bodies ---------------------------------------------------------------------------------------------------
    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self._drain(length)
            raise BodyTooLarge
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        parts, total, too_large = [], 0, False
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line:
                raise PayloadError("the chunked body ended early")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise PayloadError("the chunked body has a bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                break
            total += size
            chunk = self.rfile.read(size)
            self.rfile.readline(16)
            if total > limit:
                too_large = True
                if total > _DRAIN_LIMIT:
                    self.close_connection = True
                    break
            else:
                parts.append(chunk)
        if too_large:
            raise BodyTooLarge
        return b"".join(parts)

    def _drain(self, length: int | None = None) -> None:
        """Read an unwanted body so the connection stays usable; give up on huge ones and close it."""
        length = int(self.headers.get("Content-Length") or 0) if length is None else length
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    # -- answers --------------------------------------------------------------------------------------------------
    def _error(self, status: int, content_type: str, message: str, retry_after: int | None = None) -> None:
        self.receiver.stats.count(status)
        code = _GRPC_CODE.get(status, 2)
        if content_type == PROTOBUF:
            body, reply_type = _status_proto(code, message), PROTOBUF
        elif content_type == JSON:
            body, reply_type = json.dumps({"code": code, "message": message}).encode(), JSON
        else:
            body, reply_type = (message + "\n").encode(), "text/plain; charset=utf-8"
        self._reply(status, reply_type, body, {"Retry-After": str(retry_after)} if retry_after else None)

    def _reply(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        metrics.RECEIVER_SECONDS.labels(str(status)).observe(time.perf_counter() - self._started)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding == "identity":
        return body
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    else:  # deflate: zlib-wrapped as the HTTP spec says, or raw as some clients send it
        decompressor = zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    data = decompressor.decompress(body, limit + 1)
    if len(data) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge
    return data + decompressor.flush()


def _success(content_type: str, decoded: Decoded) -> bytes:
    message = "; ".join(decoded.reasons)
    if content_type == PROTOBUF:
        response = ExportTraceServiceResponse()
        if decoded.rejected:
            response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=decoded.rejected,
                                                                        error_message=message))
        return response.SerializeToString()
    if decoded.rejected:
        partial = {"rejectedSpans": str(decoded.rejected), "errorMessage": message}
        return json.dumps({"partialSuccess": partial}).encode()
    return b"{}"


def _status_proto(code: int, message: str) -> bytes:
    """google.rpc.Status {code = 1; message = 2}, encoded by hand to avoid a dependency for two fields."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
