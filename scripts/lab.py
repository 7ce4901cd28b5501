"""`make demo` and `make app`: the notebooks on 127.0.0.1, offline, served from a working copy.

`make demo` opens JupyterLab on the quickstart; `make app` serves the form notebook as a Voilà app
(code hidden) for someone who does not code. Either way the server runs on a copy of notebooks/ in
a temporary folder, removed when it stops: JupyterLab rewrites metadata and autosaves, and none of
that may reach the tracked notebooks (which only `make notebooks` writes). Settings live in a
private folder too, with the "Jupyter news" prompt and update checks off, as binder/postBuild does.
The browser test starts servers through the same functions, so what it checks is what a demo runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
QUICKSTART = "01-quickstart.ipynb"
FORM = "02-troubleshoot-with-the-form.ipynb"
# JupyterLab user settings (one file per plugin, as the Settings editor writes them).
LAB_SETTINGS = {
    # No news prompt, no news fetched, no update check: there is no network to ask, and a
    # toast on every page is noise (binder/postBuild sets the same).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    # Keep every cell in the page, so a form below the fold is there for a browser test.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# Server options that keep JupyterLab off the network and from changing its own install.
LAB_OPTIONS = ["--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class="
               "jupyterlab.handlers.announcements.NeverCheckForUpdate"]


def free_port(preferred: int = 0) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def working_copy(folder: Path) -> Path:
    """Copy the tracked notebooks into `folder`/notebooks, trusted, and return that folder.

    Trusted (signed with the server's own key under `folder`/data): JupyterLab renders widget
    outputs of trusted notebooks only, so a signed copy opens showing its stored forms; an
    unsigned one shows their HTML view until the cells run.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    target = folder / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    notary = NotebookNotary(data_dir=str(folder / "data"))
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)
        notary.sign(nbformat.read(target / notebook.name, as_version=4))
    return target


def private_environment(folder: Path) -> dict[str, str]:
    """Environment for a server whose settings, runtime and config live under `folder`."""
    settings = folder / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    return {**os.environ, "PLOTLY_RENDERER": "plotly_mimetype",
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
            "JUPYTER_CONFIG_DIR": str(folder / "config"),
            "JUPYTER_DATA_DIR": str(folder / "data"),  # where working_copy's signatures are
            "IPYTHONDIR": str(folder / "ipython")}


def _as_root() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # CI, containers


def lab_command(root: Path, port: int, token: str) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", *LAB_OPTIONS, *_as_root()]


def app_command(notebook: Path, port: int) -> list[str]:
    """Voilà on one notebook: its outputs and widgets only, the code hidden (strip_sources)."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", "--strip_sources=True", "--show_tracebacks=False",
            "--theme=light"]


def url_of(app: bool, port: int, token: str) -> str:
    if app:
        return f"http://127.0.0.1:{port}/"
    return f"http://127.0.0.1:{port}/lab/tree/{QUICKSTART}?token={token}"


def start(folder: Path, *, app: bool, port: int, token: str, **popen: Any) -> subprocess.Popen[bytes]:
    """Start the demo server over a fresh working copy under `folder`."""
    notebooks = working_copy(folder)
    env = private_environment(folder)
    command = app_command(notebooks / FORM, port) if app else lab_command(notebooks, port, token)
    return subprocess.Popen(command, cwd=notebooks, env=env, **popen)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", action="store_true",
                        help="serve the form notebook as a Voilà app (code hidden)")
    args = parser.parse_args(argv)
    port = free_port(int(os.environ.get("NWLAB_DEMO_PORT", "8866" if args.app else "8888")))
    token = secrets.token_hex(16)
    folder = Path(tempfile.mkdtemp(prefix="nwlab-demo-"))
    # Stopping the demo (Ctrl-C, or a SIGTERM from whoever started it) stops the server and
    # removes the copy; without the handler a SIGTERM would leave the server running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    what = "the form as an app" if args.app else "JupyterLab"
    print(f"\n  nwlab demo ({what}): open {url_of(args.app, port, token)}\n"
          "  offline (recordings and the local emulator); a working copy of the notebooks is\n"
          "  served and removed when the demo stops, so the tracked ones stay clean; Ctrl-C stops\n",
          flush=True)
    process = start(folder, app=args.app, port=port, token=token)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
