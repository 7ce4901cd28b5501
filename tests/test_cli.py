"""`python -m nwlab check`: the verdict, hops and issues; --json; one-line errors with exit 2 for
bad input and 1 for a failing backend; and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import nwlab
from nwlab.cli import main

REPLAY = ["check", "--replay", "--source", "MultiTierApp0", "-g", "ContosoRG"]
SEED_ARGS = {
    "vm-to-vm-nsg-blocked": ["--dest", "Database0", "--port", "80"],
    "vm-to-ip-udr-blocked": ["--dest", "13.107.21.200", "--port", "80"],
    "vm-to-website-reachable": ["--dest", "https://bing.com"],
    "vm-to-storage-reachable": ["--dest", "https://build2017nwdiag360.blob.core.windows.net/",
                                "--port", "0"],
}
HEAVY = ("pandas", "plotly", "ipywidgets")


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nwlab", *args], capture_output=True, text=True,
                          timeout=timeout)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# -- the command -------------------------------------------------------------------------------


def test_check_prints_verdict_hops_and_issues():
    done = run(*REPLAY, "--dest", "13.107.21.200", "--port", "80")
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "Unreachable, 100 of 100 probes failed"
    assert out[1].split() == ["1.", "Source", "10.1.1.4", "appNic0"]
    assert out[2].strip() == "! Error UserDefinedRoute (Outbound) RouteType=User"
    assert out[3].split()[:3] == ["2.", "Destination", "13.107.21.200"]
    assert any(line.startswith("- ") for line in out)  # the explanation
    assert any("fix:" in line for line in out)
    assert done.stderr == ""


def test_check_json_is_the_seed_result_subprocess(seeds):
    done = run(*REPLAY, *SEED_ARGS["vm-to-vm-nsg-blocked"], "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == seeds["vm-to-vm-nsg-blocked"]["result"]


@pytest.mark.parametrize("name", sorted(SEED_ARGS))
def test_check_json_equals_each_seed_result(capsys, seeds, name):
    assert main([*REPLAY, *SEED_ARGS[name], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == seeds[name]["result"]


@pytest.mark.parametrize("name", sorted(SEED_ARGS))
def test_check_prints_each_verdict(capsys, seeds, name):
    assert main([*REPLAY, *SEED_ARGS[name]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(seeds[name]["result"]["connectionStatus"] + ",")
    for hop in seeds[name]["result"]["hops"]:
        assert hop["address"] in out


def test_watcher_option_skips_discovery(capsys, seeds):
    watcher = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/NetworkWatcherRG"
               "/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westcentralus")
    assert main([*REPLAY, *SEED_ARGS["vm-to-ip-udr-blocked"], "--watcher", watcher, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == seeds["vm-to-ip-udr-blocked"]["result"]


# -- bad input: one line, exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize("args,starts", [
    (["--dest", "13.107.21.200", "--port", "70000"], "nwlab: error: port: 70000 is outside 0-65535"),
    (["--dest", "13.107.21.200", "--port", "eighty"], "nwlab: error: port: expected an integer"),
    (["--dest", "bing.com/health", "--port", "80"], "nwlab: error: destination: "),
    (["--dest", "13.107.21.200", "--port", "80", "--protocol", "Udp"], "nwlab: error: protocol: "),
    (["--dest", "13.107.21.200", "--port", "80", "--ip-version", "IPv5"],
     "nwlab: error: ip_version: "),
    (["--dest", "13.107.21.200"], "nwlab: error: port: "),
])
def test_bad_input_prints_one_line_and_exits_2(args, starts):
    done = run(*REPLAY, *args)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith(starts) and "e.g." in line
    assert done.stdout == ""


def test_vm_name_without_resource_group_exits_2():
    done = run("check", "--replay", "--source", "MultiTierApp0", "--dest", "10.1.4.4", "--port", "80")
    assert done.returncode == 2
    assert one_line(done.stderr).startswith("nwlab: error: resource_group: ")


@pytest.mark.parametrize("args", [
    ["check", "--replay", "--dest", "10.1.4.4"],                      # --source missing
    ["check", "--replay", "--source", "x", "--dest", "y", "--timeout", "soon"],
    ["frobnicate"],
    [],
])
def test_usage_errors_print_one_line_and_exit_2(args):
    done = run(*args)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith("nwlab: error: ")


def test_live_azure_without_a_subscription_is_bad_input(monkeypatch, capsys):
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    code = main(["check", "--subscription", "", "--source", "MultiTierApp0", "-g", "ContosoRG",
                 "--dest", "10.1.4.4", "--port", "80"])
    assert code == 2
    assert one_line(capsys.readouterr().err).startswith("nwlab: error: --subscription: ")


# -- failing backend: one line, exit 1 ------------------------------------------------------------


def failing_cassettes(tmp_path: Path, change: Any) -> Path:
    bundled = Path(nwlab.__file__).parent / "cassettes" / "vm-to-ip-udr-blocked.json"
    data = json.loads(bundled.read_text())
    change(data["interactions"])
    folder = tmp_path / "cassettes"
    folder.mkdir()
    (folder / "broken.json").write_text(json.dumps(data))
    return folder


def test_unrecorded_request_exits_1_with_one_line():
    done = run(*REPLAY, "--dest", "10.9.9.9", "--port", "22")
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line.startswith("nwlab: ReplayMismatch: ") and "10.9.9.9" in line


def test_failed_operation_exits_1_with_the_arm_error(tmp_path):
    def fail_last_poll(items: list[dict[str, Any]]) -> None:
        items[-1]["response"] = {"status": 400, "headers": {"x-ms-request-id": "req-9"},
                                 "body": {"error": {"code": "InvalidRequest", "message": "bad check"}}}

    folder = failing_cassettes(tmp_path, fail_last_poll)
    done = run("check", "--replay", str(folder), "--source", "MultiTierApp0", "-g", "ContosoRG",
               "--dest", "13.107.21.200", "--port", "80")
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line.startswith("nwlab: OperationFailed: HTTP 400 InvalidRequest: bad check")
    assert "req-9" in line


def test_preflight_failure_exits_1(tmp_path, capsys):
    def deallocate(items: list[dict[str, Any]]) -> None:
        # pre-flight reads the power state from GET VM?$expand=instanceView
        vm = next(i for i in items
                  if i["request"]["url"].split("?")[0].endswith("/virtualMachines/MultiTierApp0"))
        vm["response"]["body"]["properties"]["instanceView"]["statuses"][-1]["code"] = \
            "PowerState/deallocated"

    folder = failing_cassettes(tmp_path, deallocate)
    code = main(["check", "--replay", str(folder), "--source", "MultiTierApp0", "-g", "ContosoRG",
                 "--dest", "13.107.21.200", "--port", "80"])
    assert code == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("nwlab: PreflightError: Source VM MultiTierApp0 is deallocated")
    assert "az vm start" in line


# -- staying light --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "import nwlab",
    "import nwlab.cli",
    ("import runpy; sys.argv = ['nwlab', '--help']\n"
     "try:\n    runpy.run_module('nwlab', run_name='__main__')\nexcept SystemExit:\n    pass"),
    ("import runpy; sys.argv = ['nwlab', 'check', '--help']\n"
     "try:\n    runpy.run_module('nwlab', run_name='__main__')\nexcept SystemExit:\n    pass"),
], ids=["import", "import-cli", "help", "check-help"])
def test_import_and_help_do_not_load_pandas_plotly_or_ipywidgets(code):
    report = f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    program = "\n".join(["import sys", code, report])
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED="


def test_help_lists_the_commands():
    done = run("--help")
    assert done.returncode == 0
    assert "check" in done.stdout and "emulator" in done.stdout
