"""The dashboard's handle on the store and its cached reads (Streamlit caches with a short ttl).

The config is found through CONCORD_CONFIG (set by `concord serve` and `concord demo`), else
./concord.yaml. The store handle is a cached resource; every database read is cached data with a ttl.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from concord.clock import clock_from_env
from concord.config import Config, RuleConfig, load_config
from concord.store import Store, open_store
from dashboard import queries
from dashboard.queries import TableQuery

TTL = 5


def config_path() -> Path:
    return Path(os.environ.get("CONCORD_CONFIG", "concord.yaml"))


@st.cache_resource(show_spinner=False)
def _load(path: str) -> tuple[Config, Store]:
    config, _document = load_config(path)
    return config, open_store(config.store.url, config.base_dir)


def config() -> Config:
    return _load(str(config_path().resolve()))[0]


def store() -> Store:
    return _load(str(config_path().resolve()))[1]


def now() -> datetime:
    return clock_from_env().now()


def rule_sources(rule: RuleConfig) -> tuple[str, ...]:
    """The sources a rule reads, found in its settings without compiling it (the dashboard reads the store)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("source"), str):
                found.append(value["source"])
            for item in value.values():
                walk(item)

    walk(rule.params)
    return tuple(dict.fromkeys(found))


def rule_sources_map() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((rule.name, rule_sources(rule)) for rule in config().rules)


@st.cache_data(ttl=TTL, show_spinner=False)
def violation_page(query: TableQuery) -> tuple[list[dict[str, Any]], int]:
    with store().read() as connection:
        return queries.violation_page(connection, query)


@st.cache_data(ttl=TTL, show_spinner=False)
def open_counts() -> dict[str, Any]:
    with store().read() as connection:
        return queries.open_counts(connection, now())


@st.cache_data(ttl=TTL, show_spinner=False)
def trend(since: datetime) -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.opened_resolved(connection, since)


@st.cache_data(ttl=TTL, show_spinner=False)
def run_health() -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.run_health(connection)


@st.cache_data(ttl=TTL, show_spinner=False)
def run_history(rule: str | None, errors_only: bool) -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.run_history(connection, rule, errors_only)


@st.cache_data(ttl=TTL, show_spinner=False)
def consistency(since: datetime) -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.consistency_percentiles(connection, since)


@st.cache_data(ttl=TTL, show_spinner=False)
def rule_stats() -> dict[str, dict[str, Any]]:
    with store().read() as connection:
        return queries.rule_stats(connection)


@st.cache_data(ttl=TTL, show_spinner=False)
def violation(violation_id: int) -> dict[str, Any] | None:
    with store().read() as connection:
        return queries.violation(connection, violation_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def history(violation_id: int) -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.history(connection, violation_id)


@st.cache_data(ttl=60, show_spinner=False)
def spans(trace_id: str) -> list[dict[str, Any]]:
    with store().read() as connection:
        return queries.spans_of(connection, trace_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def find_traces(trace_id: str, attribute: str, value: str, service: str, errors_only: bool) -> list[dict]:
    with store().read() as connection:
        return queries.find_traces(connection, trace_id, attribute, value, service, errors_only)


@st.cache_data(ttl=60, show_spinner=False)
def trace_facets() -> tuple[list[str], list[str]]:
    with store().read() as connection:
        return queries.indexed_attributes(connection), queries.services(connection)


def export_rows(query: TableQuery) -> list[dict[str, Any]]:
    """Not cached: an export is taken when asked, of everything that matches the filters."""
    with store().read() as connection:
        return queries.violations_for_export(connection, query)


def forget_cached_reads() -> None:
    """After an action, the next draw must show its effect."""
    st.cache_data.clear()
