"""result.assumptions: what the emulator assumed on a check's path, parsed leniently from its
extension field and shown wherever the verdict is shown (repr, str/CLI, explain, HTML)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import nwlab
from nwlab.cli import _print_result
from nwlab.explain import explain_result
from nwlab.model import Assumption, ConnectivityResult

BASE: dict[str, Any] = {"hops": [], "connectionStatus": "Reachable", "probesSent": 10,
                        "probesFailed": 0}
RULE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
        "Microsoft.Network/networkSecurityGroups/n/securityRules/kv")


def _with(*items: Any, outcome: str = "undetermined") -> dict[str, Any]:
    return {**BASE, "nwlab": {"outcome": outcome, "assumptions": list(items)}}


SENSITIVE = {"code": "UNRESOLVED_SERVICE_TAG", "resourceId": RULE, "field":
             "destinationAddressPrefix", "assumed": "tag 'AzureKeyVault' has no prefixes",
             "alternatives": ["the rule matches"], "verdictSensitive": True}


def test_results_from_azure_have_no_assumptions() -> None:
    nw = nwlab.replay()
    result = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert result.assumptions == [] and not result.undetermined
    assert "nwlab" not in result.to_dict()


def test_assumptions_parse_and_round_trip() -> None:
    result = ConnectivityResult.from_dict(_with(SENSITIVE))
    assert result.assumptions == [Assumption("UNRESOLVED_SERVICE_TAG", RULE,
                                             "tag 'AzureKeyVault' has no prefixes",
                                             "destinationAddressPrefix", ("the rule matches",),
                                             True)]
    assert result.undetermined
    assert result.to_dict() == _with(SENSITIVE)
    assert ConnectivityResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("extension", [None, "text", [], {"assumptions": "x"},
                                       {"assumptions": [None, 3, "x"]}, {}])
def test_malformed_extension_parses_as_no_assumptions(extension: Any) -> None:
    assert ConnectivityResult.from_dict({**BASE, "nwlab": extension}).assumptions == []


def test_partial_assumption_parses_with_defaults() -> None:
    (item,) = ConnectivityResult.from_dict(_with({"code": "X"})).assumptions
    assert (item.code, item.resource_id, item.field, item.alternatives,
            item.verdict_sensitive) == ("X", "", None, (), False)


def test_repr_and_str_say_the_verdict_rests_on_an_assumption() -> None:
    result = ConnectivityResult.from_dict(_with(SENSITIVE))
    assert "1 assumption (verdict undetermined)" in repr(result)
    assert "assumed (verdict rests on it): UNRESOLVED_SERVICE_TAG at kv" in str(result)
    quiet = ConnectivityResult.from_dict(_with({**SENSITIVE, "verdictSensitive": False},
                                               outcome="reached"))
    assert "1 assumption>" in repr(quiet) and "undetermined" not in repr(quiet)


def test_explain_adds_one_finding_per_assumption() -> None:
    findings = explain_result(ConnectivityResult.from_dict(
        _with(SENSITIVE, {**SENSITIVE, "code": "ASSUME_X", "verdictSensitive": False})))
    assumed = [f for f in findings if f.title.startswith("The emulator assumed")]
    assert [f.severity for f in assumed] == ["Warning", "Info"]
    assert "The verdict rests on it" in assumed[0].meaning
    assert "the rule matches" in assumed[0].cause


def test_html_and_cli_show_the_assumption(capsys: pytest.CaptureFixture[str]) -> None:
    result = ConnectivityResult.from_dict(_with(SENSITIVE))
    html = result._repr_html_()
    assert "The emulator assumed: tag &#x27;AzureKeyVault&#x27; has no prefixes" in html
    assert "The verdict rests on it" in html
    _print_result(result)
    out = capsys.readouterr().out
    assert "UNRESOLVED_SERVICE_TAG" in out and "The emulator assumed" in out
