"""``frbtriage app --workspace WS``: serve the review app (volunteers, researchers,
dashboard) with Streamlit."""

from __future__ import annotations

import argparse
from typing import NoReturn

HELP = "serve the review app (volunteer, researcher and dashboard pages) in the browser"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("--workspace", "-w", required=True, metavar="WS", help="workspace folder")
    p.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")


def command(workspace: str, port: int, host: str) -> list[str]:
    """The ``streamlit run`` command line that serves the app (no usage statistics, no
    browser opened, file watching off)."""
    import sys

    from frbtriage.ui import APP_SCRIPT

    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
            "--server.port", str(port), "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--server.maxUploadSize", "1", "--global.developmentMode", "false",
            "--client.toolbarMode", "minimal"]


def run(args: argparse.Namespace) -> NoReturn:
    """Check the workspace opens, then become the Streamlit server (``exec``: signals such as
    a service manager's SIGTERM reach Streamlit itself, and no server outlives this process)."""
    import os

    from frbtriage.ui import WORKSPACE_ENV
    from frbtriage.workspace import Workspace

    with Workspace.open(args.workspace) as ws:  # InputError now rather than in the browser
        path = str(ws.path)
    env = {**os.environ, WORKSPACE_ENV: path}
    print(f"frbtriage app: serving {path} on http://{args.host}:{args.port}", flush=True)
    cmd = command(path, args.port, args.host)
    os.execve(cmd[0], cmd, env)
