"""YAML loading that remembers where every value was written, and fills in `${ENV_VAR}` secrets.

Config errors must point at the file and line the user wrote, so the loader keeps a map from
each YAML path (`rules[2].driver.table`) to its line while turning the document into plain data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from concord.errors import ConfigError, Problem

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
PathKey = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """Plain data (dicts, lists, scalars) plus the line of each path in it."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """The line of the deepest part of `path` that exists in the file (1-based)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def problem(self, path: PathKey, message: str) -> Problem:
        return Problem(self.file, format_path(path), self.line_of(path), message)


def format_path(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_yaml(path: str | Path, environ: Mapping[str, str] | None = None) -> LocatedDocument:
    """Read a YAML file; unreadable or malformed files raise ConfigError naming the line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(file, "", None, f"cannot read the file ({exc.strerror}); check the path")]) from exc
    return parse_yaml(text, file, environ)


def parse_yaml(text: str, file: str = "<string>", environ: Mapping[str, str] | None = None) -> LocatedDocument:
    try:
        raw = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark, context = exc.problem_mark, exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"this is not valid YAML: {exc.problem}"
        if context is not None and context.line + 1 != line:
            message += f" ({exc.context} that starts on line {context.line + 1})"
        raise ConfigError([Problem(file, "", line, message + "; fix the indentation or brackets there")]) from exc
    document = LocatedDocument(file=file, data=None)
    problems: list[Problem] = []
    env = os.environ if environ is None else environ
    document.data = _plain(raw, (), document, env, problems)
    if problems:
        raise ConfigError(problems)
    return document


def _plain(node: Any, path: PathKey, doc: LocatedDocument, env: Mapping[str, str], problems: list[Problem]) -> Any:
    if isinstance(node, CommentedMap):
        result = {}
        for key, value in node.items():
            child = (*path, str(key))
            try:
                doc.lines[child] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):
                doc.lines[child] = node.lc.line + 1
            result[str(key)] = _plain(value, child, doc, env, problems)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                doc.lines[child] = node.lc.item(index)[0] + 1
            except (KeyError, TypeError):
                doc.lines[child] = node.lc.line + 1
            items.append(_plain(value, child, doc, env, problems))
        return items
    if isinstance(node, str):
        return _interpolate(str(node), path, doc, env, problems)
    return node


def _interpolate(value: str, path: PathKey, doc: LocatedDocument, env: Mapping[str, str],
                 problems: list[Problem]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            doc.problem(path, f"the environment variable {name} is not set; export it before running Concord "
                              f"or write ${{{name}:-default}}")
        )
        return ""

    return _ENV.sub(replace, value)
