"""`concord run`'s children: each part (scheduler, receiver, notifier, dashboard) in a process of its own.

Separate processes rather than one event loop: a crash, a leak or a stuck driver call in one part
cannot stop the others, Streamlit keeps its own main thread, and a child that dies is restarted
with a capped exponential back-off (reset once it has stayed up a minute) and counted in
`concord_child_restarts_total`. SIGTERM is passed on to every child, each of which finishes what it
is doing (the run in progress, the requests in flight, the message being sent); a child still
running after the stop timeout is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta

from concord import metrics

log = logging.getLogger("concord.run")
STEADY_SECONDS = 60.0  # a child up this long has its back-off reset


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    start_at: float = 0.0  # when a dead child is due to start again
    last_exit: int | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, specs: list[ChildSpec], restart_backoff_max: timedelta, stop_timeout: timedelta) -> None:
        self.children = {spec.name: Child(spec) for spec in specs}
        self.backoff_max = restart_backoff_max.total_seconds()
        self.stop_timeout = stop_timeout.total_seconds()
        self.stopping = False

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def poll(self) -> None:
        """Restart children that exited (unless stopping); call it every fraction of a second."""
        now = time.monotonic()
        for child in self.children.values():
            if self.stopping:
                return
            if child.process is not None and child.process.poll() is not None:
                child.last_exit = child.process.returncode
                child.process = None
                up_for = now - child.started_at
                child.backoff = 1.0 if up_for >= STEADY_SECONDS or not child.backoff else \
                    min(child.backoff * 2, self.backoff_max)
                child.start_at = now + child.backoff
                log.error("child %s exited with status %s after %.0f s; restarting in %.0f s", child.spec.name,
                          child.last_exit, up_for, child.backoff)
            if child.process is None and now >= child.start_at:
                child.restarts += 1
                metrics.CHILD_RESTARTS.labels(child.spec.name).inc()
                self._spawn(child)

    def stop(self) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.running:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("child %s did not stop within %.0f s; killing it", child.spec.name, self.stop_timeout)
                child.process.kill()
                child.process.wait()
            child.last_exit = child.process.returncode

    def states(self) -> dict[str, dict[str, object]]:
        now = time.monotonic()
        return {name: {"running": child.running, "pid": child.process.pid if child.running else None,
                       "up_seconds": round(now - child.started_at, 1) if child.running else 0,
                       "restarts": child.restarts, "last_exit": child.last_exit}
                for name, child in self.children.items()}

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.spec.argv, env={**os.environ, **child.spec.env})
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.spec.name, child.process.pid)
