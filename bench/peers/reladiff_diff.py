"""Run under reladiff's own venv: `python reladiff_diff.py MARIADB_DB POSTGRES_DB`. Prints one JSON line.

Diffs `payments` (MariaDB) against `payments_changed` (PostgreSQL) on `amount`, keyed by `id`, with
reladiff's checksummed-segment bisection, and returns the differing keys so the harness can compare
them with Concord's findings. Only the diff is timed.
"""

import json
import sys
import time
from pathlib import Path

import reladiff


def main(mariadb_db: str, postgres_db: str) -> dict:
    left = reladiff.connect_to_table(f"mysql://root@127.0.0.1/{mariadb_db}", "payments", "id",
                                     extra_columns=("amount",))
    right = reladiff.connect_to_table(f"postgresql://postgres@127.0.0.1/{postgres_db}", "payments_changed", "id",
                                      extra_columns=("amount",))
    started = time.perf_counter()
    differences = list(reladiff.diff_tables(left, right))
    seconds = time.perf_counter() - started
    keys = sorted({int(row[0]) for _sign, row in differences})
    return {"seconds": seconds, "count": len(keys), "keys": keys}


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2])
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))
