"""`concord run` in production shape: supervised children, health and readiness, /metrics that agree with
the store, SIGTERM, and the shipped Prometheus rules — checked by promtool and end to end through real
Prometheus and Alertmanager (Debian's packages) to a local webhook."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from concord.config import load_config
from concord.metrics_store import TTC_BUCKETS, StoreCollector
from concord.store import open_store
from concord.store.schema import runs, spans, violation_events, violations
from demo.runner import build_shop, check_and_score
from tests.ops import configure_run, free_port, get, samples, start_run, stop, wait_until
from tests.webhook import Webhook

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"


@pytest.fixture
def hook() -> Iterator[Webhook]:
    webhook = Webhook()
    yield webhook
    webhook.close()


def test_promtool_checks_and_unit_tests_the_shipped_rules() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(DEPLOY / "concord-rules.yml")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = subprocess.run(["promtool", "test", "rules", "concord-rules.test.yml"], cwd=DEPLOY,
                            capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_metrics_match_the_store_after_a_demo_run(tmp_path: Path) -> None:
    shop = build_shop(tmp_path, 7, 2000)
    check_and_score(shop)  # both checks: opens, resolves (with time to consistency) and reopens
    shop.dispose()
    config, _document = load_config(shop.config_path)
    store = open_store(config.store.url, config.base_dir)
    registry = CollectorRegistry()
    registry.register(StoreCollector(config, store))
    text = generate_latest(registry).decode()
    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples}
    with store.read() as connection:
        open_counts = connection.execute(select(violations.c.rule, violations.c.severity, violations.c.status,
                                                func.count()).group_by(violations.c.rule, violations.c.severity,
                                                                       violations.c.status)).all()
        events = connection.execute(select(violations.c.rule, violation_events.c.action, func.count())
                                    .select_from(violation_events.join(violations))
                                    .group_by(violations.c.rule, violation_events.c.action)).all()
        ttc = connection.execute(select(violations.c.rule, violations.c.ttc_seconds)
                                 .where(violations.c.ttc_seconds.is_not(None))).all()
    store.dispose()
    assert parsed[("concord_store_up", ())] == 1
    assert parsed[("concord_info", (("dashboard_url", "http://localhost:8501"), ("version", "0.1.0")))] == 1
    shown = 0
    for rule, severity, status, count in open_counts:
        if status == "resolved":
            continue
        key = ("concord_open_violations", (("rule", rule), ("severity", severity), ("status", status)))
        assert parsed[key] == count
        shown += count
    assert shown > 0
    assert sum(v for (name, _), v in parsed.items() if name == "concord_open_violations") == shown
    by_event = {(rule, action): count for rule, action, count in events}
    for action in ("opened", "resolved", "reopened"):
        for rule in {r.name for r in config.rules}:
            assert parsed[(f"concord_violations_{action}_total", (("rule", rule),))] == by_event.get((rule, action), 0)
    assert sum(by_event.get((r.name, "resolved"), 0) for r in config.rules) > 0
    for rule in {r for r, _ in ttc}:
        values = [seconds for r, seconds in ttc if r == rule]
        assert parsed[("concord_time_to_consistency_seconds_count", (("rule", rule),))] == len(values)
        assert parsed[("concord_time_to_consistency_seconds_sum", (("rule", rule),))] == pytest.approx(sum(values))
        for bound in TTC_BUCKETS:
            le = (("le", str(float(bound))), ("rule", rule))
            assert parsed[("concord_time_to_consistency_seconds_bucket", le)] == sum(v <= bound for v in values)
    for rule in config.rules:
        assert parsed[("concord_rule_interval_seconds", (("rule", rule.name),))] == rule.every.total_seconds()
        assert parsed[("concord_rule_last_success_timestamp_seconds", (("rule", rule.name),))] > 0
    for source in config.sources:
        assert parsed[("concord_source_up", (("source", source),))] == 1


def _send_spans(endpoint: str, count: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10)))
    tracer = provider.get_tracer("test")
    for number in range(count):
        with tracer.start_as_current_span("checkout.pay", attributes={"order.id": number}):
            pass
    provider.shutdown()


def test_concord_run_supervises_its_children_and_stops_cleanly(tmp_path: Path) -> None:
    shop = build_shop(tmp_path, 7, 300)
    shop.dispose()
    ports = configure_run(shop.config_path)
    ops = f"http://127.0.0.1:{ports['ops']}"
    process = start_run(shop.config_path, tmp_path / "run.log")
    try:
        status, body = wait_until(lambda: get(f"{ops}/readyz"), 60, "/readyz")
        wait_until(lambda: get(f"{ops}/readyz")[0] == 200, 60, "/readyz 200")
        health = json.loads(get(f"{ops}/healthz")[1])
        assert set(health["children"]) == {"checker", "receiver", "dashboard"}  # no channels: no notifier
        wait_until(lambda: {s["state"] for s in json.loads(get(f"{ops}/readyz")[1])["sources"].values()} == {"ok"},
                   60, "the first runs to record every source")
        ready = json.loads(get(f"{ops}/readyz")[1])
        assert ready["store"] == "ok" and {s["state"] for s in ready["sources"].values()} == {"ok"}
        wait_until(lambda: get(f"http://127.0.0.1:{ports['dashboard']}/_stcore/health")[0] == 200, 60,
                   "the dashboard")

        receiver_pid = health["children"]["receiver"]["pid"]
        os.kill(receiver_pid, signal.SIGKILL)  # a crashed child is restarted and counted
        wait_until(lambda: (c := json.loads(get(f"{ops}/healthz")[1])["children"]["receiver"])["running"]
                   and c["pid"] != receiver_pid, 30, "the receiver to be restarted")
        endpoint = f"http://127.0.0.1:{ports['receiver']}/v1/traces"
        wait_until(lambda: get(endpoint)[0] in (404, 405), 30, "the restarted receiver to listen")
        _send_spans(endpoint, 20)
        bad = urllib.request.Request(endpoint, data=b"\xff\x00 not protobuf", method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 400
        found = wait_until(lambda: (m := samples(f"{ops}/metrics")).get(
            ("concord_spans_received_total", (("transport", "otlp_http"),)), 0) >= 20 and m, 30, "span metrics")
        assert found[("concord_child_restarts_total", (("child", "receiver"),))] == 1
        assert found[("concord_spans_rejected_total", (("reason", "malformed"),))] == 1
        assert found[("concord_runs_total", (("rule", "paid_implies_stock_deducted"), ("scope", "incremental"),
                                             ("status", "ok")))] >= 1
        assert found[("concord_rows_checked_total", (("rule", "paid_implies_stock_deducted"),))] > 0
        assert found[("concord_receiver_request_duration_seconds_count", (("code", "200"),))] >= 1
        assert found[("concord_store_write_duration_seconds_count", (("what", "spans"),))] >= 1
        assert found[("concord_store_write_duration_seconds_count", (("what", "findings"),))] >= 1
        assert not any("trace_id" in dict(labels) or "key" in dict(labels) for _name, labels in found)
        pids = [c["pid"] for c in json.loads(get(f"{ops}/healthz")[1])["children"].values()]
    finally:
        code = stop(process)
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    for pid in pids:  # every child is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    store = open_store(f"sqlite:///{tmp_path / 'concord.db'}")
    with store.read() as connection:
        running = select(func.count()).select_from(runs).where(runs.c.status == "running")
        assert connection.execute(running).scalar() == 0
        assert connection.execute(select(func.count()).select_from(spans)).scalar() == 20  # all answered 200
    store.dispose()
    assert "Concord stopped." in (tmp_path / "run.log").read_text()


PROMETHEUS = """
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{alertmanager}"]}}]}}]
scrape_configs:
  - job_name: concord
    static_configs: [{{targets: ["127.0.0.1:{ops}"]}}]
