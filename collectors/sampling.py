"""Random samples drawn in the database by index probes: cost grows with the sample, not the window.

Each probe picks a random point on an indexed column (the time column inside a window, else a numeric
key) and reads the first row at or after it (`WHERE col >= :p ORDER BY col LIMIT 1`): one index seek
per probe, instead of `ORDER BY RAND() LIMIT n`, which reads the whole window. Probes are seeded, so a
sample is reproducible. Rows after long gaps are a little more likely to be drawn (the usual price of
probe sampling); the estimate's confidence interval is the Wilson score interval.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from collectors.tables import Window, column
from concord.sources import Source


@dataclass(frozen=True)
class Estimate:
    sampled: int
    failing: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.failing / self.sampled if self.sampled else 0.0


def wilson_interval(failing: int, sampled: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion: sound at small samples and at rates near 0."""
    if sampled == 0:
        return 0.0, 1.0
    p = failing / sampled
    denominator = 1 + z * z / sampled
    center = (p + z * z / (2 * sampled)) / denominator
    half = z * math.sqrt(p * (1 - p) / sampled + z * z / (4 * sampled * sampled)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def probe_sample(source: Source, table: Any, key: list[str], time_column: str | None, window: Window | None,
                 conditions: list[ColumnElement[bool]], size: int, seed: int) -> list[dict[str, Any]]:
    """Up to `size` distinct rows, drawn by probes on the time column (in a window) or a numeric key."""
    rng = random.Random(seed)
    probe_on = time_column if time_column and window is not None else key[0]
    probed = column(table, probe_on)
    low, high = _bounds(source, table, probed, probe_on == time_column, window, conditions)
    if low is None or high is None:
        return []
    rows: dict[tuple, dict[str, Any]] = {}
    with source.connect() as connection:
        for _ in range(size * 3):  # some probes land on a row already drawn; stop after 3 tries per row
            if len(rows) >= size:
                break
            point = _random_point(rng, low, high)
            row = connection.execute(select(table).where(probed >= point, probed <= high, *conditions)
                                     .order_by(probed).limit(1)).mappings().first()
            if row is not None:
                rows.setdefault(tuple(row[c] for c in key), dict(row))
    source.throttle(len(rows))
    return list(rows.values())


def _bounds(source: Source, table: Any, probed: Any, is_time: bool, window: Window | None,
            conditions: list[ColumnElement[bool]]) -> tuple[Any, Any]:
    if is_time and window is not None and window.end is not None:
        high = source.to_local(window.end)
        if window.start is not None:
            return source.to_local(window.start), high
        with source.connect() as connection:  # MIN over an indexed column: one seek
            return connection.execute(select(func.min(probed))).scalar(), high
    with source.connect() as connection:
        low, high = connection.execute(select(func.min(probed), func.max(probed))).one()
    if low is not None and not isinstance(low, int | float | datetime):
        raise ValueError(f"sampling probes need a numeric or time column; '{probed.name}' holds {type(low).__name__}"
                         " — give the rule a time_column, or sample another rule")
    return low, high


def _random_point(rng: random.Random, low: Any, high: Any) -> Any:
    if isinstance(low, datetime):
        return low + timedelta(seconds=rng.random() * (high - low).total_seconds())
    if isinstance(low, int) and isinstance(high, int):
        return rng.randint(low, high)
    return low + rng.random() * (high - low)
