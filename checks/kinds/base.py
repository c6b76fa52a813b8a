"""What every rule kind shares: the table spec models, evidence capture, and the kind interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.sql.schema import Table

from checks.model import Finding, PlannedQuery, RunContext
from concord.config import ColumnList, Config, RuleConfig
from concord.masking import mask_row
from concord.sources import Source

MAX_RELATED_ROWS = 10


class KindParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TableSpec(KindParams):
    """A table in a source, the rows of it a rule looks at, and how its entities are keyed."""

    source: str
    table: str
    schema_name: str | None = Field(None, alias="schema")
    key: ColumnList | None = None
    where: str | None = None
    time_column: str | None = None

    def label(self) -> str:
        return f"{self.source}.{self.table}"


class DriverSpec(TableSpec):
    """The table whose rows a rule quantifies over: it must say how its entities are keyed."""

    key: ColumnList


class RuleKind(ABC):
    """One rule, compiled: its kind's behaviour over its validated settings."""

    names: ClassVar[tuple[str, ...]]
    Params: ClassVar[type[KindParams]]

    def __init__(self, rule: RuleConfig, params: Any, config: Config) -> None:
        self.rule = rule
        self.params = params
        self.config = config

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    @abstractmethod
    def key_columns(self) -> list[str]:
        """Names of the key's columns, to show keys as `order_id=1, line_no=2`."""

    @property
    @abstractmethod
    def source_names(self) -> list[str]:
        """Sources the rule reads, driver first."""

    @property
    def time_column(self) -> str | None:
        """The column incremental runs window on; None means every run covers everything."""
        return None

    @property
    def always_full(self) -> bool:
        """Kinds whose query cannot be narrowed to a window or keys (the user's SQL) cover everything."""
        return False

    def config_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-field problems as (path inside the rule, sentence); sources are checked here for all kinds."""
        problems = []
        for path, spec in self._named_specs():
            if spec.source not in self.config.sources:
                known = ", ".join(self.config.sources) or "none defined"
                problems.append(((*path, "source"), f"there is no source named '{spec.source}' (sources: {known}); "
                                                    "add it under 'sources'"))
        return problems

    def _named_specs(self) -> list[tuple[tuple[str, ...], TableSpec]]:
        return []

    @property
    def samples(self) -> bool:
        """Kinds that can judge a random sample of their driver rows (`sample:` in the rule)."""
        return False

    def sample_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        if self.rule.sample is not None and not self.samples:
            return [(("sample",), f"'{self.rule.kind}' rules cannot be sampled; sample an exists or not_exists "
                                  "rule, or remove 'sample'")]
        return []

    def plan(self, ctx: RunContext) -> list[PlannedQuery]:
        """The statements a run of this scope sends, built exactly as `findings` builds them."""
        return []

    @abstractmethod
    def findings(self, ctx: RunContext) -> Iterator[Finding]:
        """The failing entities of the scope in ctx; rows read are counted with ctx.checked()."""

    # -- shared helpers ----------------------------------------------------------------------------------
    def table(self, ctx: RunContext, spec: TableSpec) -> tuple[Source, Table]:
        source = ctx.source(spec.source)
        return source, source.table(spec.table, spec.schema_name)

    def capture(self, ctx: RunContext, source_name: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """Mask at capture: the configured columns never leave this function in clear."""
        return mask_row(row, ctx.source(source_name).config.mask)

    def trace_of(self, row: Mapping[str, Any]) -> str | None:
        trace = self.rule.trace
        if trace is None or trace.column is None:
            return None
        value = row.get(trace.column)
        return str(value) if value else None
