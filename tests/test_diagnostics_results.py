"""The diagnostic result types: every documented shape round-trips, any JSON parses (or is a
documented ValueError), unknown fields survive, every service string is escaped in HTML."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from fakearm import DATA
from nwlab.diagnostics import (
    EffectiveRoutes,
    EffectiveSecurityRules,
    IpFlowResult,
    NextHopResult,
    NsgDiagnosticResult,
)
from nwlab.diagnostics.analyzer import ConnectionAnalyzerResult

SHAPES = json.loads((DATA / "diagnostics" / "shapes.json").read_text(encoding="utf-8"))
KINDS: dict[str, Any] = {"ip_flow_verify": IpFlowResult, "next_hop": NextHopResult,
                         "nsg_diagnostic": NsgDiagnosticResult,
                         "effective_routes": EffectiveRoutes,
                         "effective_security_rules": EffectiveSecurityRules}
CASES = [(kind, name) for kind in KINDS for name in SHAPES[kind]]
ALL_CLASSES = [*KINDS.values(), ConnectionAnalyzerResult]
ANALYZER = SHAPES["connection_analyzer"]["query-2025-09-01"]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_every_documented_shape_round_trips_and_renders(kind: str, name: str) -> None:
    data = SHAPES[kind][name]
    result = KINDS[kind].from_dict(copy.deepcopy(data))
    assert result.to_dict() == data
    assert KINDS[kind].from_dict(result.to_dict()) == result
    assert str(result) and result._repr_html_().startswith("<div")
    assert len(result.frame()) >= 1


def test_analyzer_answer_round_trips_and_parses_its_result_string() -> None:
    result = ConnectionAnalyzerResult.from_dict(copy.deepcopy(ANALYZER))
    assert result.to_dict() == ANALYZER
    assert result.succeeded
    op = result.operation("connectivitycheck")
    assert op is not None and op.data == {"ConnectivityStatus": "Reachable"}
    broken = ConnectionAnalyzerResult.from_dict({"diagnosticOperationResults": [
        {"diagnosticOperation": "NSG", "result": "not json", "error": "Timeout"}]})
    assert broken.operations[0].data is None and broken.operations[0].result == "not json"


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize("value", [None, [], [1, 2], "Allow", 3, 2.5, True])
def test_a_json_value_that_is_not_an_object_is_a_value_error_naming_the_class(
        cls: Any, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.from_dict: expected a JSON object"):
        cls.from_dict(value)


def _junk(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value."""
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randrange(-5, 70000)
    if choice == 3:
        return rng.choice(["", "Allow", "Deny", "10.0.0.0/8", "<b>x</b>", "None", "*"])
    if choice == 4:
        return 1.5
    if choice in (5, 6):
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(_KEYS): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _all_keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _all_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _all_keys(v, out)
    return out


# Every key of the documented shapes, so the junk hits known fields with wrong and right shapes.
_KEYS = sorted(_all_keys(SHAPES, set()) | _all_keys(ANALYZER, set()) | {"futureField"})


def _mutate(rng: random.Random, value: Any) -> Any:
    """A documented shape with some values replaced by any JSON and some keys added."""
    if isinstance(value, dict):
        out = {k: (_junk(rng) if rng.random() < 0.15 else _mutate(rng, v)) for k, v in value.items()}
        if rng.random() < 0.3:
            out[rng.choice(_KEYS)] = _junk(rng)
        return out
    if isinstance(value, list):
        return [_mutate(rng, v) for v in value] + ([_junk(rng)] if rng.random() < 0.1 else [])
    return value


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_any_json_object_parses_renders_and_round_trips(kind: str, name: str) -> None:
    rng = random.Random(f"{kind}/{name}")
    for _ in range(150):
        data = _mutate(rng, SHAPES[kind][name])
        if not isinstance(data, dict):
            continue
        result = KINDS[kind].from_dict(copy.deepcopy(data))
        assert result.to_dict() == data
        str(result)
        result._repr_html_()
        result.frame()
    for _ in range(150):
        data = {rng.choice(_KEYS): _junk(rng) for _ in range(rng.randrange(5))}
        result = KINDS[kind].from_dict(copy.deepcopy(data))
        assert result.to_dict() == data
        str(result)
        result._repr_html_()


