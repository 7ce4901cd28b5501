"""IPv6 dual stack in the twin (twin-semantics §13): one test per rule.

Each family is its own walk: IPv6 system routes (assumed), IPv6 user routes, NSG rules with IPv6
prefixes and the VirtualNetwork / Internet tags per family, NIC lookup by IPv6 address, and the
source address taken from the source NIC's IPv6 configuration.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from nwlab.emulator import TopologyError, engine, routing
from nwlab.emulator import diagnostics as twin_diagnostics
from nwlab.emulator.errors import ArmError
from nwlab.emulator.prefixset import PrefixSet
from nwlab.emulator.topology import Topology, key

from .factory import SUB, Net, assumed, check, outcome, route, rule

V6 = "IPv6"


def dual_vnet(net: Net, name: str, v4: str, v6: str) -> None:
    net.vnet(name, v4, v6)


def dual_subnet(net: Net, vnet: str, name: str, v4: str, v6: str, **kw: Any) -> None:
    net.subnet(vnet, name, v4, **kw)
    props = net._vnets[vnet]["properties"]["subnets"][-1]["properties"]
    del props["addressPrefix"]
    props["addressPrefixes"] = [v4, v6]  # one IPv4 and one IPv6 prefix (doc §13.1)


def add_v6(net: Net, vm: str, vnet: str, subnet: str, address: str,
           public_ip: str | None = None) -> None:
    """A privateIPAddressVersion IPv6 configuration on the VM's NIC (secondary, as Azure
    requires the primary to be IPv4)."""
    nic = next(r for r in net.resources if r["name"] == f"{vm}-nic")
    cfg: dict[str, Any] = {"privateIPAddressVersion": "IPv6", "privateIPAddress": address,
                           "primary": False, "subnet": {"id": net.subnet_id(vnet, subnet)}}
    if public_ip:
        pip_id = net.rid("Microsoft.Network", "publicIPAddresses", f"{vm}-pip6")
        cfg["publicIPAddress"] = {"id": pip_id}
        net.resources.append({
            "id": pip_id, "name": f"{vm}-pip6", "location": nic["location"],
            "type": "Microsoft.Network/publicIPAddresses", "sku": {"name": "Standard"},
            "properties": {"ipAddress": public_ip, "publicIPAllocationMethod": "Static",
                           "publicIPAddressVersion": "IPv6"}})
    n = len(nic["properties"]["ipConfigurations"])
    name = "ipconfig-v6" if n == 1 else f"ipconfig-v6-{n}"
    nic["properties"]["ipConfigurations"].append({"name": name, "properties": cfg})


def pair(nsg_b: str | None = None) -> Net:
    """VNet v (10.0.0.0/16 + fd00:db8::/48), subnets a and b, dual-stack VMs a and b."""
    net = Net()
    dual_vnet(net, "v", "10.0.0.0/16", "fd00:db8::/48")
    dual_subnet(net, "v", "a", "10.0.1.0/24", "fd00:db8:0:1::/64")
    dual_subnet(net, "v", "b", "10.0.2.0/24", "fd00:db8:0:2::/64", nsg=nsg_b)
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    add_v6(net, "a", "v", "a", "fd00:db8:0:1::4")
    add_v6(net, "b", "v", "b", "fd00:db8:0:2::4")
    return net


def check6(net: Net | Topology, source: str, destination: str, port: int = 80,
           version: str | None = V6) -> dict[str, Any]:
    """A connectivityCheck preferring IPv6 unless told (destination: a VM name or an address)."""
    return check(net, source, destination, port, ip_version=version)


def hops(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["type"], h["address"]) for h in result["hops"]]


def issues(result: dict[str, Any]) -> list[str]:
    return [i["type"] for h in result["hops"] for i in h["issues"]]


# -- model and request -----------------------------------------------------------------------

def test_same_vnet_ipv6_check_walks_the_ipv6_configurations() -> None:
    result = check6(pair(), "a", "fd00:db8:0:2::4")
    assert result["connectionStatus"] == "Reachable"
    assert hops(result) == [("Source", "fd00:db8:0:1::4"), ("VnetLocal", "fd00:db8:0:2::4")]
    assert result["hops"][0]["resourceId"].endswith("/ipConfigurations/ipconfig-v6")
    codes = {c for c, _ in assumed(result)}
    assert {"ASSUME_IPV6_HOPS", "ASSUME_IPV6_SYSTEM_ROUTES"} <= codes
    assert outcome(result) == "reached"  # neither assumption is verdict-sensitive


def test_ipv4_check_of_the_same_pair_is_unchanged() -> None:
    result = check(pair(), "a", "b")
    assert hops(result) == [("Source", "10.0.1.4"), ("VnetLocal", "10.0.2.4")]
    assert "nwlab" not in result  # nothing assumed on the IPv4 path


def test_vm_destination_uses_its_ipv6_address() -> None:
    result = check6(pair(), "a", "b")
    assert hops(result)[-1] == ("VnetLocal", "fd00:db8:0:2::4")


def test_ipv6_literal_fixes_the_family_without_preferred_ip_version() -> None:
    result = check6(pair(), "a", "fd00:db8:0:2::4", version=None)
    assert hops(result)[0] == ("Source", "fd00:db8:0:1::4")


def test_source_without_ipv6_configuration_is_a_clear_400() -> None:
    net = pair()
    net.vm("c", "v", "a", "10.0.1.5")  # IPv4 only
    with pytest.raises(ArmError, match=r"source virtual machine .*/c has no IPv6 address") as err:
        check6(net, "c", "fd00:db8:0:2::4")
    assert err.value.status == 400 and "preferredIPVersion IPv4" in err.value.message


def test_destination_vm_without_ipv6_configuration_is_a_clear_400() -> None:
    net = pair()
    net.vm("c", "v", "a", "10.0.1.5")
    with pytest.raises(ArmError, match=r"destination virtual machine .*/c has no IPv6"):
        check6(net, "a", "c")


@pytest.mark.parametrize(("version", "destination", "words"), [
    ("IPv5", "fd00:db8:0:2::4", "preferredIPVersion must be IPv4 or IPv6, got 'IPv5'"),
    ("IPv4", "fd00:db8:0:2::4", "preferredIPVersion IPv4 contradicts"),
    ("IPv6", "10.0.2.4", "preferredIPVersion IPv6 contradicts"),
])
def test_bad_ip_version_requests_are_refused_naming_the_fix(version: str, destination: str,
                                                            words: str) -> None:
    with pytest.raises(ArmError, match=words) as err:
        check6(pair(), "a", destination, version=version)
    assert err.value.status == 400


def test_ipv6_configuration_outside_the_subnet_ipv6_prefix_is_refused_at_load() -> None:
    net = pair()
    add_v6(net, "a", "v", "a", "fd00:db8:0:9::4")
    with pytest.raises(TopologyError, match="outside the IPv6 prefixes of subnet"):
        net.topology()


def test_ipv6_subnet_outside_the_vnet_ipv6_space_is_refused_at_load() -> None:
    net = pair()
    dual_subnet(net, "v", "c", "10.0.3.0/24", "fd00:db9:0:3::/64")
    with pytest.raises(TopologyError, match="outside the virtual network's address space"):
        net.topology()


# -- routing (rule 1: one table per family) ----------------------------------------------------

def test_ipv6_user_route_applies_to_ipv6_only() -> None:
    net = pair()
    net.rt("rt", route("drop-b6", "fd00:db8:0:2::/64", "None"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    blocked = check6(net, "a", "b")
    assert blocked["connectionStatus"] == "Unreachable"
    assert "UserDefinedRoute" in issues(blocked)
    assert check(net, "a", "b")["connectionStatus"] == "Reachable"  # IPv4 table untouched


def test_ipv4_user_route_does_not_capture_ipv6() -> None:
    net = pair()
    net.rt("rt", route("drop-b4", "10.0.2.0/24", "None"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    assert check(net, "a", "b")["connectionStatus"] == "Unreachable"
    assert check6(net, "a", "b")["connectionStatus"] == "Reachable"


def test_ipv6_route_to_an_ipv6_appliance_passes_through_it() -> None:
    net = pair()
    dual_subnet(net, "v", "nva", "10.0.9.0/24", "fd00:db8:0:9::/64")
    net.vm("nva", "v", "nva", "10.0.9.4", forwarding=True)
    add_v6(net, "nva", "v", "nva", "fd00:db8:0:9::4")
    net.rt("rt", route("via-nva", "fd00:db8:0:2::/64", "VirtualAppliance", "fd00:db8:0:9::4"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    result = check6(net, "a", "b")
    assert [t for t, _ in hops(result)] == ["Source", "VirtualAppliance", "VnetLocal"]
    assert hops(result)[1] == ("VirtualAppliance", "fd00:db8:0:9::4")


def test_ipv6_route_with_an_ipv4_next_hop_is_refused_at_load() -> None:
    net = pair()
    net.rt("rt", route("bad", "fd00:db8:0:2::/64", "VirtualAppliance", "10.0.9.4"))
    with pytest.raises(TopologyError, match="needs an IPv6 nextHopIpAddress"):
        net.topology()


def test_no_ipv6_none_routes_a_private_ipv6_outside_the_vnet_is_a_dead_end() -> None:
    # fd00:dead::/32 is not in the VNet: it meets the assumed ::/0 Internet route (no None
    # route, so no UserDefinedRoute issue), and a private address does not leave.
    result = check6(pair(), "a", "fd00:dead::1")
    assert result["connectionStatus"] == "Unreachable"
    assert "UserDefinedRoute" not in issues(result)
    assert hops(result)[-1] == ("Destination", "fd00:dead::1")


# -- peering (rule 3) ---------------------------------------------------------------------------

def test_ipv6_crosses_a_peering() -> None:
    net = pair()
    dual_vnet(net, "w", "10.1.0.0/16", "fd00:db9::/48")
    dual_subnet(net, "w", "c", "10.1.1.0/24", "fd00:db9:0:1::/64")
    net.vm("c", "w", "c", "10.1.1.4")
    add_v6(net, "c", "w", "c", "fd00:db9:0:1::4")
    net.peer("v", "w")
    result = check6(net, "a", "c")
    assert result["connectionStatus"] == "Reachable"
    assert hops(result)[-1] == ("VnetLocal", "fd00:db9:0:1::4")


def test_ipv6_does_not_cross_a_disconnected_peering() -> None:
    net = pair()
    dual_vnet(net, "w", "10.1.0.0/16", "fd00:db9::/48")
    dual_subnet(net, "w", "c", "10.1.1.0/24", "fd00:db9:0:1::/64")
    net.vm("c", "w", "c", "10.1.1.4")
    add_v6(net, "c", "w", "c", "fd00:db9:0:1::4")
    net.peer("v", "w", state="Disconnected")
    assert check6(net, "a", "c")["connectionStatus"] == "Unreachable"


# -- NSGs (rule 2) ------------------------------------------------------------------------------

def test_nsg_rule_with_an_ipv6_prefix_denies_ipv6_only() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a6", 100, "Inbound", "Deny", src="fd00:db8:0:1::/64"))
    denied = check6(net, "a", "b")
    assert denied["connectionStatus"] == "Unreachable"
    assert denied["hops"][-1]["issues"][0]["context"] == [{"key": "RuleName",
                                                           "value": "UserRule_deny-a6"}]
    assert check(net, "a", "b")["connectionStatus"] == "Reachable"


def test_nsg_rule_with_an_ipv4_prefix_never_matches_ipv6() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a4", 100, "Inbound", "Deny", src="10.0.1.0/24"))
    assert check(net, "a", "b")["connectionStatus"] == "Unreachable"
    assert check6(net, "a", "b")["connectionStatus"] == "Reachable"


def test_virtual_network_tag_holds_the_ipv6_spaces() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-vnet", 100, "Inbound", "Deny", src="VirtualNetwork"))
    denied = check6(net, "a", "b")
    assert denied["hops"][-1]["issues"][0]["context"][0]["value"] == "UserRule_deny-vnet"


def test_virtual_network_tag_holds_peered_ipv6_spaces() -> None:
    net = pair()
    dual_vnet(net, "w", "10.1.0.0/16", "fd00:db9::/48")
    dual_subnet(net, "w", "c", "10.1.1.0/24", "fd00:db9:0:1::/64", nsg="nc")
    net.vm("c", "w", "c", "10.1.1.4")
    add_v6(net, "c", "w", "c", "fd00:db9:0:1::4")
    net.peer("v", "w")
    # Only AllowVnetInBound (65000) can let a's IPv6 address in, before DenyAllInBound.
    net.nsg("nc")
    assert check6(net, "a", "c")["connectionStatus"] == "Reachable"


def test_internet_tag_covers_global_ipv6() -> None:
    net = pair()
    net.nsg("na", rule("no-internet", 100, "Outbound", "Deny", dst="Internet"))
    nic = next(r for r in net.resources if r["name"] == "a-nic")
    nic["properties"]["networkSecurityGroup"] = {
        "id": net.rid("Microsoft.Network", "networkSecurityGroups", "na")}
    denied = check6(net, "a", "2001:4860:4860::8888")
    assert denied["hops"][0]["issues"][0]["context"][0]["value"] == "UserRule_no-internet"
    # A private IPv6 address is not Internet: the same rule lets a reach b.
    assert check6(net, "a", "b")["connectionStatus"] == "Reachable"


# -- Internet egress (§13.4) ----------------------------------------------------------------------

def test_ipv6_internet_egress_needs_an_ipv6_public_ip() -> None:
    result = check6(pair(), "a", "2001:4860:4860::8888")
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_IPV6_EGRESS", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_ipv6_internet_egress_with_an_ipv6_public_ip_reaches() -> None:
    net = Net()
    dual_vnet(net, "v", "10.0.0.0/16", "fd00:db8::/48")
    dual_subnet(net, "v", "a", "10.0.1.0/24", "fd00:db8:0:1::/64")
    net.vm("a", "v", "a", "10.0.1.4")
    add_v6(net, "a", "v", "a", "fd00:db8:0:1::4", public_ip="2603:1030::4")
    result = check6(net, "a", "2001:4860:4860::8888", 443)
    assert result["connectionStatus"] == "Reachable"
    assert hops(result)[-1] == ("Internet", "2001:4860:4860::8888")


def test_ipv6_ecmp_route_needs_ipv6_members() -> None:
    net = pair()
    bad = route("ecmp", "fd00:db8:0:2::/64", "VirtualApplianceEcmp")
    bad["properties"]["nextHop"] = {"nextHopIpAddresses": ["10.0.9.4", "10.0.9.5"]}
    net.rt("rt", bad)
    with pytest.raises(TopologyError, match="needs an IPv6 nextHopIpAddress"):
        net.topology()


@pytest.mark.parametrize(("src", "dst"), [
    (["10.0.1.0/24", "fd00:db8:0:1::/64"], "*"),
    ("10.0.1.0/24", "fd00:db8:0:2::/64"),
])
def test_a_rule_mixing_address_families_is_refused(src: Any, dst: str) -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("mixed", 100, "Inbound", "Allow", src=src, dst=dst))
    with pytest.raises(TopologyError, match="different address families") as err:
        net.topology()
    assert err.value.code == "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies"


# -- service tags (both families, as the discovery data lists them) ------------------------------

STORAGE4, STORAGE6 = "20.60.0.0/16", "2603:1000::/40"


def tagged_pair(*routes: dict[str, Any]) -> Net:
    """The pair, a's subnet with a route table of ``routes`` (if any), a dual-stack Storage tag
    and a's IPv6 public IP (so the IPv6 Internet is in reach)."""
    net = Net()
    dual_vnet(net, "v", "10.0.0.0/16", "fd00:db8::/48")
    dual_subnet(net, "v", "a", "10.0.1.0/24", "fd00:db8:0:1::/64",
                rt="rt" if routes else None)
    dual_subnet(net, "v", "nva", "10.0.9.0/24", "fd00:db8:0:9::/64")
    net.vm("a", "v", "a", "10.0.1.4")
    add_v6(net, "a", "v", "a", "fd00:db8:0:1::4", public_ip="2603:1030::4")
    net.vm("nva", "v", "nva", "10.0.9.4", forwarding=True)
    add_v6(net, "nva", "v", "nva", "fd00:db8:0:9::4")
    if routes:
        net.rt("rt", *routes)
    net.service_tags({"Storage": [STORAGE4, STORAGE6]})
    return net


