"""Deep links that survive signing in.

After `st.login` the provider sends the browser back to the app's root in a new session, without the
query string (Streamlit #10162). Before the sign-in the requested link is kept on the server, keyed by
the browser's XSRF token (Streamlit's `_streamlit_xsrf` cookie: its masked value changes, the token
under the mask does not); after it, the same browser is sent on to the link. Links are kept for ten
minutes and only when their values have the shape of ids.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from collections.abc import Mapping

KEEP_SECONDS = 600
_pending: dict[str, tuple[dict[str, str], float]] = {}
_lock = threading.Lock()


def requested(violation: str | None, trace: str | None, rule: str | None = None,
              status: str | None = None) -> dict[str, str]:
    """The deep link's parameters, only when they look like ids or names (nothing else is kept or replayed).

    `rule` and `status` make a filtered Violations list: the link alerts carry for a burst of keys."""
    link = {}
    if violation and violation.isdigit():
        link["violation"] = violation
    if trace and re.fullmatch(r"[0-9a-fA-F]{32}", trace):
        link["trace"] = trace.lower()
    if rule and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,99}", rule):
        link["rule"] = rule
    if status in ("open", "acknowledged", "muted", "resolved"):
        link["status"] = status
    return link


def browser_key(cookies: Mapping[str, str]) -> str | None:
    """A stable key for this browser: the unmasked token of Tornado's XSRF cookie (`2|mask|masked|time`)."""
    value = cookies.get("_streamlit_xsrf")
    if not value:
        return None
    parts = value.split("|")
    try:
        if len(parts) == 4 and parts[0] == "2":
            mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            token = bytes(a ^ b for a, b in zip(masked, itertools.cycle(mask), strict=False))
        else:
            token = value.encode()
    except ValueError:
        return None
    return hashlib.sha256(token).hexdigest()


def remember(key: str, link: dict[str, str]) -> None:
    with _lock:
        now = time.monotonic()
        for stale in [k for k, (_, until) in _pending.items() if until < now]:
            del _pending[stale]
        _pending[key] = (dict(link), now + KEEP_SECONDS)


def take(key: str | None) -> dict[str, str]:
    """The link this browser asked for before signing in, once."""
    if key is None:
        return {}
    with _lock:
        link, until = _pending.pop(key, ({}, 0.0))
    return link if until >= time.monotonic() else {}
