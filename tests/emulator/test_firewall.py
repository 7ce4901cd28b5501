"""Azure Firewall (twin-semantics §6; doc firewall/rule-processing, firewall/snat-private-range)."""

from __future__ import annotations

from typing import Any

from .factory import Net, assumed, check, outcome, route, rule

FW_IP = "10.0.0.4"
FW_PUBLIC = "20.0.0.4"
CLIENT_PUBLIC = "52.0.0.9"


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
            spoke2_nsg: str | None = None, snat: list[str] | None = None,
            public: bool = False) -> Net:
    """hub 10.0/16 with a firewall at 10.0.0.4 in AzureFirewallSubnet; spokes 10.1/16 (vm a)
    and 10.2/16 (vm b) route 0/0 and each other through it. ``public``: the firewall has the
    public IP 20.0.0.4, and an unpeered VNet 10.9/16 holds vm c with the public IP 52.0.0.9
    (its Internet egress address) and vm d with default outbound access (address unknown)."""
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
    if public:
        pip = net.rid("Microsoft.Network", "publicIPAddresses", "fw-pip")
        net.resources.append({"id": pip, "name": "fw-pip", "location": "westus",
                              "type": "Microsoft.Network/publicIPAddresses",
                              "sku": {"name": "Standard"},
                              "properties": {"ipAddress": FW_PUBLIC,
                                             "publicIPAllocationMethod": "Static"}})
        props["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": pip}
        net.vnet("outside", "10.9.0.0/16")
        net.subnet("outside", "clients", "10.9.1.0/24")
        net.vm("c", "outside", "clients", "10.9.1.4", public_ip=CLIENT_PUBLIC)
        net.vm("d", "outside", "clients", "10.9.1.5")

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


# DNAT (doc firewall/rule-processing: DNAT before network and application rules; the translated
# flow is SNATed to the firewall, Azure Network Security Blog "Azure Firewall NAT Behaviors").

def nat_rule(name: str, src: list[str], port: str, to: str, to_port: str, *,
             dst: list[str] | None = None, fqdn: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleType": "NatRule", "name": name, "ipProtocols": ["TCP"],
                           "sourceAddresses": src, "destinationAddresses": dst or [FW_PUBLIC],
                           "destinationPorts": [port], "translatedPort": to_port}
    out["translatedFqdn" if fqdn else "translatedAddress"] = to
    return out


def nat_collection(name: str, priority: int, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"ruleCollectionType": "FirewallPolicyNatRuleCollection", "name": name,
            "priority": priority, "action": {"type": "DNAT"}, "rules": list(rules)}


PUBLISH_B = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
    "b-web", ["*"], "443", "10.2.1.4", "8080"))])]


def _published(groups: list[tuple[str, int, list[dict[str, Any]]]] = PUBLISH_B,
               **kw: Any) -> Net:
    net = _estate(groups=groups, public=True, **kw)
    net.emulation["listeners"] = {net.vm_id("b"): [8080]}
    return net


def test_dnat_rule_translates_the_firewall_public_ip_to_the_private_target() -> None:
    result = check(_published(), "c", FW_PUBLIC, 443)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.9.1.4"), ("Internet", FW_PUBLIC), ("VirtualAppliance", FW_IP),
        ("VnetLocal", "10.2.1.4")]
    assert result["connectionStatus"] == "Reachable"  # b listens on 8080 only: port rewritten
    assert ("ASSUME_FIREWALL_DNAT_PATH", False) in assumed(result)
    assert check(_published(), "c", FW_PUBLIC, 80)["connectionStatus"] == "Unreachable"


