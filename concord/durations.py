"""Human durations (`30s`, `5m`, `1h30m`, `2d`) as written in concord.yaml."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Accept a number of seconds or a string such as `5m` or `1h30m`.

    Raises ValueError with a sentence the config loader can show as it is.
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError("a duration must be a number of seconds or a string such as '30s', '5m' or '1h'")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=text)
    compact = str(text).strip().replace(" ", "")
    if not compact:
        raise ValueError("a duration cannot be empty; write e.g. '30s', '5m' or '1h'")
    position = 0
    seconds = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError(f"'{text}' is not a duration; write a number and a unit, e.g. '30s', '5m', '1h30m' or '2d'")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Short form for logs and pages, the inverse of parse_duration for whole seconds."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
