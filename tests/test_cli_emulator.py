"""`python -m nwlab emulator --topology FILE --port N`: serves, prints endpoint and token, stops."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

import nwlab
from nwlab.arm.auth import StaticTokenCredential
from nwlab.emulator import DEFAULT_TOPOLOGY_PATH


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(60)
def test_emulator_command_serves_the_documented_check():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nwlab", "emulator", "--topology", str(DEFAULT_TOPOLOGY_PATH),
         "--port", str(port), "--check-seconds", "0", "--retry-after", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = dict(process.stdout.readline().strip().split(": ", 1) for _ in range(3))
        assert printed["endpoint"] == f"http://127.0.0.1:{port}"
        nw = nwlab.connect(printed["subscription"],
                           credential=StaticTokenCredential(printed["token"]),
                           arm_endpoint=printed["endpoint"], poll_interval=0)
        result = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
        assert result.status == "Unreachable"
        assert [i.route_type for i in result.issues] == ["User"]
        wrong = nwlab.connect(printed["subscription"], credential=StaticTokenCredential("nope"),
                              arm_endpoint=printed["endpoint"], poll_interval=0)
        with pytest.raises(nwlab.ArmError) as refused:
            wrong.list_resource_groups()
        assert refused.value.status == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode is not None


def test_emulator_command_refuses_a_missing_topology(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nwlab", "emulator", "--topology",
                           str(tmp_path / "missing.json"), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "missing.json" in done.stderr
