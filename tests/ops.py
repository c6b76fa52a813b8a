"""Helpers for tests that start `concord run`, Prometheus and Alertmanager as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def samples(metrics_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, parsed by prometheus-client's own parser."""
    _status, body = get(metrics_url)
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def configure_run(config_path: Path, dashboard_url: str | None = None, **extra: Any) -> dict[str, int]:
    """Point a config's receiver, dashboard and ops address at free ports; returns the ports."""
    ports = {"receiver": free_port(), "ops": free_port(), "dashboard": free_port()}
    text = config_path.read_text(encoding="utf-8")
    text = text.replace("receiver: {host: 127.0.0.1, port: 4318}",
                        f"receiver: {{host: 127.0.0.1, port: {ports['receiver']}}}")
    if dashboard_url:
        text = text.replace("dashboard_url: http://localhost:8501", f"dashboard_url: {dashboard_url}")
    text += (f"\nrun:\n  listen: 127.0.0.1:{ports['ops']}\n  dashboard_port: {ports['dashboard']}\n"
             "  stop_timeout: 30s\n")
    for key, value in extra.items():
        text += f"{key}: {json.dumps(value)}\n"
    config_path.write_text(text, encoding="utf-8")
    return ports


def start_run(config_path: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    env.pop("CONCORD_NOW", None)
    return subprocess.Popen([sys.executable, "-m", "concord.cli", "run", "-c", str(config_path)], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=config_path.parent)


def stop(process: subprocess.Popen, timeout: float = 60.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the process did not stop after SIGTERM") from None
