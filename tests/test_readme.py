"""The README a new user reads (issue 12, face 11): what it must cover, links that stay inside the
repository, and its examples run exactly as written (the blocks marked `tested:`)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MARK = "<!-- tested: tests/test_readme.py runs this block -->"


def marked_blocks(language: str) -> list[str]:
    pattern = re.compile(re.escape(MARK) + r"\s*```" + language + r"\n(.*?)```", re.DOTALL)
    return pattern.findall(README)


def test_the_readme_covers_what_a_new_user_needs() -> None:
    headings = re.findall(r"^##+ (.+)$", README, re.MULTILINE)
    for needed in ("Install into your own environment", "Sign in to Azure",
                   "Azure roles and actions a check needs",
                   "The Network Watcher agent and enablement", "Troubleshooting"):
        assert needed in headings, needed
    for words in ("pip install .", "dist/nwlab-", "az login", "AZURE_CLIENT_SECRET",
                  "managed identity", "connectivityCheck/action", "NetworkWatcherAgentLinux",
                  "az network watcher configure"):
        assert words in README, words


def test_links_and_images_stay_inside_the_repository() -> None:
    targets = re.findall(r"\]\(([^)\s]+)", README)
    assert "docs/form-with-result.png" in targets, "the screenshot of the form with a result"
    for target in targets:
        assert "://" not in target and not target.startswith(("/", "..")), target
        assert (ROOT / target.split("#")[0]).exists(), f"{target} is not in the repository"
    # Outside code (where a URL is a check's destination, not a link), no address at all.
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", README, flags=re.DOTALL))
    assert re.findall(r"\w+://\S+|<\w+://", prose) == []


def test_the_screenshot_is_a_real_picture() -> None:
    picture = ROOT / "docs" / "form-with-result.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000


def test_the_python_example_runs_as_written() -> None:
    (block,) = marked_blocks("python")
    done = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "error"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Unreachable False 100\n"), done.stdout[:200]
    assert "UserRule_Port80" in done.stdout and "Reachable" in done.stdout.splitlines()[-1]


def _commands(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


@pytest.mark.timeout(120)
def test_the_emulator_what_if_runs_as_written() -> None:
    """The standalone emulator, a check, the curl what-if (NSG rule id, api-version), the check
    again: on a free port, with the README's own commands and token."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed to run the README's what-if line")
    (block,) = marked_blocks("bash")
    commands = _commands(block)
    assert commands[0].endswith("&") and commands[-1] == "kill %1"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])

    def local(command: str) -> str:
        return command.replace("8080", port).replace("python -m", f"{sys.executable} -m")

    server = subprocess.Popen(local(commands[0].rstrip("& ")), shell=True, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while "token:" not in line and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                pytest.fail("the emulator command exited")
        outputs = []
        for command in commands[1:-1]:
            done = subprocess.run(local(command), shell=True, cwd=ROOT, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
            outputs.append(done.stdout)
        first, after = outputs[0], outputs[-1]
        assert first.startswith("Unreachable") and "UserRule_Port80" in first, first
        assert after.startswith("Reachable") and "UserRule_Port80" not in after, after
    finally:
        os.killpg(server.pid, 15)  # what `kill %1` does to the backgrounded emulator
        server.wait(timeout=15)
