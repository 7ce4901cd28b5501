"""Private endpoints and private DNS zones (twin-semantics §7)."""

from __future__ import annotations

from typing import Any

from nwlab.emulator import engine

from .factory import Net, assumed, check, outcome, route, rule

PE_IP = "10.2.3.4"
ZONE = "privatelink.blob.core.windows.net"


def _estate(*, policy: str | None = None, status: str = "Approved", pe_nsg: bool = False,
            client_rt: tuple[dict[str, Any], ...] | None = None, link_spoke: bool = True,
            group: str = "blob") -> Net:
    """spoke 10.2/16 holds a blob private endpoint at 10.2.3.4 (subnet pe) and vm c; hub
    10.0/16 is peered with it (vm h); far 10.9/16 is peered with hub only (vm f)."""
    net = Net()
    net.vnet("spoke", "10.2.0.0/16")
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("far", "10.9.0.0/16")
    if pe_nsg:
        net.nsg("pe-nsg", rule("deny-all", 100, "Inbound", "Deny"))
    net.subnet("spoke", "pe", "10.2.3.0/24", nsg="pe-nsg" if pe_nsg else None)
    if policy is not None:
        net.resources[0]["properties"]["subnets"][0]["properties"][
            "privateEndpointNetworkPolicies"] = policy
    if client_rt is not None:
        net.rt("rt", *client_rt)
    net.subnet("spoke", "app", "10.2.1.0/24", rt="rt" if client_rt is not None else None)
    net.subnet("spoke", "nva", "10.2.9.0/24")
    net.subnet("hub", "app", "10.0.1.0/24")
    net.subnet("far", "app", "10.9.1.0/24")
    net.peer("hub", "spoke")
    net.peer("hub", "far")
    net.vm("c", "spoke", "app", "10.2.1.4")
    net.vm("nva", "spoke", "nva", "10.2.9.4", forwarding=True)
    net.vm("h", "hub", "app", "10.0.1.4")
    net.vm("f", "far", "app", "10.9.1.4")
    pe = net.rid("Microsoft.Network", "privateEndpoints", "pe-blob")
    nic = net.rid("Microsoft.Network", "networkInterfaces", "pe-blob.nic.1")
    subnet = net.subnet_id("spoke", "pe")
    net.resources += [
        {"id": nic, "name": "pe-blob.nic.1", "type": "Microsoft.Network/networkInterfaces",
         "location": "westus", "properties": {
             "privateEndpoint": {"id": pe},
             "ipConfigurations": [{"name": "cfg", "properties": {
                 "privateIPAddress": PE_IP, "subnet": {"id": subnet}, "primary": True}}]}},
        {"id": pe, "name": "pe-blob", "type": "Microsoft.Network/privateEndpoints",
         "location": "westus", "properties": {
             "subnet": {"id": subnet}, "networkInterfaces": [{"id": nic}],
             "privateLinkServiceConnections": [{"name": "c", "properties": {
                 "privateLinkServiceId": "/subscriptions/00000000-0000-0000-0000-000000000000/"
                                         "resourceGroups/rg/providers/Microsoft.Storage/"
                                         "storageAccounts/acct",
                 "groupIds": [group],
                 "privateLinkServiceConnectionState": {"status": status}}}]}}]
    zone = net.rid("Microsoft.Network", "privateDnsZones", ZONE)
    net.resources += [
        {"id": zone, "name": ZONE, "type": "Microsoft.Network/privateDnsZones",
         "location": "global", "properties": {}},
        {"id": f"{zone}/A/acct", "name": "acct", "type": "Microsoft.Network/privateDnsZones/A",
         "properties": {"ttl": 10, "aRecords": [{"ipv4Address": PE_IP}]}}]
    if link_spoke:
        net.resources.append({
            "id": f"{zone}/virtualNetworkLinks/spoke", "name": "spoke", "location": "global",
            "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
            "properties": {"virtualNetwork": {"id": net.rid("Microsoft.Network",
                                                            "virtualNetworks", "spoke")},
                           "registrationEnabled": False}})
    return net


def _hop(net: Net, vm: str, ip: str) -> dict[str, Any]:
    body = {"targetResourceId": net.vm_id(vm), "sourceIPAddress": ip,
            "destinationIPAddress": PE_IP}
    return engine.next_hop(net.topology(), body)


def test_private_endpoint_answers_on_its_service_port() -> None:
    result = check(_estate(), "c", PE_IP, 443)
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.2.1.4"), ("VnetLocal", PE_IP)]
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_PRIVATE_ENDPOINT_HOP", False) in assumed(result)


