"""Service endpoints (twin-semantics §8; doc virtual-network-service-endpoints-overview) and the
route table's disablePeeringRoute (§14; doc configure-disable-peering-route-propagation)."""

from __future__ import annotations

from typing import Any

from nwlab.emulator import engine

from .factory import Net, assumed, check, outcome, route, rule

STORAGE_WE = "20.60.0.0/16"
STORAGE_OTHER = "20.61.0.0/16"


def _net(endpoints: list[dict[str, Any]] | None, *, rt: tuple[dict[str, Any], ...] | None = None,
         ) -> Net:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "nva", "10.0.9.0/24")
    net.subnet("v", "a", "10.0.1.0/24", rt="rt" if rt is not None else None)
    net.subnet("v", "b", "10.0.2.0/24")
    if rt is not None:
        net.rt("rt", *rt)
    net.service_tags({"Storage": [STORAGE_WE, STORAGE_OTHER], "Storage.westus": [STORAGE_WE]})
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    net.vm("nva", "v", "nva", "10.0.9.4", forwarding=True)
    if endpoints is not None:
        net.resources[0]["properties"]["subnets"][1]["properties"]["serviceEndpoints"] = \
            endpoints
    return net


def _hop(net: Net, vm: str, ip: str, dest: str) -> str:
    body = {"targetResourceId": net.vm_id(vm), "sourceIPAddress": ip,
            "destinationIPAddress": dest}
    return str(engine.next_hop(net.topology(), body)["nextHopType"])


SE = [{"service": "Microsoft.Storage", "locations": ["westus"]}]
TUNNEL = (route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.9.4"),)


def test_service_endpoint_routes_the_regional_tag_prefixes_of_its_subnet_only() -> None:
    net = _net(SE)
    assert _hop(net, "a", "10.0.1.4", "20.60.1.1") == "VirtualNetworkServiceEndpoint"
    assert _hop(net, "a", "10.0.1.4", "20.61.1.1") == "Internet"  # other region's prefix
    assert _hop(net, "b", "10.0.2.4", "20.60.1.1") == "Internet"  # another subnet


def test_service_endpoint_with_star_location_routes_the_top_level_tag() -> None:
    net = _net([{"service": "Microsoft.Storage", "locations": ["*"]}])
    assert _hop(net, "a", "10.0.1.4", "20.61.1.1") == "VirtualNetworkServiceEndpoint"


def test_service_endpoint_route_bypasses_forced_tunnelling() -> None:
    net = _net(SE, rt=TUNNEL)
    result = check(net, "a", "20.60.1.1", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "Internet"]
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_SERVICE_ENDPOINT_HOP", False) in assumed(result)
    # Without the endpoint the same flow goes to the appliance.
    assert [h["type"] for h in check(_net(None, rt=TUNNEL), "a", "20.60.1.1", 443)[
        "hops"]][:2] == ["Source", "VirtualAppliance"]


def test_service_endpoint_wins_an_exact_tie_with_a_user_route_and_says_so() -> None:
    net = _net(SE, rt=(route("st", STORAGE_WE, "VirtualAppliance", "10.0.9.4"),))
    result = check(net, "a", "20.60.1.1", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "Internet"]
    assert ("ASSUME_SERVICE_ENDPOINT_BEATS_EQUAL_UDR", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_longer_user_route_beats_the_service_endpoint_route() -> None:
    net = _net(SE, rt=(route("st", "20.60.1.0/24", "VirtualAppliance", "10.0.9.4"),))
    assert _hop(net, "a", "10.0.1.4", "20.60.1.1") == "VirtualAppliance"


def test_service_endpoint_outbound_nsg_still_applies() -> None:
    net = _net(SE)
    net.nsg("n", rule("no-internet", 100, "Outbound", "Deny", dst="Internet"))
    net.resources[0]["properties"]["subnets"][1]["properties"]["networkSecurityGroup"] = {
        "id": net.rid("Microsoft.Network", "networkSecurityGroups", "n")}
    result = check(net, "a", "20.60.1.1", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert "no-internet" in str(result["hops"][0]["issues"])


def test_service_endpoint_without_tag_data_is_an_unresolved_tag() -> None:
    net = _net([{"service": "Microsoft.Sql", "locations": ["westus"]}])
    topo = net.topology()
    assert [(a.code, a.field) for a in topo.assumptions] == [
        ("UNRESOLVED_SERVICE_TAG", "serviceEndpoints")]
    assert _hop(net, "a", "10.0.1.4", "20.60.1.1") == "Internet"


# -- disablePeeringRoute ---------------------------------------------------------------------

def _peered(disable: str | None) -> Net:
    net = Net()
    net.vnet("a", "10.1.0.0/16")
    net.vnet("b", "10.2.0.0/16")
    net.rt("rt")
    if disable is not None:
        net.resources[-1]["properties"]["disablePeeringRoute"] = disable
    net.subnet("a", "s", "10.1.1.0/24", rt="rt")
    net.subnet("b", "s", "10.2.1.0/24")
    net.peer("a", "b")
    net.vm("x", "a", "s", "10.1.1.4")
    net.vm("y", "b", "s", "10.2.1.4")
    return net


def test_disable_peering_route_all_removes_the_peering_routes() -> None:
    assert _hop(_peered("None"), "x", "10.1.1.4", "10.2.1.4") == "VNetPeering"
    assert _hop(_peered("All"), "x", "10.1.1.4", "10.2.1.4") == "None"  # falls to 10/8 None
    assert check(_peered("All"), "x", "y")["connectionStatus"] == "Unreachable"
    assert _peered("All").topology().assumptions == []
