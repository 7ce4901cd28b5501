"""`python -m nwlab diagnose` prints the same answer as nw.diagnose() (in-process main())."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from nwlab import cli
from nwlab.diagnostics.render import cell_text


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


def _accounted(line: str, data: dict) -> bool:
    """Whether one line of str(d) is made only of what d.to_dict() holds."""
    text = line.strip()
    proofs = {True: "proven", False: "not proven", None: "not verified"}
    fixes = data["fixes"]
    labels = {"", "Fixes (smallest first):", "Live and twin:", "test outcome detail"}
    if " ".join(text.split()) in labels:
        return True
    if text == data["summary"]:
        return True
    if text.startswith("- "):
        return text[2:] in [f["text"] for f in data["findings"]] + ["no finding"]
    if text.startswith("Tests (via "):
        reason = f": {data['via_reason']}" if data["via_reason"] else ""
        return text == f"Tests (via {data['via']}{reason}):"
    if text.startswith("on the twin's fork: "):
        return text[len("on the twin's fork: "):] in [f["on_twin_fork"] for f in fixes]
    if text.startswith("opens more than the flow: "):
        return text[len("opens more than the flow: "):] in [f["widens"] for f in fixes]
    if any(text == f"{i}. {f['title']} ({proofs[f['proven']]})"
           or text in f["command"].splitlines() for i, f in enumerate(fixes, 1)):
        return True
    if text in [r["text"] for r in data["reconciliation"]]:
        return True
    cells = [c for c in text.split("  ") if c.strip()]
    return any([c.strip() for c in cells] == [row["test"], row["outcome"], row["detail"]]
               for row in data["tests"])


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_json_holds_everything_the_text_and_html_show():
    """Field by field: every line str(d) prints, and every cell of the HTML, comes from
    d.to_dict() (what --json prints), through a diagnosis with findings, verified fixes, the
    live-vs-twin reconciliation and the path the tests took (via, via_reason)."""
    import html

    import nwlab

    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw, \
            nwlab.emulate(check_seconds=0.0, retry_after=0.0) as twin:
        d = nw.diagnose("WebVM0", "Database0", 3389, resource_group="ContosoRG", twin=twin)
        d.verify_fixes(twin)
    data = json.loads(json.dumps(d.to_dict()))  # JSON all the way down
    assert data["via"] == d.via and data["via_reason"] == d.via_reason
    assert data["fixes"] and data["reconciliation"] and data["findings"][0]["priority"] == 110
    unaccounted = [line for line in str(d).splitlines() if not _accounted(line, data)]
    assert unaccounted == []
    shown = html.unescape(d._repr_html_())
    cells = set(re.findall(r"<td[^>]*>(.*?)</td>", shown, flags=re.S))
    values = {cell_text(v) for v in _leaves(data)}
    assert cells and cells <= values  # every HTML cell is a value the JSON holds
    assert f"{data['via']}: {data['via_reason']}" in shown


def test_diagnose_json_says_how_the_tests_ran(capsys):
    code = cli.main(["diagnose", "--source", "MultiTierApp0", "--dest", "Database0", "--port",
                     "80", "-g", "ContosoRG", "--replay", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 3 and answer["via"] == "separate calls"
    assert "NoRegisteredProviderFound" in answer["via_reason"]
    assert answer["findings"][0]["rule"] == "Port80" and answer["fixes"]
    assert {"source", "destination", "port", "protocol", "summary", "reconciliation",
            "elapsed_s"} <= set(answer)
