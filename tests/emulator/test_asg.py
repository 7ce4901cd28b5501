"""Application security groups (twin-semantics §2; doc virtual-network/application-security-
groups): membership per ipConfiguration, rules naming ASGs on either side, Azure's limits."""

from __future__ import annotations

import pytest

from nwlab.emulator import TopologyError

from .factory import Net, assumed, check, route, rule, summary


def _three_tier(*rules: dict) -> tuple[Net, dict[str, str]]:
    """web 10.0.1.4 (asg-web), logic 10.0.1.5 (asg-logic), db 10.0.2.4 (asg-db); the NSG on
    both subnets holds ``rules`` (the doc's example layout)."""
    net = Net()
    asgs = {n: net.asg(f"asg-{n}") for n in ("web", "logic", "db")}
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "front", "10.0.1.0/24", nsg="nsg1")
    net.subnet("v", "data", "10.0.2.0/24", nsg="nsg1")
    net.nsg("nsg1", *(r(asgs) for r in rules))
    net.vm("web", "v", "front", "10.0.1.4", asgs=[asgs["web"]])
    net.vm("logic", "v", "front", "10.0.1.5", asgs=[asgs["logic"]])
    net.vm("db", "v", "data", "10.0.2.4", asgs=[asgs["db"]])
    return net, asgs


def test_destination_asg_rule_applies_to_member_nics_only() -> None:
    net, _ = _three_tier(lambda a: rule("deny-db", 120, "Inbound", "Deny", dst_asgs=[a["db"]]))
    assert check(net, "web", "db", 1433)["connectionStatus"] == "Unreachable"
    # logic shares the NSG (on its subnet) but is not a member: the rule is skipped there.
    assert check(net, "web", "logic", 1433)["connectionStatus"] == "Reachable"


def test_source_asg_matches_member_source_addresses() -> None:
    net, _ = _three_tier(
        lambda a: rule("logic-to-db", 110, "Inbound", "Allow", src_asgs=[a["logic"]],
                       dst_asgs=[a["db"]], dport="1433", protocol="Tcp"),
        lambda a: rule("deny-db", 120, "Inbound", "Deny", dst_asgs=[a["db"]]))
    allowed = check(net, "logic", "db", 1433)
    assert allowed["connectionStatus"] == "Reachable"
    denied = check(net, "web", "db", 1433)
    assert summary(denied)[-1][2] == ["NetworkSecurityRule:Inbound:UserRule_deny-db"]


def test_outbound_source_asg_is_the_evaluated_nic() -> None:
    net, _ = _three_tier(lambda a: rule("web-out", 100, "Outbound", "Deny",
                                        src_asgs=[a["web"]]))
    assert check(net, "web", "db", 80)["connectionStatus"] == "Unreachable"
    assert check(net, "logic", "db", 80)["connectionStatus"] == "Reachable"


def test_asg_arrays_are_ored() -> None:
    # twin-semantics §2.4: the fields are arrays and the limits allow 10 per side.
    net, _ = _three_tier(lambda a: rule("deny-two", 100, "Inbound", "Deny",
                                        dst_asgs=[a["logic"], a["db"]]))
    assert check(net, "web", "db", 80)["connectionStatus"] == "Unreachable"
    assert check(net, "web", "logic", 80)["connectionStatus"] == "Unreachable"


def test_membership_is_per_ip_configuration() -> None:
    net, _ = _three_tier()
    nic = next(r for r in net.resources if r["name"] == "db-nic")
    first = nic["properties"]["ipConfigurations"][0]["properties"]
    nic["properties"]["ipConfigurations"].append({"name": "second", "properties": {
        "privateIPAddress": "10.0.2.5", "subnet": first["subnet"]}})
    topo = net.topology()
    cfgs = topo.nics[nic["id"].lower()].ip_configs
    assert [bool(c.asg_ids) for c in cfgs] == [True, False]
    assert {str(a) for a in topo.asg_members[first["applicationSecurityGroups"][0]["id"]
                                             .lower()]} == {"10.0.2.4"}


