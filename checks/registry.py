"""Rule kinds by name, and compiling a config's rules into runnable kinds with located errors.

A custom kind is a RuleKind subclass passed to `register`; built-in kinds go through the same door.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url

from checks.kinds.base import RuleKind
from checks.kinds.exists import ExistsKind
from checks.kinds.match import MatchKind
from checks.kinds.sql import SqlKind
from checks.kinds.state import StateKind
from checks.kinds.statement import StatementKind
from checks.kinds.unique import UniqueKind
from checks.sqlguard import check_condition
from concord.config import Config, problems_from_validation
from concord.errors import ConfigError, Problem, UnsafeQueryError
from concord.yamlfile import LocatedDocument

KINDS: dict[str, type[RuleKind]] = {}


def register(kind: type[RuleKind]) -> type[RuleKind]:
    for name in kind.names:
        KINDS[name] = kind
    return kind


for _builtin in (ExistsKind, MatchKind, UniqueKind, StateKind, SqlKind, StatementKind):
    register(_builtin)


def compile_rules(config: Config, document: LocatedDocument) -> list[RuleKind]:
    """Every rule as a runnable kind; raises ConfigError with every problem of every rule."""
    compiled: list[RuleKind] = []
    problems: list[Problem] = []
    for index, rule in enumerate(config.rules):
        at = ("rules", index)
        kind = KINDS.get(rule.kind)
        if kind is None:
            problems.append(document.problem((*at, "kind"), f"'{rule.kind}' is not a rule kind; use one of "
                                                           f"{', '.join(sorted(KINDS))}"))
            continue
        try:
            params = kind.Params.model_validate(rule.params)
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, document, at))
            continue
        instance = kind(rule, params, config)
        rule_problems = instance.config_problems() + instance.sample_problems() + _where_problems(params, config)
        problems.extend(document.problem((*at, *path), message) for path, message in rule_problems)
        compiled.append(instance)
    if problems:
        raise ConfigError(problems)
    return compiled


def _where_problems(params: BaseModel, config: Config, path: tuple[str, ...] = ()) -> list[tuple[tuple, str]]:
    """Each `where:` in the rule, parsed in its source's dialect."""
    problems: list[tuple[tuple, str]] = []
    source_name = getattr(params, "source", None)
    backend = _backend(config, source_name)
    where = getattr(params, "where", None)
    if isinstance(where, str):
        try:
            check_condition(where, backend)
        except UnsafeQueryError as exc:
            problems.append(((*path, "where"), f"this filter is not a plain condition: {exc}"))
    for name in type(params).model_fields:
        value = getattr(params, name)
        if isinstance(value, BaseModel):
            problems.extend(_where_problems(value, config, (*path, _yaml_name(type(params), name))))
    return problems


def _yaml_name(model: type[BaseModel], field: str) -> str:
    alias = model.model_fields[field].alias
    return alias or field


def _backend(config: Config, source_name: Any) -> str | None:
    source = config.sources.get(source_name) if isinstance(source_name, str) else None
    if source is None:
        return None
    try:
        return make_url(source.url).get_backend_name()
    except Exception:  # noqa: BLE001 - the URL itself is reported by its own validation
        return None
