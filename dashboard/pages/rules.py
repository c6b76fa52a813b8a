"""Rules: each rule's definition, owner and runbook, last result and violation rate."""

import streamlit as st

from concord.durations import format_duration
from dashboard import data

st.title("Rules")
config = data.config()
stats = data.rule_stats()
for rule in config.rules:
    entry = stats.get(rule.name, {})
    with st.expander(f"{rule.name} · {rule.kind} · {rule.severity}", expanded=False):
        st.markdown(f"{rule.description or ''}  \n**owner:** {rule.owner or 'not set'}"
                    + (f" · [runbook]({rule.runbook})" if rule.runbook else ""))
        cols = st.columns(4)
        cols[0].metric("Open", entry.get("open", 0))
        cols[1].metric("Resolved", entry.get("resolved", 0))
        rate = entry.get("rate")
        interval = entry.get("interval")
        cols[2].metric("Violation rate (last run)", f"{rate:.3%}" if rate is not None else "–",
                       help="findings / rows checked in the rule's last incremental or full run; for a sampled "
                            "rule, the sample's estimate")
        if interval:
            cols[2].caption(f"95% CI {interval[0]:.2%}–{interval[1]:.2%} from {interval[2]:,} sampled rows")
        cols[3].metric("Grace", format_duration(rule.grace))
        st.json(rule.model_dump(mode="json", exclude_none=True), expanded=False)