def test_service_tag_holds_its_ipv6_prefixes() -> None:
    data, _ = tagged_pair().topology().service_tags.lookup("Storage", "westus")
    assert data is not None
    assert [str(n) for n in data.prefixes.networks] == [STORAGE4, STORAGE6]
    assert ipaddress.ip_address("2603:1000::5") in data.prefixes
    # Families stay apart: the IPv4 integer of an IPv6 address is never an IPv4 member.
    assert ipaddress.ip_address("20.60.0.1") not in PrefixSet(
        [ipaddress.ip_network("::143c:0/112")])


def test_nsg_service_tag_rule_matches_an_ipv6_flow_to_the_tag() -> None:
    net = tagged_pair()
    net.nsg("na", rule("no-storage", 100, "Outbound", "Deny", dst="Storage"))
    nic = next(r for r in net.resources if r["name"] == "a-nic")
    nic["properties"]["networkSecurityGroup"] = {
        "id": net.rid("Microsoft.Network", "networkSecurityGroups", "na")}
    denied = check6(net, "a", "2603:1000::5", 443)
    assert denied["connectionStatus"] == "Unreachable"
    assert denied["hops"][0]["issues"][0]["context"][0]["value"] == "UserRule_no-storage"
    # An IPv6 address outside the tag's IPv6 prefix is not Storage.
    assert check6(net, "a", "2001:4860:4860::8888", 443)["connectionStatus"] == "Reachable"


