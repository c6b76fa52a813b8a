"""Violations lead to their traces (row column, traceparent, key index, remote search) with a hint that
names the failing span, the missing expected spans and the last service reached."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, select, text

from checks.correlate import Correlator
from collectors.ingest import SpanIngest
from collectors.otlp import SpanRecord
from collectors.remote import TraceBackend
from concord.clock import FrozenClock
from concord.config import TraceBackendConfig, TracesConfig
from concord.store.schema import violations
from tests.conftest import NOW
from tests.databases import DatabaseFactory
from tests.shop import RULES, checker_for, load_mini_shop, write_config
from tests.test_trace_sources import FixtureServer

T0 = 1_763_640_000_000_000_000


def span(trace: str, span_id: str, service: str, name: str, offset_ms: int, error: str | None = None,
         parent: str | None = None, **attributes: object) -> SpanRecord:
    start = T0 + offset_ms * 1_000_000
    kind, _, message = (error or "").partition(": ")
    events = [{"name": "exception", "time_ns": start,
               "attributes": {"exception.type": kind, "exception.message": message}}] if error else []
    return SpanRecord(trace, span_id, parent, service, name, 1, start, start + 5_000_000, 2 if error else 0, "",
                      dict(attributes), events)


def hints(store) -> dict[str, dict]:
    with store.read() as connection:
        rows = connection.execute(select(violations.c.rule, violations.c.key_text, violations.c.hint,
                                         violations.c.trace_ids)).all()
    return {f"{r.rule}{r.key_text}": {**json.loads(r.hint), "ids": json.loads(r.trace_ids)} for r in rows}


def setup(sqlite: DatabaseFactory, tmp_path: Path, rules: list[dict]):
    url = sqlite.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    engine = create_engine(url)
    with engine.begin() as connection:  # order 2's row carries a W3C traceparent instead of a bare id
        connection.execute(text("UPDATE orders SET trace_id = '00-' || trace_id || '-00f067aa0ba902b7-01' "
                                "WHERE id = 2"))
    engine.dispose()
    clock = FrozenClock(NOW)
    checker, store = checker_for(write_config(tmp_path, urls, rules), clock)
    ingest = SpanIngest(store, TracesConfig(index_attributes=["order.id"]), clock)
    return checker, store, ingest, clock


def test_row_traceparent_and_the_hint(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    rule = dict(RULES["exists"], trace={"column": "trace_id", "expect_spans": ["inventory.deduct", "inventory.commit"],
                                        "steps": ["inventory.deduct"]})
    checker, store, ingest, clock = setup(sqlite, tmp_path, [rule])
    trace = f"{2:032x}"
    ingest.write([
        span(trace, "a" * 16, "order-service", "checkout", 0),
        span(trace, "b" * 16, "payment-service", "payment.create", 10, "AmountMismatch: off by one", "a" * 16),
        span(trace, "c" * 16, "inventory-service", "inventory.deduct", 900, "ConnectionResetError: lost", "a" * 16),
    ])
    checker.check_once()
    Correlator(checker.kinds, store, clock).link_open()
    hint = hints(store)["paid_implies_deducted[2]"]
    assert hint["ids"] == [trace] and hint["source"] == "row"
    assert hint["failing_span"]["name"] == "inventory.deduct"  # the rule's step wins over the earlier error
    assert hint["failing_span"]["message"] == "ConnectionResetError: lost"
    assert hint["missing_spans"] == ["inventory.commit"] and hint["last_service"] == "inventory-service"
    assert hint["summary"].startswith("inventory.deduct failed in inventory-service")
    checker.close()


def test_key_index_and_a_plain_not_found(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    rules = [dict(RULES["match"], trace={"attribute": "order.id", "expect_spans": ["payment.callback"]}),
             dict(RULES["state_values"], trace={"attribute": "order.id"})]
    checker, store, ingest, clock = setup(sqlite, tmp_path, rules)
    trace = "ab" * 16
    ingest.write([span(trace, "d" * 16, "payment-service", "payment.create", 0, **{"order.id": 2})])
    checker.check_once()
    Correlator(checker.kinds, store, clock).link_open()
    found = hints(store)
    assert found["amount_equals_total[2]"]["ids"] == [trace]
    assert found["amount_equals_total[2]"]["missing_spans"] == ["payment.callback"]
    assert found["amount_equals_total[2]"]["failing_span"] is None
    assert found["known_status[6]"] == {"trace_found": False, "source": "key index", "ids": [],
                                        "summary": "no trace is linked to this entity"}
    checker.close()


def test_remote_search_pulls_the_trace_into_the_store_once(sqlite: DatabaseFactory, tmp_path: Path) -> None:
    server = FixtureServer()
    try:
        rules = [dict(RULES["state_values"], trace={"attribute": "order.id", "service": "order-service"})]
        checker, store, ingest, clock = setup(sqlite, tmp_path, rules)
        backend = TraceBackend(TraceBackendConfig(kind="tempo", url=server.url + "/tempo"))
        checker.check_once()
        correlator = Correlator(checker.kinds, store, clock, backend, ingest)
        correlator.link_open()
        hint = hints(store)["known_status[6]"]
        assert hint["ids"] == ["5b8efff798038103d269b633813fc700"] and hint["trace_found"]
        assert hint["last_service"] == "my.service"
        searches = [p for p, _ in server.requests if p.endswith("/api/search")]
        correlator.link_open(relink=True)
        assert [p for p, _ in server.requests if p.endswith("/api/search")] == searches  # cached
        checker.close()
    finally:
        server.server.shutdown()
        server.server.server_close()
