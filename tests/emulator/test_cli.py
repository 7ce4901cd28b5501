"""The standalone runner: prints endpoint, subscription and token; serves; stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from nwlab.emulator import DEFAULT_TOPOLOGY_PATH
from nwlab.emulator.cli import main

TOOLKIT = str(Path(__file__).resolve().parents[2] / "toolkit")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = TOOLKIT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_cli_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nwlab.emulator", "--topology", str(DEFAULT_TOPOLOGY_PATH),
         "--port", "0", "--check-seconds", "0", "--retry-after", "0", "--probes", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(3))
        assert lines["endpoint"].startswith("http://127.0.0.1:")
        assert lines["subscription"] == "00000000-0000-0000-0000-000000000000"
        resp = requests.get(f"{lines['endpoint']}/subscriptions?api-version=2022-12-01",
                            headers={"Authorization": f"Bearer {lines['token']}"}, timeout=5)
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_topology_exits_2_naming_the_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"subscriptionId": "s", "resources": [{"id": "x"}]}')
    assert main(["--topology", str(bad)]) == 2
    assert "'type'" in capsys.readouterr().err


@pytest.mark.parametrize("args,flag", [
    (["--port", "70000"], "--port"), (["--port", "-1"], "--port"), (["--port", "http"], "--port"),
    (["--probes", "0"], "--probes"), (["--check-seconds", "-1"], "--check-seconds"),
    (["--retry-after", "nan"], "--retry-after"), (["--write-rate", "0"], "--write-rate"),
])
def test_cli_out_of_range_numbers_are_one_line_naming_the_flag(args: list[str], flag: str) -> None:
    done = subprocess.run([sys.executable, "-m", "nwlab", "emulator", *args], capture_output=True,
                          text=True, timeout=60, env=_env())
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith(f"nwlab emulator: error: argument {flag}: ")
    assert f"e.g. {flag} " in line


def test_cli_stops_quietly_when_stdout_is_closed() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read what it prints
    try:
        done = subprocess.run([sys.executable, "-m", "nwlab", "emulator", "--port", "0"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                              env=_env())
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    assert done.stderr.strip() == ("nwlab emulator: stdout was closed before the token was "
                                   "printed; stopping")
def test_cli_says_how_many_assumptions_and_where(tmp_path: Path) -> None:
    import json

    from .factory import two_subnets

    doc = two_subnets().document()
    doc["resources"].append({"id": doc["resources"][0]["id"].replace(
        "virtualNetworks/v", "applicationGateways/fw"), "name": "fw",
        "type": "Microsoft.Network/applicationGateways", "location": "westus", "properties": {}})
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nwlab.emulator", "--topology", str(path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(4))
        count, where = lines["assumptions"].split(" ", 1)
        assert count == "1"
        url = where.strip("()").removeprefix("GET ")
        resp = requests.get(f"{lines['endpoint']}{url}?api-version=2021-04-01",
                            headers={"Authorization": f"Bearer {lines['token']}"}, timeout=5)
        assert [a["code"] for a in resp.json()["value"]] == ["UNMODELLED_RESOURCE_TYPE"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
