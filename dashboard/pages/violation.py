"""One violation: the rule, the evidence beside what was expected, its history, the root-cause hint and
the trace waterfall with the failing span marked."""

import streamlit as st

from dashboard import data
from dashboard.components import action_bar, deep_link, rows_as_text
from dashboard.figures import waterfall_figure

st.title("Violation")
config = data.config()
user = st.session_state["concord_user"]

requested = st.query_params.get("violation") or st.session_state.get("violation_id")
typed = st.text_input("Violation id", value=str(requested or ""), key="violation-id-input")
try:
    violation_id = int(typed) if typed else None
except ValueError:
    violation_id = None
    st.error("A violation id is a number, e.g. 42.")
if violation_id is None:
    st.info("Open a violation from the Violations page, or type its id.")
    st.stop()
st.session_state["violation_id"] = violation_id
st.query_params["violation"] = str(violation_id)  # the address bar holds a link worth pasting

record = data.violation(violation_id)
if record is None:
    st.warning(f"There is no violation {violation_id}; it may have been removed with its rule.")
    st.stop()

rule = next((r for r in config.rules if r.name == record["rule"]), None)
st.subheader(f"{record['rule']} · key {record['key_display']}")
cols = st.columns(4)
cols[0].metric("Severity", record["severity"])
cols[1].metric("Status", record["status"])
cols[2].metric("First seen", f"{record['first_seen']:%Y-%m-%d %H:%M}")
cols[3].metric("Seen", f"{record['occurrences']}×")
if rule is not None:
    st.markdown(f"**Rule:** {rule.description or rule.kind} · **owner:** {rule.owner or 'not set'}"
                + (f" · [runbook]({rule.runbook})" if rule.runbook else ""))
deep_link("violation", violation_id)

hint = record.get("hint") or {}
st.subheader("Root-cause hint")
if hint.get("trace_found"):
    st.text(hint.get("summary", ""))
else:
    st.warning(hint.get("summary") or "Traces have not been linked yet; they are linked after each check.")

evidence = record["evidence"]
st.subheader("Evidence")
left, right = st.columns(2)
with left:
    st.caption("What was found")
    st.text(str(evidence.get("actual", "")))
    if evidence.get("row"):
        st.dataframe(rows_as_text([evidence["row"]]), hide_index=True, key="evidence-row")
    if evidence.get("statement"):
        st.dataframe(rows_as_text([evidence["statement"]]), hide_index=True, key="evidence-statement")
with right:
    st.caption("What was expected")
    st.text(str(evidence.get("expected", "")))
    if evidence.get("related"):
        st.dataframe(rows_as_text(evidence["related"]), hide_index=True, key="evidence-related")

st.subheader("Trace")
trace_ids = record.get("trace_ids") or []
if not trace_ids:
    st.info("No trace is linked to this violation.")
for trace_id in trace_ids[:3]:
    spans = data.spans(trace_id)
    st.caption(f"trace {trace_id} · {len(spans)} spans")
    backend = config.traces.backend
    if backend and backend.link_template:
        st.link_button("Open in " + backend.kind.capitalize(), backend.link_template.format(
            trace_id=trace_id, url=backend.url.rstrip("/")))
    if spans:
        failing = (hint.get("failing_span") or {}).get("span_id")
        figure = waterfall_figure(spans, failing, hint.get("missing_spans") or [], config.traces.mask_attributes)
        event = st.plotly_chart(figure, key=f"waterfall-{trace_id}", on_select="rerun", selection_mode="points")
        picked = [p.get("customdata") for p in (event.selection.points if event else []) if p.get("customdata")]
        chosen = next((s for s in spans if s["span_id"] in picked), None) or next(
            (s for s in spans if s["span_id"] == failing), None)
        if chosen is not None:
            st.caption(f"span {chosen['service']} · {chosen['name']} — attributes and events")
            st.json({"attributes": chosen["attributes"], "events": chosen["events"],
                     "status": chosen["status_message"]}, expanded=False)

st.subheader("History")
st.dataframe(rows_as_text([{k: e[k] for k in ("at", "actor", "action", "from_status", "to_status", "note")}
                           for e in data.history(violation_id)]), hide_index=True, key="history")
action_bar([violation_id], user, key="single")
