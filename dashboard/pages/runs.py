"""Runs: what each check did, how long it took, and why it failed."""

import streamlit as st

from dashboard import data

st.title("Runs")
config = data.config()
cols = st.columns(2)
rule = cols[0].selectbox("Rule", [""] + [r.name for r in config.rules], key="r-rule")
errors_only = cols[1].checkbox("Only failed runs", key="r-errors")
runs = data.run_history(rule or None, errors_only)
st.dataframe([{"run": r["id"], "rule": r["rule"], "scope": r["scope"], "status": r["status"],
               "started": r["started_at"], "seconds": r["seconds"], "rows checked": r["rows_checked"],
               "findings": r["findings"], "opened": r["opened"], "resolved": r["resolved"],
               "error": r["error"] or ""} for r in runs], hide_index=True, key="runs-table")
