"""Run under Soda Core's own venv: `python soda_scan.py DATABASE`. Prints one JSON line.

The reference check Concord's `exists` rule is compared with; Soda builds the anti-join in MariaDB
and reports the number of missing rows. Only `scan.execute()` is timed, not importing Soda.
"""

import json
import sys
import time

from rss import peak_mb  # this script's folder is on sys.path
from soda.scan import Scan

CHECK = "checks for payments:\n  - values in (order_id) must exist in stock_ledger (order_id)\n"


def main(database: str) -> dict:
    scan = Scan()
    scan.set_data_source_name("shop")
    scan.add_configuration_yaml_str(
        "data_source shop:\n  type: mysql\n  host: 127.0.0.1\n  port: 3306\n  username: root\n"
        f"  password: ''\n  database: {database}\n")
    scan.add_sodacl_yaml_str(CHECK)
    started = time.perf_counter()
    scan.execute()
    seconds = time.perf_counter() - started
    if scan.has_error_logs():
        raise SystemExit(scan.get_error_logs_text())
    (check,) = scan._checks
    return {"seconds": seconds, "count": int(check.check_value), "outcome": str(check.outcome)}


if __name__ == "__main__":
    result = main(sys.argv[1])
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))
