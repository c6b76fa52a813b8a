"""Who is looking, and what they may do: viewers read and export, operators also act.

Roles are enforced where an action is carried out (`perform`), not only by hiding buttons; a refused
action is recorded in the violation's history with who tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from concord.config import AuthConfig
from concord.store.actions import apply_action
from concord.store.db import Store
from concord.store.runs import naive_utc
from concord.store.schema import violation_events

ANONYMOUS = "anonymous (no sign-in configured)"


@dataclass(frozen=True)
class User:
    name: str
    role: str  # viewer | operator | none
    signed_in: bool

    @property
    def may_act(self) -> bool:
        return self.role == "operator"


def role_for(email: str | None, auth: AuthConfig | None) -> str:
    if auth is None:
        return "operator"
    address = (email or "").strip().lower()
    if address and address in {o.lower() for o in auth.operators}:
        return "operator"
    viewers = {v.lower() for v in auth.viewers}
    if address and ("*" in viewers or address in viewers):
        return "viewer"
    return "none"


def user_from_streamlit(auth: AuthConfig | None, st_user: Any) -> User:
    if auth is None:
        return User(ANONYMOUS, "operator", signed_in=False)
    if not getattr(st_user, "is_logged_in", False):
        return User("", "none", signed_in=False)
    email = st_user.get("email") if hasattr(st_user, "get") else None
    name = str(email or st_user.get("name") or st_user.get("sub") or "unknown")
    return User(name, role_for(email, auth), signed_in=True)


class NotAllowed(PermissionError):
    pass


def perform(store: Store, user: User, action: str, ids: list[int], now: datetime, note: str | None = None,
            until: datetime | None = None) -> list[int]:
    """Apply an action to violations by id, or record that `user` was refused and raise NotAllowed."""
    if not user.may_act:
        with store.begin() as connection:
            for violation_id in sorted(set(ids)):
                connection.execute(violation_events.insert().values(
                    violation_id=violation_id, at=naive_utc(now), actor=user.name or "unknown", action="refused",
                    note=f"{action} refused: the {user.role} role may not act" + (f" ({note})" if note else "")))
        raise NotAllowed(f"{user.name or 'you'} may not {action}: ask an administrator for the operator role")
    with store.begin() as connection:
        return apply_action(connection, action, ids, user.name, now, note=note, until=until)
