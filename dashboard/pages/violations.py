"""Violations: filter, page, select, act on ids, export the filtered list."""

from datetime import UTC, datetime, time

import streamlit as st

from concord.config import SEVERITY_RANK
from concord.store.schema import OPEN_STATUSES
from dashboard import data
from dashboard.components import action_bar, export_buttons, violations_table
from dashboard.queries import SORTABLE, TableQuery

st.title("Violations")
config = data.config()
user = st.session_state["concord_user"]

deep_list = st.session_state.pop("deep_list", None)
if deep_list:  # an alert's link to a filtered list: these filters, nothing else
    if deep_list.get("rule") in {r.name for r in config.rules}:
        st.session_state["f-rule"] = [deep_list["rule"]]
    if deep_list.get("status"):
        st.session_state["f-status"] = [deep_list["status"]]

with st.container(border=True):
    cols = st.columns(4)
    statuses = cols[0].multiselect("Status", ["open", "acknowledged", "muted", "resolved"],
                                   default=list(OPEN_STATUSES), key="f-status")
    severities = cols[1].multiselect("Severity", list(reversed(SEVERITY_RANK)), key="f-severity")
    rules = cols[2].multiselect("Rule", [r.name for r in config.rules], key="f-rule")
    sources = cols[3].multiselect("Source", list(config.sources), key="f-source")
    cols = st.columns(4)
    since_day = cols[0].date_input("Last seen from", value=None, key="f-since")
    until_day = cols[1].date_input("Last seen until", value=None, key="f-until")
    key_text = cols[2].text_input("Key contains", key="f-key")
    sort = cols[3].selectbox("Sort by", list(SORTABLE), key="f-sort")

filters = dict(
    statuses=tuple(statuses), severities=tuple(severities), rules=tuple(rules), sources=tuple(sources),
    since=datetime.combine(since_day, time.min, UTC) if since_day else None,
    until=datetime.combine(until_day, time.max, UTC) if until_day else None,
    key_contains=key_text.strip(), sort=sort, rule_sources=data.rule_sources_map(),
    page_size=config.dashboard.page_size,
)
if st.session_state.get("f-last") != filters:  # new filters start again at the first page
    st.session_state["f-last"] = filters
    st.session_state["f-page"] = 0


@st.fragment(run_every=config.dashboard.refresh)
def table() -> None:
    query = TableQuery(**filters, page=st.session_state.get("f-page", 0))
    rows, total = data.violation_page(query)
    pages = max(1, -(-total // query.page_size))
    st.caption(f"{total:,} violation(s) match; page {query.page + 1} of {pages}. Refreshes itself every "
               f"{int(config.dashboard.refresh.total_seconds())} s.")
    selected = violations_table(rows, key="violations")
    nav = st.columns([1, 1, 6])
    if nav[0].button("◀ Previous", disabled=query.page == 0, key="page-prev"):
        st.session_state["f-page"] = query.page - 1
        st.rerun(scope="fragment")
    if nav[1].button("Next ▶", disabled=query.page + 1 >= pages, key="page-next"):
        st.session_state["f-page"] = query.page + 1
        st.rerun(scope="fragment")
    if len(selected) == 1:
        st.page_link("dashboard/pages/violation.py", label=f"Open violation {selected[0]} →",
                     query_params={"violation": str(selected[0])})
    action_bar(selected, user, key="bulk")
    st.divider()
    export_buttons(TableQuery(**filters), key="export")


table()
