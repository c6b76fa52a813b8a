"""Widget groups the pages share: the violations table with its selection, the action bar, the export
buttons, evidence, and the deep link. Each has its own keys, so it keeps its identity across pages."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time
from typing import Any

import streamlit as st

from concord.exports import incident_rows, to_csv, to_json, to_markdown
from dashboard import data
from dashboard.access import NotAllowed, User, perform
from dashboard.queries import TableQuery

TABLE_COLUMNS = ["id", "severity", "status", "rule", "key_display", "hint", "last_seen", "first_seen", "occurrences",
                 "trace_id"]


def violations_table(rows: list[dict[str, Any]], key: str) -> list[int]:
    """Draw the rows; return the *ids* of the selected rows (never positions, see Streamlit #17026).

    The widget key carries a digest of the ids shown: when a live refresh changes the rows, a new
    widget starts with the previously selected *ids* re-selected at their new positions, so the
    selection follows the violations instead of pointing at whatever now sits in those rows.
    """
    shown = [row["id"] for row in rows]
    digest = hashlib.sha1(json.dumps(shown).encode()).hexdigest()[:10]
    kept = [shown.index(i) for i in st.session_state.get(f"{key}-selected", []) if i in shown]
    table = [{column: _cell(row.get(column)) for column in TABLE_COLUMNS} for row in rows]
    event = st.dataframe(
        table, key=f"{key}-{digest}", on_select="rerun", selection_mode="multi-row", hide_index=True,
        selection_default={"selection": {"rows": kept, "columns": []}} if kept else None,
        column_config={"key_display": st.column_config.TextColumn("key"),
                       "hint": st.column_config.TextColumn("hint", width="large"),
                       "id": st.column_config.NumberColumn("id", format="%d")},
    )
    positions = event.selection.rows if event is not None and hasattr(event, "selection") else []
    selected = [shown[i] for i in positions if 0 <= i < len(shown)]
    st.session_state[f"{key}-selected"] = selected
    return selected


def action_bar(ids: list[int], user: User, key: str) -> None:
    """Acknowledge, resolve or mute the given violations with a note; refused for viewers, with a trace."""
    if not ids:
        st.caption("Select rows to acknowledge, resolve or mute them.")
        return
    st.write(f"**{len(ids)} selected** (ids {', '.join(map(str, ids[:10]))}{' …' if len(ids) > 10 else ''})")
    note = st.text_input("Note", key=f"{key}-note", placeholder="what you found or did")
    cols = st.columns([1, 1, 1, 2])
    until_day = cols[3].date_input("Mute until (optional)", value=None, key=f"{key}-until")
    chosen = None
    if cols[0].button("Acknowledge", key=f"{key}-ack"):
        chosen = "acknowledge"
    if cols[1].button("Resolve", key=f"{key}-resolve"):
        chosen = "resolve"
    if cols[2].button("Mute", key=f"{key}-mute"):
        chosen = "mute"
    if not user.may_act:  # the buttons stay: a refusal is enforced and recorded where the action happens
        st.caption(f"Your role ({user.role}) may read and export; actions will be refused and recorded.")
    if chosen:
        until = datetime.combine(until_day, time(0, 0)).astimezone() if until_day and chosen == "mute" else None
        try:
            changed = perform(data.store(), user, chosen, ids, data.now(), note=note or None, until=until)
        except NotAllowed as exc:
            st.error(str(exc))
            return
        data.forget_cached_reads()
        st.success(f"{chosen.capitalize()}d {len(changed)} of {len(ids)} violation(s)"
                   + (f"; {len(ids) - len(changed)} were already in a state that does not allow it."
                      if len(changed) < len(ids) else "."))


def export_buttons(query: TableQuery, key: str) -> None:
    """The incident list of everything the filters match (not just this page), built when clicked."""
    dashboard_url = data.config().dashboard_url

    def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        violations = data.export_rows(query)
        return incident_rows(violations, dashboard_url), violations

    cols = st.columns(3)
    cols[0].download_button("Export CSV", data=lambda: to_csv(rows()[0]), file_name="concord-incidents.csv",
                            mime="text/csv", key=f"{key}-csv", on_click="ignore")
    cols[1].download_button("Export JSON", data=lambda: to_json(*rows()), file_name="concord-incidents.json",
                            mime="application/json", key=f"{key}-json", on_click="ignore")
    cols[2].download_button("Export Markdown", data=lambda: to_markdown(rows()[0]), file_name="concord-incidents.md",
                            mime="text/markdown", key=f"{key}-md", on_click="ignore")


def deep_link(kind: str, value: Any) -> str:
    link = f"{data.config().dashboard_url.rstrip('/')}/?{kind}={value}"
    st.code(link, language=None)
    return link


def rows_as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Business values as plain strings: shown as text, never as HTML or Markdown."""
    return [{k: _cell(v) for k, v in row.items()} for row in rows]


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
