"""`concord demo`: build the shop, run every rule at the first check, move the world on (repairs, late
commits, young faults growing old), run again, and score both checks against the injector's truth."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from checks.correlate import Correlator
from checks.engine import Checker, RunOutcome
from checks.registry import compile_rules
from collectors.ingest import SpanIngest
from concord.clock import FrozenClock
from concord.config import load_config
from concord.progress import Progress
from concord.store import Store, open_store
from concord.store.queries import needs_attention
from concord.store.schema import violation_events, violations
from demo.build import create_databases, sqlite_urls, write_rows, write_statement
from demo.faults import Fault, expected_set
from demo.simulator import FIRST_CHECK, SECOND_CHECK, ShopSimulator
from demo.timeline import diff
from demo.traces import score_trace_links, send_spans


@dataclass
class DemoShop:
    simulator: ShopSimulator
    directory: Path
    config_path: Path
    urls: dict[str, str]
    state: dict
    engines: dict
    spans: int = 0

    @property
    def faults(self) -> list[Fault]:
        return self.simulator.faults

    def advance(self) -> None:
        """Move the shop to the second check: later steps, repairs and late commits land."""
        later = self.simulator.timeline.state_at(SECOND_CHECK)
        write_rows(self.engines, diff(self.state, later))
        write_statement(self.directory / "gateway_statement.csv", later["gateway_charges"].values())
        self.state = later

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()


def build_shop(directory: Path, seed: int, orders: int, urls: dict[str, str] | None = None,
               store_url: str = "sqlite:///concord.db") -> DemoShop:
    """The shop as it stands at the first check, with its config, statement, traces and ground truth."""
    directory.mkdir(parents=True, exist_ok=True)
    simulator = ShopSimulator(seed, orders).run()
    urls = urls or sqlite_urls(directory)
    engines = create_databases(urls)
    state = simulator.timeline.state_at(FIRST_CHECK)
    write_rows(engines, diff({}, state))
    write_statement(directory / "gateway_statement.csv", state["gateway_charges"].values())
    spans = simulator.tracer.write_otlp_json(directory / "traces.jsonl")
    template = (Path(__file__).parent / "concord.yaml").read_text(encoding="utf-8")
    for name, url in urls.items():
        template = template.replace(f"{{{name}_url}}", url)
    template = template.replace('url: "sqlite:///concord.db"', f'url: "{store_url}"')
    config_path = directory / "concord.yaml"
    config_path.write_text(template, encoding="utf-8")
    (directory / "ground_truth.json").write_text(json.dumps(
        {"seed": seed, "first_check": FIRST_CHECK.isoformat(), "second_check": SECOND_CHECK.isoformat(),
         "scenarios": simulator.scenarios, "faults": [f.as_json() for f in simulator.faults]}, indent=1),
        encoding="utf-8")
    return DemoShop(simulator, directory, config_path, urls, state, engines, spans)


def run_demo(seed: int, orders: int, directory: Path, as_json: bool = False, serve: bool = False,
             urls: dict[str, str] | None = None, store_url: str = "sqlite:///concord.db") -> int:
    directory = directory.resolve()
    for stale in directory.glob("concord.db*"):
        stale.unlink()
    progress = Progress()
    progress.line(f"Building the demo shop ({orders:,} orders, seed {seed}) in {directory} ...")
    started = time.monotonic()
    shop = build_shop(directory, seed, orders, urls, store_url)
    built = time.monotonic() - started
    report = check_and_score(shop, progress)
    report["timings"] = {"build_seconds": round(built, 2), **report["timings"]}
    shop.dispose()
    if as_json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_summary(report)
    if serve and not as_json:
        from concord.serve import serve as serve_dashboard

        return serve_dashboard(shop.config_path)
    return 0


def check_and_score(shop: DemoShop, progress: Progress | None = None) -> dict[str, Any]:
    config, document = load_config(shop.config_path)
    kinds = compile_rules(config, document)
    store = open_store(config.store.url, config.base_dir)
    clock = FrozenClock(FIRST_CHECK)
    checker = Checker(config, kinds, store, clock, progress=progress.rows if progress else None)
    correlator = Correlator(kinds, store, clock, ingest=SpanIngest(store, config.traces, clock))
    try:
        started = time.monotonic()
        sent = send_spans(shop.simulator.tracer.exporter.spans, store, config, clock)
        traces_seconds = time.monotonic() - started
        started = time.monotonic()
        first_runs = checker.check_once()
        correlator.link_open()
        first_checked = time.monotonic() - started
        first_open = _open_pairs(store, clock)
        first_links = score_trace_links(store, shop.faults, expected_set(shop.faults, 1) & first_open)
        last_run_of_first = max(o.run_id for o in first_runs)
        shop.advance()
        clock.set(SECOND_CHECK)
        started = time.monotonic()
        second_runs = checker.check_once()
        correlator.link_open()
        second_checked = time.monotonic() - started
        second_open = _open_pairs(store, clock)
        second_links = score_trace_links(store, shop.faults, expected_set(shop.faults, 2) & second_open)
        resolved = _resolved_after(store, last_run_of_first)
        ever = _ever_reported(store)
    finally:
        checker.close()
        store.dispose()
    phases = [_score(1, first_open, expected_set(shop.faults, 1)) | {"traces": first_links},
              _score(2, second_open, expected_set(shop.faults, 2)) | {"traces": second_links}]
    expected_resolved = expected_set(shop.faults, 1) - expected_set(shop.faults, 2)
    total_tp = sum(p["true_positives"] for p in phases)
    total_found = sum(p["found"] for p in phases)
    total_expected = sum(p["expected"] for p in phases)
    scenarios = shop.simulator.scenarios
    return {
        "seed": shop.simulator.seed,
        "orders": shop.simulator.order_count,
        "directory": str(shop.directory),
        "config": str(shop.config_path),
        "spans": shop.spans,
        "spans_received": sent,
        "faults": dict(Counter(f.kind for f in shop.faults)),
        "ground_truth": {
            "true_violations": total_tp,
            "trace_linked": first_links["trace_linked"] + second_links["trace_linked"],
            "hint_correct": first_links["hint_correct"] + second_links["hint_correct"],
            "precision": round(total_tp / total_found, 4) if total_found else 1.0,
            "recall": round(total_tp / total_expected, 4) if total_expected else 1.0,
            "false_positives": [fp for p in phases for fp in p["false_positives"]],
            "missed": [m for p in phases for m in p["missed"]],
            "phases": phases,
            "resolved_after_repair": {
                "expected": len(expected_resolved), "resolved": len(resolved),
                "exact": resolved == expected_resolved,
                "unexpected": _pairs(resolved - expected_resolved),
                "not_resolved": _pairs(expected_resolved - resolved)},
            "eventual_consistency": {
                "late_commit_found_by_overlap": ("paid_implies_stock_deducted", f"[{scenarios['late_commit']}]")
                in second_open - first_open,
                "repaired_within_grace_never_reported": not any(
                    key == f"[{scenarios['repaired_within_grace']}]" for _rule, key in ever),
                "young_fault_reported_after_grace": ("paid_implies_stock_deducted", f"[{scenarios['young_fault']}]")
                in second_open - first_open,
            },
        },
        "rules": _rules_summary(first_runs + second_runs, second_open),
        "timings": {"send_spans_seconds": round(traces_seconds, 2), "first_check_seconds": round(first_checked, 2),
                    "second_check_seconds": round(second_checked, 2)},
    }


def _score(phase: int, found: set[tuple[str, str]], expected: set[tuple[str, str]]) -> dict[str, Any]:
    hits = found & expected
    return {"phase": phase, "at": (FIRST_CHECK if phase == 1 else SECOND_CHECK).isoformat(),
            "found": len(found), "expected": len(expected), "true_positives": len(hits),
            "precision": round(len(hits) / len(found), 4) if found else 1.0,
            "recall": round(len(hits) / len(expected), 4) if expected else 1.0,
            "false_positives": _pairs(found - expected, phase), "missed": _pairs(expected - found, phase)}


def _pairs(pairs: set[tuple[str, str]], phase: int | None = None) -> list[dict[str, Any]]:
    return [{"rule": rule, "key": key, **({"phase": phase} if phase else {})} for rule, key in sorted(pairs)]


def _open_pairs(store: Store, clock: FrozenClock) -> set[tuple[str, str]]:
    with store.read() as connection:
        rows = connection.execute(select(violations.c.rule, violations.c.key_text).where(needs_attention(clock.now())))
        return {(rule, key) for rule, key in rows}


def _resolved_after(store: Store, run_id: int) -> set[tuple[str, str]]:
    with store.read() as connection:
        rows = connection.execute(
            select(violations.c.rule, violations.c.key_text).join(
                violation_events, violation_events.c.violation_id == violations.c.id)
            .where(violation_events.c.action == "resolved", violation_events.c.run_id > run_id))
        return {(rule, key) for rule, key in rows}


def _ever_reported(store: Store) -> set[tuple[str, str]]:
    with store.read() as connection:
        return {(rule, key) for rule, key in connection.execute(select(violations.c.rule, violations.c.key_text))}


def _rules_summary(outcomes: list[RunOutcome], open_pairs: set[tuple[str, str]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for outcome in outcomes:
        entry = summary.setdefault(outcome.rule, {"open": 0, "opened": 0, "resolved": 0, "rows_checked": 0,
                                                  "runs": 0, "errors": 0})
        entry["opened"] += outcome.opened + outcome.reopened
        entry["resolved"] += outcome.resolved
        entry["rows_checked"] += outcome.rows_checked
        entry["runs"] += 1
        entry["errors"] += outcome.status == "error"
    for rule, _key in open_pairs:
        summary.setdefault(rule, {"open": 0})["open"] += 1
    return summary


def _print_summary(report: dict[str, Any]) -> None:
    truth = report["ground_truth"]
    out = sys.stdout
    out.write(f"\nConcord demo: {report['orders']:,} orders, seed {report['seed']}, "
              f"{sum(report['faults'].values())} injected faults in {len(report['faults'])} classes, "
              f"{report['spans']:,} spans.\n\n")
    out.write(f"{'rule':<36}{'open':>6}{'opened':>8}{'resolved':>10}{'rows checked':>14}\n")
    for rule, entry in report["rules"].items():
        out.write(f"{rule:<36}{entry['open']:>6}{entry['opened']:>8}{entry['resolved']:>10}"
                  f"{entry['rows_checked']:>14,}\n")
    out.write("\nAgainst the injector's ground truth:\n")
    for phase in truth["phases"]:
        out.write(f"  check {phase['phase']} at {phase['at']}: {phase['found']} open, {phase['expected']} expected, "
                  f"precision {phase['precision']:.2f}, recall {phase['recall']:.2f}\n")
    out.write(f"  true violations (both checks) linked to their trace: {truth['trace_linked']} of "
              f"{truth['true_violations']}; "
              f"hint names the broken step: {truth['hint_correct']}\n")
    repaired = truth["resolved_after_repair"]
    out.write(f"  repaired between checks: {repaired['expected']} expected to resolve, {repaired['resolved']} resolved "
              f"({'exactly those' if repaired['exact'] else 'MISMATCH'})\n")
    for name, ok in truth["eventual_consistency"].items():
        out.write(f"  {name.replace('_', ' ')}: {'yes' if ok else 'NO'}\n")
    timings = report["timings"]
    out.write(f"\nBuilt in {timings['build_seconds']:.1f}s; {report['spans_received']:,} spans sent through the OTLP "
              f"receiver in {timings['send_spans_seconds']:.1f}s; checks (with trace links) took "
              f"{timings['first_check_seconds']:.1f}s and {timings['second_check_seconds']:.1f}s.\n")
    out.write(f"Data: {report['directory']} (config {report['config']}, store concord.db, traces.jsonl, "
              "ground_truth.json)\n")
