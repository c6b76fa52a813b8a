"""Progress on a terminal for long work; silent when output is a pipe, a file or a cron mail."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._rows: dict[str, int] = {}
        self._shown = 0.0

    def rows(self, rule: str, count: int) -> None:
        self._rows[rule] = self._rows.get(rule, 0) + count
        now = time.monotonic()
        if self.enabled and now - self._shown >= self.interval:
            self._shown = now
            self.stream.write(f"\r  {rule}: {self._rows[rule]:,} rows checked   ")
            self.stream.flush()

    def line(self, text: str) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r" + text + "\n")
            self.stream.flush()
