"""Stopping on SIGTERM or Ctrl-C by finishing the work in hand, never by raising in the middle of it."""

from __future__ import annotations

import signal


class StopFlag:
    """Installs SIGTERM and SIGINT handlers that only raise this flag; loops check it between units of work
    (a run, a request batch, a send), so a stop never leaves half a unit written."""

    def __init__(self) -> None:
        self.raised = False
        signal.signal(signal.SIGTERM, self._raise)
        signal.signal(signal.SIGINT, self._raise)

    def _raise(self, _signum: int, _frame: object) -> None:
        self.raised = True
