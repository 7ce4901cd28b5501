"""A real estate's variety: resource types the twin does not model load, with an assumption on
the results they touch where they can change a verdict and none where they cannot
(twin-semantics §15 rule 2, "neither wall nor hole")."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator.topology import Topology

from .factory import Net, assumed, check, outcome, route, summary

HUB_PREFIX = "10.100.0.0/23"


def _estate() -> Net:
    """Two spokes and the parts a landing zone holds beside them."""
    net = Net()
    net.vnet("spoke", "10.1.0.0/16")
    net.subnet("spoke", "app", "10.1.1.0/24")
    net.subnet("spoke", "appgw", "10.1.2.0/24")
    net.subnet("spoke", "AzureBastionSubnet", "10.1.3.0/26")
    net.vm("a", "spoke", "app", "10.1.1.4")
    net.vm("b", "spoke", "app", "10.1.1.5")
    return net


def _add(net: Net, provider: str, kind: str, name: str, props: dict[str, Any],
         **extra: Any) -> str:
    rid = net.rid(provider, kind, name)
    net.resources.append({"id": rid, "name": name, "type": f"{provider}/{kind}",
                          "location": "westus", "properties": props, **extra})
    return rid


def _app_gateway(net: Net) -> str:
    return _add(net, "Microsoft.Network", "applicationGateways", "agw", {
        "sku": {"name": "WAF_v2", "tier": "WAF_v2"},
        "gatewayIPConfigurations": [{"name": "gw", "properties": {
            "subnet": {"id": net.subnet_id("spoke", "appgw")}}}],
        "frontendIPConfigurations": [{"name": "private", "properties": {
            "privateIPAddress": "10.1.2.10", "privateIPAllocationMethod": "Static",
            "subnet": {"id": net.subnet_id("spoke", "appgw")}}}],
        "webApplicationFirewallConfiguration": {"enabled": True, "firewallMode": "Prevention"},
        "backendAddressPools": [{"name": "web", "properties": {
            "backendAddresses": [{"ipAddress": "10.1.1.5"}]}}]})


def _vwan(net: Net) -> dict[str, str]:
    wan = _add(net, "Microsoft.Network", "virtualWans", "wan", {"type": "Standard"})
    hub = _add(net, "Microsoft.Network", "virtualHubs", "hub", {
        "addressPrefix": HUB_PREFIX, "virtualWan": {"id": wan}, "sku": "Standard",
        "virtualRouterIps": ["10.100.0.68", "10.100.0.69"]})
    conn = f"{hub}/hubVirtualNetworkConnections/spoke"
    net.resources.append({"id": conn, "name": "spoke",
                          "type": "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections",
                          "properties": {"remoteVirtualNetwork": {"id": net._vnets["spoke"]["id"]},
                                         "enableInternetSecurity": True}})
    fw = _add(net, "Microsoft.Network", "azureFirewalls", "hubfw", {
        "sku": {"name": "AZFW_Hub", "tier": "Standard"}, "virtualHub": {"id": hub},
        "hubIPAddresses": {"privateIPAddress": "10.100.0.132",
                           "publicIPs": {"count": 1, "addresses": [{"address": "20.1.2.3"}]}}})
    return {"hub": hub, "conn": conn, "fw": fw}


def _codes(topo: Topology) -> list[tuple[str, str]]:
    return [(a.code, a.resource_id.rsplit("/", 1)[-1]) for a in topo.assumptions]


def test_beside_the_path_types_load_with_no_assumption() -> None:
    """Bastion, a DDoS plan, flow logs, a vWAN: nothing they do decides a check's verdict."""
    net = _estate()
    ddos = _add(net, "Microsoft.Network", "ddosProtectionPlans", "ddos", {})
    net._vnets["spoke"]["properties"].update(enableDdosProtection=True,
                                             ddosProtectionPlan={"id": ddos})
    _add(net, "Microsoft.Network", "bastionHosts", "bastion", {"ipConfigurations": [
        {"name": "ip", "properties": {"subnet": {"id": net.subnet_id("spoke",
                                                                     "AzureBastionSubnet")}}}]})
    watcher = net.rid("Microsoft.Network", "networkWatchers", "nw")
    net.resources.append({"id": f"{watcher}/flowLogs/fl", "name": "fl", "location": "westus",
                          "type": "Microsoft.Network/networkWatchers/flowLogs",
                          "properties": {"targetResourceId": net._vnets["spoke"]["id"],
                                         "enabled": True}})
    _add(net, "Microsoft.Network", "virtualWans", "wan", {"type": "Standard"})
    topo = net.topology()
    assert topo.assumptions == []
    result = check(topo, "a", "b", 80)
    assert result["connectionStatus"] == "Reachable" and assumed(result) == []


