"""`python -m nwlab snapshot --via resource-graph`: an estate through Resource Graph from the
command line (against the bundled emulator): the topology and its coverage record, progress and
denied subscriptions on stderr, --resume, and one-line errors naming the flag."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import nwlab
from nwlab.arm.errors import ArmError
from nwlab.cli import main
from nwlab.emulator.chaos import Chaos, Status

ZERO = "00000000-0000-0000-0000-000000000000"
RG = r"/providers/Microsoft.ResourceGraph/resources$"


def test_snapshot_through_resource_graph_writes_the_estate_and_its_coverage(tmp_path, capsys):
    out = tmp_path / "estate.json"
    other = str(uuid.uuid4())  # not in the emulator's tenant: denied, and said so
    code = main(["snapshot", "--emulate", "--via", "resource-graph", "--subscriptions", ZERO,
                 other, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    topology = json.loads(out.read_text())
    assert topology["snapshot"]["via"] == "resource-graph"
    coverage = topology["snapshot"]["coverage"]
    assert [e["subscriptionId"] for e in coverage["read"]] == [ZERO]
    assert len(coverage["denied"]) == 1 and other not in out.read_text()
    assert captured.out.startswith(f"wrote {out}: ") and "virtualNetworks" in captured.out
    # Progress on stderr (no terminal here: lines), then the subscription that was not read.
    assert "nwlab: 10/10 snapshot queries, " in captured.err
    assert "nwlab: denied 00000000-0000-0000-0000-000000000001: " in captured.err


def test_an_interrupted_snapshot_continues_only_with_resume(tmp_path, capsys):
    out = tmp_path / "estate.json"
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    nw.emulator.chaos = Chaos().on("POST", RG, Status(403, "AuthorizationFailed"), nth=[4])
    try:
        with pytest.raises(ArmError):
            nw.snapshot(path=out, subscriptions=[ZERO], progress=False)
    finally:
        nw.close()
    partial = tmp_path / "estate.json.partial.json"
    assert partial.exists()
    args = ["snapshot", "--emulate", "--subscriptions", ZERO, "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nwlab: error: --out: ") and "add --resume" in err
    assert partial.exists() and not out.exists()  # nothing was thrown away
    assert main([*args, "--resume"]) == 0
    assert "nothing to resume" not in capsys.readouterr().err
    assert out.exists() and not partial.exists()
    assert json.loads(out.read_text())["snapshot"]["coverage"]["read"]


@pytest.mark.parametrize("args, words", [
    (["--subscriptions", "nope"], "nwlab: error: --subscriptions: 'nope' is not a subscription id"),
    (["--via", "arm", "--subscriptions", ZERO], "nwlab: error: --via arm reads one subscription"),
    (["-g", "ContosoRG", "--subscriptions", ZERO], "-g reads one group over ARM"),
    (["-g", "ContosoRG", "--resume"], "nwlab: error: --resume continues a Resource Graph"),
    (["--subscriptions", ZERO, "--management-group", "mg"], "not allowed with argument"),
    (["--via", "graph"], "argument --via: invalid choice"),
])
def test_bad_flags_are_one_line_naming_the_flag(tmp_path, capsys, args, words):
    out = tmp_path / "estate.json"
    try:
        code = main(["snapshot", "--emulate", "--out", str(out), *args])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert not out.exists()



def test_resume_of_another_scopes_partial_is_one_line_before_any_request(tmp_path, capsys):
    out = tmp_path / "estate.json"
    partial = tmp_path / "estate.json.partial.json"
    partial.write_text(json.dumps({"version": 2, "scope": {"subscriptions": [str(uuid.uuid4())]},
                                   "queries": {}, "done": {}, "stats": {}}))
    kept = partial.read_text()
    code = main(["snapshot", "--emulate", "--subscriptions", ZERO, "--out", str(out), "--resume"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "another scope" in err and "delete" in err.lower(), err
    assert partial.read_text() == kept and not out.exists()


@pytest.mark.parametrize("where", ["pseudo file system", "file as folder"])
def test_an_out_that_cannot_be_written_is_refused_before_any_query(tmp_path, capsys, where):
    """os.access alone says yes to root on a read-only or pseudo file system: the check creates
    (and drops) a file, so the refusal comes before the queries, not after them."""
    if where == "pseudo file system":
        if not Path("/proc").is_dir():
            pytest.skip("no /proc here")
        out = Path("/proc/estate.json")
    else:
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "estate.json"
    with pytest.raises(SystemExit) as caught:
        main(["snapshot", "--emulate", "--subscriptions", ZERO, "--out", str(out)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "snapshot:" not in err and "e.g. --out" in err, err
