"""`concord serve`: the Streamlit dashboard over a config's store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def streamlit_command(port: int, host: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
            "--server.port", str(port), "--server.address", host, "--browser.gatherUsageStats", "false"]


def serve(config_path: str | Path, port: int = 8501, host: str = "127.0.0.1") -> int:
    """Run the dashboard in the foreground until Ctrl-C; the pages read the store named by the config."""
    if not APP.exists():
        print(f"concord: the dashboard entry {APP} is missing; reinstall Concord from its repository",
              file=sys.stderr)
        return 2
    env = {**os.environ, "CONCORD_CONFIG": str(Path(config_path).resolve())}
    print(f"Serving the dashboard on http://{host}:{port} (Ctrl-C stops it).", file=sys.stderr)
    try:
        return subprocess.call(streamlit_command(port, host), env=env)
    except KeyboardInterrupt:
        return 0
