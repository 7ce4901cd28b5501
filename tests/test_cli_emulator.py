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


@pytest.mark.timeout(90)
def test_what_if_from_the_command_line(tmp_path):
    """Serve the emulator, change a rule with the REST call a user would send to Azure (curl or
    `az rest`), and check again with `python -m nwlab check --arm-endpoint ... --token ...`."""
    import requests

    process = subprocess.Popen(
        [sys.executable, "-m", "nwlab", "emulator", "--port", "0", "--check-seconds", "0",
         "--retry-after", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = dict(process.stdout.readline().strip().split(": ", 1) for _ in range(3))
        base = [sys.executable, "-m", "nwlab", "check", "--arm-endpoint", printed["endpoint"],
                "--token", printed["token"], "--subscription", printed["subscription"],
                "--source", "MultiTierApp0", "-g", "ContosoRG", "--dest", "Database0",
                "--port", "80"]
        before = subprocess.run(base, capture_output=True, text=True, timeout=60)
        assert before.returncode == 0, before.stderr
        assert before.stdout.startswith("Unreachable") and "UserRule_Port80" in before.stdout
        rule = (f"{printed['endpoint']}/subscriptions/{printed['subscription']}/resourceGroups/"
                "ContosoRG/providers/Microsoft.Network/networkSecurityGroups/AuditNsg/"
                "securityRules/Port80?api-version=2024-05-01")
        deleted = requests.delete(rule, headers={"Authorization": f"Bearer {printed['token']}"},
                                  timeout=10)
        assert deleted.status_code in (200, 202, 204)
        after = subprocess.run(base, capture_output=True, text=True, timeout=60)
        assert after.returncode == 0, after.stderr
        assert after.stdout.startswith("Reachable")
        out = tmp_path / "twin.json"
        snap = subprocess.run([sys.executable, "-m", "nwlab", "snapshot", "--arm-endpoint",
                               printed["endpoint"], "--token", printed["token"], "--subscription",
                               printed["subscription"], "-g", "ContosoRG", "--out", str(out)],
                              capture_output=True, text=True, timeout=60)
        assert snap.returncode == 0, snap.stderr
        assert "networkSecurityGroups" in snap.stdout and out.exists()
        # the snapshot holds the change: offline, the check is reachable too
        offline = subprocess.run([sys.executable, "-m", "nwlab", "check", "--emulate", str(out),
                                  "--source", "MultiTierApp0", "-g", "ContosoRG", "--dest",
                                  "Database0", "--port", "80"],
                                 capture_output=True, text=True, timeout=60)
        assert offline.returncode == 0, offline.stderr
        assert offline.stdout.startswith("Reachable")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_record_and_get_vm_on_the_client(tmp_path):
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    try:
        vm = nw.get_vm("MultiTierApp0", "ContosoRG")
        assert vm["name"] == "MultiTierApp0" and vm["location"] == "westcentralus"
        with pytest.raises(ValueError, match="resource_group"):
            nw.get_vm("MultiTierApp0")
        path = tmp_path / "mine.json"
        with nw.record(path, note="a check recorded against the emulator"):
            live = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
    finally:
        nw.close()
    text = path.read_text(encoding="utf-8")
    assert "Bearer" not in text and nw.emulator.token not in text
    replayed = nwlab.replay(path).check("MultiTierApp0", "13.107.21.200", 80,
                                        resource_group="ContosoRG")
    assert replayed == live