def test_dnat_flow_is_snated_so_the_target_nsg_sees_the_firewall() -> None:
    net = _published(spoke2_nsg="n2")
    net.nsg("n2", rule("only-client", 100, "Inbound", "Allow", src=f"{CLIENT_PUBLIC}/32"),
            rule("deny", 200, "Inbound", "Deny"))
    blocked = check(net, "c", FW_PUBLIC, 443)
    assert blocked["connectionStatus"] == "Unreachable"
    assert "deny" in str(blocked["hops"][-1]["issues"])  # the NSG saw the firewall's address
    net = _published(spoke2_nsg="n3")
    net.nsg("n3", rule("fw-subnet", 100, "Inbound", "Allow", src="10.0.0.0/26", dport="8080"),
            rule("deny", 200, "Inbound", "Deny"))
    result = check(net, "c", FW_PUBLIC, 443)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_FIREWALL_SNAT_ADDRESS", False) in assumed(result)


def test_dnat_rule_whose_sources_do_not_match_is_default_deny() -> None:
    groups = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
        "b-web", ["198.51.100.0/24"], "443", "10.2.1.4", "8080"))])]
    result = check(_published(groups), "c", FW_PUBLIC, 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "Internet", "VirtualAppliance"]
    assert result["hops"][-1]["resourceId"].endswith("/azureFirewalls/fw")
    assert result["hops"][-1]["issues"] == []
    note = next(a for a in result["nwlab"]["assumptions"] if a["code"] == "ASSUME_FIREWALL_DENY")
    assert "DefaultDeny" in note["assumed"]
    assert outcome(result) == "notReached"
    allowed = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
        "b-web", [f"{CLIENT_PUBLIC}/32"], "443", "10.2.1.4", "8080"))])]
    assert check(_published(allowed), "c", FW_PUBLIC, 443)["connectionStatus"] == "Reachable"


def test_dnat_rule_sources_against_an_unknown_egress_address_are_undetermined() -> None:
    groups = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
        "b-web", ["198.51.100.0/24"], "443", "10.2.1.4", "8080"))])]
    result = check(_published(groups), "d", FW_PUBLIC, 443)  # d: default outbound access
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_EGRESS_ADDRESS_UNKNOWN", True) in assumed(result)
    assert outcome(result) == "undetermined"
    # A '*' source matches whatever the address is: nothing rests on it.
    anyone = check(_published(), "d", FW_PUBLIC, 443)
    assert anyone["connectionStatus"] == "Reachable" and outcome(anyone) == "reached"


def test_dnat_comes_before_network_rules_and_allows_the_translated_flow() -> None:
    groups = [("net", 100, [collection("deny-all", 100, "Deny",
                                       net_rule("all", ["*"], ["*"], ["*"]))]),
              ("inbound", 500, [nat_collection("publish", 500, nat_rule(
                  "b-web", ["*"], "443", "10.2.1.4", "8080"))])]
    result = check(_published(groups), "c", FW_PUBLIC, 443)
    assert result["connectionStatus"] == "Reachable"
    # The older FAQ lets an explicit network deny override the implicit allow: recorded.
    assert ("ASSUME_FIREWALL_DNAT_SKIPS_NETWORK_RULES", True) in assumed(result)
    plain = check(_published(), "c", FW_PUBLIC, 443)
    assert "ASSUME_FIREWALL_DNAT_SKIPS_NETWORK_RULES" not in dict(assumed(plain))


def test_dnat_rule_collection_priority_decides() -> None:
    groups = [("inbound", 100, [
        nat_collection("late", 400, nat_rule("to-a", ["*"], "443", "10.1.1.4", "8080")),
        nat_collection("early", 200, nat_rule("to-b", ["*"], "443", "10.2.1.4", "8080"))])]
    result = check(_published(groups), "c", FW_PUBLIC, 443)
    assert result["hops"][-1]["address"] == "10.2.1.4"


def test_classic_nat_rule_collections() -> None:
    classic = {"natRuleCollections": [{"name": "publish", "properties": {
        "priority": 100, "action": {"type": "Dnat"}, "rules": [{
            "name": "b-web", "protocols": ["TCP"], "sourceAddresses": ["*"],
            "destinationAddresses": [FW_PUBLIC], "destinationPorts": ["443"],
            "translatedAddress": "10.2.1.4", "translatedPort": "8080"}]}}]}
    net = _estate(classic=classic, public=True)
    net.emulation["listeners"] = {net.vm_id("b"): [8080]}
    result = check(net, "c", FW_PUBLIC, 443)
    assert result["connectionStatus"] == "Reachable"
    assert result["hops"][-1]["address"] == "10.2.1.4"
    assert check(net, "c", FW_PUBLIC, 444)["connectionStatus"] == "Unreachable"


