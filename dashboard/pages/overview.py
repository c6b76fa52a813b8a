"""Overview: what is broken, how much, since when, and whether it is getting worse."""

from datetime import timedelta

import streamlit as st

from dashboard import data
from dashboard.figures import severity_figure, trend_figure

st.title("Overview")


@st.fragment(run_every=data.config().dashboard.refresh)
def overview() -> None:
    counts = data.open_counts()
    cols = st.columns(4)
    cols[0].metric("Open", counts["open"])
    cols[1].metric("Need attention", counts["needs_attention"], help="open, or muted past its end")
    cols[2].metric("New in the last hour", counts["new"]["hour"])
    cols[3].metric("New in the last day", counts["new"]["day"])
    left, right = st.columns(2)
    with left:
        st.plotly_chart(severity_figure(counts["by_severity"]), key="severity-chart")
    with right:
        st.subheader("Open by rule")
        st.dataframe([{"rule": rule, "open": count} for rule, count in counts["by_rule"].items()], hide_index=True,
                     key="by-rule")
    st.plotly_chart(trend_figure(data.trend(data.now() - timedelta(days=7))), key="trend-chart")
    st.subheader("Run health")
    st.dataframe([{"rule": r["rule"], "scope": r["scope"], "status": r["status"], "started": r["started_at"],
                   "seconds": r["seconds"], "rows checked": r["rows_checked"], "findings": r["findings"],
                   "error": r["error"] or ""} for r in data.run_health()], hide_index=True, key="run-health")
    st.subheader("Time to consistency (last 30 days)")
    st.dataframe([{"rule": r["rule"], "resolved": r["resolved"], "p50 s": r["p50"], "p95 s": r["p95"],
                   "p99 s": r["p99"]} for r in data.consistency(data.now() - timedelta(days=30))],
                 hide_index=True, key="ttc")


overview()
