"""Virtual Network Manager security admin rules (twin-semantics §3; doc virtual-network-
manager/concept-security-admins): evaluated before NSGs per direction, by priority; Deny and
AlwaysAllow are final, Allow hands over to the NSGs."""

from __future__ import annotations

import pytest

from nwlab.emulator import TopologyError

from .factory import Net, admin_rule, assumed, check, flow, rule, summary, two_subnets


def _net(*admin: dict, nsg_rules: tuple[dict, ...] = ()) -> Net:
    net = two_subnets(nsg_b="nb" if nsg_rules else None)
    if nsg_rules:
        net.nsg("nb", *nsg_rules)
    net.admin("v", *admin)
    return net


def test_admin_deny_drops_before_any_nsg() -> None:
    net = _net(admin_rule("deny-80", 10, "Inbound", "Deny", dport="80"),
               nsg_rules=(rule("allow-80", 100, "Inbound", "Allow", dport="80"),))
    result = check(net, "a", "b", 80)
    assert result["connectionStatus"] == "Unreachable"
    # Reported like an NSG block, with the admin rule's bare name (assumed, §3.4).
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:deny-80"]
    assert ("ASSUME_ADMIN_RULE_ISSUE", False) in assumed(result)


def test_admin_always_allow_skips_the_nsgs() -> None:
    net = _net(admin_rule("always-80", 10, "Inbound", "AlwaysAllow", dport="80"),
               nsg_rules=(rule("deny-80", 100, "Inbound", "Deny", dport="80"),))
    assert check(net, "a", "b", 80)["connectionStatus"] == "Reachable"


def test_admin_allow_still_needs_the_nsgs() -> None:
    net = _net(admin_rule("allow-80", 10, "Inbound", "Allow", dport="80"),
               nsg_rules=(rule("deny-80", 100, "Inbound", "Deny", dport="80"),))
    result = check(net, "a", "b", 80)
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:UserRule_deny-80"]


def test_admin_rules_first_match_by_priority() -> None:
    net = _net(admin_rule("deny-all", 20, "Inbound", "Deny"),
               admin_rule("always-80", 10, "Inbound", "AlwaysAllow", dport="80"))
    assert check(net, "a", "b", 80)["connectionStatus"] == "Reachable"
    assert check(net, "a", "b", 81)["connectionStatus"] == "Unreachable"


def test_admin_rules_are_per_direction() -> None:
    net = _net(admin_rule("deny-out", 10, "Outbound", "Deny", dst="10.0.2.0/24"))
    result = check(net, "a", "b", 80)
    assert summary(result)[0][2] == ["NetworkSecurityRule:Outbound:deny-out"]
    assert check(net, "b", "a", 80)["connectionStatus"] == "Reachable"


def test_no_matching_admin_rule_leaves_the_nsgs_to_decide() -> None:
    net = _net(admin_rule("deny-22", 10, "Inbound", "Deny", dport="22"),
               nsg_rules=(rule("deny-80", 100, "Inbound", "Deny", dport="80"),))
    assert summary(check(net, "a", "b", 80))[-1][2] == [
        "NetworkSecurityRule:Inbound:UserRule_deny-80"]
    assert check(net, "a", "b", 443)["connectionStatus"] == "Reachable"


def test_admin_rules_apply_only_to_their_vnet() -> None:
    net = two_subnets()
    net.vnet("w", "10.9.0.0/16")
    net.subnet("w", "x", "10.9.1.0/24")
    net.peer("v", "w")
    net.vm("far", "w", "x", "10.9.1.4")
    net.admin("w", admin_rule("deny-all-in", 10, "Inbound", "Deny"))
    assert check(net, "a", "far", 80)["connectionStatus"] == "Unreachable"
    assert check(net, "a", "b", 80)["connectionStatus"] == "Reachable"


def test_admin_rule_with_a_service_tag_source() -> None:
    net = _net(admin_rule("deny-internet-out", 10, "Outbound", "Deny", dst="Internet"))
    assert check(net, "a", "8.8.8.8", 443)["connectionStatus"] == "Unreachable"
    assert check(net, "a", "b", 443)["connectionStatus"] == "Reachable"


def test_ip_flow_verify_sees_admin_rules() -> None:
    net = _net(admin_rule("deny-80", 10, "Inbound", "Deny", dport="80"))
    # The admin rule by its bare name, as NSG diagnostics names it (twin-semantics §3.3).
    assert flow(net, "b", "Inbound", "10.0.1.4") == ("Deny", "deny-80")


def test_admin_priority_tie_is_an_assumption() -> None:
    topo = _net(admin_rule("x", 10, "Inbound", "Deny"),
                admin_rule("y", 10, "Inbound", "Allow")).topology()
    assert [a.code for a in topo.assumptions] == ["ASSUME_ADMIN_PRIORITY_TIE"]


@pytest.mark.parametrize(("change", "words"), [
    ({"access": "Maybe"}, "access must be Allow, Deny or AlwaysAllow"),
    ({"priority": 5000}, "priority must be an integer 0-4096"),
    ({"direction": "Up"}, "direction"),
    ({"destinationPortRanges": ["99999"]}, "0-65535"),
])
def test_invalid_admin_rules_are_refused(change: dict, words: str) -> None:
    bad = admin_rule("bad", 10, "Inbound", "Deny")
    bad["properties"].update(change)
    with pytest.raises(TopologyError, match=words) as err:
        _net(bad).topology()
    assert "rules/bad" in str(err.value)


def test_admin_rules_for_an_unknown_vnet_are_refused() -> None:
    net = _net()
    next(r for r in net.resources if r.get("vnetId"))["vnetId"] += "-gone"
    with pytest.raises(TopologyError, match="v-gone"):
        net.topology()