def test_tag_route_routes_the_tag_ipv6_prefixes_in_the_ipv6_table() -> None:
    net = tagged_pair(route("storage-none", "Storage", "None"))
    blocked = check6(net, "a", "2603:1000::5", 443)
    assert blocked["connectionStatus"] == "Unreachable"
    assert "UserDefinedRoute" in issues(blocked)
    assert ("ASSUME_IPV6_TAG_ROUTE", True) in assumed(blocked)
    assert outcome(blocked) == "undetermined"  # IPv4-only tag routes would let it out
    assert check(net, "a", "20.60.5.5", 443)["connectionStatus"] == "Unreachable"  # IPv4 too
    other = check6(net, "a", "2001:4860:4860::8888", 443)
    assert other["connectionStatus"] == "Reachable"
    assert "ASSUME_IPV6_TAG_ROUTE" not in {c for c, _ in assumed(other)}


def test_tag_route_to_an_ipv4_appliance_does_not_route_ipv6() -> None:
    net = tagged_pair(route("storage-nva", "Storage", "VirtualAppliance", "10.0.9.4"))
    ipv6 = check6(net, "a", "2603:1000::5", 443)
    assert [t for t, _ in hops(ipv6)] == ["Source", "Internet"]  # ::/0, not the appliance
    ipv4 = check(net, "a", "20.60.5.5", 443)
    assert [h["type"] for h in ipv4["hops"]][:2] == ["Source", "VirtualAppliance"]


