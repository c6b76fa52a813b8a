"""Masking of configured columns, applied when evidence is captured so nothing later can leak it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from concord.keys import normalize_value

MASK = "•••"


def mask_row(row: Mapping[str, Any], masked: Iterable[str]) -> dict[str, Any]:
    """A JSON-safe copy of a row with masked columns replaced (names compared case-insensitively)."""
    hidden = {name.lower() for name in masked}
    return {
        column: (MASK if column.lower() in hidden and value is not None else normalize_value(value))
        for column, value in row.items()
    }
