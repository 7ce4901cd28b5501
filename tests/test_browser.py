"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright.

The form notebook is opened and run in JupyterLab; the test then uses the form the way a person
does (types a destination, clicks Run check), waits for the verdict and the Plotly figures inside
the form, and saves a screenshot under test-output/browser/. Never a downloaded browser: CI
installs Debian's chromium (.ci/run); where it is missing the test is skipped locally but fails
under CI.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02-troubleshoot-with-the-form.ipynb"
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that keep chromium off the network it cannot reach here (see the machine notes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium is not installed; .ci/run installs it with apt-get")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """JupyterLab serving a copy of the form notebook from a private folder and settings."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PLOTLY_RENDERER": "plotly_mimetype",
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
           "IPYTHONDIR": str(root / ".ipython")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class="
               "jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "lab.log", "wb")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" +
                                       (root / "lab.log").read_text(errors="replace")[-3000:]
                                       ) from exc
                time.sleep(0.5)
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


KERNEL_IDLE = """() => {
  const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = nb && nb.sessionContext && nb.sessionContext.session
                 && nb.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && nb.content && nb.content.widgets.length > 0;
}"""


@pytest.mark.timeout(300)
def test_form_runs_a_check_in_a_real_browser(lab: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, token = lab
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            page.goto(f"{url}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_function(KERNEL_IDLE, timeout=120_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            form = page.locator(".widget-vbox", has=page.get_by_role("button", name="Run check"))
            expect(form.first).to_be_visible(timeout=120_000)
            page.wait_for_function(KERNEL_IDLE, timeout=120_000)
            # The notebook's last run left an unreachable check in the form; now do what a person
            # does: type another destination, clear the port, press Run check.
            _fill_destination(form.first, "https://bing.com")
            _fill_labelled(form.first, "Port", "")
            form.first.get_by_role("button", name="Run check").click()
            badge = form.first.locator(".nwlab-badge")
            expect(badge).to_contain_text("Reachable", timeout=120_000)
            expect(badge).not_to_contain_text("Unreachable")
            plots = form.first.locator(".js-plotly-plot")
            expect(plots.first).to_be_visible(timeout=120_000)
            assert plots.count() >= 2, "both the path figure and the Sankey should render"
            form.first.screenshot(path=str(OUTPUT / "form-with-result.png"))
            page.screenshot(path=str(OUTPUT / "notebook.png"), full_page=True)
        finally:
            browser.close()
    assert (OUTPUT / "form-with-result.png").stat().st_size > 10_000


def _fill_destination(form, text: str) -> None:  # type: ignore[no-untyped-def]
    """The destination is a Combobox labelled 'Value'; switch its kind to URL first."""
    form.get_by_role("button", name="URL", exact=True).click()
    _fill_labelled(form, "Value", text)


def _fill_labelled(form, label: str, text: str) -> None:  # type: ignore[no-untyped-def]
    row = form.locator(".widget-inline-hbox", has=form.page.locator(f"label:text-is('{label}')"))
    field = row.locator("input").first
    field.fill(text)
    field.press("Tab")  # ipywidgets sync a text field's value on change/blur