# -- diagnostics per family (ipFlowVerify IPv4 only by its spec; nextHop, NSG diagnostic and
# effective routes take IPv6 and are answered by the same per-family engine) --------------------

def vm_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/" \
        f"{name}"


@pytest.mark.parametrize("field", ["localIPAddress", "remoteIPAddress"])
def test_ip_flow_verify_refuses_ipv6_naming_what_to_run_instead(field: str) -> None:
    body = {"targetResourceId": vm_id("b"), "direction": "Inbound", "protocol": "TCP",
            "localPort": "80", "remotePort": "50000", "localIPAddress": "10.0.2.4",
            "remoteIPAddress": "10.0.1.4"}
    body[field] = "fd00:db8:0:2::4" if field == "localIPAddress" else "fd00:db8:0:1::4"
    with pytest.raises(ArmError, match=f"{field} .* is an IPv6 address: IP flow verify takes "
                       "IPv4 addresses only") as err:
        engine.ip_flow_verify(pair().topology(), body)
    assert err.value.status == 400
    assert "networkConfigurationDiagnostic" in err.value.message
    assert "preferredIPVersion IPv6" in err.value.message


def next_hop6(net: Net, source: str, destination: str) -> dict[str, Any]:
    return engine.next_hop(net.topology(), {"targetResourceId": vm_id("a"),
                                            "sourceIPAddress": source,
                                            "destinationIPAddress": destination})


