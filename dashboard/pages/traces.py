"""Traces: find one by id, business key, service or error, and draw its waterfall."""

import streamlit as st

from dashboard import data
from dashboard.components import deep_link
from dashboard.figures import waterfall_figure

st.title("Traces")
config = data.config()
attributes, services = data.trace_facets()
requested = st.query_params.get("trace", "")

cols = st.columns(4)
trace_id = cols[0].text_input("Trace id", value=requested, key="t-id").strip().lower()
attribute = cols[1].selectbox("Business key", [""] + attributes, key="t-attr")
value = cols[2].text_input("Key value", key="t-value")
service = cols[3].selectbox("Service", [""] + services, key="t-service")
errors_only = st.checkbox("Only traces with errors", key="t-errors")

found = data.find_traces(trace_id, attribute, value, service, errors_only)
if not found:
    st.info("No trace matches. Traces arrive through `concord collect` (OTLP) or are pulled from Jaeger/Tempo.")
    st.stop()
st.dataframe([{"trace": f["trace_id"], "spans": f["spans"], "errors": int(f["errors"] or 0),
               "duration ms": round(f["duration_ms"], 1)} for f in found], hide_index=True, key="trace-list")
chosen = st.selectbox("Show trace", [f["trace_id"] for f in found], key="t-chosen")
if chosen:
    st.query_params["trace"] = chosen
    deep_link("trace", chosen)
    spans = data.spans(chosen)
    first_error = next((s["span_id"] for s in spans if s["status_code"] == 2), None)
    st.plotly_chart(waterfall_figure(spans, first_error, (), config.traces.mask_attributes), key="trace-waterfall")
