"""The store's tables as the newest migration leaves them (migrations/ is the source of truth for changes).

Times are naive UTC everywhere in the store, so SQLite, MariaDB and PostgreSQL compare them alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(100), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("status", String(10), nullable=False),  # running | ok | error
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("window_start", DateTime),
    Column("window_end", DateTime),
    Column("rows_checked", Integer, nullable=False, default=0),
    Column("findings", Integer, nullable=False, default=0),
    Column("opened", Integer, nullable=False, default=0),
    Column("resolved", Integer, nullable=False, default=0),
    Column("reopened", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("sampled", Integer),  # sampled runs: rows drawn, rows failing, 95% Wilson interval of the rate
    Column("sample_failing", Integer),
    Column("rate_low", Float),
    Column("rate_high", Float),
    Column("owner", String(120)),  # which checker process ran it
    Index("ix_runs_rule_started", "rule", "started_at"),
)

violations = Table(
    "violations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(24), nullable=False, unique=True),
    Column("rule", String(100), nullable=False),
    Column("key_text", Text, nullable=False),
    Column("key_display", String(500), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(16), nullable=False),  # open | acknowledged | muted | resolved
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("resolved_at", DateTime),
    Column("evidence", Text, nullable=False),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("last_run_id", Integer),
    Column("muted_until", DateTime),
    Column("ttc_seconds", Float),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("trace_ids", Text),  # JSON list of hex trace ids, or null when not looked up yet
    Column("hint", Text),  # JSON root-cause hint: failing span, missing expected spans, last service
    Index("ix_violations_rule_status", "rule", "status"),
    Index("ix_violations_status_last_seen", "status", "last_seen"),
)

violation_events = Table(
    "violation_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("violation_id", Integer, ForeignKey("violations.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("note", Text),
    Column("run_id", Integer),
)

watermarks = Table(
    "watermarks", metadata,
    Column("rule", String(100), primary_key=True),
    Column("value", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

spans = Table(
    "spans", metadata,
    Column("trace_id", String(32), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("parent_span_id", String(16)),
    Column("service", String(200), nullable=False),
    Column("name", String(300), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("status_message", Text),
    Column("attributes", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("ix_spans_received_at", "received_at"),
)

span_keys = Table(
    "span_keys", metadata,
    Column("attribute", String(100), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("trace_id", String(32), primary_key=True),
    Column("received_at", DateTime, nullable=False),
)

collector_offsets = Table(
    "collector_offsets", metadata,
    Column("path", String(500), primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("inode", String(40)),
    Column("updated_at", DateTime, nullable=False),
)

remote_trace_searches = Table(
    "remote_trace_searches", metadata,
    Column("backend", String(200), primary_key=True),
    Column("query", String(500), primary_key=True),
    Column("trace_ids", Text, nullable=False),
    Column("searched_at", DateTime, nullable=False),
)

rule_leases = Table(
    "rule_leases", metadata,
    Column("rule", String(100), primary_key=True),
    Column("owner", String(120), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

checkers = Table(
    "checkers", metadata,
    Column("owner", String(120), primary_key=True),
    Column("heartbeat_at", DateTime, nullable=False),
)

alert_outbox = Table(
    "alert_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("violation_id", Integer, nullable=False),
    Column("rule", String(100), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("event", String(20), nullable=False),  # opened | reopened | resolved
    Column("at", DateTime, nullable=False),
    Column("grouped_at", DateTime),  # null until the dispatcher put it into a notification
    Index("ix_alert_outbox_pending", "grouped_at", "rule"),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("channel", String(100), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("event", String(20), nullable=False),
    Column("violation_ids", Text, nullable=False),  # JSON list
    Column("title", Text, nullable=False),  # rendered once, so every retry sends the very same message
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("state", String(10), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("last_error", Text),
    Index("ix_notifications_due", "state", "next_attempt_at"),
)

source_health = Table(
    "source_health", metadata,
    Column("source", String(100), primary_key=True),
    Column("failures", Integer, nullable=False),  # consecutive; 0 once a run on it succeeds
    Column("retry_at", DateTime),
    Column("last_error", Text),
    Column("last_ok_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
)

OPEN_STATUSES = ("open", "acknowledged", "muted")