def test_unknown_fields_are_kept_at_every_level() -> None:
    data = copy.deepcopy(SHAPES["nsg_diagnostic"]["spec-2026-01-01-profiles"])
    data["future"] = {"a": 1}
    entry = data["results"][0]
    entry["newVerdictField"] = "x"
    nsg = entry["networkSecurityGroupResult"]["evaluatedNetworkSecurityGroups"][0]
    nsg["matchedRule"]["priority"] = 200
    nsg["rulesEvaluationResult"][0]["sourceAddressMatched"] = True
    result = NsgDiagnosticResult.from_dict(copy.deepcopy(data))
    assert result.to_dict() == data
    assert result.extra == {"future": {"a": 1}}
    assert result.results[0].evaluated[0].matched_rule is not None
    assert result.results[0].evaluated[0].matched_rule.extra == {"priority": 200}


def test_a_known_field_of_another_type_is_kept_as_sent_not_coerced() -> None:
    data = {"access": "Deny", "ruleName": 7}
    result = IpFlowResult.from_dict(data)
    assert result.rule_name is None and result.extra == {"ruleName": 7}
    assert result.to_dict() == data
    routes = {"value": [{"addressPrefix": "10.0.0.0/8", "state": "Active", "nextHopType": "None"}]}
    parsed = EffectiveRoutes.from_dict(routes)
    assert parsed.routes[0].address_prefixes == () and parsed.to_dict() == routes


HOSTILE = '<img src=x onerror="alert(1)">&'


def _poison(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _poison(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v) for v in value]
    return value + HOSTILE if isinstance(value, str) else value


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_every_service_string_is_escaped_in_html(kind: str, name: str) -> None:
    result = KINDS[kind].from_dict(_poison(SHAPES[kind][name]))
    page = result._repr_html_()
    assert "<img" not in page and "onerror=\"" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page


def test_analyzer_strings_are_escaped_in_html() -> None:
    page = ConnectionAnalyzerResult.from_dict(_poison(ANALYZER))._repr_html_()
    assert "<img" not in page and "&lt;img" in page


def test_nsg_diagnostic_reads_both_shapes_and_names_the_layers() -> None:
    old = NsgDiagnosticResult.from_dict(SHAPES["nsg_diagnostic"]["spec-2018-06-01-trafficQuery"])
    new = NsgDiagnosticResult.from_dict(SHAPES["nsg_diagnostic"]["spec-2026-01-01-profiles"])
    assert old.results[0].query == new.results[0].query  # trafficQuery and profile alike
    assert old.results[0].profile is None and new.results[0].traffic_query is None
    assert [n.layer for n in old.results[0].evaluated] == ["nsg", "nsg"]  # no appliedTo in 2018
    # The spec example's malformed NIC appliedTo still reads as a NIC.
    assert [n.layer for n in new.results[0].evaluated] == ["subnet", "nic"]
    rules = new.results[0].evaluated[0].rules
    assert [r.matched for r in rules] == [False, False, True]
    assert rules[1].near_miss and rules[1].mismatches == ["destination_port"]
    assert not rules[0].near_miss and rules[0].mismatches == ["source", "destination_port"]
    assert new.allowed and new.blocking() == []


