"""`make demo`: JupyterLab on 127.0.0.1, offline, opened on the quickstart; prints the URL."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port(preferred: int = 8888) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def main() -> int:
    port = free_port(int(os.environ.get("NWLAB_DEMO_PORT", "8888")))
    token = secrets.token_hex(16)
    notebook = "notebooks/01-quickstart.ipynb"
    env = {**os.environ, "PLOTLY_RENDERER": "plotly_mimetype"}
    print(f"\n  nwlab demo: open http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}\n"
          "  (offline: the notebooks replay recordings or run the local emulator; Ctrl-C stops)\n",
          flush=True)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={ROOT}", "--LabApp.news_url=None",
               "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class="
               "jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI and containers run as root
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
