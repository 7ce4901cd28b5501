"""Debian's chromium driven by Playwright, for the tests that need a real browser
(test_browser.py, test_viz_browser.py): never a downloaded browser, and kept off the network.

Where chromium is missing a module that calls `require_chromium()` is skipped locally and fails
under CI (.ci/run installs it with apt-get).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that keep chromium off the network it cannot reach here (see the machine notes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def require_chromium() -> None:
    """Skip the calling module (at import) where chromium is missing; under CI, fail."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            raise RuntimeError("chromium is not installed; .ci/run installs it with apt-get")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                    allow_module_level=True)


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """A Playwright browser on Debian's chromium, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
