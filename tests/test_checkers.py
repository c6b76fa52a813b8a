"""Two checker processes sharing a PostgreSQL store: they split the rules and never run one rule twice at
once; when one is killed the other takes its rules after the lease expires; a checker paused past its
lease (SIGSTOP, then SIGCONT) has its late results fenced off instead of written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.databases import DatabaseFactory

LEASE_SECONDS = 3


def start(config: Path) -> subprocess.Popen:
    concord = Path(sys.executable).with_name("concord")
    env = {k: v for k, v in os.environ.items() if k != "CONCORD_NOW"}
    return subprocess.Popen([str(concord), "check", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def runs(store_url: str) -> list[dict]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, rule, owner, status, started_at, finished_at FROM runs "
                                           "ORDER BY id")).mappings().all()
    except ProgrammingError:  # the checkers have not created the store yet
        rows = []
    finally:
        engine.dispose()
    return [dict(r) for r in rows]


def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_checkers_split_take_over_and_fence(postgres: DatabaseFactory, tmp_path: Path) -> None:
    source_url, store_url = postgres.new("src"), postgres.new("store")
    engine = create_engine(source_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO items VALUES (1), (2), (3), (4)"))
    engine.dispose()
    rules = [{"name": "slow", "kind": "sql", "source": "db", "key": "k", "every": "1s",
              "sql": "SELECT id AS k, pg_sleep(1.5) AS slept FROM items WHERE id = 1"}]
    rules += [{"name": f"fast_{n}", "kind": "sql", "source": "db", "key": "k", "every": "1s",
               "sql": f"SELECT id AS k FROM items WHERE id = {n}"} for n in (2, 3, 4)]
    config = tmp_path / "concord.yaml"
    config.write_text(json.dumps({"store": {"url": store_url}, "checker": {"lease": f"{LEASE_SECONDS}s"},
                                  "sources": {"db": {"url": source_url}}, "rules": rules}))
    a, b = start(config), start(config)  # both at once, on a store neither has created yet
    processes = [a, b]
    try:
        wait_until(lambda: len({r["owner"] for r in runs(store_url) if r["status"] == "ok"}) == 2, 60,
                   "both checkers to run rules")
        time.sleep(4)
        history = [r for r in runs(store_url) if r["status"] in ("ok", "fenced")]
        owners = {r["owner"] for r in history}
        assert len(owners) == 2  # the rules are split
        for rule in {r["rule"] for r in history}:  # and no rule ever ran twice at once
            spans = sorted((r["started_at"], r["finished_at"]) for r in history if r["rule"] == rule)
            assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), rule

        a.kill()  # SIGKILL: no clean hand-back; its leases must expire
        a.wait(10)
        killed_at = max(r["started_at"] for r in runs(store_url))
        survivor = next(r["owner"] for r in runs(store_url)[::-1] if r["owner"] and str(b.pid) in r["owner"])
        wait_until(lambda: {r["rule"] for r in runs(store_url) if r["owner"] == survivor and r["status"] == "ok"
                            and r["started_at"] > killed_at} == {"slow", "fast_2", "fast_3", "fast_4"},
                   LEASE_SECONDS * 4 + 20, "the survivor to take over every rule")

        c = start(config)  # a third checker joins; the survivor hands some rules back to it
        processes.append(c)
        wait_until(lambda: any(r["rule"] == "slow" and r["status"] == "running" and str(c.pid) in (r["owner"] or "")
                               for r in runs(store_url)), 60, "the new checker to be running the slow rule")
        time.sleep(0.5)
        c.send_signal(signal.SIGSTOP)  # paused mid-run, past its lease
        time.sleep(LEASE_SECONDS + 3)
        c.send_signal(signal.SIGCONT)
        wait_until(lambda: any(r["rule"] == "slow" and r["status"] == "fenced" and str(c.pid) in (r["owner"] or "")
                               for r in runs(store_url)), 30, "the paused checker's late run to be fenced")
        took_over = [r for r in runs(store_url) if r["rule"] == "slow" and r["owner"] == survivor
                     and r["status"] == "ok"]
        assert took_over, "the survivor ran the slow rule while the other checker was paused"
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
