"""Concord's dashboard entry: page config, sign-in gate, navigation. Pages live in dashboard/pages/."""

import streamlit as st

from dashboard import data, deeplinks
from dashboard.access import user_from_streamlit

st.set_page_config(page_title="Concord", page_icon=":material/balance:", layout="wide")
config = data.config()
auth = config.dashboard.auth

# Deep links: on a session's first run, remember what the address asked for before anything (a sign-in,
# a page change) can drop the query string; later runs navigate freely.
if "deep_link_read" not in st.session_state:
    st.session_state["deep_link_read"] = True
    for name, value in deeplinks.requested(st.query_params.get("violation"), st.query_params.get("trace"),
                                           st.query_params.get("rule"), st.query_params.get("status")).items():
        st.session_state[f"deep_{name}"] = value

user = user_from_streamlit(auth, st.user)
if auth is not None and not user.signed_in:
    st.title("Concord")
    st.write("Sign in to see the violations.")
    wanted = deeplinks.requested(st.query_params.get("violation"), st.query_params.get("trace"),
                                 st.query_params.get("rule"), st.query_params.get("status"))
    browser = deeplinks.browser_key(st.context.cookies)
    if wanted and browser:
        deeplinks.remember(browser, wanted)
    if st.button("Sign in", type="primary"):
        st.login(auth.provider) if auth.provider else st.login()
    st.stop()
if auth is not None and "deep_link_resumed" not in st.session_state:
    st.session_state["deep_link_resumed"] = True
    for name, value in deeplinks.take(deeplinks.browser_key(st.context.cookies)).items():
        st.session_state.setdefault(f"deep_{name}", value)
if user.role == "none":
    st.error(f"{user.name} is signed in but has no role here; ask an administrator for viewer or operator.")
    st.stop()
st.session_state["concord_user"] = user

with st.sidebar:
    if auth is None:
        st.warning("Sign-in is not configured: anyone who can open this page can act on violations.")
    else:
        st.caption(f"Signed in as {user.name} ({user.role})")
        if st.button("Sign out"):
            st.logout()

# A deep link makes its page the default one, so it opens in this very run instead of after a redirect.
deep_violation, deep_trace = st.session_state.pop("deep_violation", None), st.session_state.pop("deep_trace", None)
deep_list = {name: st.session_state.pop(f"deep_{name}") for name in ("rule", "status")
             if f"deep_{name}" in st.session_state}
if deep_list:
    st.session_state["deep_list"] = deep_list  # the Violations page turns it into its filters
landing = "violation" if deep_violation else "traces" if deep_trace else "violations" if deep_list else "overview"
if deep_violation:
    st.session_state["violation_id"] = deep_violation
pages = {
    name: st.Page(f"dashboard/pages/{name}.py", title=name.capitalize(), icon=icon, default=name == landing)
    for name, icon in (("overview", ":material/dashboard:"), ("violations", ":material/warning:"),
                       ("violation", ":material/search:"), ("traces", ":material/timeline:"),
                       ("runs", ":material/schedule:"), ("rules", ":material/rule:"))
}
navigation = st.navigation(list(pages.values()))
if deep_violation and navigation is not pages["violation"]:
    st.switch_page(pages["violation"], query_params={"violation": deep_violation})
if deep_trace and navigation is not pages["traces"]:
    st.switch_page(pages["traces"], query_params={"trace": deep_trace})
if deep_list and not deep_violation and not deep_trace and navigation is not pages["violations"]:
    st.switch_page(pages["violations"], query_params=deep_list)
navigation.run()
