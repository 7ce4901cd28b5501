"""`python -m nwlab mesh`: parser, JSON lines output, summary table, exit statuses."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

import nwlab
from nwlab.batch import BatchResult
from nwlab.cli import build_parser, main
from nwlab.cli_mesh import build_checks, run_mesh


def fast_emulator(args: argparse.Namespace) -> Any:
    assert args.emulate is not None  # the backend flags are parsed
    return nwlab.emulate(args.emulate or None, check_seconds=0, retry_after=0)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["mesh", *argv])


def test_parser_builds_the_mesh() -> None:
    args = parse("--sources", "A", "B", "--dests", "X", "Y", "--ports", "80", "443",
                 "-g", "RG", "--protocol", "Tcp", "--concurrency", "8", "--write-rate", "none",
                 "--out", "r.jsonl", "--emulate")
    assert args.concurrency == 8 and math.isinf(args.write_rate) and args.out == "r.jsonl"
    checks = build_checks(args)
    assert len(checks) == 8
    assert checks[0] == {"source": "A", "destination": "X", "port": 80, "timeout": 600.0,
                         "resource_group": "RG", "protocol": "Tcp"}
    assert parse("--sources", "A", "--dests", "X", "--write-rate", "2.5").write_rate == 2.5


def test_parser_refuses_a_bad_write_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("--sources", "A", "--dests", "X", "--write-rate", "-1")
    assert info.value.code == 2
    assert "write rate must be positive" in capsys.readouterr().err


def test_mesh_writes_jsonl_and_exits_0_when_all_ran(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.jsonl"
    args = parse("--sources", "MultiTierApp0", "WebVM0", "--dests", "Database0", "10.1.4.4",
                 "--ports", "80", "1433", "-g", "ContosoRG", "--out", str(out), "--emulate")
    assert run_mesh(args, fast_emulator) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8
    assert json.loads(lines[0])["inputs"]["source"] == "MultiTierApp0"
    batch = BatchResult.load(out)
    assert batch.ok and batch.counts()["unreachable"] >= 1  # unreachable still exits 0
    printed = capsys.readouterr().out
    assert "MultiTierApp0" in printed and "UserRule_Port80" in printed
    assert "8 checks:" in printed and f"wrote 8 results to {out}" in printed


def test_mesh_exits_1_when_a_check_errored(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl"
    args = parse("--sources", "MultiTierApp0", "Firewall0", "--dests", "10.1.4.4", "--ports",
                 "80", "-g", "ContosoRG", "--out", str(out), "--emulate", "--no-progress")
    assert run_mesh(args, fast_emulator) == 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert "PreflightError" in capsys.readouterr().out


def test_main_reports_bad_input_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mesh", "--sources", "MultiTierApp0", "--dests", "Database0", "--ports", "80",
                 "--replay"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("nwlab: error: -g: ") and "resource_group" not in err


def test_main_runs_a_mesh_on_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "replay.jsonl"
    code = main(["mesh", "--sources", "MultiTierApp0", "--dests", "Database0", "--ports", "80",
                 "-g", "ContosoRG", "--replay", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert BatchResult.load(out)[0].verdict == "unreachable"


@pytest.mark.parametrize("flags", [[], ["--no-progress"]])
def test_mesh_says_how_long_before_the_first_check(flags: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 5: the estimate comes first: on stderr as the progress display's first line
    (stderr here is no terminal: plain lines, the last one final), or with --no-progress as the
    report's first line on stdout, leaving stderr to errors."""
    args = parse("--sources", "MultiTierApp0", "WebVM0", "--dests", "Database0", "10.1.4.4",
                 "--ports", "80", "1433", "-g", "ContosoRG", "--write-rate", "2", "--emulate",
                 *flags)
    assert run_mesh(args, fast_emulator) == 0
    captured = capsys.readouterr()
    out, err = captured.out.splitlines(), captured.err.splitlines()
    # 8 checks, 2 writes saved up and 6 more at 2 a second.
    estimate = "8 checks: at least 3 s at a write budget of 2 writes a second"
    if flags:
        assert out[0] == estimate and err == []
    else:
        assert err[0] == f"nwlab: {estimate}" and estimate not in captured.out
        assert err[-1].startswith("nwlab: 8/8 checks") and "took" in err[-1]
