"""`/healthz`, `/readyz` and `/metrics` for `concord run`, on the address `run.listen` names.

Its own port rather than the receiver's: the receiver may face every service's exporter, while these
answer the platform's probes and Prometheus, and must keep answering when the receiver is restarting.
`/healthz` says the supervisor lives. `/readyz` is 200 when the store answers and every child runs;
it lists each source's last state but a failing business database does not make Concord unready
(restarting Concord would not mend it; the `ConcordSourceFailing` alert is the signal).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from concord.store.db import Store
from concord.store.health import source_states


class OpsServer:
    def __init__(self, listen: str, registry: CollectorRegistry, store: Store,
                 children: Callable[[], dict[str, dict[str, Any]]], sources: list[str]) -> None:
        host, _, port = listen.rpartition(":")
        self.bind = (host or "127.0.0.1", int(port))
        self.registry, self.store, self.children, self.sources = registry, store, children, sources
        self._server: ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OpsServer:
        handler = type("OpsHandler", (_Handler,), {"ops": self})
        self._server = ThreadingHTTPServer(self.bind, handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        children = self.children()
        report: dict[str, Any] = {"children": children, "store": "ok", "sources": {}}
        ready = all(c["running"] for c in children.values())
        try:
            with self.store.read() as connection:
                connection.execute(text("SELECT 1"))
                states = source_states(connection)
        except Exception as exc:  # noqa: BLE001 - an unreachable store is the answer, not a crash
            report["store"] = f"unreachable: {type(exc).__name__}"
            return False, report
        for name in self.sources:
            state = states.get(name)
            if state is None:
                report["sources"][name] = {"state": "not checked yet"}
            elif state["failures"]:
                report["sources"][name] = {"state": "failing", "failures": state["failures"],
                                           "retry_at": _iso(state["retry_at"]), "last_error": state["last_error"]}
            else:
                report["sources"][name] = {"state": "ok", "last_ok_at": _iso(state["last_ok_at"])}
        return ready, report


class _Handler(BaseHTTPRequestHandler):
    ops: OpsServer
    server_version = "concord-ops"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: probes come every few seconds
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        if path == "/healthz":
            self._json(200, {"status": "ok", "children": self.ops.children()})
        elif path == "/readyz":
            ready, report = self.ops.readiness()
            self._json(200 if ready else 503, {"status": "ready" if ready else "not ready", **report})
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.ops.registry))
        else:
            self._json(404, {"error": "not found; try /healthz, /readyz or /metrics"})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body, default=str).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None