def test_next_hop_of_an_ipv6_destination_reads_the_ipv6_table() -> None:
    net = pair()
    assert next_hop6(net, "fd00:db8:0:1::4", "fd00:db8:0:2::4") == {
        "nextHopType": "VnetLocal", "nextHopIpAddress": "", "routeTableId": "System Route"}
    net.rt("rt", route("via-nva", "fd00:db8:0:2::/64", "VirtualAppliance", "fd00:db8:0:9::4"),
           route("drop-b4", "10.0.2.0/24", "None"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    answer = next_hop6(net, "fd00:db8:0:1::4", "fd00:db8:0:2::4")
    assert answer["nextHopType"] == "VirtualAppliance"
    assert answer["nextHopIpAddress"] == "fd00:db8:0:9::4"
    assert answer["routeTableId"].endswith("/routeTables/rt")
    assert next_hop6(net, "10.0.1.4", "10.0.2.4")["nextHopType"] == "None"  # IPv4 table
    assert next_hop6(net, "fd00:db8:0:1::4", "2001:4860:4860::8888")["nextHopType"] == "Internet"


@pytest.mark.parametrize(("source", "destination", "words"), [
    ("10.0.1.4", "fd00:db8:0:2::4", "is IPv6 but sourceIPAddress 10.0.1.4 is IPv4"),
    ("fd00:db8:0:1::4", "10.0.2.4", "is IPv4 but sourceIPAddress fd00:db8:0:1::4 is IPv6"),
    ("fd00:db8:0:1::9", "fd00:db8:0:2::4", "is not an address of network interface"),
])
def test_next_hop_refuses_mixed_families_and_foreign_sources(source: str, destination: str,
                                                             words: str) -> None:
    with pytest.raises(ArmError, match=words) as err:
        next_hop6(pair(), source, destination)
    assert err.value.status == 400


def nsg_diag(net: Net, target: str, **profile: str) -> dict[str, Any]:
    body = {"targetResourceId": vm_id(target), "profiles": [
        {"direction": "Inbound", "protocol": "TCP", "destinationPort": "80", **profile}]}
    answer, _ = twin_diagnostics.network_configuration_diagnostic(net.topology(), body)
    return answer["results"][0]["networkSecurityGroupResult"]


def test_nsg_diagnostic_evaluates_an_ipv6_profile_at_the_ipv6_configuration() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a6", 100, "Inbound", "Deny", src="fd00:db8:0:1::/64"),
            rule("allow-b6", 110, "Inbound", "Allow", dst="fd00:db8:0:2::4/128"))
    denied = nsg_diag(net, "b", source="fd00:db8:0:1::4", destination="*")
    assert denied["securityRuleAccessResult"] == "Deny"
    assert denied["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"] == \
        "UserRule_deny-a6"
    # '*' as the local side is the NIC's IPv6 address: allow-b6 matches it.
    other = nsg_diag(net, "b", source="fd00:dead::1", destination="*")
    assert other["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"] == \
        "UserRule_allow-b6"
    # The IPv4 profile of the same pair never meets the IPv6 rules.
    ipv4 = nsg_diag(net, "b", source="10.0.1.4", destination="*")
    assert ipv4["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"] == \
        "DefaultRule_AllowVnetInBound"


def test_nsg_diagnostic_ipv6_agrees_with_the_check() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a6", 100, "Inbound", "Deny", src="fd00:db8:0:1::/64"))
    assert nsg_diag(net, "b", source="fd00:db8:0:1::4",
                    destination="fd00:db8:0:2::4")["securityRuleAccessResult"] == "Deny"
    assert check6(net, "a", "b")["connectionStatus"] == "Unreachable"


@pytest.mark.parametrize(("target", "source", "destination", "words"), [
    ("b", "10.0.1.4", "fd00:db8:0:2::4", "of different address families"),
    ("c", "fd00:db8:0:1::4", "*", "has no IPv6 ipConfiguration"),
])
def test_nsg_diagnostic_refuses_what_no_ipv6_packet_can_be(target: str, source: str,
                                                           destination: str, words: str) -> None:
    net = pair()
    net.vm("c", "v", "a", "10.0.1.5")  # IPv4 only
    with pytest.raises(ArmError, match=words) as err:
        nsg_diag(net, target, source=source, destination=destination)
    assert err.value.status == 400


def test_effective_routes_of_a_dual_stack_nic_list_both_families() -> None:
    net = pair()
    net.rt("rt", route("via-nva", "fd00:db8:0:2::/64", "VirtualAppliance", "fd00:db8:0:9::4"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    topo = net.topology()
    nic_id = topo.vms[key(vm_id("a"))].nic_ids[0]
    value = twin_diagnostics.effective_routes(topo, nic_id)["value"]
    rows = {(r["source"], r["addressPrefix"][0], r["nextHopType"], r["state"]) for r in value}
    assert {("Default", "fd00:db8::/48", "VnetLocal", "Active"),
            ("Default", "::/0", "Internet", "Active"),
            ("User", "fd00:db8:0:2::/64", "VirtualAppliance", "Active"),
            ("Default", "10.0.0.0/16", "VnetLocal", "Active")} <= rows
    # Every row the check forwards with is listed: each family's lookup is one of them.
    for dest in ("fd00:db8:0:2::4", "2001:db8::1", "10.0.2.4"):
        taken = routing.lookup(topo, topo.subnet_of(topo.nics[key(nic_id)].ip_configs[0]),
                               ipaddress.ip_address(dest))
        assert taken is not None
        assert any(r["addressPrefix"][0] == str(taken.prefix) and r["state"] == "Active"
                   for r in value)


def test_effective_routes_of_an_ipv4_only_vnet_have_no_ipv6_rows() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    topo = net.topology()
    value = twin_diagnostics.effective_routes(topo, topo.vms[key(vm_id("a"))].nic_ids[0])["value"]
    assert all(":" not in r["addressPrefix"][0] for r in value)


# -- DNS: an IPv6 check resolves AAAA, an IPv4 one A (twin-semantics §13.2 rule 5) ---------------

def dns_result(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["type"], i["context"][0]["value"]) for i in result["hops"][0]["issues"]]


def test_host_name_resolves_aaaa_for_ipv6_and_a_for_ipv4() -> None:
    net = pair()
    net.emulation["dns"] = {"b.example.com": ["10.0.2.4", "fd00:db8:0:2::4"]}
    assert hops(check6(net, "a", "b.example.com"))[-1] == ("VnetLocal", "fd00:db8:0:2::4")
    assert hops(check6(net, "a", "b.example.com", version="IPv4"))[-1] == \
        ("VnetLocal", "10.0.2.4")
    assert hops(check6(net, "a", "b.example.com", version=None))[-1] == ("VnetLocal", "10.0.2.4")


def test_aaaa_only_name_does_not_resolve_for_an_ipv4_check() -> None:
    net = pair()
    net.emulation["dns"] = {"b6.example.com": "fd00:db8:0:2::4"}
    result = check6(net, "a", "b6.example.com", version="IPv4")
    assert dns_result(result) == [("DnsResolution", "b6.example.com")]
    assert hops(check6(net, "a", "b6.example.com"))[-1] == ("VnetLocal", "fd00:db8:0:2::4")


def test_ipv6_check_to_a_name_with_an_a_record_only_fails_dns_and_says_so() -> None:
    net = pair()
    net.emulation["dns"] = {"b4.example.com": "10.0.2.4"}
    result = check6(net, "a", "b4.example.com")
    assert result["connectionStatus"] == "Unreachable"
    assert dns_result(result) == [("DnsResolution", "b4.example.com")]
    assert hops(result) == [("Source", "fd00:db8:0:1::4")]
    assert ("ASSUME_IPV6_NO_AAAA", True) in assumed(result)
    assert outcome(result) == "undetermined"  # the service might fall back to the A record
    # A name with no record at all is a plain DNS failure: nothing was assumed.
    unknown = check6(net, "a", "nowhere.example.com")
    assert dns_result(unknown) == [("DnsResolution", "nowhere.example.com")]
    assert "nwlab" not in unknown


def corp_zone(net: Net, *, a_record: bool = True) -> None:
    """Private DNS zone corp.example linked to VNet v: b's AAAA record (and its A record)."""
    zone = net.rid("Microsoft.Network", "privateDnsZones", "corp.example")
    net.resources += [
        {"id": zone, "name": "corp.example", "type": "Microsoft.Network/privateDnsZones",
         "location": "global", "properties": {}},
        {"id": f"{zone}/AAAA/b", "name": "b", "type": "Microsoft.Network/privateDnsZones/AAAA",
         "properties": {"ttl": 10, "aaaaRecords": [{"ipv6Address": "fd00:db8:0:2::4"}]}},
        {"id": f"{zone}/virtualNetworkLinks/v", "name": "v", "location": "global",
         "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
         "properties": {"virtualNetwork": {"id": net.rid("Microsoft.Network", "virtualNetworks",
                                                         "v")}}}]
    if a_record:
        net.resources.append({
            "id": f"{zone}/A/b", "name": "b", "type": "Microsoft.Network/privateDnsZones/A",
            "properties": {"ttl": 10, "aRecords": [{"ipv4Address": "10.0.2.4"}]}})


def test_private_dns_zone_aaaa_record_answers_an_ipv6_check_in_a_linked_vnet() -> None:
    net = pair()
    corp_zone(net)
    net.emulation["dns"] = {"b.corp.example": "fd00:db8:0:2::9"}  # the zone answers first
    topo = net.topology()
    assert [a.code for a in topo.assumptions] == []  # AAAA record sets are modelled
    assert hops(check6(topo, "a", "b.corp.example"))[-1] == ("VnetLocal", "fd00:db8:0:2::4")
    assert hops(check6(topo, "a", "b.corp.example", version="IPv4"))[-1] == \
        ("VnetLocal", "10.0.2.4")


@pytest.mark.parametrize(("dns", "words"), [
    ({"x.example": ["fd00::1", "fd00::2"]}, "has two IPv6 addresses; the twin answers one"),
    ({"x.example": ["10.0.0.1", "nope"]}, "'nope' is not an IPv4 or IPv6 address"),
    (["x.example"], "dns must be an object of host -> address"),
])
def test_bad_emulation_dns_is_refused_naming_the_form(dns: Any, words: str) -> None:
    net = pair()
    net.emulation["dns"] = dns
    with pytest.raises(TopologyError, match=words):
        net.topology()


# -- load balancer IPv6 internal frontends (privateIPAddressVersion IPv6) -------------------------

LB_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/ilb"
FE6 = "fd00:db8:0:2::100"


def dual_lb(*, web_rules: tuple[dict[str, Any], ...] = (), fe6: str = FE6,
            version: str = "IPv6") -> Net:
    """Pair plus web2 (10.0.2.5 / fd00:db8:0:2::5); a dual-stack ILB with an IPv4 frontend
    (10.0.2.100) and an IPv6 one (FE6), one pool per family holding b and web2, port 80 to
    8080, probed on 8080."""
    net = pair(nsg_b="web-nsg")
    net.nsg("web-nsg", *web_rules)
    net.vm("web2", "v", "b", "10.0.2.5")
    add_v6(net, "web2", "v", "b", "fd00:db8:0:2::5")
    for res in net.resources:
        if res["name"] in ("b-nic", "web2-nic"):
            v4, v6 = res["properties"]["ipConfigurations"]
            v4["properties"]["loadBalancerBackendAddressPools"] = [
                {"id": f"{LB_ID}/backendAddressPools/web4"}]
            v6["properties"]["loadBalancerBackendAddressPools"] = [
                {"id": f"{LB_ID}/backendAddressPools/web6"}]
    subnet = {"id": net.subnet_id("v", "b")}
    probe = {"id": f"{LB_ID}/probes/p"}

    def lb_rule(name: str, fe: str, pool: str) -> dict[str, Any]:
        return {"name": name, "properties": {
            "frontendIPConfiguration": {"id": f"{LB_ID}/frontendIPConfigurations/{fe}"},
            "backendAddressPool": {"id": f"{LB_ID}/backendAddressPools/{pool}"},
            "protocol": "Tcp", "frontendPort": 80, "backendPort": 8080, "probe": probe}}

    net.resources.append({
        "id": LB_ID, "name": "ilb", "type": "Microsoft.Network/loadBalancers",
        "location": "westus", "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [
                {"name": "fe4", "properties": {"privateIPAddress": "10.0.2.100",
                                               "subnet": subnet}},
                {"name": "fe6", "properties": {"privateIPAddress": fe6, "subnet": subnet,
                                               "privateIPAddressVersion": version}}],
            "backendAddressPools": [{"name": "web4", "properties": {}},
                                    {"name": "web6", "properties": {}}],
            "probes": [{"name": "p", "properties": {"protocol": "Tcp", "port": 8080}}],
            "loadBalancingRules": [lb_rule("http4", "fe4", "web4"),
                                   lb_rule("http6", "fe6", "web6")]}})
    net.emulation["listeners"] = {net.vm_id("b"): [8080], net.vm_id("web2"): [8080]}
    return net