def test_private_endpoint_does_not_answer_other_ports() -> None:
    result = check(_estate(), "c", PE_IP, 22)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_PRIVATE_ENDPOINT_PORTS", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_private_endpoint_answers_only_when_approved() -> None:
    assert check(_estate(status="Pending"), "c", PE_IP, 443)["connectionStatus"] == \
        "Unreachable"


def test_interface_endpoint_route_reaches_the_vnet_and_direct_peers_only() -> None:
    assert _hop(_estate(), "c", "10.2.1.4")["nextHopType"] == "InterfaceEndpoint"
    assert _hop(_estate(), "h", "10.0.1.4")["nextHopType"] == "InterfaceEndpoint"
    assert check(_estate(), "h", PE_IP, 443)["connectionStatus"] == "Reachable"
    # far is peered with hub, not with the spoke: no route at all (10/8 None).
    assert _hop(_estate(), "f", "10.9.1.4")["nextHopType"] == "None"


def test_interface_endpoint_route_beats_a_default_route_to_an_appliance() -> None:
    net = _estate(client_rt=(route("all", "0.0.0.0/0", "VirtualAppliance", "10.2.9.4"),))
    assert _hop(net, "c", "10.2.1.4")["nextHopType"] == "InterfaceEndpoint"


def test_route_table_policy_lets_a_vnet_wide_user_route_take_over() -> None:
    udr = (route("vnet", "10.2.0.0/16", "VirtualAppliance", "10.2.9.4"),)
    assert _hop(_estate(client_rt=udr), "c", "10.2.1.4")["nextHopType"] == "InterfaceEndpoint"
    for policy in ("RouteTableEnabled", "Enabled"):
        net = _estate(client_rt=udr, policy=policy)
        assert _hop(net, "c", "10.2.1.4")["nextHopType"] == "VirtualAppliance"
    # A 0/0 never overrides the /32, whatever the policy.
    net = _estate(client_rt=(route("all", "0.0.0.0/0", "VirtualAppliance", "10.2.9.4"),),
                  policy="Enabled")
    assert _hop(net, "c", "10.2.1.4")["nextHopType"] == "InterfaceEndpoint"


def test_endpoint_subnet_nsg_applies_only_with_the_nsg_policy() -> None:
    assert check(_estate(pe_nsg=True), "c", PE_IP, 443)["connectionStatus"] == "Reachable"
    assert check(_estate(pe_nsg=True, policy="RouteTableEnabled"), "c", PE_IP,
                 443)["connectionStatus"] == "Reachable"
    for policy in ("NetworkSecurityGroupEnabled", "Enabled"):
        result = check(_estate(pe_nsg=True, policy=policy), "c", PE_IP, 443)
        assert result["connectionStatus"] == "Unreachable"
        assert "deny-all" in str(result["hops"][-1]["issues"])


def test_private_dns_name_resolves_to_the_endpoint_in_a_linked_vnet() -> None:
    for name in ("acct.blob.core.windows.net", f"acct.{ZONE}"):
        result = check(_estate(), "c", f"https://{name}/", 0)
        assert result["hops"][-1]["address"] == PE_IP
        assert result["connectionStatus"] == "Reachable"


def test_private_dns_zone_link_does_not_extend_over_peering() -> None:
    result = check(_estate(), "h", "https://acct.blob.core.windows.net/")
    assert result["hops"][0]["issues"][0]["type"] == "DnsResolution"
    result = check(_estate(link_spoke=False), "c", "https://acct.blob.core.windows.net/")
    assert result["hops"][0]["issues"][0]["type"] == "DnsResolution"


def test_private_endpoint_resources_load_without_unmodelled_assumptions() -> None:
    assert _estate().topology().assumptions == []


def test_endpoint_reply_uses_system_routes_not_the_endpoint_subnets_user_routes() -> None:
    # twin-semantics §7.2 rule 6 (field consensus): the endpoint's replies do not follow user
    # routes. Here the endpoint subnet's table sends the client's range to an address where
    # nothing forwards; the reply still reaches the client.
    net = _estate()
    net.rt("pe-rt", route("back", "10.2.1.0/24", "VirtualAppliance", "10.2.9.99"))
    spoke = next(r for r in net.resources if r["name"] == "spoke")
    spoke["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "pe-rt")}
    assert check(net, "c", PE_IP, 443)["connectionStatus"] == "Reachable"
    # A VM in that subnet would not get its reply back: the same table breaks it.
    net.vm("other", "spoke", "pe", "10.2.3.9")
    assert check(net, "c", "other", 443)["connectionStatus"] == "Unreachable"
