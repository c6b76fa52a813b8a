"""Scale benchmarks on the real MariaDB and PostgreSQL servers (run by `make bench`, sizes from SIZES):
the same rule three ways (Concord's pushdown vs the hand-written anti-join; Concord across two servers vs
the naive pandas merge, with peak memory), and incremental cost at two table sizes with one window."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import pymysql

from bench.peer_runs import run_peer
from bench.scale_data import (
    MARIADB,
    START,
    ensure_changed_payments,
    ensure_ledger_in_postgres,
    ensure_shop,
    mariadb_url,
    postgres_url,
)

HAND_SQL = ("SELECT o.* FROM orders o LEFT JOIN stock_ledger l ON l.order_id = o.id AND l.op = 'DEDUCT' "
            "WHERE o.status = 'PAID' AND l.order_id IS NULL")


def child(*args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-W", "ignore", "-m", "bench.child", *args], capture_output=True,
                            text=True)
    if result.returncode:
        raise SystemExit(f"bench: case {args[0]} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def hand_written(database: str) -> dict[str, Any]:
    connection = pymysql.connect(**MARIADB, database=database)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(HAND_SQL)
        rows = cursor.fetchall()
    seconds = time.perf_counter() - started
    connection.close()
    return {"seconds": seconds, "count": len(rows)}


def measure_scale(orders: int, seed: int, repeat: int) -> dict[str, Any]:
    shop = ensure_shop(orders, seed)
    stock = ensure_ledger_in_postgres(orders, seed)
    same = [child("concord-exists", mariadb_url(shop), mariadb_url(shop)) for _ in range(repeat)]
    hand = [hand_written(shop) for _ in range(repeat)]
    cross = [child("concord-exists", mariadb_url(shop), postgres_url(stock)) for _ in range(repeat)]
    naive = [child("naive-pandas", shop, stock) for _ in range(repeat)]
    counts = {r["count"] for r in same + hand + cross + naive}
    if len(counts) != 1:
        raise SystemExit(f"bench: the ways disagree on the failing orders: {counts}")
    return {"orders": orders, "failing": counts.pop(),
            "same_s": _median(same), "hand_s": _median(hand), "cross_s": _median(cross), "naive_s": _median(naive),
            "cross_mb": max(r["peak_mb"] for r in cross), "naive_mb": max(r["peak_mb"] for r in naive),
            "same_mb": max(r["peak_mb"] for r in same)}


def measure_incremental(orders: int, seed: int, repeat: int, window_rows: int = 10_000) -> dict[str, Any]:
    """One window of `window_rows` paid orders at the end of a table of `orders` orders."""
    database = ensure_shop(orders, seed, orders_only=True)
    step = (365 * 86400) / orders
    end = START + timedelta(seconds=orders * step + 20)
    start = START + timedelta(seconds=(orders - window_rows / 0.9) * step + 10)
    runs = [child("concord-incremental", mariadb_url(database), _utc(start), _utc(end)) for _ in range(repeat)]
    return {"orders": orders, "seconds": _median(runs), "rows": runs[0]["rows"]}


def _utc(moment: datetime) -> str:
    return moment.isoformat() + "+00:00"


def _median(results: list[dict[str, Any]]) -> float:
    return statistics.median(r["seconds"] for r in results)


def render_scale(cases: list[dict[str, Any]], incremental: list[dict[str, Any]], repeat: int) -> str:
    lines = [
        "## At scale on MariaDB and PostgreSQL",
        "",
        "`paid implies stock deducted` over every order (full scope), 1% of paid orders never deducted. Data "
        "bulk-loaded (LOAD DATA into MariaDB, COPY into PostgreSQL) into databases named by size and seed and "
        f"reused. Median of {repeat} runs; each Concord and pandas run in a process of its own, peak RSS is the "
        "process's own `VmHWM`.",
        "",
        "| orders | failing | Concord pushdown (s) | hand-written anti-join (s) | ratio "
        "| Concord MariaDB→PostgreSQL (s) | peak MB | naive pandas merge (s) | peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        lines.append(f"| {c['orders']:,} | {c['failing']:,} | {c['same_s']:.2f} | {c['hand_s']:.2f} | "
                     f"{c['same_s'] / c['hand_s']:.2f} | {c['cross_s']:.2f} | {c['cross_mb']:.0f} | "
                     f"{c['naive_s']:.2f} | {c['naive_mb']:.0f} |")
    if incremental:
        lines += ["", "Incremental cost: the same window of 10,000 paid orders at the end of tables of different "
                      "sizes (orders alone, MariaDB, index on `paid_at`).", "",
                  "| orders in the table | rows in the window | seconds |", "|---:|---:|---:|"]
        for r in incremental:
            lines.append(f"| {r['orders']:,} | {r['rows']:,} | {r['seconds']:.3f} |")
        if len(incremental) > 1:
            lines.append(f"\nRatio of the largest to the smallest table's run time: "
                         f"{incremental[-1]['seconds'] / incremental[0]['seconds']:.2f}.")
    return "\n".join(lines) + "\n"


def measure_peers(orders: int, seed: int, repeat: int) -> dict[str, Any]:
    """Soda Core vs Concord `exists` (same source); reladiff vs Concord `match` (MariaDB → PostgreSQL)."""
    shop = ensure_shop(orders, seed)
    copy = ensure_changed_payments(orders, seed)
    soda = [run_peer("soda", "soda_scan.py", shop) for _ in range(repeat)]
    exists = [child("concord-payments-exist", mariadb_url(shop), mariadb_url(shop)) for _ in range(repeat)]
    if {r["count"] for r in soda} != {r["count"] for r in exists}:
        raise SystemExit(f"bench: Soda and Concord disagree on payments without a stock movement: "
                         f"{[r['count'] for r in soda]} vs {[r['count'] for r in exists]}")
    reladiff = [run_peer("reladiff", "reladiff_diff.py", shop, copy) for _ in range(repeat)]
    match = [child("concord-payments-match", mariadb_url(shop), postgres_url(copy)) for _ in range(repeat)]
    return {"orders": orders, "soda_missing": soda[0]["count"],
            "soda_s": _median(soda), "soda_mb": max(r["peak_mb"] for r in soda),
            "exists_s": _median(exists), "exists_mb": max(r["peak_mb"] for r in exists),
            "reladiff_s": _median(reladiff), "reladiff_mb": max(r["peak_mb"] for r in reladiff),
            "match_s": _median(match), "match_mb": max(r["peak_mb"] for r in match),
            "changed": reladiff[0]["count"], "match_found": match[0]["count"],
            "same_keys": reladiff[0]["keys"] == match[0]["keys"]}


def render_peers(cases: list[dict[str, Any]], repeat: int) -> str:
    lines = [
        "## Peers",
        "",
        "Each peer in a virtual environment of its own (`.venv-peers/`, installed on first use), each run in a "
        "process of its own; only the scan or diff is timed, not the interpreter's start nor the imports, on "
        f"both sides. Median of {repeat} runs; peak RSS is the process's `VmHWM`.",
        "",
        "Soda Core 3.5.6 (`soda-core-mysql`, mysql-connector-python 8.4): `checks for payments: values in "
        "(order_id) must exist in stock_ledger (order_id)`, against Concord's `exists` rule on the same MariaDB "
        "source (Concord pushes one anti-join down and also stores every failing payment as a violation; Soda "
        "counts them).",
        "",
        "| orders | payments without a movement | Soda Core (s) | peak MB | Concord `exists` (s) | peak MB "
        "| ratio Concord / Soda |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        lines.append(f"| {c['orders']:,} | {c['soda_missing']:,} | {c['soda_s']:.2f} | {c['soda_mb']:.0f} | "
                     f"{c['exists_s']:.2f} | {c['exists_mb']:.0f} | {c['exists_s'] / c['soda_s']:.2f} |")
    lines += [
        "",
        "reladiff 0.6 (checksummed-segment bisection, defaults) diffing `payments` in MariaDB against "
        "`payments_changed` in PostgreSQL on `amount` (0.1% of rows updated), against Concord's `match` rule "
        "on the same tables (keyset pages of the driver, `IN (…)` lookups on the target).",
        "",
        "| orders | rows changed | reladiff (s) | peak MB | Concord `match` (s) | peak MB | ratio Concord / "
        "reladiff | same keys |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in cases:
        lines.append(f"| {c['orders']:,} | {c['changed']:,} | {c['reladiff_s']:.2f} | {c['reladiff_mb']:.0f} | "
                     f"{c['match_s']:.2f} | {c['match_mb']:.0f} | {c['match_s'] / c['reladiff_s']:.2f} | "
                     f"{'yes' if c['same_keys'] else 'NO'} ({c['match_found']:,} vs {c['changed']:,}) |")
    return "\n".join(lines) + "\n"
