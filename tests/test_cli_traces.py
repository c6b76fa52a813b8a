"""`concord collect` as a process (receiver and file tailing, stopped by SIGTERM) and `concord trace`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import create_engine, text

from concord.cli import main
from demo.tracing import otlp_request
from tests.traces import order_spans, trace_of


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_collect_receives_and_tails_until_sigterm_then_trace_shows_it(tmp_path: Path, capsys) -> None:
    port = free_port()
    from_file = order_spans(3, seed=8, fail_order=2)
    (tmp_path / "spans.jsonl").write_text(json.dumps(otlp_request(from_file)) + "\n")
    config = tmp_path / "concord.yaml"
    config.write_text(json.dumps({
        "store": {"url": "sqlite:///store.db"},
        "traces": {"receiver": {"port": port}, "files": ["spans.jsonl"], "index_attributes": ["order.id"]},
    }))
    concord = Path(sys.executable).with_name("concord")
    process = subprocess.Popen([str(concord), "collect", "--config", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the receiver did not come up"
                time.sleep(0.2)
        sent = order_spans(10, seed=9)
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        assert exporter.export(sent) is SpanExportResult.SUCCESS
        exporter.shutdown()
        time.sleep(1.5)  # one file pass
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM spans")).scalar() == 39
    engine.dispose()

    capsys.readouterr()
    assert main(["trace", trace_of(from_file, 2), "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "3 spans" in shown and "inventory-service inventory.deduct" in shown and "ERROR" in shown
    assert main(["trace", "ab" * 16, "--config", str(config)]) == 1
    assert "not in the span store" in capsys.readouterr().err
