"""Azure Firewall (twin-semantics §6; doc firewall/rule-processing, firewall/snat-private-range)."""

from __future__ import annotations

from typing import Any

from .factory import Net, assumed, check, outcome, route, rule

FW_IP = "10.0.0.4"


def net_rule(name: str, src: list[str], dst: list[str], ports: list[str],
             protocols: tuple[str, ...] = ("TCP",)) -> dict[str, Any]:
    return {"ruleType": "NetworkRule", "name": name, "ipProtocols": list(protocols),
            "sourceAddresses": src, "destinationAddresses": dst, "destinationPorts": ports}


def collection(name: str, priority: int, action: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": name,
            "priority": priority, "action": {"type": action}, "rules": list(rules)}


def _estate(*, groups: list[tuple[str, int, list[dict[str, Any]]]] | None = None,
            classic: dict[str, Any] | None = None, forwarded: bool = True,
            base_groups: list[tuple[str, int, list[dict[str, Any]]]] | None = None,
            spoke2_nsg: str | None = None, snat: list[str] | None = None) -> Net:
    """hub 10.0/16 with a firewall at 10.0.0.4 in AzureFirewallSubnet; spokes 10.1/16 (vm a)
    and 10.2/16 (vm b) route 0/0 and each other through it."""
    net = Net()
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("spoke1", "10.1.0.0/16")
    net.vnet("spoke2", "10.2.0.0/16")
    net.subnet("hub", "AzureFirewallSubnet", "10.0.0.0/26")
    net.rt("rt1", route("all", "0.0.0.0/0", "VirtualAppliance", FW_IP))
    net.rt("rt2", route("all", "0.0.0.0/0", "VirtualAppliance", FW_IP))
    net.subnet("spoke1", "app", "10.1.1.0/24", rt="rt1")
    net.subnet("spoke2", "app", "10.2.1.0/24", rt="rt2", nsg=spoke2_nsg)
    for spoke in ("spoke1", "spoke2"):
        net.peer("hub", spoke, ab={"allowForwardedTraffic": forwarded},
                 ba={"allowForwardedTraffic": forwarded})
    net.vm("a", "spoke1", "app", "10.1.1.4")
    net.vm("b", "spoke2", "app", "10.2.1.4")
    props: dict[str, Any] = {"sku": {"name": "AZFW_VNet", "tier": "Standard"},
                             "ipConfigurations": [{"name": "cfg", "properties": {
                                 "privateIPAddress": FW_IP,
                                 "subnet": {"id": net.subnet_id("hub", "AzureFirewallSubnet")}}}],
                             **(classic or {})}

    def policy(name: str, gs: list[tuple[str, int, list[dict[str, Any]]]],
               base: str | None) -> str:
        pid = net.rid("Microsoft.Network", "firewallPolicies", name)
        pprops: dict[str, Any] = {}
        if base:
            pprops["basePolicy"] = {"id": base}
        if snat is not None:
            pprops["snat"] = {"privateRanges": snat}
        net.resources.append({"id": pid, "name": name, "location": "westus",
                              "type": "Microsoft.Network/firewallPolicies",
                              "properties": pprops})
        for gname, prio, colls in gs:
            net.resources.append({
                "id": f"{pid}/ruleCollectionGroups/{gname}", "name": gname,
                "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
                "properties": {"priority": prio, "ruleCollections": colls}})
        return pid

    if groups is not None or base_groups is not None:
        base = policy("base", base_groups, None) if base_groups is not None else None
        props["firewallPolicy"] = {"id": policy("child", groups or [], base)}
    net.resources.append({"id": net.rid("Microsoft.Network", "azureFirewalls", "fw"),
                          "name": "fw", "type": "Microsoft.Network/azureFirewalls",
                          "location": "westus", "properties": props})
    return net


ALLOW_SQL = [("platform", 200, [collection("spokes", 300, "Allow", net_rule(
    "sql", ["10.1.0.0/16"], ["10.2.0.0/16"], ["1433"]))])]


def test_spoke_to_spoke_through_the_firewall_allowed_by_a_network_rule() -> None:
    result = check(_estate(groups=ALLOW_SQL), "a", "b", 1433)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.1.1.4"), ("VirtualAppliance", FW_IP), ("VnetLocal", "10.2.1.4")]
    assert result["hops"][1]["resourceId"].endswith("/azureFirewalls/fw")
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_FIREWALL_HOP", False) in assumed(result)


def test_firewall_default_deny() -> None:
    result = check(_estate(groups=ALLOW_SQL), "a", "b", 22)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualAppliance"]
    assert result["connectionStatus"] == "Unreachable"
    assert result["hops"][-1]["issues"] == []  # no documented issue type names a firewall rule
    note = next(a for a in result["nwlab"]["assumptions"] if a["code"] == "ASSUME_FIREWALL_DENY")
    assert "DefaultDeny" in note["assumed"]
    assert outcome(result) == "notReached"


def test_firewall_rule_collection_priority_decides() -> None:
    deny_first = [("g", 200, [
        collection("allow", 300, "Allow", net_rule("all", ["*"], ["*"], ["*"])),
        collection("deny", 100, "Deny", net_rule("no-sql", ["*"], ["10.2.0.0/16"], ["1433"]))])]
    result = check(_estate(groups=deny_first), "a", "b", 1433)
    assert result["connectionStatus"] == "Unreachable"
    assert any("deny/no-sql" in a["assumed"] for a in result["nwlab"]["assumptions"])
    assert check(_estate(groups=deny_first), "a", "b", 80)["connectionStatus"] == "Reachable"


