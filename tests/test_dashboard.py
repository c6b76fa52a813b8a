"""Every dashboard page with Streamlit's AppTest over a checked demo store, the figure builders without
Streamlit, the export of the filtered list, and roles enforced where actions are carried out."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from concord.config import AuthConfig, load_config
from concord.exports import incident_rows, to_csv
from concord.store import open_store
from concord.store.schema import violation_events, violations
from dashboard import queries
from dashboard.access import NotAllowed, User, perform, role_for
from dashboard.figures import ERROR_RED, nest, trend_figure, waterfall_figure
from dashboard.queries import TableQuery
from tests.dashboard_store import HOSTILE_KEY, HOSTILE_VALUE, build_checked_demo, hostile_id

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGES = ["overview", "violations", "violation", "traces", "runs", "rules"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("dashboard")
    config_path = build_checked_demo(directory)
    previous = os.environ.get("CONCORD_CONFIG")
    os.environ["CONCORD_CONFIG"] = str(config_path)
    yield directory
    if previous is None:
        os.environ.pop("CONCORD_CONFIG", None)
    else:
        os.environ["CONCORD_CONFIG"] = previous


def app(**query: str) -> AppTest:
    test = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        test.query_params[name] = value
    return test.run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(demo: Path, page: str) -> None:
    test = app()
    if page != "overview":
        test.switch_page(f"dashboard/pages/{page}.py").run()
    assert not test.exception, [e.value for e in test.exception]
    assert test.title[0].value == page.capitalize()
    assert any("Sign-in is not configured" in w.value for w in test.sidebar.warning)


def test_overview_counts_what_is_open(demo: Path) -> None:
    test = app()
    metrics = {m.label: m.value for m in test.metric}
    store = open_store(f"sqlite:///{demo / 'concord.db'}")
    with store.read() as connection:
        open_count = connection.execute(select(func.count()).select_from(violations).where(
            violations.c.status == "open")).scalar()
    store.dispose()
    assert int(metrics["Open"]) == open_count > 0


def test_filters_change_the_rows(demo: Path) -> None:
    test = app()
    test.switch_page("dashboard/pages/violations.py").run()
    everything = test.caption[0].value
    test.multiselect(key="f-rule").set_value(["refund_implies_restock"]).run()
    filtered = test.caption[0].value
    assert everything != filtered
    rows = test.dataframe[0].value
    assert set(rows["rule"]) == {"refund_implies_restock"} and len(rows) > 0
    test.text_input(key="f-key").input(str(rows["key_display"].iloc[0])).run()
    assert len(test.dataframe[0].value) >= 1 and set(test.dataframe[0].value["rule"]) == {"refund_implies_restock"}


def test_deep_link_opens_the_violation_and_its_waterfall(demo: Path) -> None:
    store = open_store(f"sqlite:///{demo / 'concord.db'}")
    with store.read() as connection:
        violation_id = connection.execute(select(violations.c.id).where(
            violations.c.rule == "paid_implies_stock_deducted", violations.c.status == "open")).scalars().first()
    store.dispose()
    test = app(violation=str(violation_id))
    assert not test.exception
    assert test.title[0].value == "Violation"
    assert test.subheader[0].value.startswith("paid_implies_stock_deducted · key ")
    assert any("inventory.deduct failed in inventory-service" in t.value for t in test.text)
    assert any(f"?violation={violation_id}" in c.value for c in test.code)


def test_an_action_creates_an_event_with_the_user(demo: Path) -> None:
    store = open_store(f"sqlite:///{demo / 'concord.db'}")
    with store.read() as connection:
        violation_id = connection.execute(select(violations.c.id).where(
            violations.c.rule == "refund_implies_restock", violations.c.status == "open")).scalars().first()
    test = app(violation=str(violation_id))
    test.text_input(key="single-note").input("checking the restock queue").run()
    test.button(key="single-ack").click().run()
    assert not test.exception
    assert any("Acknowledged 1 of 1" in s.value for s in test.success)
    with store.read() as connection:
        status = connection.execute(select(violations.c.status).where(violations.c.id == violation_id)).scalar()
        event = connection.execute(select(violation_events).where(violation_events.c.violation_id == violation_id)
                                   .order_by(violation_events.c.id.desc())).mappings().first()
    store.dispose()
    assert status == "acknowledged"
    assert (event["action"], event["note"], event["actor"]) == \
        ("acknowledged", "checking the restock queue", "anonymous (no sign-in configured)")


def test_hostile_business_values_show_as_text(demo: Path) -> None:
    test = app(violation=str(hostile_id(demo)))
    assert not test.exception
    assert any(HOSTILE_VALUE in t.value for t in test.text)  # st.text: shown literally
    assert not any(HOSTILE_VALUE in m.value for m in test.markdown)
    assert HOSTILE_KEY in test.subheader[0].value  # headers are escaped text in Streamlit


def test_exports_hold_exactly_the_filtered_rows_and_neutralise_formulas(demo: Path) -> None:
    config, _ = load_config(demo / "concord.yaml")
    store = open_store(f"sqlite:///{demo / 'concord.db'}")
    query = TableQuery(rules=("order_status_is_known", "statement_matches_payments"))
    with store.read() as connection:
        page, total = queries.violation_page(connection, TableQuery(**{**query.__dict__, "page_size": 3}))
        exported = queries.violations_for_export(connection, query)
    store.dispose()
    assert len(exported) == total > len(page)
    rows = list(csv.DictReader(io.StringIO(to_csv(incident_rows(exported, config.dashboard_url)))))
    assert {r["rule"] for r in rows} == {"order_status_is_known", "statement_matches_payments"}
    hostile = next(r for r in rows if "HYPERLINK" in r["key"])
    assert hostile["key"].startswith("'=")


def test_waterfall_marks_the_failing_span_and_the_missing_ones() -> None:
    spans = [
        {"trace_id": "t", "span_id": "a1", "parent_span_id": None, "service": "order-service", "name": "checkout",
         "start_ns": 0, "end_ns": 5_000_000, "status_code": 0, "status_message": "", "attributes": {"order.id": 1,
                                                                                                   "email": "x@y"},
         "events": []},
        {"trace_id": "t", "span_id": "b2", "parent_span_id": "a1", "service": "inventory-service",
         "name": "inventory.deduct", "start_ns": 2_000_000, "end_ns": 4_000_000, "status_code": 2,
         "status_message": "lost <b>", "attributes": {}, "events": [{"name": "exception", "attributes": {}}]},
    ]
    figure = waterfall_figure(spans, failing_span_id="b2", missing=["inventory.commit"], masked=["email"])
    bars, missing = figure.data
    assert list(bars.customdata) == ["a1", "b2"] and list(bars.base) == [0.0, 2.0]
    assert list(bars.marker.color) == ["#1f77b4", ERROR_RED] and list(bars.marker.line.width) == [0, 4]
    assert "•••" in bars.hovertext[0] and "x@y" not in bars.hovertext[0] and "&lt;b&gt;" in bars.hovertext[1]
    assert list(missing.y) == ["missing · inventory.commit"]
    assert any("failing span" in a.text for a in figure.layout.annotations)
    assert [depth for depth, _ in nest(spans)] == [0, 1]


def test_trend_figure_has_opened_and_resolved() -> None:
    hour = datetime(2026, 11, 20, 11, tzinfo=UTC)
    figure = trend_figure([{"hour": hour, "action": "opened", "count": 3}, {"hour": hour, "action": "resolved",
                                                                           "count": 1}])
    assert [(t.name, list(t.y)) for t in figure.data] == [("opened", [3]), ("resolved", [1])]


def test_roles_are_enforced_where_the_action_happens(demo: Path) -> None:
    auth = AuthConfig(operators=["ops@example.com"], viewers=["*"])
    assert role_for("ops@example.com", auth) == "operator" and role_for("dev@example.com", auth) == "viewer"
    assert role_for(None, auth) == "none" and role_for("anyone", None) == "operator"
    store = open_store(f"sqlite:///{demo / 'concord.db'}")
    with store.read() as connection:
        violation_id = connection.execute(select(violations.c.id).where(violations.c.status == "open")).scalar()
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    with pytest.raises(NotAllowed, match="operator role"):
        perform(store, User("dev@example.com", "viewer", True), "resolve", [violation_id], now, note="tried")
    assert perform(store, User("ops@example.com", "operator", True), "acknowledge", [violation_id], now) == \
        [violation_id]
    with store.read() as connection:
        actions = connection.execute(select(violation_events.c.action, violation_events.c.actor).where(
            violation_events.c.violation_id == violation_id).order_by(violation_events.c.id)).all()
    store.dispose()
    assert actions[-2:] == [("refused", "dev@example.com"), ("acknowledged", "ops@example.com")]


def test_an_alerts_list_link_opens_the_filtered_violations(demo: Path) -> None:
    """A burst's message links to `/violations?rule=…&status=open`: the list, already filtered."""
    test = app(rule="refund_implies_restock", status="open")
    assert not test.exception, [e.value for e in test.exception]
    assert test.title[0].value == "Violations"
    assert test.multiselect(key="f-rule").value == ["refund_implies_restock"]
    assert test.multiselect(key="f-status").value == ["open"]
    rows = test.dataframe[0].value
    assert len(rows) > 0 and set(rows["rule"]) == {"refund_implies_restock"} and set(rows["status"]) == {"open"}


def test_a_list_link_with_an_unknown_rule_or_status_is_ignored(demo: Path) -> None:
    test = app(rule="<script>alert(1)</script>", status="everything")
    assert not test.exception
    assert test.title[0].value == "Overview"