def test_application_gateway_frontend_stops_the_trace_undetermined() -> None:
    net = _estate()
    agw = _app_gateway(net)
    topo = net.topology()
    assert _codes(topo) == [("UNMODELLED_RESOURCE_TYPE", "agw")]
    result = check(topo, "a", "10.1.2.10", 443)
    assert summary(result)[-1][:2] == ("Destination", "10.1.2.10")
    assert result["hops"][-1]["resourceId"] == agw
    assert outcome(result) == "undetermined"
    assert ("UNMODELLED_RESOURCE_TYPE", True) in assumed(result)
    # A check that does not touch it carries nothing of it.
    assert assumed(check(topo, "a", "b", 80)) == []


def test_application_gateway_public_frontend_is_reached_over_the_internet_undetermined() -> None:
    net = _estate()
    pip = _add(net, "Microsoft.Network", "publicIPAddresses", "agw-pip",
               {"ipAddress": "20.9.9.9", "publicIPAllocationMethod": "Static"},
               sku={"name": "Standard"})
    agw = _app_gateway(net)
    frontend = net.resources[-1]["properties"]["frontendIPConfigurations"]
    frontend.append({"name": "public", "properties": {"publicIPAddress": {"id": pip}}})
    result = check(net.topology(), "a", "20.9.9.9", 443)
    assert [h[0] for h in summary(result)] == ["Source", "Internet", "Destination"]
    assert result["hops"][-1]["resourceId"] == agw
    assert outcome(result) == "undetermined"


def test_vwan_spoke_routes_from_the_hub_are_an_assumption_where_a_system_route_decides() -> None:
    net = _estate()
    parts = _vwan(net)
    topo = net.topology()
    assert ("UNMODELLED_RESOURCE_TYPE", "spoke") in _codes(topo)  # the hub connection
    # Another spoke of the hub (not in the snapshot as a peering): the spoke's own routes
    # have no path, but the hub propagates one.
    other = check(topo, "a", "10.2.1.4", 443)
    assert outcome(other) == "undetermined"
    notes = other["nwlab"]["assumptions"]
    assert any(n["resourceId"] == parts["conn"] and n["verdictSensitive"] for n in notes)
    # Inside the spoke the VnetLocal route decides: still said, not verdict-sensitive.
    inside = check(topo, "a", "b", 80)
    assert inside["connectionStatus"] == "Reachable"
    assert ("UNMODELLED_RESOURCE_TYPE", False) in assumed(inside)


def test_route_next_hop_into_a_vhub_firewall_stops_there_undetermined() -> None:
    """Routing intent as a user route: 0/0 to the hub firewall's private IP."""
    net = _estate()
    parts = _vwan(net)
    net.rt("to-hub", route("default", "0.0.0.0/0", "VirtualAppliance", "10.100.0.132"))
    net._vnets["spoke"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "to-hub")}
    result = check(net.topology(), "a", "8.8.8.8", 443)
    assert summary(result)[-1][:2] == ("VirtualAppliance", "10.100.0.132")
    assert result["hops"][-1]["resourceId"] == parts["fw"]
    assert outcome(result) == "undetermined"


@pytest.mark.parametrize("next_hop", ["10.100.0.68", "10.100.1.20"])
def test_route_next_hop_at_the_hub_router_or_in_its_prefix_stops_at_the_hub(
        next_hop: str) -> None:
    net = _estate()
    parts = _vwan(net)
    net.rt("to-hub", route("other", "10.50.0.0/16", "VirtualAppliance", next_hop))
    net._vnets["spoke"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "to-hub")}
    result = check(net.topology(), "a", "10.50.0.4", 443)
    assert result["hops"][-1]["resourceId"] == parts["hub"]
    assert outcome(result) == "undetermined"


def _route_server(net: Net, *, peers: int) -> str:
    net.subnet("spoke", "RouteServerSubnet", "10.1.4.0/27")
    hub = _add(net, "Microsoft.Network", "virtualHubs", "rs", {
        "sku": "Standard", "virtualRouterAsn": 65515,
        "virtualRouterIps": ["10.1.4.4", "10.1.4.5"]})
    net.resources.append({"id": f"{hub}/ipConfigurations/ipconfig1", "name": "ipconfig1",
                          "type": "Microsoft.Network/virtualHubs/ipConfigurations",
                          "properties": {"privateIPAddress": "10.1.4.4", "subnet": {
                              "id": net.subnet_id("spoke", "RouteServerSubnet")}}})
    for i in range(peers):
        net.resources.append({"id": f"{hub}/bgpConnections/nva{i}", "name": f"nva{i}",
                              "type": "Microsoft.Network/virtualHubs/bgpConnections",
                              "properties": {"peerIp": f"10.1.1.{10 + i}", "peerAsn": 65001}})
    return hub


