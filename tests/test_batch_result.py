"""BatchResult: frame, JSON lines round trip, compare before/after a rule change, figures, html."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nwlab
from nwlab.arm.errors import NwlabError
from nwlab.batch import FRAME_COLUMNS, BatchEntry, BatchError, BatchFileError, BatchResult, mesh
from nwlab.model import ConnectivityResult

RG = "ContosoRG"
AUDIT_NSG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/"
             "providers/Microsoft.Network/networkSecurityGroups/AuditNsg")
RESULTS = Path(__file__).parent / "data" / "results"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    yield nw
    nw.close()


@pytest.fixture(scope="module")
def mixed(emulator: Any) -> BatchResult:
    """Reachable, blocked by an NSG, no listener, a pre-flight error, and a duplicate."""
    checks = mesh(["MultiTierApp0", "Firewall0"], ["Database0", "10.1.5.4"], [80, 1433],
                  resource_group=RG)
    checks.append(dict(checks[0]))
    return emulator.check_many(checks, on_progress=False)


def test_frame_one_row_per_check_in_input_order(mixed: BatchResult) -> None:
    frame = mixed.frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert len(frame) == 9
    first = frame.iloc[0]
    assert (first.source, first.destination, first.port) == ("MultiTierApp0", "Database0", 80)
    assert first.verdict == "unreachable" and first.status == "Unreachable"
    assert not first.reachable
    assert first.probes_sent == 100 and first.probes_failed == 100 and first.probe_loss == 1.0
    assert "UserRule_Port80" in first.cause and first.error is None
    ok = frame.iloc[1]
    assert ok.verdict == "reachable" and ok.cause is None and ok.avg_latency_ms == 2
    bad = frame[frame.source == "Firewall0"]
    assert len(bad) == 4 and set(bad.verdict) == {"error"}
    assert bad.iloc[0].error.startswith("PreflightError: Source VM Firewall0 has no Network")
    assert bad.reachable.isna().all()
    assert frame.iloc[8].to_dict() == {**frame.iloc[0].to_dict(), "elapsed_s": frame.iloc[8].elapsed_s}


def test_save_load_round_trip_is_exact(mixed: BatchResult, tmp_path: Path) -> None:
    path = mixed.save(tmp_path / "mesh.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(mixed)
    first = json.loads(lines[0])
    assert set(first) == {"index", "inputs", "result", "meta", "error", "elapsed_s"}
    assert first["inputs"] == {"source": "MultiTierApp0", "destination": "Database0", "port": 80,
                               "resource_group": RG}
    assert first["result"]["connectionStatus"] == "Unreachable"
    assert json.loads(lines[4])["error"]["type"] == "PreflightError"
    loaded = BatchResult.load(path)
    assert loaded == mixed
    for a, b in zip(loaded, mixed, strict=True):
        assert a.inputs == b.inputs and a.error == b.error and a.elapsed_s == b.elapsed_s
        if b.result is not None:
            assert a.result is not None
            assert a.result.to_dict() == b.result.to_dict() and a.result.meta == b.result.meta
    assert loaded.frame().equals(mixed.frame())
    loaded.save(tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == path.read_bytes()


def test_load_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"inputs": {}}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        BatchResult.load(path)
    path.write_text('{"hello": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1 is not a saved check"):
        BatchResult.load(path)


@pytest.mark.parametrize("content,line,words", [
    (b"", None, "holds no checks"),
    (b"\n\n", None, "holds no checks"),
    (b'{"inputs": {}}\n{"inputs": {"source": "a"}, "res', 2, "is cut short"),
    (b'{"inputs": {}}\n[1, 2]\n', 2, "not an object"),
    (b'"just a string"\n', 1, "not an object"),
    (b'{"inputs": "MultiTierApp0"}\n', 1, "no 'inputs' object"),
    (b'{"inputs": {}, "index": "first"}\n', 1, "index that is not a whole number"),
    (b'{"inputs": {}, "result": [1]}\n', 1, "'result' that is not an object"),
    (b'{"inputs": {}, "meta": "x", "result": {}}\n', 1, "'meta' that is not an object"),
    (b'{"inputs": {}, "error": {"type": 1, "message": "m"}}\n', 1, "type, message or fix"),
    (b'{"inputs": {}, "elapsed_s": "slow"}\n', 1, "elapsed_s that is not a number"),
    (b'{"inputs": {}}\n{"inputs": {}}\n\xff\xfe\n', 3, "not UTF-8"),
    (b'{"inputs": {}}\n{"inputs": {}, "index": 1e999}\n', 2, "index that is not a whole"),
])
def test_load_of_a_damaged_file_names_the_file_and_the_line(tmp_path: Path, content: bytes,
                                                           line: int | None, words: str) -> None:
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(content)
    with pytest.raises(BatchFileError) as caught:
        BatchResult.load(path)
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, NwlabError)
    assert error.path == str(path) and error.line == line
    where = f"{path}: line {line} " if line is not None else f"{path} "
    assert str(error).startswith(where) and words in str(error), str(error)
    assert "BatchResult.save()" in str(error)  # what to load instead


def test_a_save_cut_short_is_reported_as_such(mixed: BatchResult, tmp_path: Path) -> None:
    path = mixed.save(tmp_path / "mesh.jsonl")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 40])
    with pytest.raises(BatchFileError, match=rf"line {len(mixed)} is cut short"):
        BatchResult.load(path)


def test_save_is_atomic(mixed: BatchResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = mixed.save(tmp_path / "mesh.jsonl")
    before = path.read_bytes()
    small = BatchResult(mixed.entries[:1])
    for target in ("os.replace", "os.fsync"):
        def crash(*args: Any, name: str = target, **kwargs: Any) -> Any:
            raise OSError(f"simulated crash in {name}")

        monkeypatch.setattr(target, crash)
        with pytest.raises(OSError, match="simulated crash"):
            small.save(path)
        monkeypatch.undo()
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["mesh.jsonl"]  # no temporary file left
    # A save interrupted half way (Ctrl-C while writing) leaves the old file whole too.
    calls = {"n": 0}
    real_dumps = json.dumps

    def interrupted(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr("nwlab.batch.result.json.dumps", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mixed.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and BatchResult.load(path) == mixed
    assert [p.name for p in tmp_path.iterdir()] == ["mesh.jsonl"]


def test_save_keeps_no_token_and_refuses_an_empty_batch(tmp_path: Path) -> None:
    token = "eyJ" + "a" * 20 + "." + "b" * 20 + "." + "c" * 10
    batch = BatchResult([BatchEntry(0, {"source": "a", "destination": "b"},
                                    error=BatchError("ArmError", f"HTTP 401 for Bearer {token}"))])
    text = batch.save(tmp_path / "t.jsonl").read_text(encoding="utf-8")
    assert token not in text and "Bearer <redacted>" in text
    with pytest.raises(ValueError, match="no checks"):
        BatchResult([]).save(tmp_path / "empty.jsonl")
    assert not (tmp_path / "empty.jsonl").exists()


def test_compare_finds_the_verdict_a_rule_change_flips() -> None:
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    try:
        checks = mesh(["MultiTierApp0"], ["Database0", "10.1.5.4"], [80, 1433], resource_group=RG)
        before = nw.check_many(checks, on_progress=False)
        nw.set_security_rule(AUDIT_NSG, "Port80", priority=100, direction="Outbound",
                             access="Allow", protocol="Tcp", sourceAddressPrefix="*",
                             sourcePortRange="*", destinationAddressPrefix="*",
                             destinationPortRange="80")
        after = nw.check_many(checks, on_progress=False)
    finally:
        nw.close()
    changes = before.compare(after)
    assert len(changes) >= 1
    row = changes[(changes.destination == "Database0") & (changes.port == 80)].iloc[0]
    assert row.change == "verdict"
    assert (row.verdict_before, row.verdict_after) == ("unreachable", "reachable")
    assert "UserRule_Port80" in row.cause_before and row.cause_after is None
    assert (row.status_before, row.status_after) == ("Unreachable", "Reachable")
    unchanged = changes[(changes.destination == "Database0") & (changes.port == 1433)]
    assert unchanged.empty
    assert before.compare(before).empty


def _entry(index: int, inputs: dict[str, Any], name: str | None = None,
           error: BatchError | None = None) -> BatchEntry:
    result = None
    if name is not None:
        result = ConnectivityResult.from_dict(json.loads((RESULTS / f"{name}.json").read_text()))
    return BatchEntry(index, inputs, result, error, 1.0)


def test_compare_matches_by_inputs_and_lists_added_and_removed() -> None:
    a = {"source": "MultiTierApp0", "destination": "Database0", "port": 80, "resource_group": RG}
    b = {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80, "resource_group": RG}
    c = {"source": "MultiTierApp0", "destination": "bing.com", "port": 80, "resource_group": RG}
    before = BatchResult([_entry(0, a, "vm-to-vm-nsg-blocked"), _entry(1, b, "vm-to-ip-udr-blocked")])
    after = BatchResult([_entry(0, c, "vm-to-website-reachable"),
                         _entry(1, b, error=BatchError("ArmError", "HTTP 403"))])
    changes = before.compare(after)
    assert list(changes.change) == ["removed", "verdict", "added"]
    assert list(changes.verdict_after) == [None, "error", "reachable"]
    assert changes.iloc[1].cause_after == "ArmError"
    with pytest.raises(TypeError, match="expected a BatchResult"):
        before.compare(after.frame())  # type: ignore[arg-type]


def test_compare_cause_change_keeps_the_verdict() -> None:
    a = {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80, "resource_group": RG}
    before = BatchResult([_entry(0, a, "vm-to-vm-nsg-blocked")])
    after = BatchResult([_entry(0, a, "vm-to-ip-udr-blocked")])
    changes = before.compare(after)
    assert list(changes.change) == ["cause"]
    assert changes.iloc[0].verdict_before == changes.iloc[0].verdict_after == "unreachable"
    assert changes.iloc[0].cause_before != changes.iloc[0].cause_after


def test_figures_are_deterministic_and_not_colour_alone(mixed: BatchResult,
                                                        tmp_path: Path) -> None:
    sankey = mixed.sankey_figure()
    assert sankey.to_json() == mixed.sankey_figure().to_json()
    labels = list(sankey.data[0].node.label)
    assert labels[:2] == ["Firewall0", "MultiTierApp0"]
    assert any(label.startswith("\u2716 Unreachable: NSG rule UserRule_Port80") for label in labels)
    assert "\u2714 Reachable" in labels
    assert "! Error (check did not run): PreflightError" in labels
    assert sum(sankey.data[0].link.value) == 2 * len(mixed)

    heat = mixed.heatmap_figure()
    assert heat.to_json() == mixed.heatmap_figure().to_json()
    trace = heat.data[0]
    assert list(trace.y) == ["Firewall0", "MultiTierApp0"]
    # Ports in numeric order (80 before 1433), not as text.
    assert list(trace.x) == ["10.1.5.4:80", "10.1.5.4:1433", "Database0:80", "Database0:1433"]
    marks = [list(row) for row in trace.text]
    assert marks[0] == ["!"] * 4
    assert marks[1][2] == "\u2716" and marks[1][3] == "\u2714"
    assert "UserRule_Port80" in trace.hovertext[1][2]
    assert "PreflightError" in trace.hovertext[0][0]
    # A loaded batch draws the same figures.
    path = mixed.save(tmp_path / "m.jsonl")
    assert BatchResult.load(path).heatmap_figure().to_json() == heat.to_json()


def test_html_repr_counts_and_table(mixed: BatchResult) -> None:
    markup = mixed._repr_html_()
    assert markup == mixed._repr_html_()
    assert "9 checks" in markup
    assert "\u2716 3 unreachable" in markup and "! 4 errors" in markup
    assert "<table" in markup and "UserRule_Port80" in markup
    evil = BatchResult([BatchEntry(0, {"source": "<b>x</b>", "destination": "y"},
                                   error=BatchError("ArmError", "<script>alert(1)</script>"))])
    assert "<script>" not in evil._repr_html_() and "&lt;script&gt;" in evil._repr_html_()


def test_summary_and_counts(mixed: BatchResult) -> None:
    assert mixed.summary() == "9 checks: 2 reachable, 3 unreachable, 4 errors"
    assert list(mixed.counts()) == ["reachable", "degraded", "unreachable", "unknown", "error",
                                    "cancelled"]
    assert "9 checks" in repr(mixed)
    assert len(mixed.errors) == 4 and not mixed.ok


def test_lazy_export() -> None:
    assert nwlab.BatchResult is BatchResult


def test_html_table_leads_with_verdict_and_cause_and_shows_no_placeholders(mixed: BatchResult
                                                                           ) -> None:
    """Issue 12 face 5: the cause is visible first and whole; a reachable row shows a blank."""
    markup = mixed._repr_html_()
    headers = [h.split(">")[-1] for h in markup.split("</th>")[:-1]]
    assert headers[:2] == ["verdict", "cause"]
    assert "None" not in markup and "&lt;NA&gt;" not in markup and "NaN" not in markup
    long_cause = max((e.cause or "" for e in mixed), key=len)
    assert len(long_cause) > 40 and long_cause in markup


def test_one_error_and_many_errors() -> None:
    one = BatchResult([BatchEntry(0, {"source": "a", "destination": "b"},
                                  error=BatchError("ArmError", "x"))])
    assert one.summary() == "1 check: 1 error"
    assert BatchResult(one.entries * 2).summary() == "2 checks: 2 errors"


def test_html_table_leaves_out_columns_blank_in_every_row(mixed: BatchResult) -> None:
    """A table that fits: no empty protocol or error column, cells left-aligned."""
    from nwlab.batch import frame_html

    ok_only = BatchResult([e for e in mixed if e.verdict == "reachable"])
    markup = ok_only._repr_html_()
    headers = [h.split(">")[-1] for h in markup.split("</th>")[:-1]]
    assert headers[:2] == ["verdict", "cause"]  # kept even when blank: the reader looks there
    assert "error" not in headers and "protocol" not in headers
    assert "error" in [h.split(">")[-1] for h in mixed._repr_html_().split("</th>")[:-1]]
    assert "<td>" not in frame_html(mixed.frame()) and "<th>" not in frame_html(mixed.frame())
