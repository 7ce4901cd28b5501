"""`python -m nwlab diagnose` prints the same answer as nw.diagnose() (in-process main())."""

from __future__ import annotations

import json

import pytest

from nwlab import cli


@pytest.fixture(autouse=True)
def fast_twin(monkeypatch):
    """--emulate with the twin's 2 s checks would make these slow; the answer is the same."""
    import nwlab

    real = nwlab.emulate
    monkeypatch.setattr(nwlab, "emulate", lambda topology=None, **kw: real(
        topology, **{**kw, "check_seconds": 0.0, "retry_after": 0.0}))


def test_diagnose_prints_the_rule_its_nsg_and_the_fixes(capsys):
    code = cli.main(["diagnose", "--source", "WebVM0", "--dest", "Database0", "--port", "3389",
                     "-g", "ContosoRG", "--emulate"])
    out = capsys.readouterr().out
    assert code == 3  # not reachable
    assert "DenyRdpFromWeb (priority 110, inbound) in DbNsg" in out
    assert "az network nsg rule create" in out and "nsg_diagnostic.destination" in out


def test_diagnose_json_with_verify(capsys):
    code = cli.main(["diagnose", "--source", "WebVM0", "--dest", "Database0", "--port", "3389",
                     "-g", "ContosoRG", "--emulate", "--verify", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 3 and answer["verdict"] == "not reachable"
    assert answer["findings"][0]["rule"] == "DenyRdpFromWeb"
    # Database0 does not listen on 3389 in the twin: no fix can be proven
    assert [f["proven"] for f in answer["fixes"]] == [False, False, False]


def test_diagnose_verify_needs_a_twin(capsys):
    code = cli.main(["diagnose", "--source", "WebVM0", "--dest", "Database0", "--port", "3389",
                     "-g", "ContosoRG", "--replay", "--verify"])
    assert code == 2 and "--twin" in capsys.readouterr().err


def test_diagnose_reachable_exits_zero(capsys):
    code = cli.main(["diagnose", "--source", "MultiTierApp0", "--dest", "Database0", "--port",
                     "1433", "-g", "ContosoRG", "--emulate", "--twin"])
    out = capsys.readouterr().out
    assert code == 0 and "Live and twin" in out and "agree" in out
