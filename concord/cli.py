"""The `concord` command: demo, check, validate, explain, serve, collect, run, notify, alerts, trace, export.

Exit codes of `check --once`, for cron and CI: 0 nothing needs attention, 1 open violations at or
above --fail-on, 2 bad config or usage, 3 a run failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from checks.correlate import Correlator
from checks.engine import Checker, RunOutcome
from checks.explain import explain as explain_rule
from checks.preflight import preflight
from checks.registry import compile_rules
from collectors.ingest import SpanIngest
from collectors.remote import TraceBackend
from concord.cli_run import alerts_test
from concord.cli_run import notify as notify_channels
from concord.cli_run import run as run_all
from concord.cli_traces import collect as collect_traces
from concord.cli_traces import show_trace
from concord.clock import clock_from_env
from concord.config import DEFAULT_CONFIG, SEVERITY_RANK, Config, load_config
from concord.durations import format_duration, parse_duration
from concord.errors import ConfigError
from concord.exports import incident_rows, to_csv, to_json, to_markdown
from concord.progress import Progress
from concord.serve import serve as serve_dashboard
from concord.shutdown import StopFlag
from concord.sources import Source, redact_url
from concord.store import open_store
from concord.store.queries import ViolationFilter, count_needing_attention, list_violations

EXIT_OK, EXIT_OPEN, EXIT_USAGE, EXIT_RUN_FAILED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"concord: the config has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"concord: {message}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="concord", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log details, with tracebacks of failed runs")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build the demo shop, inject faults, run every rule, score the result")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--orders", type=int, default=10_000)
    demo.add_argument("--dir", default=".concord-demo", help="where the demo's databases and store go")
    demo.add_argument("--no-serve", action="store_true", help="do not serve the dashboard afterwards")
    demo.add_argument("--json", action="store_true", help="print one JSON object with the ground-truth score")
    demo.set_defaults(handler=_demo)

    check = commands.add_parser("check", help="run the rules (once, or on their schedule)")
    _config_option(check)
    check.add_argument("--once", action="store_true", help="run every rule once and exit with a status code")
    check.add_argument("--rule", action="append", default=[], help="only this rule (repeatable)")
    check.add_argument("--scope", choices=("incremental", "full"), default="incremental")
    check.add_argument("--fail-on", choices=list(SEVERITY_RANK), default="info",
                       help="lowest severity that makes --once exit 1")
    check.set_defaults(handler=_check)

    validate = commands.add_parser("validate", help="check concord.yaml and say where any problem is")
    _config_option(validate)
    validate.add_argument("--connect", action="store_true",
                          help="also connect: check tables and columns exist, warn where an index is missing")
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser("explain", help="print the SQL a rule runs on each source, and its plan")
    _config_option(explain)
    explain.add_argument("rule")
    explain.add_argument("--scope", choices=("incremental", "full"), default="incremental")
    explain.set_defaults(handler=_explain)

    serve = commands.add_parser("serve", help="serve the dashboard")
    _config_option(serve)
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--host", default="127.0.0.1")
    serve.set_defaults(handler=lambda args: serve_dashboard(args.config, args.port, args.host))

    collect = commands.add_parser("collect", help="receive OTLP traces over HTTP and tail OTLP JSON files")
    _config_option(collect)
    collect.set_defaults(handler=collect_traces)

    run = commands.add_parser("run", help="run the scheduler, the receiver, the notifier and the dashboard together")
    _config_option(run)
    run.set_defaults(handler=run_all)

    notify = commands.add_parser("notify", help="send the alerts waiting in the outbox (loop, or --once)")
    _config_option(notify)
    notify.add_argument("--once", action="store_true", help="drain once and exit")
    notify.set_defaults(handler=notify_channels)

    alerts = commands.add_parser("alerts", help="alert channels")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    alerts_test_parser = alert_commands.add_parser("test", help="send a test message to every configured channel")
    _config_option(alerts_test_parser)
    alerts_test_parser.set_defaults(handler=alerts_test)

    trace = commands.add_parser("trace", help="show a trace from the span store (or the configured backend)")
    _config_option(trace)
    trace.add_argument("trace_id")
    trace.set_defaults(handler=show_trace)

    export = commands.add_parser("export", help="write the incident list as CSV, JSON or Markdown")
    _config_option(export)
    export.add_argument("--format", choices=("csv", "json", "md"), default="csv")
    export.add_argument("--status", action="append", default=[],
                        help="open, acknowledged, muted, resolved (repeatable; default: all but resolved)")
    export.add_argument("--rule", action="append", default=[])
    export.add_argument("--severity", action="append", default=[])
    export.add_argument("--since", help="last seen within this duration (e.g. 24h) or after this ISO time")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(handler=_export)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="path to concord.yaml")


def _load(path: str) -> tuple[Config, list]:
    config, document = load_config(path)
    return config, compile_rules(config, document)


def _validate(args: argparse.Namespace) -> int:
    config, kinds = _load(args.config)
    print(f"{args.config}: valid.")
    for name, source in config.sources.items():
        print(f"  source {name}: {redact_url(source.url)} (time zone {source.timezone}, "
              f"masked: {', '.join(source.mask) or 'nothing'})")
    for kind in kinds:
        print(f"  rule {kind.name}: {kind.rule.kind} over {', '.join(dict.fromkeys(kind.source_names))}, "
              f"severity {kind.rule.severity}, grace {format_duration(kind.rule.grace)}")
    print(f"  store: {redact_url(config.store.url)}")
    if not args.connect:
        return EXIT_OK
    sources = {name: Source(name, source, config.base_dir) for name, source in config.sources.items()}
    try:
        report = preflight(kinds, sources)
    finally:
        for source in sources.values():
            source.dispose()
    for line in report.checked:
        print(f"  ok: {line}")
    for line in report.warnings:
        print(f"  warning: {line}")
    for line in report.errors:
        print(f"  error: {line}", file=sys.stderr)
    return EXIT_USAGE if report.errors else EXIT_OK


def _check(args: argparse.Namespace) -> int:
    config, kinds = _load(args.config)
    store = open_store(config.store.url, config.base_dir)
    progress = Progress()
    checker = Checker(config, kinds, store, clock_from_env(), progress=progress.rows)
    try:
        if args.once:
            outcomes = checker.check_once(args.rule or None, full=args.scope == "full")
            _report(outcomes, progress)
            correlator_for(config, kinds, store, checker.clock).link_open()
            failed = any(o.status in ("error", "skipped") for o in outcomes)
            with store.read() as connection:
                attention = count_needing_attention(connection, checker.clock.now(), args.fail_on, args.rule or None)
            if failed:
                return EXIT_RUN_FAILED
            return EXIT_OPEN if attention else EXIT_OK
        return _schedule(checker, args, progress)
    finally:
        checker.close()
        store.dispose()


def correlator_for(config: Config, kinds: list, store, clock) -> Correlator:
    backend = TraceBackend(config.traces.backend) if config.traces.backend else None
    return Correlator(kinds, store, clock, backend, SpanIngest(store, config.traces, clock))


def _schedule(checker: Checker, args: argparse.Namespace, progress: Progress) -> int:
    """Each rule at its own `every`, one run of a rule at a time, until SIGTERM or Ctrl-C."""
    stopping = StopFlag()
    correlator = correlator_for(checker.config, checker.kinds, checker.store, checker.clock)
    due = {kind.name: 0.0 for kind in checker.selected(args.rule or None)}
    every = {kind.name: kind.rule.every.total_seconds() for kind in checker.kinds}
    while not stopping.raised:
        now = time.monotonic()
        for name in [n for n, at in due.items() if at <= now]:
            if stopping.raised:
                break
            _report(checker.check_once([name], full=args.scope == "full"), progress)
            correlator.link_open()
            due[name] = time.monotonic() + every[name]
        time.sleep(max(0.05, min(min(due.values()) - time.monotonic(), 1.0)))
    return EXIT_OK


def _report(outcomes: list[RunOutcome], progress: Progress) -> None:
    """One line per run on stderr, so stdout stays free for machine-readable output."""
    for o in outcomes:
        if o.status == "held":
            continue  # another checker runs this rule
        if o.status in ("error", "skipped", "fenced"):
            progress.line("")
            print(f"{o.rule} [{o.scope}]: {o.status.upper()}: {o.error}", file=sys.stderr)
        else:
            progress.line("")
            sample = (f"; estimated violation rate {o.estimate.rate:.2%} (95% CI {o.estimate.low:.2%}–"
                      f"{o.estimate.high:.2%} from {o.estimate.sampled} sampled rows)") if o.estimate else ""
            print(f"{o.rule} [{o.scope}]: {o.rows_checked:,} rows, {o.findings} failing, {o.opened} opened, "
                  f"{o.reopened} reopened, {o.resolved} resolved ({o.seconds:.2f}s){sample}", file=sys.stderr)


def _explain(args: argparse.Namespace) -> int:
    config, kinds = _load(args.config)
    store = open_store(config.store.url, config.base_dir)
    checker = Checker(config, kinds, store, clock_from_env())
    try:
        kind = checker.selected([args.rule])[0]
        for item in explain_rule(checker, kind, full=args.scope == "full"):
            print(f"-- {kind.name} on source '{item.source}': {item.purpose}")
            print(item.sql.strip() + ";")
            print("-- plan:")
            for line in item.plan:
                print(f"--   {line}")
            print()
    finally:
        checker.sources_only_close()
        store.dispose()
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    config, _document = load_config(args.config)
    store = open_store(config.store.url, config.base_dir)
    try:
        flt = ViolationFilter(statuses=args.status or ["open", "acknowledged", "muted"], rules=args.rule,
                              severities=args.severity, since=_since(args.since))
        with store.read() as connection:
            violations = list_violations(connection, flt)
    finally:
        store.dispose()
    rows = incident_rows(violations, config.dashboard_url)
    text = {"csv": lambda: to_csv(rows), "json": lambda: to_json(rows, violations),
            "md": lambda: to_markdown(rows)}[args.format]()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} violation(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return clock_from_env().now() - parse_duration(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _demo(args: argparse.Namespace) -> int:
    from demo.runner import run_demo  # the demo is an entry point of its own; import it only when asked

    return run_demo(seed=args.seed, orders=args.orders, directory=Path(args.dir), as_json=args.json,
                    serve=not args.no_serve)


if __name__ == "__main__":
    sys.exit(main())
