"""`python -m bench [--sizes 10000,50000] [--repeat 3] [--ingest-spans N] [--lookup-spans N] [--output FILE]`

Times the demo's checking phase (what a newcomer waits for after `make demo` has installed); one
cross-source rule three ways side by side: Concord's keyset batches, one hand-written SQL query
(both SQLite files attached to one connection), and the naive way (read both tables whole);
sustained OTLP ingest through the receiver; and trace lookup by business key in a large span store.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dashboard import measure_dashboard
from bench.scale import measure_incremental, measure_peers, measure_scale, render_peers, render_scale
from bench.scale_data import check_disk
from bench.traces import measure_ingest, measure_lookup
from checks.engine import Checker
from checks.registry import compile_rules
from concord.clock import FrozenClock
from concord.config import load_config
from concord.store import open_store
from demo.runner import build_shop, check_and_score
from demo.simulator import FIRST_CHECK

BYTES_PER_ORDER = 12_000  # three databases, the statement, traces and the store, measured at 10k orders
BYTES_PER_SPAN = 400  # span store with its key index, measured at 1M spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SIZES", "10000"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--work", default=None, help="directory for the generated shops (default: a temp dir)")
    parser.add_argument("--ingest-spans", type=int, default=int(os.environ.get("INGEST_SPANS", "200000")))
    parser.add_argument("--lookup-spans", type=int, default=int(os.environ.get("LOOKUP_SPANS", "1000000")))
    parser.add_argument("--scale-sizes", default=os.environ.get("SCALE_SIZES", "1000000,5000000"),
                        help="orders in the MariaDB/PostgreSQL cases (empty to skip)")
    parser.add_argument("--incremental-sizes", default=os.environ.get("INCREMENTAL_SIZES", "1000000,10000000"))
    parser.add_argument("--dashboard-violations", type=int, default=100_000)
    parser.add_argument("--dashboard-spans", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(args.work or tempfile.mkdtemp(prefix="concord-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    needed = max(sizes) * BYTES_PER_ORDER * 2 + args.lookup_spans * BYTES_PER_SPAN
    free = shutil.disk_usage(work).free
    if free < needed:
        print(f"bench: needs about {needed / 1e6:.0f} MB free in {work}, has {free / 1e6:.0f} MB; "
              "free some space or pass --work on a larger disk", file=sys.stderr)
        return 2
    results = [measure(size, args.seed, args.repeat, work / f"shop-{size}-{args.seed}") for size in sizes]
    print(f"bench: ingesting {args.ingest_spans:,} spans through the receiver ...", file=sys.stderr)
    ingest = measure_ingest(args.ingest_spans)
    print(f"bench: filling a span store with {args.lookup_spans:,} spans for key lookups ...", file=sys.stderr)
    lookup = measure_lookup(args.lookup_spans)
    print(f"bench: dashboard over {args.dashboard_violations:,} violations and {args.dashboard_spans:,} spans ...",
          file=sys.stderr)
    dashboard = measure_dashboard(args.dashboard_violations, args.dashboard_spans, args.repeat)
    scale_sizes = [int(x) for x in args.scale_sizes.split(",") if x.strip()]
    incremental_sizes = [int(x) for x in args.incremental_sizes.split(",") if x.strip()]
    for size in scale_sizes + incremental_sizes:
        check_disk(size, work)
    scale = []
    for size in scale_sizes:
        print(f"bench: {size:,} orders on MariaDB and PostgreSQL (loaded once, then reused) ...", file=sys.stderr)
        scale.append(measure_scale(size, args.seed, args.repeat))
    peers = []
    for size in scale_sizes:
        print(f"bench: {size:,} orders, Concord beside Soda Core and reladiff ...", file=sys.stderr)
        peers.append(measure_peers(size, args.seed, args.repeat))
    incremental = []
    for size in incremental_sizes:
        print(f"bench: incremental window in a table of {size:,} orders ...", file=sys.stderr)
        incremental.append(measure_incremental(size, args.seed, args.repeat))
    command = (f"`make bench` (SIZES={args.sizes} SCALE_SIZES={args.scale_sizes or 'none'} "
               f"INCREMENTAL_SIZES={args.incremental_sizes or 'none'})")
    report = (render(results, args.repeat).replace("`make bench`", command, 1) + "\n"
              + render_traces(ingest, lookup) + "\n"
              + render_dashboard(dashboard)
              + ("\n" + render_scale(scale, incremental, args.repeat) if scale or incremental else "")
              + ("\n" + render_peers(peers, args.repeat) if peers else ""))
    print(report)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(report, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def measure(size: int, seed: int, repeat: int, directory: Path) -> dict[str, Any]:
    started = time.perf_counter()
    shop = build_shop(directory, seed, size)
    build_seconds = time.perf_counter() - started
    shop.dispose()
    first, second, score = [], [], None
    for _ in range(repeat):  # each repeat starts from a fresh store and the shop as at the first check
        shop = build_shop(directory, seed, size)
        for stale in directory.glob("concord.db*"):
            stale.unlink()
        report = check_and_score(shop)
        shop.dispose()
        first.append(report["timings"]["first_check_seconds"])
        second.append(report["timings"]["second_check_seconds"])
        score = report["ground_truth"]
    return {"size": size, "seed": seed, "build": build_seconds, "first": first, "second": second,
            "precision": score["precision"], "recall": score["recall"],
            "rule": compare_one_rule(directory, repeat)}


def compare_one_rule(directory: Path, repeat: int) -> dict[str, list[float]]:
    """paid_implies_stock_deducted over the whole shop (full scope), three ways; all must agree."""
    orders, inventory = directory / "orders.db", directory / "inventory.db"
    timings: dict[str, list[float]] = {"concord": [], "hand_sql": [], "naive": []}
    answers: dict[str, set[int]] = {}
    config, document = load_config(directory / "concord.yaml")
    kinds = [k for k in compile_rules(config, document) if k.name == "paid_implies_stock_deducted"]
    for _ in range(repeat):
        store_dir = Path(tempfile.mkdtemp(prefix="store-", dir=directory))
        store = open_store(f"sqlite:///{store_dir / 'bench.db'}")
        checker = Checker(config, kinds, store, FrozenClock(FIRST_CHECK))
        started = time.perf_counter()
        (outcome,) = checker.check_once(full=True)
        timings["concord"].append(time.perf_counter() - started)
        checker.close()
        store.dispose()
        shutil.rmtree(store_dir)
        answers["concord_count"] = {outcome.findings}

        cutoff = FIRST_CHECK.astimezone(_shanghai()).replace(tzinfo=None).isoformat(sep=" ")
        started = time.perf_counter()
        connection = sqlite3.connect(orders)
        connection.execute(f"ATTACH DATABASE '{inventory}' AS inv")
        rows = connection.execute(
            "SELECT o.id FROM orders o WHERE o.status IN ('PAID', 'SHIPPED') AND o.paid_at <= datetime(?, '-5 minutes')"
            " AND NOT EXISTS (SELECT 1 FROM inv.stock_ledger l WHERE l.order_id = o.id AND l.op = 'DEDUCT')",
            (cutoff,)).fetchall()
        connection.close()
        timings["hand_sql"].append(time.perf_counter() - started)
        answers["hand_sql"] = {r[0] for r in rows}

        started = time.perf_counter()
        paid = sqlite3.connect(orders).execute("SELECT id, status, paid_at FROM orders").fetchall()
        ledger = sqlite3.connect(inventory).execute("SELECT order_id, op FROM stock_ledger").fetchall()
        deducted = {order_id for order_id, op in ledger if op == "DEDUCT"}
        limit = datetime.fromisoformat(cutoff).timestamp() - 300
        naive = {oid for oid, status, paid_at in paid if status in ("PAID", "SHIPPED") and paid_at
                 and datetime.fromisoformat(paid_at).timestamp() <= limit and oid not in deducted}
        timings["naive"].append(time.perf_counter() - started)
        answers["naive"] = naive
    if answers["hand_sql"] != answers["naive"] or answers["concord_count"] != {len(answers["naive"])}:
        raise SystemExit(f"bench: the three ways disagree: {answers}")
    return timings


def _shanghai() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def render(results: list[dict[str, Any]], repeat: int) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {machine()}",
        "",
        "## The demo's checking phase",
        "",
        "What a newcomer waits for after `make demo` has installed: every rule of `demo/concord.yaml` run "
        "twice (the first check, then the second after repairs and late commits), on three SQLite "
        f"databases. Median of {repeat} runs, each on a fresh store.",
        "",
        "| orders | build shop (s) | first check (s) | second check (s) | precision | recall |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['size']:,} | {r['build']:.2f} | {statistics.median(r['first']):.2f} | "
                     f"{statistics.median(r['second']):.2f} | {r['precision']:.2f} | {r['recall']:.2f} |")
    lines += [
        "",
        "## One cross-source rule, three ways",
        "",
        "`paid_implies_stock_deducted` over every order (orders and stock in separate SQLite files). "
        "Concord reads orders in keyset pages of 1,000 and looks each page up in the stock ledger with "
        "`IN (...)`, then stores the findings; the hand-written query attaches both files to one connection "
        "and lets SQLite join; the naive way reads both tables whole into Python. All three return the same "
        f"orders. Median of {repeat} runs, seconds.",
        "",
        "| orders | Concord (batched, with store writes) | hand-written SQL | naive (read everything) |",
        "|---:|---:|---:|---:|",
    ]
    for r in results:
        t = r["rule"]
        lines.append(f"| {r['size']:,} | {statistics.median(t['concord']):.3f} | "
                     f"{statistics.median(t['hand_sql']):.3f} | {statistics.median(t['naive']):.3f} |")
    lines += ["", "The MariaDB/PostgreSQL cases at scale, and the peers (Soda Core, reladiff), are below.", ""]
    return "\n".join(lines)


def render_traces(ingest: dict[str, Any], lookup: dict[str, Any]) -> str:
    return "\n".join([
        "## Trace ingest",
        "",
        f"{ingest['spans']:,} distinct spans made by the OpenTelemetry SDK, encoded once in batches of 512 with the "
        "SDK's own protobuf encoder, replayed by a separate process over "
        f"{ingest['connections']} keep-alive connections to `POST /v1/traces`; each request is answered only "
        "after its spans and their key-index entries are committed to SQLite (WAL).",
        "",
        "| spans | seconds | spans/s | receiver CPU (s) | receiver CPU share of one core | retried requests |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {ingest['spans']:,} | {ingest['seconds']:.2f} | {ingest['spans_per_second']:,.0f} | "
        f"{ingest['receiver_cpu_seconds']:.2f} | {ingest['receiver_cpu_share']:.0%} | {ingest['retried']} |",
        "",
        "## Trace lookup by business key",
        "",
        f"A span store of {lookup['spans']:,} spans ({lookup['spans'] // 5:,} traces, `order.id` indexed; "
        f"{lookup['store_mb']:,.0f} MB, filled in {lookup['fill_seconds']:.0f} s). Each lookup finds the trace "
        "ids of one order in the key index, then reads that trace's spans, as the dashboard does.",
        "",
        "| stored spans | key → trace ids p50 (ms) | p99 (ms) | trace → spans p50 (ms) | p99 (ms) |",
        "|---:|---:|---:|---:|---:|",
        f"| {lookup['spans']:,} | {lookup['key_p50_ms']:.3f} | {lookup['key_p99_ms']:.3f} | "
        f"{lookup['trace_p50_ms']:.3f} | {lookup['trace_p99_ms']:.3f} |",
        "",
    ])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    except (OSError, IndexError):
        memory = "?"
    return (f"Machine: {os.cpu_count()} cores ({cpu}), {memory} GiB, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}.")



def render_dashboard(result: dict[str, Any]) -> str:
    return "\n".join([
        "## Dashboard in Chromium",
        "",
        f"A store with {result['violations']:,} violations and {result['spans']:,} spans; the dashboard served by "
        "Streamlit, driven by Debian's Chromium through Playwright. Each figure is milliseconds from navigation "
        "(a new tab in one browser profile, as on-call opening alert links) until drawn: the Violations table "
        "painted, or the waterfall's bars drawn (`plotly_afterplot`). Median of the warm runs; the first, cold "
        "run (scripts and plotly.js not cached yet) is shown apart.",
        "",
        "| page | warm median (ms) | cold first run (ms) |",
        "|---|---:|---:|",
        f"| Violations (first page of {result['violations']:,}) | {result['table_ms']:,.0f} | "
        f"{result['table_cold_ms']:,.0f} |",
        f"| Violation with a {result['waterfall_spans']:,}-span waterfall | {result['waterfall_ms']:,.0f} | "
        f"{result['waterfall_cold_ms']:,.0f} |",
        f"| Violation with a 5-span waterfall (baseline: a page with any plotly chart) | "
        f"{result['small_waterfall_ms']:,.0f} | |",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