def test_ipv6_frontend_loads_without_unmodelled_value() -> None:
    topo = dual_lb().topology()
    assert "UNMODELLED_VALUE" not in {a.code for a in topo.assumptions}


def test_ipv6_frontend_delivers_to_an_ipv6_backend_configuration() -> None:
    result = check6(dual_lb(), "a", FE6)
    assert result["connectionStatus"] == "Reachable"
    assert hops(result) == [("Source", "fd00:db8:0:1::4"), ("VnetLocal", "fd00:db8:0:2::4")]
    assert result["hops"][-1]["resourceId"].endswith("/ipConfigurations/ipconfig-v6")
    assert ("ASSUME_LB_IPV6_PROBE_SOURCE", False) in assumed(result)
    # The IPv4 frontend of the same LB still takes IPv4 members.
    four = check(dual_lb(), "a", "10.0.2.100")
    assert [h["address"] for h in four["hops"]] == ["10.0.1.4", "10.0.2.4"]


def test_ipv6_backend_nsg_sees_the_ipv6_backend_address_and_port() -> None:
    net = dual_lb(web_rules=(rule("no-8080-v6", 110, "Inbound", "Deny",
                                  dst="fd00:db8:0:2::/64", dport="8080", protocol="Tcp"),
                             rule("probe-in", 100, "Inbound", "Allow", src="AzureLoadBalancer",
                                  dport="8080", protocol="Tcp")))
    denied = check6(net, "a", FE6)
    assert denied["connectionStatus"] == "Unreachable"
    assert denied["hops"][-1]["issues"][0]["context"][0]["value"] == "UserRule_no-8080-v6"
    assert check(net, "a", "10.0.2.100")["connectionStatus"] == "Reachable"  # IPv4 untouched


