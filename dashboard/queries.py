"""What the pages read from the store, filtered, sorted and paged in SQL; plain functions, no Streamlit.

Pages never hold SQL: they call these (through dashboard.data's caches) and draw what comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from concord.config import SEVERITY_RANK
from concord.store.queries import ViolationFilter, filter_conditions, needs_attention
from concord.store.runs import naive_utc
from concord.store.schema import OPEN_STATUSES, runs, span_keys, spans, violation_events, violations
from concord.store.spans import trace_spans

SORTABLE = {"last_seen": violations.c.last_seen, "first_seen": violations.c.first_seen,
            "severity": violations.c.severity, "rule": violations.c.rule, "status": violations.c.status,
            "key": violations.c.key_display, "id": violations.c.id}


@dataclass(frozen=True)
class TableQuery:
    """The Violations page's filters, as a hashable value so results can be cached per filter."""

    statuses: tuple[str, ...] = OPEN_STATUSES
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    key_contains: str = ""
    sort: str = "last_seen"
    descending: bool = True
    page: int = 0
    page_size: int = 50
    rule_sources: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def conditions(self) -> list[Any]:
        flt = ViolationFilter(statuses=list(self.statuses), severities=list(self.severities),
                              rules=self.rules_in_scope(), since=self.since, key_contains=self.key_contains or None)
        conditions = filter_conditions(flt)
        if self.until is not None:
            conditions.append(violations.c.last_seen <= naive_utc(self.until))
        return conditions

    def rules_in_scope(self) -> list[str]:
        """Rules picked directly, narrowed to those reading one of the picked sources."""
        rules = set(self.rules) if self.rules else None
        if self.sources:
            by_source = {name for name, sources in self.rule_sources if set(sources) & set(self.sources)}
            rules = by_source if rules is None else rules & by_source
            if not rules:
                return ["\x00no rule reads these sources"]
        return sorted(rules) if rules is not None else []


