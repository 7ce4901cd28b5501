"""VPN / ExpressRoute gateways (twin-semantics §9; doc virtual-networks-udr-overview)."""

from __future__ import annotations

from typing import Any

from nwlab.emulator import engine

from .factory import Net, assumed, check, outcome, route, rule

ONPREM = "192.168.50.0/24"


def _hub(*, status: str | None = "Connected", transit: bool = True, use_remote: bool = True,
         spoke_rt: str | None = None, learned: list[dict[str, Any]] | None = None,
         lng_prefixes: tuple[str, ...] = (ONPREM,)) -> Net:
    """hub 10.0/16 with a VPN gateway in GatewaySubnet connected to on-prem 192.168.50/24;
    spoke 10.1/16 peered with gateway transit; vm h in the hub, vm s in the spoke."""
    net = Net()
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("spoke", "10.1.0.0/16")
    net.subnet("hub", "GatewaySubnet", "10.0.255.0/27")
    net.subnet("hub", "app", "10.0.1.0/24")
    net.subnet("spoke", "app", "10.1.1.0/24", rt=spoke_rt)
    net.peer("hub", "spoke", ab={"allowGatewayTransit": transit},
             ba={"useRemoteGateways": use_remote})
    net.vm("h", "hub", "app", "10.0.1.4")
    net.vm("s", "spoke", "app", "10.1.1.4")
    gw = net.rid("Microsoft.Network", "virtualNetworkGateways", "vpngw")
    lng = net.rid("Microsoft.Network", "localNetworkGateways", "onprem")
    net.resources += [
        {"id": gw, "name": "vpngw", "type": "Microsoft.Network/virtualNetworkGateways",
         "location": "westus", "properties": {
             "gatewayType": "Vpn", "vpnType": "RouteBased", "ipConfigurations": [{
                 "name": "default", "properties": {
                     "privateIPAddress": "10.0.255.4",
                     "subnet": {"id": net.subnet_id("hub", "GatewaySubnet")}}}]}},
        {"id": lng, "name": "onprem", "type": "Microsoft.Network/localNetworkGateways",
         "location": "westus", "properties": {
             "gatewayIpAddress": "203.0.113.10",
             "localNetworkAddressSpace": {"addressPrefixes": list(lng_prefixes)}}},
        {"id": net.rid("Microsoft.Network", "connections", "s2s"), "name": "s2s",
         "type": "Microsoft.Network/connections", "location": "westus", "properties": {
             "connectionType": "IPsec", "virtualNetworkGateway1": {"id": gw},
             "localNetworkGateway2": {"id": lng},
             **({"connectionStatus": status} if status else {})}}]
    if learned is not None:
        net.resources.append({
            "id": f"{gw}/learnedRoutes", "name": "learnedRoutes", "gatewayId": gw,
            "type": "Microsoft.Network/virtualNetworkGateways/learnedRoutes", "value": learned})
    return net


def _next_hop(net: Net, vm: str, nic_ip: str, dest: str) -> str:
    topo = net.topology()
    body = {"targetResourceId": net.vm_id(vm), "sourceIPAddress": nic_ip,
            "destinationIPAddress": dest}
    return str(engine.next_hop(topo, body)["nextHopType"])


def test_local_network_gateway_prefixes_route_to_the_gateway_in_its_vnet() -> None:
    net = _hub()
    assert _next_hop(net, "h", "10.0.1.4", "192.168.50.10") == "VirtualNetworkGateway"
    # Without the gateway the same address falls to the 192.168/16 None route.
    assert _next_hop(_hub(status="NotConnected"), "h", "10.0.1.4", "192.168.50.10") == "None"


