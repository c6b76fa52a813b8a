"""The `concord` command as cron, CI and on-call use it: exit codes, exports, and the demo's JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from concord.cli import main
from concord.exports import neutralise_cell, to_markdown
from tests.conftest import NOW
from tests.databases import DatabaseFactory
from tests.shop import RULES, load_mini_shop, write_config


@pytest.fixture
def shop_config(sqlite: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONCORD_NOW", NOW.isoformat())
    url = sqlite.new("shop")
    urls = {"orders": url, "payments": url, "inventory": url}
    load_mini_shop(urls)
    rules = [dict(RULES["exists"], severity="critical"), dict(RULES["state_values"], severity="low")]
    return write_config(tmp_path, urls, rules)


def test_exit_1_with_open_violations_and_0_below_fail_on(shop_config: Path) -> None:
    assert main(["check", "--once", "--config", str(shop_config)]) == 1
    assert main(["check", "--once", "--config", str(shop_config), "--rule", "known_status",
                 "--fail-on", "high"]) == 0


def test_exit_0_when_everything_open_is_acknowledged(shop_config: Path) -> None:
    assert main(["check", "--once", "--config", str(shop_config)]) == 1
    engine = create_engine(f"sqlite:///{shop_config.parent / 'store.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE violations SET status = 'acknowledged'"))
    engine.dispose()
    assert main(["check", "--once", "--config", str(shop_config)]) == 0


def test_exit_2_on_a_bad_config_or_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "concord.yaml"
    bad.write_text("sources: {}\nrules:\n  - name: r\n    kind: nope\n", encoding="utf-8")
    assert main(["check", "--once", "--config", str(bad)]) == 2
    assert "concord.yaml:4 at rules[0].kind" in capsys.readouterr().err
    assert main(["check", "--once", "--config", str(tmp_path / "missing.yaml")]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["check", "--scope", "sideways"])
    assert usage.value.code == 2


def test_exit_3_when_a_run_failed(shop_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads(shop_config.read_text())
    config["rules"][0]["target"]["table"] = "no_such_table"
    shop_config.write_text(json.dumps(config))
    assert main(["check", "--once", "--config", str(shop_config)]) == 3
    assert "no table 'no_such_table'" in capsys.readouterr().err


def test_export_formats_carry_links_and_only_the_filtered_rows(shop_config: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--once", "--config", str(shop_config)])
    capsys.readouterr()
    assert main(["export", "--config", str(shop_config), "--format", "csv", "--rule", "known_status"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["rule"], r["key"], r["severity"]) for r in rows] == [("known_status", "6", "low")]
    assert rows[0]["link"].startswith("https://concord.test/?violation=")
    out = tmp_path / "incidents.json"
    assert main(["export", "--config", str(shop_config), "--format", "json", "-o", str(out)]) == 0
    records = json.loads(out.read_text())
    assert {r["rule"] for r in records} == {"known_status", "paid_implies_deducted"}
    assert all(r["evidence"]["row"]["customer_email"] == "•••" for r in records)
    assert main(["export", "--config", str(shop_config), "--format", "md", "--severity", "critical"]) == 0
    markdown = capsys.readouterr().out
    assert "| paid\\_implies\\_deducted | 2 | critical |" in markdown and "known" not in markdown


def test_csv_neutralises_formulas_and_markdown_escapes_markup() -> None:
    assert neutralise_cell('=HYPERLINK("http://evil","x")') == '\'=HYPERLINK("http://evil","x")'
    assert neutralise_cell("@SUM(A1)") == "'@SUM(A1)" and neutralise_cell("+1") == "'+1"
    assert neutralise_cell("ORD-1") == "ORD-1" and neutralise_cell(42) == 42
    row = {"rule": "r", "key": "<img src=x>|x", "severity": "low", "status": "open", "first_seen": "",
           "last_seen": "", "trace_id": "", "hint": "[click](http://evil)", "link": "https://c/?violation=1"}
    text_md = to_markdown([row])
    assert "<img" not in text_md and "&lt;img src=x&gt;\\|x" in text_md and "\\[click\\]" in text_md


def test_demo_json_reports_a_perfect_score(tmp_path: Path) -> None:
    """The installed console script, as a newcomer runs it."""
    concord = Path(sys.executable).with_name("concord")
    result = subprocess.run([str(concord), "demo", "--no-serve", "--json", "--orders", "2000", "--seed", "11",
                             "--dir", str(tmp_path / "demo")], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CONCORD_NOW": ""})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    truth = report["ground_truth"]
    assert (truth["precision"], truth["recall"], truth["false_positives"], truth["missed"]) == (1.0, 1.0, [], [])
    assert truth["trace_linked"] == truth["hint_correct"] == truth["true_violations"] > 0
    assert set(report["rules"]) >= {"paid_implies_stock_deducted", "statement_matches_payments"}
    assert all({"open", "opened", "resolved", "rows_checked"} <= set(v) for v in report["rules"].values())


def test_scheduled_checking_runs_until_sigterm_and_stops_cleanly(shop_config: Path) -> None:
    import signal
    import time

    concord = Path(sys.executable).with_name("concord")
    process = subprocess.Popen([str(concord), "check", "--config", str(shop_config)], stderr=subprocess.PIPE,
                               text=True)
    store = create_engine(f"sqlite:///{shop_config.parent / 'store.db'}")
    try:
        deadline = time.monotonic() + 60
        runs = 0
        while time.monotonic() < deadline and runs < 2:
            time.sleep(0.2)
            try:
                with store.connect() as connection:
                    runs = connection.execute(text("SELECT count(*) FROM runs WHERE status = 'ok'")).scalar()
            except Exception:  # noqa: BLE001 - the store may not exist yet
                runs = 0
        assert runs >= 2, "the scheduler ran no rule within a minute"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        with store.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM runs WHERE status = 'running'")).scalar() == 0
    finally:
        if process.poll() is None:
            process.kill()
        store.dispose()
