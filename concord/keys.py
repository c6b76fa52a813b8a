"""Business keys as stable text: the same entity gets the same fingerprint from any database or file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


def normalize_value(value: Any) -> Any:
    """A JSON-safe value that compares equal whichever driver returned it (Decimal('42') == 42)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value.normalize())
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


_PLAIN = (int, str, type(None))


def normalize_key(values: Sequence[Any]) -> tuple[Any, ...]:
    """Key values as stored: typed as the database returned them, so a recheck can bind them again.

    Called once per row on the hot path of every batched rule: plain ints and strings (nearly every
    key) pass through without a function call each."""
    if len(values) == 1:
        value = values[0]
        return (value,) if type(value) in _PLAIN else (normalize_value(value),)
    return tuple(value if type(value) in _PLAIN else normalize_value(value) for value in values)


def comparable_key(values: Sequence[Any]) -> tuple[str, ...]:
    """Key values compared across a file and a database, where 42 and "42" are the same entity."""
    return tuple("" if value is None else str(normalize_value(value)).strip() for value in values)


def encode_key(values: Sequence[Any]) -> str:
    return json.dumps(list(normalize_key(values)), separators=(",", ":"), ensure_ascii=False)


def decode_key(text: str) -> tuple[Any, ...]:
    return tuple(json.loads(text))


def fingerprint(rule: str, key_text: str) -> str:
    """Identifies a violation across runs: one rule, one entity, one fingerprint."""
    return hashlib.sha256(f"{rule}\x00{key_text}".encode()).hexdigest()[:24]


def display_key(columns: Sequence[str], values: Sequence[Any]) -> str:
    if len(values) == 1:
        return str(normalize_value(values[0]))
    return ", ".join(f"{c}={normalize_value(v)}" for c, v in zip(columns, values, strict=True))