def test_check_to_on_premises_ends_at_the_gateway_and_is_undetermined() -> None:
    result = check(_hub(), "h", "192.168.50.10", 443)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.0.1.4"), ("VirtualNetworkGateway", "10.0.255.4")]
    assert result["hops"][-1]["resourceId"].endswith("/virtualNetworkGateways/vpngw")
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_GATEWAY_BEYOND", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_spoke_using_remote_gateways_gets_the_gateway_routes() -> None:
    result = check(_hub(), "s", "192.168.50.10", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualNetworkGateway"]
    assert _next_hop(_hub(), "s", "10.1.1.4", "192.168.50.10") == "VirtualNetworkGateway"


def test_gateway_transit_needs_both_flags() -> None:
    for net in (_hub(transit=False), _hub(use_remote=False)):
        assert _next_hop(net, "s", "10.1.1.4", "192.168.50.10") == "None"


def test_disable_bgp_route_propagation_removes_the_gateway_routes() -> None:
    net = _hub(spoke_rt="rt")
    net.rt("rt")
    net.resources[-1]["properties"]["disableBgpRoutePropagation"] = True
    assert _next_hop(net, "s", "10.1.1.4", "192.168.50.10") == "None"
    # A user route to the gateway still works (VPN gateways accept it).
    net2 = _hub(spoke_rt="rt")
    net2.rt("rt", route("onprem", ONPREM, "VirtualNetworkGateway"))
    net2.resources[-1]["properties"]["disableBgpRoutePropagation"] = True
    result = check(net2, "s", "192.168.50.10", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualNetworkGateway"]


def test_user_route_to_a_vpn_gateway_in_reach_is_modelled_not_unmodelled() -> None:
    # A user route to VirtualNetworkGateway is the documented way to send a prefix to a VPN
    # gateway: with one in reach the walk ends at it like a gateway system route does, and
    # carries no "not modelled" doubt (only what lies beyond).
    net = _hub(spoke_rt="rt")
    net.rt("rt", route("onprem", "172.30.0.0/16", "VirtualNetworkGateway"))
    result = check(net, "s", "172.30.1.1", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualNetworkGateway"]
    codes = [code for code, _ in assumed(result)]
    assert "UNMODELLED_VALUE" not in codes
    assert ("ASSUME_GATEWAY_BEYOND", True) in assumed(result)
    # Without a gateway in reach the same route is still a dead end the twin cannot judge.
    net2 = _hub(spoke_rt="rt", use_remote=False)
    net2.rt("rt", route("onprem", "172.30.0.0/16", "VirtualNetworkGateway"))
    assert ("UNMODELLED_VALUE", True) in assumed(check(net2, "s", "172.30.1.1", 443))


def test_user_route_to_an_expressroute_gateway_is_an_assumption() -> None:
    # §9.2 rule 5: user routes may target VirtualNetworkGateway only for VPN gateways.
    net = _hub(spoke_rt="rt")
    net.rt("rt", route("onprem", "172.30.0.0/16", "VirtualNetworkGateway"))
    gw = next(r for r in net.resources if r["name"] == "vpngw")
    gw["properties"]["gatewayType"] = "ExpressRoute"
    result = check(net, "s", "172.30.1.1", 443)
    assert ("ASSUME_GATEWAY_USER_ROUTE_EXPRESSROUTE", True) in assumed(result)
    assert outcome(result) == "undetermined"
    # The gateway's own (system) routes carry no such doubt.
    assert "ASSUME_GATEWAY_USER_ROUTE_EXPRESSROUTE" not in [
        code for code, _ in assumed(check(net, "s", "192.168.50.10", 443))]


def test_bgp_learned_routes_are_gateway_routes_and_network_origin_is_not() -> None:
    learned = [{"network": "172.20.0.0/16", "origin": "EBgp", "nextHop": "10.0.255.4"},
               {"network": "10.0.0.0/16", "origin": "Network", "nextHop": ""}]
    net = _hub(learned=learned)
    assert _next_hop(net, "h", "10.0.1.4", "172.20.1.1") == "VirtualNetworkGateway"
    assert _next_hop(net, "h", "10.0.1.4", "10.0.1.9") == "VnetLocal"


def test_bgp_default_route_forces_tunnelling() -> None:
    net = _hub(learned=[{"network": "0.0.0.0/0", "origin": "EBgp", "nextHop": "10.0.255.4"}])
    assert _next_hop(net, "h", "10.0.1.4", "8.8.8.8") == "VirtualNetworkGateway"


def test_vnet_and_peering_routes_beat_longer_gateway_routes() -> None:
    # doc "How Azure selects a route": VNet and peering system routes win over BGP routes
    # even when the BGP route is longer.
    net = _hub(lng_prefixes=(ONPREM, "10.0.1.0/25", "10.1.1.0/25"))
    assert _next_hop(net, "h", "10.0.1.4", "10.0.1.9") == "VnetLocal"
    assert _next_hop(net, "h", "10.0.1.4", "10.1.1.4") == "VNetPeering"


def test_gateway_route_beats_the_reserved_none_route_on_equal_prefix() -> None:
    net = _hub(lng_prefixes=("192.168.0.0/16",))
    assert _next_hop(net, "h", "10.0.1.4", "192.168.7.7") == "VirtualNetworkGateway"


def test_connection_without_status_is_assumed_connected_and_says_so() -> None:
    result = check(_hub(status=None), "h", "192.168.50.10", 443)
    assert ("ASSUME_GATEWAY_CONNECTION_UP", False) in assumed(result)
    assert [h["type"] for h in result["hops"]][-1] == "VirtualNetworkGateway"


def test_gateway_resources_are_modelled_not_unmodelled() -> None:
    assert _hub(learned=[]).topology().assumptions == []


def _with_nic_nsg(net: Net, vm: str, *rules: dict[str, Any]) -> Net:
    nsg_id = net.nsg(f"{vm}-nsg", *rules)
    nic = next(r for r in net.resources if r["id"].endswith(f"/networkInterfaces/{vm}-nic"))
    nic["properties"]["networkSecurityGroup"] = {"id": nsg_id}
    return net


def test_on_premises_spaces_are_in_the_virtual_network_tag() -> None:
    # The VirtualNetwork tag holds "all connected on-premises address spaces" (doc
    # virtual-network/service-tags-overview): AllowVnetOutBound lets the flow to the gateway.
    result = check(_with_nic_nsg(_hub(), "h"), "h", "192.168.50.10", 443)
    assert [h["type"] for h in result["hops"]] == ["Source", "VirtualNetworkGateway"]
    assert result["hops"][0]["issues"] == []
    # A rule denying VirtualNetwork outbound now catches on-premises traffic too.
    denied = check(_with_nic_nsg(_hub(), "h", rule("NoVnet", 100, "Outbound", "Deny",
                                                   dst="VirtualNetwork")),
                   "h", "192.168.50.10", 443)
    assert "NoVnet" in str(denied["hops"][0]["issues"])
    # Without a connected gateway the space is not the VNet's: the default rules send it nowhere.
    gone = check(_with_nic_nsg(_hub(status="NotConnected"), "h"), "h", "192.168.50.10", 443)
    assert gone["connectionStatus"] == "Unreachable"
