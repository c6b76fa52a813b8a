"""Bad configs are refused with the file, the YAML path and the line, in a sentence that says what to do;
secrets come from the environment and never show in any output."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from checks.registry import compile_rules
from concord.cli import main
from concord.config import load_config
from concord.durations import format_duration, parse_duration
from concord.errors import ConfigError

GOOD = """\
sources:
  orders:
    url: "sqlite:///orders.db"
rules:
  - name: paid_implies_stock_deducted
    kind: exists
    grace: 5m
    driver: {source: orders, table: orders, key: id, where: "status = 'PAID'", time_column: paid_at}
    target: {source: orders, table: stock_ledger, match: {order_id: id}}
"""


def problems_of(tmp_path: Path, text: str) -> list:
    path = tmp_path / "concord.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config, document = load_config(path)
        compile_rules(config, document)
    return caught.value.problems


def test_a_good_config_compiles(tmp_path: Path) -> None:
    path = tmp_path / "concord.yaml"
    path.write_text(GOOD, encoding="utf-8")
    config, document = load_config(path)
    (kind,) = compile_rules(config, document)
    assert kind.key_columns == ["id"] and config.rules[0].grace.total_seconds() == 300


def test_bad_duration_names_file_path_and_line(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("grace: 5m", "grace: five minutes"))
    assert problem.file.endswith("concord.yaml")
    assert (problem.path, problem.line) == ("rules[0].grace", 7)
    assert "'five minutes' is not a duration" in problem.message and "'5m'" in problem.message


def test_kind_specific_problems_point_into_the_rule(tmp_path: Path) -> None:
    text = GOOD.replace("source: orders, table: stock_ledger", "source: inventory, table: stock_ledger")
    (problem,) = problems_of(tmp_path, text)
    assert (problem.path, problem.line) == ("rules[0].target.source", 9)
    assert "no source named 'inventory'" in problem.message and "add it under 'sources'" in problem.message


def test_missing_field_and_unknown_setting_are_both_reported(tmp_path: Path) -> None:
    text = GOOD.replace("    grace: 5m\n", "    grace: 5m\n    colour: red\n").replace("key: id, ", "")
    problems = {(p.path, p.line, p.message) for p in problems_of(tmp_path, text)}
    assert problems == {
        ("rules[0].colour", 8, "'colour' is not a setting here; check its spelling or remove it"),
        ("rules[0].driver.key", 9, "'key' is required here; add it"),
    }


def test_unknown_kind(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("kind: exists", "kind: exist"))
    assert problem.path == "rules[0].kind" and problem.line == 6 and "use one of" in problem.message


def test_a_where_that_writes_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("status = 'PAID'", "1 = 1; DELETE FROM orders"))
    assert problem.path == "rules[0].driver.where" and problem.line == 8


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD + "  - name: [unclosed\n")
    assert problem.line == 11 and "not valid YAML" in problem.message and "starts on line 10" in problem.message


def test_duplicate_rule_names(tmp_path: Path) -> None:
    rule = GOOD.split("rules:\n")[1]
    (problem,) = problems_of(tmp_path, GOOD + rule)
    assert problem.path == "rules[1].name" and "already used" in problem.message


def test_unset_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERS_DB_PASSWORD", raising=False)
    text = GOOD.replace("sqlite:///orders.db", "mysql+pymysql://checker:${ORDERS_DB_PASSWORD}@db/shop")
    (problem,) = problems_of(tmp_path, text)
    assert problem.path == "sources.orders.url" and problem.line == 3
    assert "ORDERS_DB_PASSWORD is not set" in problem.message


def test_passwords_never_appear_in_validate_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ORDERS_DB_PASSWORD", "hunter2-very-secret")
    text = GOOD.replace("sqlite:///orders.db", "mysql+pymysql://checker:${ORDERS_DB_PASSWORD}@db/shop")
    path = tmp_path / "concord.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", "--config", str(path)]) == 0
    path.write_text(text.replace("grace: 5m", "grace: soon"), encoding="utf-8")
    assert main(["validate", "--config", str(path)]) == 2
    output = capsys.readouterr()
    assert "hunter2" not in output.out + output.err
    assert "checker:***@db" in output.out


def test_timezone_and_key_lists(tmp_path: Path) -> None:
    text = GOOD.replace('url: "sqlite:///orders.db"', 'url: "sqlite:///orders.db"\n    timezone: Mars/Olympus')
    (problem,) = problems_of(tmp_path, text)
    assert problem.path == "sources.orders.timezone" and "IANA" in problem.message


def test_durations() -> None:
    assert parse_duration("1h30m").total_seconds() == 5400
    assert parse_duration(45).total_seconds() == 45
    assert format_duration(parse_duration("2d3h")) == "2d3h"
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("5 minutes")