def violation_page(connection: Connection, query: TableQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of violations and the total that match, both computed by the database."""
    order = SORTABLE.get(query.sort, violations.c.last_seen)
    ordering = [order.desc() if query.descending else order.asc(), violations.c.id.desc()]
    conditions = query.conditions()
    total = int(connection.execute(select(func.count()).select_from(violations).where(*conditions)).scalar() or 0)
    rows = connection.execute(
        select(violations.c.id, violations.c.rule, violations.c.key_display, violations.c.severity,
               violations.c.status, violations.c.first_seen, violations.c.last_seen, violations.c.occurrences,
               violations.c.hint, violations.c.trace_ids, violations.c.muted_until)
        .where(*conditions).order_by(*ordering)
        .limit(query.page_size).offset(query.page * query.page_size)).mappings().all()
    return [_with_hint(dict(row)) for row in rows], total


def all_matching_ids(connection: Connection, query: TableQuery, limit: int = 100_000) -> list[int]:
    return list(connection.execute(select(violations.c.id).where(*query.conditions())
                                   .order_by(violations.c.id).limit(limit)).scalars())


def violations_for_export(connection: Connection, query: TableQuery, limit: int = 100_000) -> list[dict[str, Any]]:
    """Every violation matching the filters (not just the page), decoded for the exporters."""
    rows = connection.execute(select(violations).where(*query.conditions())
                              .order_by(violations.c.last_seen.desc(), violations.c.id.desc()).limit(limit)).mappings()
    return [{**dict(row), "evidence": json.loads(row["evidence"] or "{}")} for row in rows]


def violation(connection: Connection, violation_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(violations).where(violations.c.id == violation_id)).mappings().first()
    if row is None:
        return None
    record = dict(row)
    record["evidence"] = json.loads(record["evidence"] or "{}")
    record["hint"] = json.loads(record["hint"]) if record.get("hint") else None
    record["trace_ids"] = json.loads(record["trace_ids"]) if record.get("trace_ids") else []
    return record


def history(connection: Connection, violation_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in connection.execute(select(violation_events).where(
        violation_events.c.violation_id == violation_id).order_by(violation_events.c.id)).mappings()]


def open_counts(connection: Connection, now: datetime) -> dict[str, Any]:
    """Open violations by severity and by rule, and how many are new in the last hour and day."""
    open_rows = connection.execute(select(violations.c.rule, violations.c.severity, func.count())
                                   .where(violations.c.status.in_(OPEN_STATUSES))
                                   .group_by(violations.c.rule, violations.c.severity)).all()
    by_severity: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    for rule, severity, count in open_rows:
        by_severity[severity] = by_severity.get(severity, 0) + int(count)
        by_rule[rule] = by_rule.get(rule, 0) + int(count)
    at = naive_utc(now)
    new = {}
    for label, span in (("hour", timedelta(hours=1)), ("day", timedelta(days=1))):
        new[label] = int(connection.execute(select(func.count()).select_from(violations).where(
            violations.c.status.in_(OPEN_STATUSES), violations.c.first_seen > at - span)).scalar() or 0)
    attention = int(connection.execute(select(func.count()).select_from(violations)
                                       .where(needs_attention(now))).scalar() or 0)
    ordered = dict(sorted(by_severity.items(), key=lambda item: -SEVERITY_RANK.get(item[0], 0)))
    return {"by_severity": ordered, "by_rule": dict(sorted(by_rule.items(), key=lambda i: -i[1])), "new": new,
            "needs_attention": attention, "open": sum(by_rule.values())}


def opened_resolved(connection: Connection, since: datetime) -> list[dict[str, Any]]:
    """Lifecycle events since `since`, one row per (hour, action), for the trend chart."""
    rows = connection.execute(select(violation_events.c.at, violation_events.c.action).where(
        violation_events.c.at >= naive_utc(since),
        violation_events.c.action.in_(("opened", "reopened", "resolved")))).all()
    buckets: dict[tuple[datetime, str], int] = {}
    for at, action in rows:
        hour = at.replace(minute=0, second=0, microsecond=0)
        key = (hour, "opened" if action == "reopened" else action)
        buckets[key] = buckets.get(key, 0) + 1
    return [{"hour": hour, "action": action, "count": count} for (hour, action), count in sorted(buckets.items())]


def run_health(connection: Connection) -> list[dict[str, Any]]:
    """The last run of each rule and scope, with its duration, rows and error."""
    latest = select(runs.c.rule, runs.c.scope, func.max(runs.c.id).label("id")).group_by(runs.c.rule, runs.c.scope) \
        .subquery()
    rows = connection.execute(select(runs).join(latest, runs.c.id == latest.c.id).order_by(runs.c.rule)).mappings()
    return [_run_row(dict(r)) for r in rows]


def run_history(connection: Connection, rule: str | None = None, errors_only: bool = False,
                limit: int = 200) -> list[dict[str, Any]]:
    query = select(runs).order_by(runs.c.id.desc()).limit(limit)
    if rule:
        query = query.where(runs.c.rule == rule)
    if errors_only:
        query = query.where(runs.c.status == "error")
    return [_run_row(dict(r)) for r in connection.execute(query).mappings()]


def consistency_percentiles(connection: Connection, since: datetime) -> list[dict[str, Any]]:
    """p50/p95/p99 of time to consistency per rule, over violations resolved since `since`."""
    rows = connection.execute(select(violations.c.rule, violations.c.ttc_seconds).where(
        violations.c.ttc_seconds.is_not(None), violations.c.resolved_at >= naive_utc(since))).all()
    by_rule: dict[str, list[float]] = {}
    for rule, seconds in rows:
        by_rule.setdefault(rule, []).append(float(seconds))
    return [{"rule": rule, "resolved": len(values), **{f"p{q}": _percentile(values, q) for q in (50, 95, 99)}}
            for rule, values in sorted(by_rule.items())]


def rule_stats(connection: Connection) -> dict[str, dict[str, Any]]:
    """Per rule: violations by status and the last successful run's rows and findings."""
    stats: dict[str, dict[str, Any]] = {}
    for rule, status, count in connection.execute(select(violations.c.rule, violations.c.status, func.count())
                                                  .group_by(violations.c.rule, violations.c.status)):
        stats.setdefault(rule, {})[status] = int(count)
    for run in run_health(connection):
        if run["status"] == "ok" and run["scope"] != "recheck":
            entry = stats.setdefault(run["rule"], {})
            entry["last_rows"], entry["last_findings"] = run["rows_checked"], run["findings"]
            if run.get("sampled"):
                entry["rate"] = run["sample_failing"] / run["sampled"]
                entry["interval"] = (run["rate_low"], run["rate_high"], run["sampled"])
            else:
                entry["rate"] = run["findings"] / run["rows_checked"] if run["rows_checked"] else None
    return stats


def spans_of(connection: Connection, trace_id: str) -> list[dict[str, Any]]:
    return trace_spans(connection, trace_id)


def find_traces(connection: Connection, trace_id: str = "", attribute: str = "", value: str = "",
                service: str = "", errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """Traces by id, by business key, or by service and errors: one row per trace with its root facts."""
    ids: list[str]
    if trace_id:
        ids = [trace_id.strip().lower()]
    elif attribute and value:
        ids = list(connection.execute(select(span_keys.c.trace_id).where(
            span_keys.c.attribute == attribute, span_keys.c.value == value.strip()).limit(limit)).scalars())
    else:
        query = select(spans.c.trace_id).group_by(spans.c.trace_id).order_by(func.max(spans.c.start_ns).desc()) \
            .limit(limit)
        conditions = []
        if service:
            conditions.append(spans.c.service == service)
        if errors_only:
            conditions.append(spans.c.status_code == 2)
        ids = list(connection.execute(query.where(and_(*conditions)) if conditions else query).scalars())
    if not ids:
        return []
    rows = connection.execute(select(
        spans.c.trace_id, func.count().label("spans"), func.min(spans.c.start_ns).label("start_ns"),
        func.max(spans.c.end_ns).label("end_ns"), func.sum(spans.c.status_code == 2).label("errors"),
    ).where(spans.c.trace_id.in_(ids)).group_by(spans.c.trace_id)).mappings().all()
    return [{**dict(r), "duration_ms": (r["end_ns"] - r["start_ns"]) / 1e6} for r in rows]


def indexed_attributes(connection: Connection) -> list[str]:
    return list(connection.execute(select(span_keys.c.attribute).distinct().limit(50)).scalars())


def services(connection: Connection) -> list[str]:
    return list(connection.execute(select(spans.c.service).distinct().limit(200)).scalars())


def _with_hint(row: dict[str, Any]) -> dict[str, Any]:
    hint = json.loads(row.pop("hint") or "null") or {}
    ids = json.loads(row.pop("trace_ids") or "null") or []
    row["hint"] = hint.get("summary", "")
    row["trace_id"] = ids[0] if ids else ""
    return row


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    if run.get("finished_at") and run.get("started_at"):
        run["seconds"] = (run["finished_at"] - run["started_at"]).total_seconds()
    else:
        run["seconds"] = None
    return run


def _percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
