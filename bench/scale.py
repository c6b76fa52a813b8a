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

from bench.scale_data import MARIADB, START, ensure_ledger_in_postgres, ensure_shop, mariadb_url, postgres_url

HAND_SQL = ("SELECT o.* FROM orders o WHERE o.status = 'PAID' AND NOT EXISTS "
            "(SELECT 1 FROM stock_ledger l WHERE l.order_id = o.id AND l.op = 'DEDUCT')")


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