def test_ipv6_probe_comes_from_the_ipv6_probe_source_that_azure_load_balancer_admits() -> None:
    # Denying the IPv4 probe source leaves IPv6 members up; denying the tag takes them down.
    v4_only = dual_lb(web_rules=(rule("no-probe4", 100, "Inbound", "Deny",
                                      src="168.63.129.16/32", dport="8080"),))
    assert check6(v4_only, "a", FE6)["connectionStatus"] == "Reachable"
    assert check(v4_only, "a", "10.0.2.100")["connectionStatus"] == "Unreachable"
    no_tag = dual_lb(web_rules=(rule("no-probes", 100, "Inbound", "Deny",
                                     src="AzureLoadBalancer", dport="8080"),))
    down = check6(no_tag, "a", FE6)
    assert down["connectionStatus"] == "Unreachable"
    assert ("ASSUME_LB_IPV6_PROBE_SOURCE", True) in assumed(down)  # the source decides it


@pytest.mark.parametrize(("fe6", "version", "words"), [
    ("fd00:db8:0:9::100", "IPv6", "outside the IPv6 prefixes of subnet"),
    ("10.0.2.101", "IPv6", "is IPv4 but privateIPAddressVersion is IPv6"),
    (FE6, "IPv4", "is IPv6 but privateIPAddressVersion is IPv4"),
])
def test_ipv6_frontend_of_the_wrong_family_or_subnet_is_refused(fe6: str, version: str,
                                                                words: str) -> None:
    with pytest.raises(TopologyError, match=words):
        dual_lb(fe6=fe6, version=version).topology()


# -- Azure Firewall: IPv6 is preview (doc firewall/deploy-dual-stack-firewall) ------------------

def dual_firewall_estate() -> Net:
    """The firewall estate of test_firewall (spoke a to spoke b through the hub firewall,
    allowed by a network rule) made dual stack: each spoke routes the other's IPv6 /64 to an
    address of AzureFirewallSubnet's IPv6 prefix."""
    from . import test_firewall

    net = test_firewall._estate(groups=[("g", 100, [test_firewall.collection(
        "allow", 100, "Allow", test_firewall.net_rule("any", ["*"], ["*"], ["*"]))])])
    spaces = {"hub": "fd00:db8:0::/48", "spoke1": "fd00:db8:1::/48",
              "spoke2": "fd00:db8:2::/48"}
    subnets6 = {("hub", "AzureFirewallSubnet"): "fd00:db8:0:0::/64",
                ("spoke1", "app"): "fd00:db8:1:1::/64", ("spoke2", "app"): "fd00:db8:2:1::/64"}
    for name, space in spaces.items():
        props = net._vnets[name]["properties"]
        props["addressSpace"]["addressPrefixes"].append(space)
        for sub in props["subnets"]:
            prefix6 = subnets6.get((name, sub["name"]))
            if prefix6:
                sub["properties"]["addressPrefixes"] = [sub["properties"].pop("addressPrefix"),
                                                        prefix6]
    add_v6(net, "a", "spoke1", "app", "fd00:db8:1:1::4")
    add_v6(net, "b", "spoke2", "app", "fd00:db8:2:1::4")
    for table in ("rt1", "rt2"):
        rt = next(r for r in net.resources if r["name"] == table)
        rt["properties"]["routes"].append(
            {"name": "all6", "properties": {"addressPrefix": "::/0",
                                            "nextHopType": "VirtualAppliance",
                                            "nextHopIpAddress": "fd00:db8::4"}})
    return net