def test_firewall_rule_collection_group_priority_decides() -> None:
    groups = [("late", 500, [collection("allow", 100, "Allow",
                                        net_rule("all", ["*"], ["*"], ["*"]))]),
              ("early", 100, [collection("deny", 900, "Deny",
                                         net_rule("all", ["*"], ["*"], ["*"]))])]
    assert check(_estate(groups=groups), "a", "b", 80)["connectionStatus"] == "Unreachable"


def test_base_policy_groups_come_before_the_childs() -> None:
    base = [("base", 60000, [collection("deny", 60000, "Deny",
                                        net_rule("all", ["*"], ["*"], ["*"]))])]
    child = [("child", 100, [collection("allow", 100, "Allow",
                                        net_rule("all", ["*"], ["*"], ["*"]))])]
    net = _estate(groups=child, base_groups=base)
    assert check(net, "a", "b", 80)["connectionStatus"] == "Unreachable"


def test_classic_network_rule_collections() -> None:
    classic = {"networkRuleCollections": [{"name": "spokes", "properties": {
        "priority": 100, "action": {"type": "Allow"}, "rules": [{
            "name": "web", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
            "destinationAddresses": ["10.2.1.0/24"], "destinationPorts": ["80-90"]}]}}]}
    net = _estate(classic=classic)
    assert check(net, "a", "b", 85)["connectionStatus"] == "Reachable"
    assert check(net, "a", "b", 91)["connectionStatus"] == "Unreachable"


def test_network_rules_decide_before_application_rules() -> None:
    app = {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web",
           "priority": 100, "action": {"type": "Allow"}, "rules": [{
               "ruleType": "ApplicationRule", "name": "any", "sourceAddresses": ["*"],
               "protocols": [{"protocolType": "Https", "port": 443}], "targetFqdns": ["*"]}]}
    groups = [("g", 100, [app, collection("deny", 900, "Deny",
                                          net_rule("all", ["*"], ["*"], ["443"]))])]
    assert check(_estate(groups=groups), "a", "b", 443)["connectionStatus"] == "Unreachable"


def test_application_rule_matches_a_host_name_and_snats() -> None:
    app = {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web",
           "priority": 100, "action": {"type": "Allow"}, "rules": [{
               "ruleType": "ApplicationRule", "name": "b", "sourceAddresses": ["10.1.0.0/16"],
               "protocols": [{"protocolType": "Https", "port": 443}],
               "targetFqdns": ["*.contoso.example"]}]}
    net = _estate(groups=[("g", 100, [app])])
    net.emulation["dns"] = {"b.contoso.example": "10.2.1.4"}
    result = check(net, "a", "b.contoso.example", 443)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_FIREWALL_SNAT_ADDRESS", False) in assumed(result)


def test_application_rule_for_an_address_is_undetermined() -> None:
    app = {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web",
           "priority": 100, "action": {"type": "Allow"}, "rules": [{
               "ruleType": "ApplicationRule", "name": "b", "sourceAddresses": ["*"],
               "protocols": [{"protocolType": "Https", "port": 443}],
               "targetFqdns": ["*.contoso.example"]}]}
    result = check(_estate(groups=[("g", 100, [app])]), "a", "b", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_FIREWALL_L4_ONLY", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_no_snat_to_private_ranges_so_downstream_nsgs_see_the_client() -> None:
    allow_all = [("g", 100, [collection("all", 100, "Allow",
                                        net_rule("all", ["*"], ["*"], ["*"]))])]
    net = _estate(groups=allow_all, spoke2_nsg="n2")
    net.nsg("n2", rule("only-fw", 100, "Inbound", "Allow", src=f"{FW_IP}/32"),
            rule("deny", 200, "Inbound", "Deny"))
    result = check(net, "a", "b", 80)
    assert result["connectionStatus"] == "Unreachable"  # the NSG saw 10.1.1.4, not the FW
    assert "deny" in str(result["hops"][-1]["issues"])


def test_snat_when_the_destination_is_outside_the_private_ranges() -> None:
    # snat.privateRanges 0.0.0.0/0 means never SNAT; 255.255.255.255/32 means always.
    allow_all = [("g", 100, [collection("all", 100, "Allow",
                                        net_rule("all", ["*"], ["*"], ["*"]))])]
    net = _estate(groups=allow_all, spoke2_nsg="n2", snat=["255.255.255.255/32"])
    net.nsg("n2", rule("only-fw", 100, "Inbound", "Allow", src=f"{FW_IP}/32"),
            rule("deny", 200, "Inbound", "Deny"))
    result = check(net, "a", "b", 80)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_FIREWALL_SNAT_ADDRESS", False) in assumed(result)


def test_internet_egress_through_the_firewall() -> None:
    allow_web = [("g", 100, [collection("out", 100, "Allow",
                                        net_rule("web", ["10.1.0.0/16"], ["*"], ["443"]))])]
    result = check(_estate(groups=allow_web), "a", "20.50.60.70", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualAppliance", "Internet"]
    assert result["connectionStatus"] == "Reachable"


def test_forwarded_traffic_still_needs_the_peering_flag() -> None:
    allow_all = [("g", 100, [collection("all", 100, "Allow",
                                        net_rule("all", ["*"], ["*"], ["*"]))])]
    assert check(_estate(groups=allow_all, forwarded=False), "a", "b",
                 80)["connectionStatus"] == "Unreachable"


def test_firewall_resources_load_without_unmodelled_assumptions() -> None:
    assert _estate(groups=ALLOW_SQL).topology().assumptions == []
