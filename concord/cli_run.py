"""`concord run` (everything under one supervisor), `concord notify` (drain the alert outbox) and
`concord alerts test` (one test message to every channel)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from concord.clock import clock_from_env
from concord.config import Config, load_config
from concord.notify_urls import redact_channel_url
from concord.serve import APP, streamlit_command
from concord.shutdown import StopFlag
from concord.store import open_store
from concord.supervisor import ChildSpec, Supervisor

NOTIFY_POLL_SECONDS = 1.0
PURGE_EVERY_SECONDS = 3600.0


def run(args: argparse.Namespace) -> int:
    config, _document = load_config(args.config)
    config_path = str(Path(args.config).resolve())
    store = open_store(config.store.url, config.base_dir)  # migrate once, before the children start
    metrics_dir = tempfile.mkdtemp(prefix="concord-metrics-")
    supervisor = Supervisor(child_specs(config, config_path, metrics_dir), config.run.restart_backoff_max,
                            config.run.stop_timeout)
    ops = _ops_server(config, store, supervisor, metrics_dir)
    stopping = StopFlag()
    try:
        ops.start()
        supervisor.start()
        receiver = config.traces.receiver
        print(f"Concord is running ({', '.join(supervisor.children)}): OTLP on http://{receiver.host}:"
              f"{receiver.port}/v1/traces, dashboard on http://{config.run.dashboard_host}:{config.run.dashboard_port}"
              f", /healthz /readyz /metrics on {ops.address}. SIGTERM or Ctrl-C stops it.", file=sys.stderr)
        while not stopping.raised:
            supervisor.poll()
            time.sleep(0.2)
    finally:
        supervisor.stop()
        ops.stop()
        store.dispose()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    print("Concord stopped.", file=sys.stderr)
    return 0


def child_specs(config: Config, config_path: str, metrics_dir: str) -> list[ChildSpec]:
    env = {"PROMETHEUS_MULTIPROC_DIR": metrics_dir, "CONCORD_CONFIG": config_path}
    cli = [sys.executable, "-m", "concord.cli"]
    specs = [ChildSpec("checker", [*cli, "check", "-c", config_path], env),
             ChildSpec("receiver", [*cli, "collect", "-c", config_path], env)]
    if config.alerts.channels:
        specs.append(ChildSpec("notifier", [*cli, "notify", "-c", config_path], env))
    if APP.exists():
        specs.append(ChildSpec("dashboard", streamlit_command(config.run.dashboard_port, config.run.dashboard_host),
                               env))
    return specs


def _ops_server(config: Config, store, supervisor: Supervisor, metrics_dir: str):
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from concord import metrics
    from concord.metrics_store import StoreCollector
    from concord.ops_server import OpsServer

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=metrics_dir)
    registry.register(StoreCollector(config, store))
    registry.register(metrics.CHILD_RESTARTS)  # the supervisor's own, kept in its memory
    return OpsServer(config.run.listen, registry, store, supervisor.states, list(config.sources))


def notify(args: argparse.Namespace) -> int:
    from alerts.dispatcher import Dispatcher

    config, _document = load_config(args.config)
    if not config.alerts.channels:
        print("concord: no alert channels are configured; add some under 'alerts: channels:' in "
              f"{args.config}", file=sys.stderr)
        return 2
    store = open_store(config.store.url, config.base_dir)
    dispatcher = Dispatcher(config, store, clock_from_env())
    stopping = StopFlag()
    last_purge = 0.0
    try:
        while True:
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                dispatcher.purge()
                last_purge = time.monotonic()
            result = dispatcher.drain()
            if result.grouped or result.sent or result.failed:
                print(f"notify: {result.grouped} message(s) grouped, {result.sent} sent, {result.failed} failed "
                      "(will retry)", file=sys.stderr)
            if args.once or stopping.raised:
                return 0 if not result.failed else 3
            time.sleep(NOTIFY_POLL_SECONDS)
    finally:
        store.dispose()


def alerts_test(args: argparse.Namespace) -> int:
    from alerts.send import apprise_send

    config, _document = load_config(args.config)
    if not config.alerts.channels:
        print(f"concord: no alert channels are configured in {args.config}; add some under 'alerts: channels:'",
              file=sys.stderr)
        return 2
    failures = 0
    for name, channel in config.alerts.channels.items():
        key = f"test-{uuid.uuid4().hex[:16]}"
        body = (f"A test message from Concord to the channel '{name}'. Violations will link to "
                f"{config.dashboard_url}.\n\nIdempotency key: {key}")
        try:
            apprise_send(channel.url, "[TEST] Concord can reach this channel", body, key, "test")
            print(f"  ok      {name} ({redact_channel_url(channel.url)})")
        except Exception as exc:  # noqa: BLE001 - report every channel, whatever fails
            failures += 1
            print(f"  FAILED  {name} ({redact_channel_url(channel.url)}): {exc}")
    print(f"{len(config.alerts.channels) - failures} of {len(config.alerts.channels)} channel(s) reached.")
    return 0 if not failures else 1