def test_base_policy_nat_rules_are_not_inherited() -> None:
    # doc firewall-manager/policy-overview: DNAT rule collections are not inherited.
    net = _estate(base_groups=PUBLISH_B, groups=[], public=True)
    result = check(net, "c", FW_PUBLIC, 443)
    assert result["connectionStatus"] == "Unreachable"
    assert any("DefaultDeny" in a["assumed"] for a in result["nwlab"]["assumptions"])


def test_dnat_translated_fqdn_resolves_or_leaves_the_verdict_open() -> None:
    groups = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
        "b-web", ["*"], "443", "b.internal.example", "8080", fqdn=True))])]
    net = _published(groups)
    net.emulation["dns"] = {"b.internal.example": "10.2.1.4"}
    result = check(net, "c", FW_PUBLIC, 443)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_FIREWALL_DNAT_FQDN", False) in assumed(result)
    unresolved = check(_published(groups), "c", FW_PUBLIC, 443)
    assert unresolved["connectionStatus"] == "Unreachable"
    assert ("ASSUME_FIREWALL_DNAT_FQDN", True) in assumed(unresolved)


def test_dnat_from_behind_the_firewall_hairpins_through_it() -> None:
    # a's 0/0 goes to the firewall: a network rule must let it out to the public IP, the
    # firewall's egress (its own public IP) comes back in on the DNAT rule.
    out = collection("out", 100, "Allow", net_rule("to-fw", ["10.1.0.0/16"], [FW_PUBLIC], ["443"]))
    groups = [*PUBLISH_B, ("net", 200, [out])]
    result = check(_published(groups), "a", FW_PUBLIC, 443)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.1.1.4"), ("VirtualAppliance", FW_IP), ("Internet", FW_PUBLIC),
        ("VirtualAppliance", FW_IP), ("VnetLocal", "10.2.1.4")]
    assert result["connectionStatus"] == "Reachable"
    denied = check(_published(), "a", FW_PUBLIC, 443)  # no network rule lets a out
    assert [h["type"] for h in denied["hops"]] == ["Source", "VirtualAppliance"]
    assert denied["connectionStatus"] == "Unreachable"


def test_dnat_to_a_public_address_leaves_through_the_firewall_and_replies_come_back() -> None:
    groups = [("inbound", 100, [nat_collection("publish", 100, nat_rule(
        "relay", ["*"], "443", "20.50.60.70", "443"))])]
    result = check(_published(groups), "c", FW_PUBLIC, 443)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.9.1.4"), ("Internet", FW_PUBLIC), ("VirtualAppliance", FW_IP),
        ("Internet", "20.50.60.70")]
    assert result["connectionStatus"] == "Reachable"


def test_dnat_reply_needs_the_firewall_subnet_to_route_to_the_internet() -> None:
    # The firewall answers from its public IP: with AzureFirewallSubnet's 0/0 sent elsewhere
    # (forced tunnelling, where doc firewall/forced-tunneling supports no DNAT) the reply to the
    # client's public address cannot leave, although the forward path is the same.
    net = _published()
    net.rt("fw-rt", route("tunnel", "0.0.0.0/0", "None"))
    for res in net.resources:
        if res["name"] == "hub":
            res["properties"]["subnets"][0]["properties"]["routeTable"] = {
                "id": net.rid("Microsoft.Network", "routeTables", "fw-rt")}
    result = check(net, "c", FW_PUBLIC, 443)
    assert [h["type"] for h in result["hops"]] == [
        "Source", "Internet", "VirtualAppliance", "VnetLocal"]
    assert all(not h["issues"] for h in result["hops"])
    assert result["connectionStatus"] == "Unreachable"