def test_route_server_bgp_peers_routes_are_an_assumption_unless_propagation_is_off() -> None:
    net = _estate()
    hub = _route_server(net, peers=1)
    result = check(net.topology(), "a", "10.60.0.4", 443)
    notes = result["nwlab"]["assumptions"]
    assert any(n["resourceId"] == f"{hub}/bgpConnections/nva0" and n["verdictSensitive"]
               for n in notes)
    # disableBgpRoutePropagation keeps the Route Server's routes out of the subnet.
    net.rt("no-bgp", route("x", "192.0.2.0/24", "None"))
    net.resources[-1]["properties"]["disableBgpRoutePropagation"] = True
    net._vnets["spoke"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "no-bgp")}
    off = check(net.topology(), "a", "10.60.0.4", 443)
    assert not any("bgpConnections" in n["resourceId"]
                   for n in off.get("nwlab", {}).get("assumptions", []))


def test_route_server_without_bgp_peers_adds_no_route_note() -> None:
    net = _estate()
    _route_server(net, peers=0)
    result = check(net.topology(), "a", "b", 80)
    assert result["connectionStatus"] == "Reachable"
    assert [c for c, _ in assumed(result)] == []


@pytest.mark.parametrize("service", ["Microsoft.Web/serverFarms", "Microsoft.Sql/managedInstances",
                                     "Microsoft.Databricks/workspaces"])
def test_delegated_subnet_loads_and_an_address_in_it_without_a_nic_is_undetermined(
        service: str) -> None:
    net = _estate()
    sid = net.subnet("spoke", "delegated", "10.1.5.0/24")
    net._vnets["spoke"]["properties"]["subnets"][-1]["properties"]["delegations"] = [
        {"name": "d", "properties": {"serviceName": service}}]
    topo = net.topology()
    assert ("UNMODELLED_FIELD", "delegated") in _codes(topo)
    result = check(topo, "a", "10.1.5.4", 443)
    assert result["hops"][-1]["resourceId"] == sid
    assert outcome(result) == "undetermined"
    assert service in " ".join(n["assumed"] for n in result["nwlab"]["assumptions"])


def test_unknown_future_type_holding_an_address_stops_the_trace_and_unknown_fields_load() -> None:
    net = _estate()
    thing = _add(net, "Microsoft.Future", "appliances", "x", {
        "nics": [{"privateIpAddress": "10.1.2.20"}], "newField": {"deep": [1, "two"]}})
    net._vnets["spoke"]["properties"]["futureSetting"] = {"enabled": True}
    topo = net.topology()
    assert _codes(topo) == [("UNMODELLED_RESOURCE_TYPE", "x")]
    result = check(topo, "a", "10.1.2.20", 443)
    assert result["hops"][-1]["resourceId"] == thing
    assert outcome(result) == "undetermined"


def test_private_link_service_and_vwan_nva_addresses_are_held() -> None:
    net = _estate()
    pls = _add(net, "Microsoft.Network", "privateLinkServices", "pls", {"ipConfigurations": [
        {"name": "nat", "properties": {"privateIPAddress": "10.1.2.30",
                                       "subnet": {"id": net.subnet_id("spoke", "appgw")}}}]})
    nva = _add(net, "Microsoft.Network", "networkVirtualAppliances", "nva", {
        "virtualApplianceNics": [{"name": "private", "privateIpAddress": "10.100.0.200"}]})
    topo = net.topology()
    assert check(topo, "a", "10.1.2.30", 443)["hops"][-1]["resourceId"] == pls
    net.rt("via-nva", route("x", "10.70.0.0/16", "VirtualAppliance", "10.100.0.200"))
    net._vnets["spoke"]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "via-nva")}
    result = check(net.topology(), "a", "10.70.0.4", 443)
    assert summary(result)[-1][:2] == ("VirtualAppliance", "10.100.0.200")
    assert result["hops"][-1]["resourceId"] == nva


def test_service_endpoint_policy_and_bgp_override_route_table_load() -> None:
    net = _estate()
    policy = _add(net, "Microsoft.Network", "serviceEndpointPolicies", "sep", {
        "serviceEndpointPolicyDefinitions": [{"name": "d", "properties": {
            "service": "Microsoft.Storage", "serviceResources": ["/subscriptions/x"]}}]})
    net.rt("bgp-off", route("x", "192.0.2.0/24", "None"))
    net.resources[-1]["properties"]["disableBgpRoutePropagation"] = True
    subnet = net._vnets["spoke"]["properties"]["subnets"][0]["properties"]
    subnet.update(serviceEndpointPolicies=[{"id": policy}],
                  routeTable={"id": net.rid("Microsoft.Network", "routeTables", "bgp-off")})
    topo = net.topology()
    assert ("UNMODELLED_FIELD", "app") in _codes(topo)  # the policy, on the subnet
    assert check(topo, "a", "b", 80)["connectionStatus"] == "Reachable"
