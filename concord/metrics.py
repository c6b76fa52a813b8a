"""Concord's own Prometheus metrics, recorded where the work happens (checker, receiver, notifier).

Under `concord run` each child writes them to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode) and the supervisor serves the sum at `/metrics`, together with what it reads from
the store at scrape time (see concord/metrics_store.py). Labels are bounded by the config: rule,
scope, source, channel, reason, never a key, a trace id or a user's value.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RUNS = Counter("concord_runs_total", "Runs of a rule, by scope and outcome (ok, error, skipped, fenced).",
               ["rule", "scope", "status"])
RUN_SECONDS = Histogram("concord_run_duration_seconds", "Wall time of a run of a rule.", ["rule", "scope"],
                        buckets=DURATION_BUCKETS)
ROWS_CHECKED = Counter("concord_rows_checked_total", "Driver rows a rule's runs judged.", ["rule"])
SOURCE_ERRORS = Counter("concord_source_errors_total", "Runs that failed because of this source.", ["source"])
SPANS_RECEIVED = Counter("concord_spans_received_total", "Spans accepted and stored.", ["transport"])
SPANS_REJECTED = Counter("concord_spans_rejected_total",
                         "Spans (or whole requests, counted as one when undecodable) refused, by reason.",
                         ["reason"])
RECEIVER_SECONDS = Histogram("concord_receiver_request_duration_seconds",
                             "Time from a request's arrival to its answer.", ["code"], buckets=FAST_BUCKETS)
STORE_WRITE_SECONDS = Histogram("concord_store_write_duration_seconds",
                                "Time of one store write transaction, by what it wrote.", ["what"],
                                buckets=FAST_BUCKETS)
NOTIFICATIONS = Counter("concord_notifications_total",
                        "Direct notifications by channel and result (sent, failed, given_up).",
                        ["channel", "result"])
CHILD_RESTARTS = Counter("concord_child_restarts_total", "Children of `concord run` restarted after an exit.",
                         ["child"])
