"""The benchmark harness runs end to end (once, small) so `make bench` cannot rot; it measures nothing here."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import main


def test_bench_harness_writes_its_report(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    assert main(["--sizes", "1000", "--repeat", "1", "--output", str(output), "--work", str(tmp_path / "w"),
                 "--ingest-spans", "2000", "--lookup-spans", "5000", "--dashboard-violations", "500",
                 "--dashboard-spans", "2000", "--scale-sizes", "10000", "--incremental-sizes", "20000,40000"]) == 0
    report = output.read_text()
    assert "| 1,000 |" in report and "hand-written SQL" in report and "Machine:" in report
    assert "| 2,000 |" in report and "| 5,000 |" in report  # ingest and lookup ran
    assert "| Violations (first page of 500) |" in report
    assert "| 10,000 |" in report and "| 40,000 |" in report  # the MariaDB/PostgreSQL cases ran
    # The peers ran in their own venvs beside Concord, agreed on the count, and found the same changed keys.
    assert "Soda Core 3.5.6" in report and "| yes (10 vs 10) |" in report