def test_ipv6_flow_routed_to_the_firewall_stops_there_and_is_undetermined() -> None:
    net = dual_firewall_estate()
    result = check6(net, "a", "b")
    assert result["connectionStatus"] == "Unreachable"
    assert hops(result) == [("Source", "fd00:db8:1:1::4"), ("VirtualAppliance", "fd00:db8::4")]
    assert result["hops"][-1]["resourceId"].endswith("/azureFirewalls/fw")
    assert ("ASSUME_IPV6_FIREWALL_FAMILY", True) in assumed(result)
    assert outcome(result) == "undetermined"
    # The IPv4 flow of the same pair is decided by the firewall's rules, as before.
    four = check(net, "a", "b")
    assert four["connectionStatus"] == "Reachable"
    assert "ASSUME_IPV6_FIREWALL_FAMILY" not in {c for c, _ in assumed(four)}


def test_ipv6_next_hop_outside_the_firewall_subnet_is_a_plain_dead_end() -> None:
    net = dual_firewall_estate()
    rt = next(r for r in net.resources if r["name"] == "rt1")
    rt["properties"]["routes"][-1]["properties"]["nextHopIpAddress"] = "fd00:db8:1:1::99"
    result = check6(net, "a", "b")
    assert result["connectionStatus"] == "Unreachable"
    assert "ASSUME_IPV6_FIREWALL_FAMILY" not in {c for c, _ in assumed(result)}


def test_connection_analyzer_runs_next_hop_and_nsg_for_an_ipv6_destination() -> None:
    net = pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a6", 100, "Inbound", "Deny", src="fd00:db8:0:1::/64"))
    topo = net.topology()
    resource = {"id": "analyzer", "properties": {
        "source": {"resourceId": vm_id("a")},
        "destination": {"type": "ExternalAddress", "address": "fd00:db8:0:2::4", "port": 80},
        "diagnosticOperations": ["NextHop", "NSG", "ConnectivityCheck"]}}
    answer = twin_diagnostics.analyzer_query(topo, next(iter(topo.watchers.values())), resource,
                                             None)
    by_op = {r["diagnosticOperation"]: r for r in answer["diagnosticOperationResults"]}
    assert all(r["error"] is None for r in by_op.values()), by_op
    assert json.loads(by_op["NextHop"]["result"])["nextHopType"] == "VnetLocal"
    nsg = json.loads(by_op["NSG"]["result"])["results"][0]
    assert nsg["profile"]["source"] == "fd00:db8:0:1::4"  # the source NIC's IPv6 address
    assert json.loads(by_op["ConnectivityCheck"]["result"])["ConnectivityStatus"] == \
        "Unreachable"  # deny-a6 at b (the NSG operation is outbound at a: Allow)


def test_ipv6_internal_frontend_as_a_route_next_hop_goes_through_an_ipv6_backend() -> None:
    # The HA NVA pair for IPv6: a routes b's IPv6 /64 to the IPv6 frontend (HA ports); the
    # forwarding backend web2 passes the packet on at its IPv6 configuration.
    net = dual_lb()
    lb = next(r for r in net.resources if r["name"] == "ilb")
    lb["properties"]["loadBalancingRules"] = [{"name": "ha6", "properties": {
        "frontendIPConfiguration": {"id": f"{LB_ID}/frontendIPConfigurations/fe6"},
        "backendAddressPool": {"id": f"{LB_ID}/backendAddressPools/web6"},
        "protocol": "All", "frontendPort": 0, "backendPort": 0}}]
    for res in net.resources:
        if res["name"] == "b-nic":  # b is the destination, not a pool member here
            res["properties"]["ipConfigurations"][1]["properties"].pop(
                "loadBalancerBackendAddressPools")
        if res["name"] == "web2-nic":
            res["properties"]["enableIPForwarding"] = True
    net.rt("to-nva", route("b6", "fd00:db8:0:2::4/128", "VirtualAppliance", FE6))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "to-nva")}
    result = check6(net, "a", "b", 8080)  # b listens on 8080
    assert result["connectionStatus"] == "Reachable"
    assert hops(result) == [("Source", "fd00:db8:0:1::4"),
                            ("VirtualAppliance", "fd00:db8:0:2::5"),
                            ("VnetLocal", "fd00:db8:0:2::4")]
    assert ("ASSUME_ILB_NEXT_HOP_KEEPS_DESTINATION", False) in assumed(result)


# -- gateways: VPN gateways carry IPv4 only (doc ip-services/ipv6-overview) --------------------

@pytest.mark.parametrize(("gateway_type", "code", "sensitive"), [
    ("Vpn", "ASSUME_IPV6_VPN_GATEWAY_STOPS", False),
    ("ExpressRoute", "ASSUME_GATEWAY_BEYOND", True),
])
def test_ipv6_route_to_a_vpn_gateway_stops_at_the_gateway(gateway_type: str, code: str,
                                                           sensitive: bool) -> None:
    net = pair()
    net.subnet("v", "GatewaySubnet", "10.0.255.0/27")
    net.resources.append({
        "id": net.rid("Microsoft.Network", "virtualNetworkGateways", "gw"), "name": "gw",
        "type": "Microsoft.Network/virtualNetworkGateways", "location": "westus",
        "properties": {"gatewayType": gateway_type, "ipConfigurations": [{
            "name": "default", "properties": {
                "privateIPAddress": "10.0.255.4",
                "subnet": {"id": net.subnet_id("v", "GatewaySubnet")}}}]}})
    net.rt("rt", route("onprem6", "fd00:beef::/48", "VirtualNetworkGateway"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    result = check6(net, "a", "fd00:beef::5")
    assert result["connectionStatus"] == "Unreachable"
    assert hops(result)[-1] == ("VirtualNetworkGateway", "10.0.255.4")
    # The VPN stop is documented (not verdict-sensitive); beyond an ExpressRoute gateway the
    # on-premises end may answer.
    assert (code, sensitive) in assumed(result)
