"""`python -m nwlab monitor create|list|results|delete` against one emulator served on 127.0.0.1
(each command a separate client, as separate shell commands are), and its one-line refusals."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.cli import main
from nwlab.emulator import EmulatorServer

SUB = "00000000-0000-0000-0000-000000000000"
WORKSPACE = (f"/subscriptions/{SUB}/resourceGroups/monitor-rg/providers/"
             "Microsoft.OperationalInsights/workspaces/nwlab-law")


@pytest.fixture
def server():
    twin = EmulatorServer(check_seconds=0, retry_after=0).start()
    try:
        yield twin
    finally:
        twin.stop()


def _backend(twin: EmulatorServer) -> list[str]:
    return ["--subscription", SUB, "--arm-endpoint", twin.endpoint, "--token", twin.token,
            "--log-analytics-endpoint", twin.log_analytics_endpoint,
            "--log-analytics-token", twin.log_analytics.token]


def _run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    try:
        code = main(list(words))
    except SystemExit as exc:  # argparse's own refusals exit from the parser
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_results_delete(server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    backend = _backend(server)
    code, out, err = _run(capsys, "monitor", "create", "db-watch", "--sources", "WebVM0",
                          "--dests", "Database0", "--ports", "80", "1433", "-g", "ContosoRG",
                          "--workspace", WORKSPACE, "--frequency", "60",
                          "--checks-failed-percent", "10", *backend)
    assert code == 0, err
    assert out.startswith("created db-watch: 2 tests in westcentralus")
    code, out, _ = _run(capsys, "monitor", "list", *backend)
    assert code == 0 and "db-watch" in out and "Running" in out
    server.clock.advance(5 * 60)
    code, out, err = _run(capsys, "monitor", "results", "db-watch", "--since", "30m", *backend)
    assert code == 0, err
    rows = [line for line in out.splitlines() if "tcp-1433" in line]
    assert len(rows) == 6 and all("Pass" in row for row in rows)
    code, out, _ = _run(capsys, "monitor", "delete", "db-watch", *backend)
    assert code == 0 and out.strip() == "deleted db-watch"
    code, out, _ = _run(capsys, "monitor", "list", *backend)
    assert code == 0 and out.strip() == "no connection monitors"
    code, _, err = _run(capsys, "monitor", "results", "db-watch", *backend)
    assert code == 1 and err.count("\n") == 1 and "No connection monitor named 'db-watch'" in err


@pytest.mark.parametrize("words,flag", [
    (["create", "m", "--sources", "WebVM0", "--dests", "Database0", "--ports", "80",
      "-g", "ContosoRG", "--frequency", "20"], "--frequency"),
    (["create", "m", "--sources", "WebVM0", "--dests", "Database0", "--ports", "80",
      "-g", "ContosoRG", "--frequency", "often"], "--frequency"),
    (["create", "m", "--sources", "WebVM0", "--dests", "Database0", "--ports", "80",
      "-g", "ContosoRG", "--rtt-ms", "-5"], "--rtt-ms"),
    (["create", "m", "--sources", "WebVM0", "--dests", "Database0", "--ports", "80",
      "-g", "ContosoRG", "--workspace", SUB], "--workspace"),
    (["create", "bad(name)", "--sources", "WebVM0", "--dests", "Database0", "--ports", "80",
      "-g", "ContosoRG"], "NAME"),
    (["results", "m", "--since", "soon"], "--since"),
    (["create", "m", "--dests", "Database0"], "--sources"),
])
def test_bad_input_is_one_line_naming_the_flag_before_any_request(
        server: Any, capsys: pytest.CaptureFixture[str], words: list[str], flag: str) -> None:
    before = server.requests_count
    code, out, err = _run(capsys, "monitor", *words, *_backend(server))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and flag in err, err
    assert server.requests_count == before


def test_the_log_analytics_token_needs_the_arm_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "monitor", "list", "--subscription", SUB,
                        "--log-analytics-token", "x")
    assert code == 2 and "--token" in err and err.count("\n") == 1