"""

ALERTMANAGER = """
route:
  receiver: hook
  group_by: [alertname, rule]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: "http://127.0.0.1:{hook}/alerts", send_resolved: false}}]
"""


def test_prometheus_fires_the_critical_alert_and_alertmanager_delivers_the_deep_link(tmp_path: Path,
                                                                                      hook: Webhook) -> None:
    for binary in ("prometheus", "prometheus-alertmanager", "promtool"):
        assert shutil.which(binary), f"{binary} is missing: `make test` installs Debian's packages"
    shop = build_shop(tmp_path / "shop", 7, 500)
    shop.dispose()
    ports = configure_run(shop.config_path, dashboard_url="https://concord.example", alerts={
        "group_wait": "1s", "channels": {"direct": {"url": f"json://127.0.0.1:{hook.port}/direct",
                                                    "severities": ["critical"]}}})
    alertmanager_port = free_port()
    work = tmp_path / "prom"
    work.mkdir()
    # The shipped rules, with `for:` shortened (and nothing else changed) so the test takes seconds.
    rules = (DEPLOY / "concord-rules.yml").read_text()
    (work / "rules.yml").write_text(rules.replace("for: 2m", "for: 0s").replace("for: 1m", "for: 0s")
                                    .replace("for: 5m", "for: 0s").replace("for: 10m", "for: 0s"))
    (work / "prometheus.yml").write_text(PROMETHEUS.format(alertmanager=alertmanager_port, ops=ports["ops"]))
    (work / "alertmanager.yml").write_text(ALERTMANAGER.format(hook=hook.port))
    processes = []
    try:
        processes.append(subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={work / 'alertmanager.yml'}",
             f"--storage.path={work / 'am-data'}", f"--web.listen-address=127.0.0.1:{alertmanager_port}",
             "--cluster.listen-address="], stdout=(work / "am.log").open("w"), stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen(
            ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
             f"--web.listen-address=127.0.0.1:{free_port()}"],
            stdout=(work / "prom.log").open("w"), stderr=subprocess.STDOUT))
        started = time.monotonic()
        processes.append(start_run(shop.config_path, tmp_path / "run.log"))

        def critical_alert() -> dict | None:
            for request in hook.requests:
                for alert in request["json"].get("alerts", []):
                    if alert["labels"]["alertname"] == "ConcordCriticalViolationsOpen" and \
                            alert["labels"]["rule"] == "paid_implies_stock_deducted":
                        return alert
            return None

        alert = wait_until(critical_alert, 120, "Alertmanager to deliver ConcordCriticalViolationsOpen")
        alert_at = next(r["at"] for r in hook.requests if alert in r["json"].get("alerts", []))
        direct = wait_until(lambda: [r for r in hook.requests if r["path"] == "/direct"
                                     and "paid_implies_stock_deducted" in r["json"]["title"]], 60, "the direct message")
        print(f"\ncritical alert at the webhook {time.monotonic() - started:.1f}s after `concord run` started")
    finally:
        for process in reversed(processes):
            stop(process)
    assert alert["status"] == "firing"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["dashboard"] == \
        "https://concord.example/violations?rule=paid_implies_stock_deducted&status=open"
    assert "critical violation(s) of paid_implies_stock_deducted open" in alert["annotations"]["summary"]
    assert all(a["labels"]["alertname"] != "ConcordSourceFailing"
               for r in hook.requests for a in r["json"].get("alerts", []))
    assert direct[0]["json"]["title"].startswith("[CRITICAL] paid_implies_stock_deducted: ")
    assert "https://concord.example/" in direct[0]["json"]["message"]
    store = open_store(f"sqlite:///{shop.directory / 'concord.db'}")
    with store.read() as connection:  # the run that opened them, in real time (no CONCORD_NOW here)
        found_at = connection.execute(select(func.min(runs.c.finished_at)).where(
            runs.c.rule == "paid_implies_stock_deducted", runs.c.opened > 0)).scalar_one()
    store.dispose()
    finished = found_at.replace(tzinfo=UTC).timestamp()
    print(f"from the run that found them to the webhook: direct message {direct[0]['at'] - finished:.1f}s "
          f"(group_wait 1s), through Prometheus and Alertmanager {alert_at - finished:.1f}s (scrape and "
          "evaluation every 1s, for: 0s, group_wait 1s)")


def test_a_failing_source_shows_in_metrics_and_readiness_without_making_concord_unready(tmp_path: Path) -> None:
    from checks.engine import Checker
    from checks.registry import compile_rules
    from concord.clock import FrozenClock
    from concord.ops_server import OpsServer
    from tests.conftest import NOW
    from tests.shop import RULES, write_config

    broken = tmp_path / "gone.db"
    urls = {"orders": f"sqlite:///{broken}", "payments": f"sqlite:///{broken}", "inventory": f"sqlite:///{broken}"}
    broken.write_bytes(b"")  # an empty file: the tables the rule reads are missing
    path = write_config(tmp_path, urls, [RULES["state_values"]])
    config, document = load_config(path)
    store = open_store(config.store.url, config.base_dir)
    checker = Checker(config, compile_rules(config, document), store, FrozenClock(NOW))
    (outcome,) = checker.check_once()
    assert outcome.status == "error"
    registry = CollectorRegistry()
    registry.register(StoreCollector(config, store, started_at=0))
    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(generate_latest(registry).decode())
              for s in family.samples}
    assert parsed[("concord_source_up", (("source", "orders"),))] == 0
    assert parsed[("concord_source_consecutive_failures", (("source", "orders"),))] == 1
    assert parsed[("concord_source_up", (("source", "payments"),))] == 1  # not read by this rule
    ops = OpsServer("127.0.0.1:0", registry, store, lambda: {"checker": {"running": True}}, list(config.sources))
    ready, report = ops.readiness()
    assert ready and report["store"] == "ok"
    assert report["sources"]["orders"]["state"] == "failing" and "no table" in report["sources"]["orders"]["last_error"]
    assert report["sources"]["payments"] == {"state": "not checked yet"}
    checker.close()
    store.dispose()
