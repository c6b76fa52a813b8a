"""OTLP JSON lines files read incrementally, and Jaeger and Tempo pulled over HTTP from a server that
serves those projects' own documents."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from collectors.ingest import SpanIngest
from collectors.otlp import decode_json
from collectors.otlp_files import read_new_spans
from collectors.remote import TraceBackend, TraceBackendError
from concord.clock import FrozenClock
from concord.config import TraceBackendConfig, TracesConfig
from concord.store import open_store
from concord.store.schema import span_keys, spans
from demo.tracing import otlp_request
from tests.conftest import NOW
from tests.traces import order_spans

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"


def count(store) -> int:
    with store.read() as connection:
        return int(connection.execute(select(func.count()).select_from(spans)).scalar() or 0)


def line(seed: int, orders: int = 2) -> bytes:
    return json.dumps(otlp_request(order_spans(orders, seed=seed))).encode() + b"\n"


def test_a_file_is_read_incrementally_across_restarts_and_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    ingest = SpanIngest(store, TracesConfig(), FrozenClock(NOW))
    first, second, third = line(1), line(2), line(3)
    path.write_bytes(first + second[:50])  # the exporter is still writing the second line
    assert read_new_spans(path, ingest).spans == 6
    assert read_new_spans(path, ingest).spans == 0  # the partial line waits
    with path.open("ab") as handle:
        handle.write(second[50:])
    restarted = SpanIngest(open_store(f"sqlite:///{tmp_path / 'store.db'}"), TracesConfig(), FrozenClock(NOW))
    result = read_new_spans(path, restarted)  # a new process goes on from the stored offset
    assert (result.lines, result.spans) == (1, 6)
    with path.open("ab") as handle:
        handle.write(b"this line is not JSON\n" + third)
    result = read_new_spans(path, restarted)
    assert (result.lines, result.bad_lines, result.spans) == (2, 1, 6)
    assert count(store) == 18
    path.unlink()
    path.write_bytes(line(4))  # rotated: a new file under the same name is read from its start
    assert read_new_spans(path, restarted).spans == 6 and count(store) == 24
    assert read_new_spans(tmp_path / "missing.jsonl", restarted).spans == 0


class FixtureServer:
    """Answers like Jaeger and Tempo do, from their own documents; records what was asked."""

    ROUTES = {
        "/jaeger/api/traces/0000000000000001": "jaeger-v1-ui_01.json",
        "/jaeger/api/v3/traces/00000000000000000000000000000001": "jaeger-v3-GetTrace.json",
        "/jaeger/api/v3/traces": "jaeger-v3-FindTraces.json",
        "/tempo/api/traces/5b8efff798038103d269b633813fc700": "tempo-api-traces-v1.json",
        "/tempo/api/v2/traces/5b8efff798038103d269b633813fc700": "tempo-api-v2-traces.json",
        "/tempo/api/search": "tempo-api-search.json",
    }

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                outer.requests.append((url.path, parse_qs(url.query)))
                name = outer.ROUTES.get(url.path)
                if name is None and url.path.startswith("/jaeger/api/traces/"):
                    name = outer.ROUTES["/jaeger/api/traces/0000000000000001"]
                    body = json.dumps({"data": [json.loads((FIXTURES / name).read_text())]}).encode()
                elif name is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                else:
                    body = (FIXTURES / name).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    server = FixtureServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_jaeger_v1_and_v3_and_their_search(fixture_server: FixtureServer) -> None:
    v1 = TraceBackend(TraceBackendConfig(kind="jaeger", url=fixture_server.url + "/jaeger", api="v1"))
    trace = v1.fetch("00000000000000000000000000000001")
    assert trace.spans and all(s.trace_id == "0" * 31 + "1" for s in trace.spans)
    v3 = TraceBackend(TraceBackendConfig(kind="jaeger", url=fixture_server.url + "/jaeger"))
    assert [s.name for s in v3.fetch("00000000000000000000000000000001").spans] == ["foobar"]
    assert v3.fetch("00000000000000000000000000000999").spans == []  # unknown trace: 404 is "not found"
    found = v3.search("order.id", 42, "order-service", NOW - timedelta(hours=1), NOW)
    assert found == ["00000000000000000000000000000001"]
    path, query = fixture_server.requests[-1]
    assert path == "/jaeger/api/v3/traces"
    assert json.loads(query["query.attributes"][0]) == {"order.id": "42"}
    assert query["query.service_name"] == ["order-service"] and query["query.start_time_min"][0].endswith("Z")
    with pytest.raises(TraceBackendError, match="service name"):
        v3.search("order.id", 42, None, NOW - timedelta(hours=1), NOW)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_tempo_fetch_and_traceql_search(fixture_server: FixtureServer, api: str) -> None:
    tempo = TraceBackend(TraceBackendConfig(kind="tempo", url=fixture_server.url + "/tempo", api=api))
    (span,) = tempo.fetch("5b8efff798038103d269b633813fc700").spans
    assert (span.name, span.service) == ("I am a span!", "my.service")
    assert tempo.search("order.id", "42", None, NOW - timedelta(hours=1), NOW) == ["5b8efff798038103d269b633813fc700"]
    path, query = fixture_server.requests[-1]
    assert path == "/tempo/api/search" and query["q"] == ['{ span."order.id" = "42" }']


def test_an_unreachable_backend_is_a_clear_error() -> None:
    backend = TraceBackend(TraceBackendConfig(kind="tempo", url="http://127.0.0.1:9", timeout="2s"))
    with pytest.raises(TraceBackendError, match="unreachable"):
        backend.fetch("5b8efff798038103d269b633813fc700")


def test_retention_removes_old_spans_and_their_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    clock = FrozenClock(NOW - timedelta(days=10))
    ingest = SpanIngest(store, TracesConfig(index_attributes=["order.id"], retention="7d"), clock)
    ingest.write(decode_json(otlp_request(order_spans(2, seed=1))).spans)  # received ten days ago
    clock.set(NOW)
    ingest.write(decode_json(otlp_request(order_spans(3, seed=2))).spans)
    assert ingest.purge() == 6
    assert count(store) == 9
    with store.read() as connection:
        assert connection.execute(select(func.count()).select_from(span_keys)).scalar() == 3
