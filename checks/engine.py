"""The check engine: plans each rule's runs (incremental, recheck, full), runs them, stores the outcome.

A run reads first and writes last: findings are gathered while the sources are read, and only a
run that finished reading touches violations, in one transaction with its record and watermark.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from checks.kinds.base import MAX_RELATED_ROWS, RuleKind
from checks.lifecycle import Observed, apply_findings
from checks.model import RunContext
from collectors.sampling import Estimate, wilson_interval
from collectors.tables import Scope, Window, chunks, scope_conditions
from concord import metrics
from concord.clock import Clock
from concord.config import Config
from concord.keys import decode_key, display_key, encode_key, fingerprint
from concord.sources import Source, scrub_secrets
from concord.store.db import Store
from concord.store.health import record_failure, record_ok
from concord.store.leases import Lease, LostLease, acquire, check_fence, forget_checker, heartbeat, release
from concord.store.runs import finish_run, get_watermark, set_watermark, start_run
from concord.store.schema import OPEN_STATUSES, violations

log = logging.getLogger("concord.engine")


@dataclass
class SourceHealth:
    """A failing source waits before it is tried again: `backoff`, doubling per failure, up to `backoff_max`."""

    failures: int = 0
    retry_at: datetime | None = None
    last_error: str = ""


@dataclass
class RunOutcome:
    rule: str
    scope: str
    run_id: int
    status: str
    rows_checked: int = 0
    findings: int = 0
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    seconds: float = 0.0
    error: str | None = None
    failing: frozenset[str] = field(default_factory=frozenset, repr=False)  # fingerprints found failing
    estimate: Estimate | None = None  # sampled runs only


class Checker:
    """Runs compiled rules against their sources and records the outcome in the store."""

    def __init__(self, config: Config, kinds: list[RuleKind], store: Store, clock: Clock,
                 progress: Callable[[str, int], None] | None = None) -> None:
        self.config = config
        self.kinds = kinds
        self.store = store
        self.clock = clock
        self.progress = progress
        self._sources: dict[str, Source] = {}
        self.health: dict[str, SourceHealth] = {}
        self.recorded_ok: set[str] = set()  # sources this process has recorded healthy in the store
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leases: dict[str, Lease] = {}
        self.alive = 1
        # Called after each page a kind reads; tests use it to break a source mid-run.
        self.after_page: Callable[[RuleKind, int], None] | None = None

    def source(self, name: str) -> Source:
        if name not in self._sources:
            self._sources[name] = Source(name, self.config.sources[name], self.config.base_dir)
        return self._sources[name]

    def sources_only_close(self) -> None:
        """Dispose the sources; for commands that read but never run (explain), with no leases to return."""
        for source in self._sources.values():
            source.dispose()
        self._sources.clear()

    def close(self) -> None:
        """Dispose the sources and hand the leases back, so another checker takes the rules at once."""
        self.sources_only_close()
        for lease in self.leases.values():
            release(self.store, lease)
        self.leases.clear()
        forget_checker(self.store, self.owner)

    def selected(self, names: Iterable[str] | None) -> list[RuleKind]:
        if not names:
            return list(self.kinds)
        wanted = set(names)
        unknown = wanted - {k.name for k in self.kinds}
        if unknown:
            raise KeyError(f"no rule named {', '.join(sorted(unknown))}; `concord validate` lists the rules")
        return [k for k in self.kinds if k.name in wanted]

    def check_once(self, rule_names: Iterable[str] | None = None, full: bool = False) -> list[RunOutcome]:
        """Each rule once: its new rows (or everything), then a recheck of its open violations.

        Rules leased to another checker are left to it; with several checkers alive, each keeps about
        its fair share of the rules and hands back the rest.
        """
        self.alive = heartbeat(self.store, self.owner, self.clock.now(), self.config.checker.lease)
        outcomes = []
        for kind in self.selected(rule_names):
            if full or kind.always_full or (kind.time_column is None and kind.rule.sample is None):
                outcomes.append(self.run(kind, "full"))
            else:
                incremental = self.run(kind, "sample" if kind.rule.sample is not None else "incremental")
                outcomes.append(incremental)
                if incremental.status != "ok":  # failing source, or another checker's rule: no recheck here
                    continue
                recheck = self.recheck(kind, skip=incremental.failing)
                if recheck is not None:
                    outcomes.append(recheck)
        self._hand_back_extra_leases()
        return outcomes

    @property
    def fair_share(self) -> int:
        return math.ceil(len(self.kinds) / max(1, self.alive))

    def _hand_back_extra_leases(self) -> None:
        for name in sorted(self.leases)[self.fair_share:]:
            release(self.store, self.leases.pop(name))

    # -- one run ----------------------------------------------------------------------------------------------
    def run(self, kind: RuleKind, scope_kind: str, keys: tuple[tuple[Any, ...], ...] = ()) -> RunOutcome:
        started = time.monotonic()
        outcome = self._run(kind, scope_kind, keys)
        if outcome.status != "held":
            metrics.RUNS.labels(kind.name, scope_kind, outcome.status).inc()
            metrics.RUN_SECONDS.labels(kind.name, scope_kind).observe(time.monotonic() - started)
            metrics.ROWS_CHECKED.labels(kind.name).inc(outcome.rows_checked)
        return outcome

    def _run(self, kind: RuleKind, scope_kind: str, keys: tuple[tuple[Any, ...], ...] = ()) -> RunOutcome:
        started = time.monotonic()
        now = self.clock.now()
        if kind.name not in self.leases and len(self.leases) >= self.fair_share:
            return RunOutcome(kind.name, scope_kind, 0, "held")  # leave it to a checker with fewer rules
        lease = acquire(self.store, kind.name, self.owner, now, self.config.checker.lease)
        if lease is None:  # another checker holds this rule: it runs it, we do not
            self.leases.pop(kind.name, None)
            return RunOutcome(kind.name, scope_kind, 0, "held")
        self.leases[kind.name] = lease
        scope = self._scope(kind, scope_kind, now, keys)
        window = scope.window or Window(None, None)
        with self.store.begin() as connection:
            run_id = start_run(connection, kind.name, scope_kind, now, window.start, window.end, self.owner)
        outcome = RunOutcome(kind.name, scope_kind, run_id, "running")
        waiting = self._backed_off(kind, now)
        if waiting:
            outcome.error = waiting
            with self.store.begin() as connection:
                finish_run(connection, run_id, now, "skipped", error=waiting)
            outcome.status = "skipped"
            return outcome
        context = RunContext(sources={n: self.source(n) for n in kind.source_names}, scope=scope, now=now,
                             progress=self._counter(kind))
        try:
            observed = self._gather(kind, context, scope, keys)
        except Exception as exc:  # noqa: BLE001 - any failure ends this run only, never the others
            outcome.error = self._message(exc)
            failing = getattr(exc, "source", None)
            if failing in self.config.sources:
                self._back_off(failing, now, outcome.error)
            log.warning("rule %s: %s run failed: %s", kind.name, scope_kind, outcome.error,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            return self._failed(outcome, context, started)
        covered: str | set[str] = "all" if scope_kind == "full" else \
            {fingerprint(kind.name, encode_key(k)) for k in keys} if scope_kind == "recheck" else \
            {fingerprint(kind.name, encode_key(k)) for k in context.sampled_keys} if scope_kind == "sample" else set()
        extra: dict[str, Any] = {}
        if scope_kind == "sample":
            failing_sampled = len(covered & set(observed))
            low, high = wilson_interval(failing_sampled, len(context.sampled_keys))
            outcome.estimate = Estimate(len(context.sampled_keys), failing_sampled, low, high)
            extra = {"sampled": len(context.sampled_keys), "sample_failing": failing_sampled, "rate_low": low,
                     "rate_high": high}
        finished = self.clock.now()
        writing = time.perf_counter()
        try:
            with self.store.begin() as connection:
                check_fence(connection, lease)  # a paused checker whose lease passed on writes nothing
                counts = apply_findings(connection, kind.name, kind.rule.severity, run_id, now, observed, covered,
                                        outbox=bool(self.config.alerts.channels))
                if scope_kind == "incremental" and window.end is not None:
                    set_watermark(connection, kind.name, window.end, now)
                if any(name in self.health for name in kind.source_names) or not self._healthy_recorded(kind):
                    record_ok(connection, list(dict.fromkeys(kind.source_names)), finished)
                outcome.status, outcome.rows_checked, outcome.findings = "ok", context.rows_checked, len(observed)
                outcome.failing = frozenset(observed)
                outcome.opened, outcome.reopened, outcome.resolved = counts.opened, counts.reopened, counts.resolved
                finish_run(connection, run_id, finished, "ok", rows_checked=context.rows_checked,
                           findings=len(observed), opened=counts.opened, resolved=counts.resolved,
                           reopened=counts.reopened, **extra)
        except LostLease as exc:
            self.leases.pop(kind.name, None)
            outcome = RunOutcome(kind.name, scope_kind, run_id, "fenced", error=str(exc))
            with self.store.begin() as connection:
                finish_run(connection, run_id, self.clock.now(), "fenced", error=str(exc))
            log.warning("rule %s: %s", kind.name, exc)
            return outcome
        metrics.STORE_WRITE_SECONDS.labels("findings").observe(time.perf_counter() - writing)
        for name in kind.source_names:
            self.health.pop(name, None)
            self.recorded_ok.add(name)
        outcome.seconds = time.monotonic() - started
        return outcome

    def _healthy_recorded(self, kind: RuleKind) -> bool:
        """Whether this process already told the store these sources are fine (then nothing changed)."""
        return all(name in self.recorded_ok for name in kind.source_names)

    def _backed_off(self, kind: RuleKind, now: datetime) -> str | None:
        for name in kind.source_names:
            health = self.health.get(name)
            if health is not None and health.retry_at is not None and health.retry_at > now:
                return (f"source '{name}' is backed off until {health.retry_at:%Y-%m-%d %H:%M:%S} UTC after "
                        f"{health.failures} failure(s); last error: {health.last_error}")
        return None

    def _back_off(self, name: str, now: datetime, error: str) -> None:
        config = self.config.sources[name]
        health = self.health.setdefault(name, SourceHealth())
        health.failures += 1
        wait = min(config.backoff * (2 ** (health.failures - 1)), config.backoff_max)
        health.retry_at, health.last_error = now + wait, error[:300]
        self.recorded_ok.discard(name)
        metrics.SOURCE_ERRORS.labels(name).inc()
        with self.store.begin() as connection:
            record_failure(connection, name, health.failures, health.retry_at, health.last_error, now)
        log.warning("source %s failed %d time(s); next try in %s", name, health.failures, wait)

    def recheck(self, kind: RuleKind, skip: frozenset[str] = frozenset()) -> RunOutcome | None:
        """Rerun the rule on the keys of its open violations, so they resolve when the data converges.

        Keys the incremental run just found failing are skipped: reading them twice proves nothing.
        """
        with self.store.read() as connection:
            rows = connection.execute(select(violations.c.fingerprint, violations.c.key_text).where(
                violations.c.rule == kind.name, violations.c.status.in_(OPEN_STATUSES))).all()
        keys = tuple(decode_key(row.key_text) for row in rows if row.fingerprint not in skip)
        if not keys:
            return None
        return self.run(kind, "recheck", keys)

    def scope_for(self, kind: RuleKind, full: bool = False) -> Scope:
        """The scope the next check of this rule would cover (for `concord explain`)."""
        scope_kind = "full" if full or kind.always_full or (kind.time_column is None and kind.rule.sample is None) \
            else "sample" if kind.rule.sample is not None else "incremental"
        return self._scope(kind, scope_kind, self.clock.now(), ())

    def _scope(self, kind: RuleKind, scope_kind: str, now: datetime, keys: tuple) -> Scope:
        if scope_kind == "incremental":
            with self.store.read() as connection:
                watermark = get_watermark(connection, kind.name)
            start = watermark - kind.rule.overlap if watermark is not None else None
            return Scope("incremental", Window(start, now - kind.rule.grace))
        if scope_kind == "recheck":
            return Scope("recheck", keys=keys)
        if scope_kind == "sample":
            sample = kind.rule.sample
            assert sample is not None
            window = Window(now - kind.rule.grace - sample.window, now - kind.rule.grace)
            return Scope("sample", window, sample_size=self._sample_size(kind, window), seed=sample.seed)
        return Scope("full", Window(None, now - kind.rule.grace) if kind.rule.grace > timedelta(0) else None)

    def _sample_size(self, kind: RuleKind, window: Window) -> int:
        """`size` as given; `rate` times the window's rows (a COUNT over the time index: it grows with the
        window, so prefer `size` on very large windows)."""
        sample = kind.rule.sample
        assert sample is not None
        if sample.size is not None:
            return sample.size
        driver = getattr(kind.params, "driver", None)
        source = self.source(driver.source)
        table = source.table(driver.table, driver.schema_name)
        conditions = scope_conditions(table, kind.key_columns, driver.time_column, driver.where,
                                      Scope("sample", window), source)
        with source.connect() as connection:
            rows = int(connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar() or 0)
        return max(1, math.ceil(rows * (sample.rate or 0)))

    def _gather(self, kind: RuleKind, context: RunContext, scope: Scope, keys: tuple) -> dict[str, Observed]:
        observed: dict[str, Observed] = {}
        batches = [scope] if scope.kind != "recheck" else [
            Scope("recheck", keys=tuple(chunk)) for chunk in chunks(keys, 500)]
        for batch in batches:
            context.scope = batch
            for found in kind.findings(context):
                key_text = encode_key(found.key)
                fp = fingerprint(kind.name, key_text)
                evidence = dict(found.evidence)
                if found.trace_id:
                    evidence["trace_id"] = found.trace_id
                if fp in observed:
                    _merge(observed[fp].evidence, evidence)
                else:
                    observed[fp] = Observed(fp, key_text, display_key(kind.key_columns, found.key), evidence)
        return observed

    def _counter(self, kind: RuleKind) -> Callable[[int], None]:
        def counted(rows: int) -> None:
            if self.progress is not None:
                self.progress(kind.name, rows)
            if self.after_page is not None:
                self.after_page(kind, rows)
        return counted

    def _failed(self, outcome: RunOutcome, context: RunContext, started: float) -> RunOutcome:
        outcome.status, outcome.rows_checked = "error", context.rows_checked
        outcome.seconds = time.monotonic() - started
        with self.store.begin() as connection:
            finish_run(connection, outcome.run_id, self.clock.now(), "error", error=outcome.error,
                       rows_checked=context.rows_checked)
        return outcome

    def _message(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, LookupError | ValueError) and type(exc).__module__ != "concord.errors":
            text = f"{type(exc).__name__}: {text}"
        return scrub_secrets(text, [s.url for s in self.config.sources.values()])[:2000]


def _merge(kept: dict[str, Any], extra: dict[str, Any]) -> None:
    """One entity failing in several ways in one run: keep the first evidence, add the others' rows."""
    more = kept.setdefault("also", [])
    if len(more) < MAX_RELATED_ROWS:
        more.append({k: v for k, v in extra.items() if k in ("row", "expected", "actual", "statement")})
