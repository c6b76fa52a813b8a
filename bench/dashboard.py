"""Dashboard render times in a real Chromium, with a large store: the Violations page, and a violation
whose trace has 1,000 spans, each timed from navigation until drawn (the table painted; plotly's
`plotly_afterplot` for the waterfall)."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.traces import NOW, fill_spans
from collectors.otlp import SpanRecord
from concord.serve import streamlit_command
from concord.store import open_store
from concord.store.schema import violations
from concord.store.spans import store_spans
from demo.runner import build_shop

CHROMIUM = "/usr/bin/chromium"
HOOK_AFTERPLOT = """
new MutationObserver(() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!plot.__concordHooked && plot.on) {
      plot.__concordHooked = true;
      plot.on('plotly_afterplot', () => { window.__afterplot = performance.now(); });
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""
TABLE_DRAWN = """() => {
  const grid = document.querySelector('[data-testid="stDataFrame"] canvas');
  const caption = [...document.querySelectorAll('p')].some(p => p.textContent.includes('violation(s) match'));
  return grid && caption ? performance.now() : false;
}"""
WATERFALL_DRAWN = """(spans) => {
  const plot = document.querySelector('.js-plotly-plot');
  if (!plot || plot.querySelectorAll('.bars .point').length < spans) return false;
  return window.__afterplot || performance.now();
}"""


def measure_dashboard(violation_count: int, span_count: int, repeat: int = 3) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="concord-dash-"))
    shop = build_shop(work, 5, 500)
    shop.dispose()
    store = open_store(f"sqlite:///{work / 'concord.db'}")
    started = time.perf_counter()
    big_trace, violation_id, small_id = _fill(store, violation_count, span_count)
    fill_seconds = time.perf_counter() - started
    store.dispose()
    port = _free_port()
    server = subprocess.Popen(streamlit_command(port, "127.0.0.1"), env={**os.environ, "CONCORD_CONFIG":
                              str(shop.config_path)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        table_ms, waterfall_ms, table_cold, waterfall_cold, small_ms = _browse(base, violation_id, small_id, repeat)
    finally:
        server.terminate()
        server.wait(20)
    return {"violations": violation_count, "spans": span_count, "fill_seconds": fill_seconds,
            "table_ms": statistics.median(table_ms), "table_all": table_ms,
            "waterfall_ms": statistics.median(waterfall_ms), "waterfall_all": waterfall_ms,
            "table_cold_ms": table_cold, "waterfall_cold_ms": waterfall_cold, "waterfall_spans": 1000,
            "small_waterfall_ms": statistics.median(small_ms),
            "trace": big_trace}


def _fill(store: Any, violation_count: int, span_count: int) -> tuple[str, int, int]:
    """Synthetic violations over the demo's rules, many spans, and one violation whose trace has 1,000 spans."""
    rules = ["paid_implies_stock_deducted", "payment_amount_equals_order_total", "one_deduction_per_order_line",
             "statement_matches_payments"]
    first = NOW.replace(tzinfo=None) - timedelta(days=2)
    with store.begin() as connection:
        for start in range(0, violation_count, 5000):
            connection.execute(violations.insert(), [{
                "fingerprint": f"bench{n:019d}", "rule": rules[n % len(rules)], "key_text": f"[{n}]",
                "key_display": str(n), "severity": ("critical", "high", "medium", "low")[n % 4],
                "status": ("open", "open", "acknowledged", "resolved")[n % 4],
                "first_seen": first + timedelta(seconds=n), "last_seen": first + timedelta(seconds=n, minutes=5),
                "evidence": json.dumps({"row": {"id": n}, "expected": "a row", "actual": "no such row"}),
                "occurrences": 1, "reopen_count": 0} for n in range(start, min(start + 5000, violation_count))])
    fill_spans(store, max(0, (span_count - 1000) // 5), seed=11)
    trace = "f" * 32
    records = [SpanRecord(trace, f"{n + 1:016x}", None if n == 0 else f"{(n - 1) // 4 + 1:016x}",
                          f"service-{n % 7}", f"step.{n}", 1, n * 1_000_000, n * 1_000_000 + 800_000,
                          2 if n == 777 else 0, "", {"order.id": "big"}, []) for n in range(1000)]
    small = [SpanRecord("e" * 32, f"{n + 1:016x}", None if n == 0 else f"{1:016x}", "service-0", f"step.{n}", 1,
                        n * 1_000_000, n * 1_000_000 + 500_000, 0, "", {}, []) for n in range(5)]
    with store.begin() as connection:
        store_spans(connection, records + small, NOW, ["order.id"])
        small_id = connection.execute(violations.insert().values(
            fingerprint="benchsmalltrace000000000", rule=rules[0], key_text='["small"]', key_display="small",
            severity="low", status="open", first_seen=first, last_seen=first, evidence="{}", occurrences=1,
            reopen_count=0, trace_ids=json.dumps(["e" * 32]),
            hint=json.dumps({"trace_found": True, "summary": "baseline"}))).inserted_primary_key[0]
        violation_id = connection.execute(violations.insert().values(
            fingerprint="benchbigtrace00000000000", rule=rules[0], key_text='["big"]', key_display="big",
            severity="critical", status="open", first_seen=first, last_seen=first, evidence="{}", occurrences=1,
            reopen_count=0, trace_ids=json.dumps([trace]),
            hint=json.dumps({"trace_found": True, "summary": "step.777 failed", "missing_spans": [],
                             "failing_span": {"span_id": f"{778:016x}", "name": "step.777"}}))).inserted_primary_key[0]
    return trace, int(violation_id), int(small_id)


def _browse(base: str, violation_id: int, small_id: int,
            repeat: int) -> tuple[list[float], list[float], float, float, list[float]]:
    """Each measurement opens a new tab in one browser profile, as on-call clicking alert links does; the
    first (cold: scripts and plotly.js not cached yet) is reported apart from the warm ones."""
    from playwright.sync_api import sync_playwright

    table, waterfall, small = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        context.add_init_script(HOOK_AFTERPLOT)
        for _ in range(repeat + 1):
            page = context.new_page()
            page.goto(base + "/violations")
            table.append(float(page.wait_for_function(TABLE_DRAWN, polling=20, timeout=120_000).json_value()))
            page.close()
            page = context.new_page()
            page.goto(f"{base}/?violation={violation_id}")
            waterfall.append(float(page.wait_for_function(WATERFALL_DRAWN, arg=1000, polling=20,
                                                          timeout=120_000).json_value()))
            page.close()
            page = context.new_page()
            page.goto(f"{base}/?violation={small_id}")
            small.append(float(page.wait_for_function(WATERFALL_DRAWN, arg=5, polling=20,
                                                      timeout=120_000).json_value()))
            page.close()
        context.close()
        browser.close()
    return table[1:], waterfall[1:], table[0], waterfall[0], small[1:]


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the dashboard did not start within a minute")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