def test_nsg_diagnostic_admin_layer_and_the_blocking_rule() -> None:
    result = NsgDiagnosticResult.from_dict(SHAPES["nsg_diagnostic"]["docs-admin-layer"])
    layers = result.results[0].evaluated
    assert [n.layer for n in layers] == ["admin", "subnet", "nic"]
    assert result.access == "Deny" and not result.allowed
    (block,) = result.blocking()
    assert block.nsg_id.endswith("/networkSecurityGroups/myVM-nsg")
    assert block.matched_rule is not None and block.matched_rule.rule_name == "UserRule_DenyVnetInBound"
    frame = result.frame()
    assert list(frame["layer"]) == ["admin", "subnet", "nic"]
    assert list(frame["decided"]) == ["Allow", "Allow", "Deny"]
    assert "denied by UserRule_DenyVnetInBound in myVM-nsg" in str(result)


def test_effective_routes_pick_the_route_azure_forwards_with() -> None:
    routes = EffectiveRoutes.from_dict(SHAPES["effective_routes"]["live-extra-fields"])
    internet = routes.route_for("8.8.8.8")
    assert internet is not None and internet.source == "User"  # the Invalid system 0/0 is skipped
    assert internet.next_hop_ips == ("10.1.2.4",)
    local = routes.route_for("10.1.7.7")
    assert local is not None and local.next_hop_type == "VnetLocal"
    gateway = routes.route_for("192.168.10.9")
    assert gateway is not None and gateway.next_hop_ips == ("10.1.255.4", "10.1.255.5")
    assert routes.routes[4].extra["destinationServiceTags"] == ["Storage.WestEurope"]
    system = EffectiveRoutes.from_dict(SHAPES["effective_routes"]["spec-2026-01-01"])
    dropped = system.route_for("10.9.9.9")
    assert dropped is not None and dropped.next_hop_type == "None"
    with pytest.raises(ValueError, match="address: 'ten' is not an IP address"):
        system.route_for("ten")
    frame = system.frame()
    assert list(frame.columns) == list(EffectiveRoutes.COLUMNS) and len(frame) == 6
    assert frame["address_prefix"][0] == ["172.20.2.0/24"]


def test_effective_rules_keep_the_association_and_both_tag_map_forms() -> None:
    rules = EffectiveSecurityRules.from_dict(SHAPES["effective_security_rules"]["spec-2025-03-01"])
    (group,) = rules.groups
    assert group.associated_with == ("subnet", "nic", "network_manager")
    assert group.association is not None
    assert group.association.network_manager_id is not None
    assert group.association.network_manager_id.endswith("/networkManagers/nm1")
    internet = rules.rules[1]
    assert internet.default and internet.rule == "AllowInternetOutBound"
    assert internet.expanded_destination_address_prefix[0] == "32.0.0.0/3"
    tagged = EffectiveSecurityRules.from_dict(
        SHAPES["effective_security_rules"]["tags-and-string-tagmap"])
    assert isinstance(tagged.groups[0].tag_map, str)
    deny = next(r for r in tagged.rules if r.access == "Deny")
    assert deny.sources == ("10.2.0.0/24", "10.3.0.0/24")
    assert deny.destination_ports == ("80-80", "443-443")
    assert deny.expanded_source_address_prefix == () and "expandedSourceAddressPrefix" in deny.extra
    frame = tagged.frame()
    assert list(frame["priority"]) == [200, 65000]  # by direction, then priority
    assert frame["subnet"][0].endswith("/subnets/app")


def test_single_answers_read_their_rule_and_route() -> None:
    deny = IpFlowResult.from_dict(SHAPES["ip_flow_verify"]["prefixed-default-rule"])
    assert not deny.allowed and deny.rule == "DenyAllInBound"
    assert IpFlowResult.from_dict({"access": "Deny", "ruleName": "UserRule_web"}).rule == "web"
    assert IpFlowResult.from_dict({"access": "Allow"}).rule is None
    system = NextHopResult.from_dict(SHAPES["next_hop"]["system-none"])
    assert system.dropped and system.system_route and system.user_route_table_id is None
    user = NextHopResult.from_dict(SHAPES["next_hop"]["spec-2025-07-01"])
    assert not user.dropped and user.user_route_table_id == user.route_table_id
    assert list(user.frame().columns) == list(NextHopResult.COLUMNS)
