"""The peers side by side with Concord: Soda Core's reference check against Concord's `exists` rule
(same MariaDB source), and reladiff against Concord's `match` rule (payments in MariaDB against a
copy in PostgreSQL with 0.1% of amounts changed). Each peer gets a virtual environment of its own
under `.venv-peers/`, installed on first use, so no peer ever becomes a Concord dependency."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

PEERS_DIR = Path(".venv-peers").resolve()
SCRIPTS = Path(__file__).parent / "peers"
# soda-core-mysql pins mysql-connector-python 8.0.30, which cannot talk to MariaDB 10.11 ("Character
# set 'utf8' unsupported"); 8.4 over it works (see ../shared/PEERS.md). Installed in two steps on purpose.
PEERS = {
    "soda": [["soda-core-mysql==3.5.6"], ["mysql-connector-python>=8.4,<9"]],
    # sqeleton (reladiff's database layer) brings its drivers only through extras.
    "reladiff": [["reladiff>=0.6,<0.7", "sqeleton[mysql,postgresql]"]],
}


def peer_python(name: str) -> Path:
    home = PEERS_DIR / name
    python = home / "bin" / "python"
    stamp = home / ".installed"
    if not stamp.exists():
        print(f"bench: installing the peer {name} into {home} (once) ...", file=sys.stderr)
        venv.create(home, with_pip=True, clear=True)
        for step in PEERS[name]:
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *step], check=True)
        stamp.write_text(json.dumps(PEERS[name]))
    return python


def run_peer(name: str, script: str, *args: str) -> dict[str, Any]:
    python = peer_python(name)
    home = PEERS_DIR / name
    if name == "soda":  # Soda reads ~/.soda/config.yml; without these two keys it phones home on every scan
        (home / ".soda").mkdir(exist_ok=True)
        (home / ".soda" / "config.yml").write_text("send_anonymous_usage_stats: false\n"
                                                   "user_cookie_id: concord-bench\n")
    result = subprocess.run([str(python), str((SCRIPTS / script).resolve()), *args], capture_output=True, text=True,
                            cwd=home, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    if result.returncode:
        raise SystemExit(f"bench: the peer {name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
