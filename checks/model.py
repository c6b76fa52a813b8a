"""What a run produces: findings, each an entity that failed a rule with the rows that prove it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.tables import Scope
from concord.sources import Source


@dataclass
class Finding:
    key: tuple[Any, ...]
    evidence: dict[str, Any]
    trace_id: str | None = None


@dataclass(frozen=True)
class PlannedQuery:
    """A statement a rule sends to a source, for `concord explain` and for compiling in other dialects."""

    source: str
    purpose: str
    statement: Any


@dataclass
class RunContext:
    """Everything a kind needs to evaluate one scope; counts rows so the run can report them."""

    sources: dict[str, Source]
    scope: Scope
    now: datetime
    rows_checked: int = 0
    progress: Any = None
    sampled_keys: list[tuple[Any, ...]] = field(default_factory=list)

    def source(self, name: str) -> Source:
        return self.sources[name]

    def checked(self, rows: int) -> None:
        self.rows_checked += rows
        if self.progress is not None:
            self.progress(rows)