def test_asg_members_in_two_vnets_are_refused() -> None:
    net, asgs = _three_tier()
    net.vnet("w", "10.9.0.0/16")
    net.subnet("w", "x", "10.9.1.0/24")
    net.vm("far", "w", "x", "10.9.1.4", asgs=[asgs["db"]])
    with pytest.raises(TopologyError, match="must be in one virtual network") as err:
        net.topology()
    assert "far-nic/ipConfigurations/ipconfig1" in str(err.value)


def test_rule_with_asgs_of_two_vnets_is_refused() -> None:
    net, asgs = _three_tier()
    other = net.asg("asg-far")
    net.vnet("w", "10.9.0.0/16")
    net.subnet("w", "x", "10.9.1.0/24")
    net.vm("far", "w", "x", "10.9.1.4", asgs=[other])
    net.nsg("nsg2", rule("cross", 100, "Inbound", "Allow", src_asgs=[other],
                         dst_asgs=[asgs["db"]]))
    with pytest.raises(TopologyError, match="different virtual networks") as err:
        net.topology()
    assert "nsg2/securityRules/cross" in str(err.value)


def test_dangling_asg_reference_is_refused() -> None:
    net, _ = _three_tier(lambda a: rule("ghost", 100, "Inbound", "Deny",
                                        dst_asgs=[a["db"] + "-gone"]))
    with pytest.raises(TopologyError, match="asg-db-gone") as err:
        net.topology()
    assert "securityRules/ghost" in str(err.value)


def test_prefix_and_asg_on_one_side_are_refused() -> None:
    net, _ = _three_tier(lambda a: rule("both", 100, "Inbound", "Deny", dst="10.0.2.0/24",
                                        dst_asgs=[a["db"]]))
    with pytest.raises(TopologyError, match="not both") as err:
        net.topology()
    assert "securityRules/both" in str(err.value)


def test_source_asg_of_a_peered_vnet_does_not_match_and_says_so() -> None:
    # twin-semantics §2.4: an ASG whose members are in another VNet is assumed not to match.
    net = Net()
    web = net.asg("asg-web")
    net.vnet("a", "10.1.0.0/16")
    net.vnet("b", "10.2.0.0/16")
    net.subnet("a", "s", "10.1.1.0/24")
    net.subnet("b", "s", "10.2.1.0/24", nsg="nb")
    net.peer("a", "b")
    net.nsg("nb", rule("deny-web", 100, "Inbound", "Deny", src_asgs=[web]))
    net.vm("web", "a", "s", "10.1.1.4", asgs=[web])
    net.vm("db", "b", "s", "10.2.1.4")
    result = check(net, "web", "db", 80)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_ASG_OTHER_VNET_NO_MATCH", True) in assumed(result)


def test_source_asg_after_an_appliance_matches_by_ip_and_says_so() -> None:
    net = Net()
    web = net.asg("asg-web")
    net.vnet("v", "10.0.0.0/16")
    net.rt("via-nva", route("to-db", "10.0.3.0/24", "VirtualAppliance", "10.0.2.4"))
    net.subnet("v", "front", "10.0.1.0/24", rt="via-nva")
    net.subnet("v", "nva", "10.0.2.0/24")
    net.subnet("v", "data", "10.0.3.0/24", nsg="nd")
    net.nsg("nd", rule("deny-web", 100, "Inbound", "Deny", src_asgs=[web]))
    net.vm("web", "v", "front", "10.0.1.4", asgs=[web])
    net.vm("nva", "v", "nva", "10.0.2.4", forwarding=True)
    net.vm("db", "v", "data", "10.0.3.4")
    result = check(net, "web", "db", 80)
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:UserRule_deny-web"]
    assert ("ASSUME_ASG_MATCH_BY_IP", False) in assumed(result)
