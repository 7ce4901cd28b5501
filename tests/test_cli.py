"""`python -m nwlab check`: the verdict, hops and issues; --json; one-line errors with exit 2 for
bad input and 1 for a failing backend; and a light import."""

from __future__ import annotations

import json
import os
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
    (["--dest", "13.107.21.200", "--port", "70000"], "nwlab: error: --port: 70000 is outside 0-65535"),
    (["--dest", "13.107.21.200", "--port", "eighty"], "nwlab: error: --port: expected an integer"),
    (["--dest", "13.107.21.200", "--port", "9" * 5000], "nwlab: error: --port: expected an integer"),
    (["--dest", "bing.com/health", "--port", "80"], "nwlab: error: --dest: "),
    (["--dest", "13.107.21.200", "--port", "80", "--protocol", "Udp"], "nwlab: error: --protocol: "),
    (["--dest", "13.107.21.200", "--port", "80", "--ip-version", "IPv5"],
     "nwlab: error: --ip-version: "),
    (["--dest", "13.107.21.200"], "nwlab: error: --port: "),
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
    assert one_line(done.stderr).startswith("nwlab: error: -g: ")


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


# -- never a traceback (issue 9, item 16) ---------------------------------------------------------


def test_version_is_one_value_everywhere():
    import importlib.metadata
    import tomllib

    import nwlab._version

    assert nwlab.__version__ == nwlab._version.__version__
    assert importlib.metadata.version("nwlab") == nwlab._version.__version__
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "nwlab._version.__version__"}


@pytest.mark.parametrize("command", [[sys.executable, "-m", "nwlab"], ["nwlab"]],
                         ids=["python-m", "script"])
def test_version_flag(command):
    if command == ["nwlab"]:
        script = Path(sys.executable).parent / "nwlab"
        if not script.exists():
            pytest.skip("the console script is not installed next to this interpreter")
        command = [str(script)]
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"nwlab {nwlab.__version__}\n"


def run_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe nobody reads (`| head -0`): the read end is closed before it starts."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "nwlab", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args,codes", [
    ([*REPLAY, "--dest", "13.107.21.200", "--port", "80"], {141}),  # 128 + SIGPIPE, as a shell says
    ([*REPLAY, "--dest", "13.107.21.200", "--port", "80", "--json"], {141}),
    # argparse's own output fits the pipe's buffer and it exits 0 before anything notices
    (["--help"], {0, 141}), (["--version"], {0, 141}), (["check", "--help"], {0, 141}),
], ids=["check", "check-json", "help", "version", "check-help"])
def test_a_closed_stdout_ends_quietly(args, codes):
    done = run_into_a_closed_pipe(*args)
    assert done.returncode in codes
    assert done.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


@pytest.mark.parametrize("command", ["mesh", "snapshot"])
@pytest.mark.parametrize("where", ["folder", "inside-a-file"])
def test_an_unwritable_out_is_refused_before_anything_runs(tmp_path, command, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = tmp_path if where == "folder" else blocker / "results.jsonl"
    args = (["mesh", "--sources", "MultiTierApp0", "--dests", "Database0", "--ports", "80"]
            if command == "mesh" else ["snapshot"])
    done = run(*args, "-g", "ContosoRG", "--replay", "--out", str(out))
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done.stderr)
    assert line.startswith("nwlab: error: argument --out: ") and "e.g. --out " in line


def test_mesh_keeps_its_results_when_out_fails_at_write_time(tmp_path, monkeypatch, capsys):
    import tempfile

    from nwlab.batch import BatchResult

    target = tmp_path / "out.jsonl"
    original = BatchResult.save

    def disk_full(self: Any, path: Any) -> Any:
        if Path(path) == target:
            raise OSError(28, "No space left on device")
        return original(self, path)

    monkeypatch.setattr(BatchResult, "save", disk_full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spare"))
    (tmp_path / "spare").mkdir()
    code = main(["mesh", "--sources", "MultiTierApp0", "--dests", "Database0", "13.107.21.200",
                 "--ports", "80", "-g", "ContosoRG", "--replay", "--out", str(target),
                 "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    line = one_line(captured.err)
    assert line.startswith(f"nwlab: error: --out: cannot write {str(target)!r} (No space left on "
                           "device); saved the 2 results to ")
    spare = Path(line.rsplit(" to ", 1)[1].removesuffix(" instead"))
    assert spare.parent == tmp_path / "spare"
    assert [e.verdict for e in BatchResult.load(spare)] == ["unreachable", "unreachable"]


@pytest.mark.parametrize("cassette", [
    {"interactions": [{"request": {"method": "GET"}, "response": {"status": 200}}]},  # no url
    {"interactions": [{"response": {"status": 200}}]},  # no request
    {"interactions": [{"request": {"method": "GET", "url": "https://x/"},
                       "response": {"status": "ok"}}]},  # status not a number
    {"interactions": ["GET /"]},  # not an object
    ["not", "a", "cassette"],
], ids=["no-url", "no-request", "bad-status", "string-interaction", "list"])
def test_a_cassette_missing_fields_is_one_line_naming_the_file(tmp_path, cassette):
    folder = tmp_path / "cassettes"
    folder.mkdir()
    (folder / "broken.json").write_text(json.dumps(cassette))
    done = run("check", "--replay", str(folder), "--source", "MultiTierApp0", "-g", "ContosoRG",
               "--dest", "13.107.21.200", "--port", "80")
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done.stderr)
    assert line.startswith("nwlab: error: --replay: ") and "broken.json" in line and "e.g." in line


def test_snapshot_out_failing_at_write_time_is_one_line_naming_out(tmp_path, monkeypatch, capsys):
    import nwlab.snapshot

    def disk_full(target: Any, topology: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nwlab.snapshot, "write_json", disk_full)
    out = tmp_path / "twin.json"
    assert main(["snapshot", "--emulate", "-g", "ContosoRG", "--out", str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line == f"nwlab: error: --out: cannot write {str(out)!r} (No space left on device)"


def test_an_unexpected_failure_is_still_one_line(monkeypatch, capsys):
    import nwlab.cli

    def bug(args: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(nwlab.cli, "run_check", bug)
    monkeypatch.delenv("NWLAB_DEBUG", raising=False)
    assert main([*REPLAY, "--dest", "10.1.4.4", "--port", "80"]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("nwlab: internal error: RuntimeError: boom (run again with NWLAB_DEBUG=1")
