"""`concord collect` (the OTLP receiver and file tailing) and `concord trace ID` (a trace as text)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from collectors.ingest import SpanIngest
from collectors.otlp_files import read_new_spans
from collectors.receiver import OtlpReceiver
from collectors.remote import TraceBackend
from concord.clock import Clock, clock_from_env
from concord.config import Config, load_config
from concord.shutdown import StopFlag
from concord.store import Store, open_store
from concord.store.spans import trace_spans

FILE_POLL_SECONDS = 1.0
PURGE_EVERY_SECONDS = 3600.0


def collect(args: argparse.Namespace) -> int:
    config, _document = load_config(args.config)
    store = open_store(config.store.url, config.base_dir)
    clock = clock_from_env()
    ingest = SpanIngest(store, config.traces, clock)
    receiver = OtlpReceiver(ingest.write, config.traces.receiver).start()
    print(f"Receiving OTLP/HTTP traces on {receiver.endpoint}; tailing {len(config.traces.files)} file(s). "
          "Stop with Ctrl-C or SIGTERM.", file=sys.stderr)
    stopping = StopFlag()
    last_purge = 0.0
    try:
        while not stopping.raised:
            for name in config.traces.files:
                read_new_spans(_resolve(config, name), ingest)
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                ingest.purge()
                last_purge = time.monotonic()
            time.sleep(FILE_POLL_SECONDS)
    finally:
        receiver.stop()  # requests in flight finish first: every span answered 200 is stored
        store.dispose()
    return 0


def show_trace(args: argparse.Namespace) -> int:
    config, _document = load_config(args.config)
    store = open_store(config.store.url, config.base_dir)
    try:
        spans = _spans(store, config, clock_from_env(), args.trace_id.lower())
    finally:
        store.dispose()
    if not spans:
        print(f"concord: trace {args.trace_id} is not in the span store"
              + (" nor in the configured backend" if config.traces.backend else "")
              + "; check the id, or collect traces first (`concord collect`)", file=sys.stderr)
        return 1
    sys.stdout.write(render_tree(spans))
    return 0


def _spans(store: Store, config: Config, clock: Clock, trace_id: str) -> list[dict]:
    with store.read() as connection:
        spans = trace_spans(connection, trace_id)
    if spans or config.traces.backend is None:
        return spans
    decoded = TraceBackend(config.traces.backend).fetch(trace_id)
    if decoded.spans:
        SpanIngest(store, config.traces, clock).write(decoded.spans)
    with store.read() as connection:
        return trace_spans(connection, trace_id)


def render_tree(spans: list[dict]) -> str:
    """Spans nested under their parents, with offsets from the trace start and errors marked."""
    by_parent: dict[str | None, list[dict]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        by_parent.setdefault(parent, []).append(span)
    start = min(s["start_ns"] for s in spans)
    lines = [f"trace {spans[0]['trace_id']}: {len(spans)} spans"]

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s["start_ns"]):
            offset = (span["start_ns"] - start) / 1e6
            duration = (span["end_ns"] - span["start_ns"]) / 1e6
            mark = "  ERROR " + (span["status_message"] or "") if span["status_code"] == 2 else ""
            lines.append(f"{'  ' * depth}+{offset:,.0f}ms {span['service']} {span['name']} ({duration:,.1f}ms){mark}")
            walk(span["span_id"], depth + 1)

    walk(None, 1)
    return "\n".join(lines) + "\n"


def _resolve(config: Config, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else config.base_dir / path
