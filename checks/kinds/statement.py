"""`statement`: a payment gateway's CSV statement reconciled with local payments, both ways, amounts included.

Entries in the statement with no (settled) local payment, local payments missing from the
statement, and amounts that differ beyond the tolerance. A statement is one settlement period,
held in memory as a dict by key; the local side is read in keyset pages and looked up in batches.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import select

from checks.kinds.base import DriverSpec, KindParams, RuleKind
from checks.model import Finding, PlannedQuery, RunContext
from collectors.tables import Window, chunks, column, fetch, keys_in, keyset_batches, scope_conditions, where_text
from concord.errors import SourceError
from concord.keys import comparable_key


class StatementFile(KindParams):
    file: str
    key: str
    amount: str
    time_column: str | None = None
    timezone: str = "UTC"
    filter: dict[str, str] = Field(default_factory=dict)
    delimiter: str = ","


class LocalPayments(DriverSpec):
    amount: str


class StatementParams(KindParams):
    statement: StatementFile
    local: LocalPayments
    tolerance: float = Field(0.0, ge=0)


class StatementKind(RuleKind):
    names = ("statement",)
    Params = StatementParams
    params: StatementParams

    @property
    def key_columns(self) -> list[str]:
        return [self.params.statement.key]

    @property
    def source_names(self) -> list[str]:
        return [self.params.local.source]

    @property
    def time_column(self) -> str | None:
        return self.params.local.time_column or self.params.statement.time_column

    def _named_specs(self) -> list[tuple[tuple[str, ...], Any]]:
        return [(("local",), self.params.local)]

    def config_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems = super().config_problems()
        if len(self.params.local.key) != 1:
            problems.append((("local", "key"), "name the one local column that holds the statement's key, "
                                               "e.g. key: gateway_txn_id"))
        if not self.statement_path.is_file():
            problems.append((("statement", "file"), f"the statement file {self.statement_path} does not exist; "
                                                    "check the path (it is relative to concord.yaml)"))
        return problems

    @property
    def statement_path(self) -> Path:
        path = Path(self.params.statement.file)
        return path if path.is_absolute() else self.config.base_dir / path

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        local = self.params.local
        source, table = self.table(ctx, local)
        covered = scope_conditions(table, list(local.key), local.time_column, local.where, ctx.scope, source)
        page = select(table).where(*covered).order_by(column(table, local.key[0])).limit(source.config.batch_size)
        lookup = select(table).where(keys_in(table, list(local.key), [("",)]), *where_text(local.where))
        return [PlannedQuery(local.source, "local payments, one keyset page (checked against the statement)", page),
                PlannedQuery(local.source, "local payments for a batch of statement keys (one IN list per batch)",
                             lookup)]

    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        entries = self._read_statement()
        yield from self._statement_to_local(ctx, entries)
        yield from self._local_to_statement(ctx, entries)

    # -- the statement side --------------------------------------------------------------------------------
    def _read_statement(self) -> dict[tuple[str, ...], dict[str, str]]:
        spec = self.params.statement
        entries: dict[tuple[str, ...], dict[str, str]] = {}
        try:
            with self.statement_path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle, delimiter=spec.delimiter)
                header = reader.fieldnames or []
                missing = [c for c in (spec.key, spec.amount, spec.time_column) if c and c not in header]
                if missing:
                    raise SourceError(f"the statement {self.statement_path} has no column {', '.join(missing)} "
                                      f"(it has {', '.join(reader.fieldnames or [])}); fix the rule's 'statement'")
                for row in reader:
                    if all(row.get(c) == v for c, v in spec.filter.items()):
                        entries[comparable_key([row[spec.key]])] = row
        except OSError as exc:
            raise SourceError(f"cannot read the statement {self.statement_path}: {exc.strerror}") from exc
        return entries

    def _entry_time(self, entry: dict[str, str]) -> datetime | None:
        spec = self.params.statement
        if not spec.time_column or not entry.get(spec.time_column):
            return None
        moment = datetime.fromisoformat(entry[spec.time_column])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(spec.timezone))
        return moment.astimezone(UTC)

    def _entries_in_scope(self, ctx: RunContext, entries: dict[tuple[str, ...], dict[str, str]]) -> list[tuple]:
        scope = ctx.scope
        if scope.kind == "recheck":
            return [k for k in (comparable_key(k) for k in scope.keys) if k in entries]
        if scope.window is not None:
            return [k for k, entry in entries.items() if _within(self._entry_time(entry), scope.window)]
        return list(entries)

    def _statement_to_local(self, ctx: RunContext, entries: dict[tuple[str, ...], dict[str, str]]) -> Iterator[Finding]:
        local = self.params.local
        source, table = self.table(ctx, local)
        key_column = local.key[0]
        wanted = self._entries_in_scope(ctx, entries)
        for chunk in chunks(wanted, source.config.batch_size):
            ctx.checked(len(chunk))
            raw = [(entries[k][self.params.statement.key],) for k in chunk]
            settled = {comparable_key([r[key_column]]): r for r in fetch(
                source, select(table).where(keys_in(table, [key_column], raw), *where_text(local.where)))}
            unsettled_keys = [r for r, k in zip(raw, chunk, strict=True) if k not in settled]
            other = {comparable_key([r[key_column]]): r for r in fetch(
                source, select(table).where(keys_in(table, [key_column], unsettled_keys)))} if unsettled_keys else {}
            for key in chunk:
                entry = entries[key]
                if key in settled:
                    finding = self._amount_finding(ctx, key, entry, settled[key])
                    if finding is not None:
                        yield finding
                else:
                    yield self._missing_locally(ctx, key, entry, other.get(key))

    def _amount_finding(self, ctx: RunContext, key: tuple[str, ...], entry: dict[str, str],
                        row: dict[str, Any]) -> Finding | None:
        theirs, ours = _decimal(entry[self.params.statement.amount]), _decimal(row[self.params.local.amount])
        if theirs is not None and ours is not None and abs(theirs - ours) <= Decimal(str(self.params.tolerance)):
            return None
        return Finding(key=key, evidence={
            "row": self.capture(ctx, self.params.local.source, row),
            "statement": dict(entry),
            "expected": f"amount {theirs} as in the statement",
            "actual": f"local amount {ours}",
        }, trace_id=self.trace_of(row))

    def _missing_locally(self, ctx: RunContext, key: tuple[str, ...], entry: dict[str, str],
                         unsettled: dict[str, Any] | None) -> Finding:
        local = self.params.local
        evidence: dict[str, Any] = {
            "statement": dict(entry),
            "expected": f"a local payment in {local.label()}" + (f" where {local.where}" if local.where else ""),
            "actual": "no local payment" if unsettled is None else "a local payment that does not match the filter",
        }
        if unsettled is not None:
            evidence["row"] = self.capture(ctx, local.source, unsettled)
        return Finding(key=key, evidence=evidence, trace_id=self.trace_of(unsettled or {}))

    # -- the local side ---------------------------------------------------------------------------------------
    def _local_to_statement(self, ctx: RunContext, entries: dict[tuple[str, ...], dict[str, str]]) -> Iterator[Finding]:
        local = self.params.local
        source, table = self.table(ctx, local)
        key_column = local.key[0]
        column(table, key_column)  # a missing key column is a clear SourceError before any page is read
        covered = scope_conditions(table, [key_column], local.time_column, local.where, ctx.scope, source)
        for page in keyset_batches(source, select(table).where(*covered), table, [key_column],
                                   source.config.batch_size, full_scan=ctx.scope.kind == "full"):
            ctx.checked(len(page))
            for row in page:
                key = comparable_key([row[key_column]])
                if key not in entries:
                    yield Finding(key=key, evidence={
                        "row": self.capture(ctx, local.source, row),
                        "expected": f"an entry in the statement {self.statement_path.name}",
                        "actual": "missing from the statement",
                    }, trace_id=self.trace_of(row))


def _within(moment: datetime | None, window: Window) -> bool:
    if moment is None:
        return True
    if window.start is not None and moment <= window.start:
        return False
    return not (window.end is not None and moment > window.end)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        return None
