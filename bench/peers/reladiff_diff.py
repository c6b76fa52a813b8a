"""Run under reladiff's own venv: `python reladiff_diff.py MARIADB_DB POSTGRES_DB`. Prints one JSON line.

Diffs `payments` (MariaDB) against `payments_changed` (PostgreSQL) on `amount`, keyed by `id`, with
reladiff's checksummed-segment bisection, and returns the differing keys so the harness can compare
them with Concord's findings. Only the diff is timed.
"""

import json
import sys
import time

import reladiff
from rss import peak_mb  # this script's folder is on sys.path


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


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2])
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))
