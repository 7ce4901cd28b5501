"""VNet peering flags (twin-semantics §4; doc virtual-network/virtual-network-manage-peering)."""

from __future__ import annotations

import ipaddress

import pytest

from nwlab.emulator import TopologyError
from nwlab.emulator.nsg import virtual_network_tag

from .factory import Net, assumed, check, flow, outcome, route, summary


def _pair(ab: dict | None = None, ba: dict | None = None, state: str | None = None) -> Net:
    """VNet a 10.1/16 (vm x 10.1.1.4) peered with b 10.2/16 (vm y 10.2.1.4)."""
    net = Net()
    net.vnet("a", "10.1.0.0/16")
    net.vnet("b", "10.2.0.0/16")
    net.subnet("a", "s", "10.1.1.0/24")
    net.subnet("b", "s", "10.2.1.0/24")
    net.peer("a", "b", ab=ab, ba=ba, state=state)
    net.vm("x", "a", "s", "10.1.1.4")
    net.vm("y", "b", "s", "10.2.1.4")
    return net


def test_connected_peering_carries_traffic() -> None:
    assert check(_pair(), "x", "y")["connectionStatus"] == "Reachable"


@pytest.mark.parametrize("state", ["Initiated", "Disconnected"])
def test_only_connected_peerings_carry_traffic(state: str) -> None:
    result = check(_pair(state=state), "x", "y")
    assert result["connectionStatus"] == "Unreachable"
    # No peering route: 10.2.0.0/16 falls to the 10/8 None route.
    assert summary(result)[0][2] == ["UserDefinedRoute:Outbound:Default"]


def test_access_off_drops_traffic_between_the_vnets() -> None:
    net = _pair(ab={"allowVirtualNetworkAccess": False})
    forth = check(net, "x", "y")
    assert forth["connectionStatus"] == "Unreachable"
    assert forth["hops"][-1]["type"] == "Destination"
    # Assumed: either side's flag drops both directions (twin-semantics §4.4).
    back = check(net, "y", "x")
    assert back["connectionStatus"] == "Unreachable"
    assert ("ASSUME_PEERING_ACCESS_EITHER_SIDE", True) in assumed(back)


def test_access_off_removes_the_peer_from_the_virtual_network_tag() -> None:
    # doc: with access disabled the peer's space leaves VirtualNetwork, so AllowVnetInBound
    # no longer admits it and DenyAllInBound does (ipFlowVerify shows the rule).
    closed = {"allowVirtualNetworkAccess": False}
    assert flow(_pair_with_nsg(closed, closed), "x", "Inbound", "10.2.1.4") == (
        "Deny", "defaultSecurityRules/DenyAllInBound")
    assert flow(_pair_with_nsg(), "x", "Inbound", "10.2.1.4") == (
        "Allow", "defaultSecurityRules/AllowVnetInBound")


def _pair_with_nsg(ab: dict | None = None, ba: dict | None = None) -> Net:
    net = _pair(ab, ba)
    net.nsg("nx")
    vm_nic = next(r for r in net.resources if r["name"] == "x-nic")
    vm_nic["properties"]["networkSecurityGroup"] = {"id": net.rid(
        "Microsoft.Network", "networkSecurityGroups", "nx")}
    return net


def _hub_and_spokes(forwarded_s2: bool | None = None, forwarded_hub: bool | None = None,
                    mode: str | None = None) -> Net:
    """spoke1 10.1/16 and spoke2 10.2/16 peered with hub 10.0/16, whose NVA 10.0.1.4 routes
    spoke to spoke (the doc's hub-and-spoke with an appliance)."""
    net = Net()
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("s1", "10.1.0.0/16")
    net.vnet("s2", "10.2.0.0/16")
    net.subnet("hub", "nva", "10.0.1.0/24")
    net.rt("to-s2", route("s2", "10.2.0.0/16", "VirtualAppliance", "10.0.1.4"))
    net.rt("to-s1", route("s1", "10.1.0.0/16", "VirtualAppliance", "10.0.1.4"))
    net.subnet("s1", "w", "10.1.1.0/24", rt="to-s2")
    net.subnet("s2", "w", "10.2.1.0/24", rt="to-s1")
    s2_side = {} if forwarded_s2 is None else {"allowForwardedTraffic": forwarded_s2}
    hub_side = {} if forwarded_hub is None else {"allowForwardedTraffic": forwarded_hub}
    net.peer("hub", "s1", ab=hub_side, ba={"allowForwardedTraffic": True})
    net.peer("hub", "s2", ab=hub_side, ba=s2_side)
    net.vm("nva", "hub", "nva", "10.0.1.4", forwarding=True)
    net.vm("w1", "s1", "w", "10.1.1.4")
    net.vm("w2", "s2", "w", "10.2.1.4")
    if mode:
        net.emulation["peeringForwardedTraffic"] = mode
    return net


def test_forwarded_traffic_needs_the_receiving_side_flag() -> None:
    # Portal reading (assumed, §4.4): spoke2's link to the hub must allow forwarded traffic
    # for packets the hub's NVA relays from spoke1.
    dropped = check(_hub_and_spokes(forwarded_s2=False), "w1", "w2")
    assert dropped["connectionStatus"] == "Unreachable"
    assert dropped["hops"][-1]["type"] == "Destination"
    passed = check(_hub_and_spokes(forwarded_s2=True), "w1", "w2")
    assert passed["connectionStatus"] == "Reachable"
    assert ("ASSUME_PEERING_FORWARDED_RECEIVER_SIDE", True) in assumed(passed)


def test_forwarded_traffic_sides_agreeing_is_not_verdict_sensitive() -> None:
    result = check(_hub_and_spokes(forwarded_s2=True, forwarded_hub=True), "w1", "w2")
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_PEERING_FORWARDED_RECEIVER_SIDE", False) in assumed(result)
    assert outcome(result) == "reached"


def test_forwarded_traffic_mode_is_configurable() -> None:
    net = _hub_and_spokes(forwarded_s2=True, forwarded_hub=False, mode="sender")
    assert check(net, "w1", "w2")["connectionStatus"] == "Unreachable"
    net = _hub_and_spokes(forwarded_s2=False, mode="ignore")
    assert check(net, "w1", "w2")["connectionStatus"] == "Reachable"


def test_traffic_from_the_vnet_itself_is_not_forwarded() -> None:
    # The hub's own VM reaches spoke2 whatever spoke2's allowForwardedTraffic says.
    net = _hub_and_spokes(forwarded_s2=False)
    net.vm("h", "hub", "nva", "10.0.1.5")
    result = check(net, "h", "w2")
    assert result["connectionStatus"] == "Reachable"
    assert not any(code == "ASSUME_PEERING_FORWARDED_RECEIVER_SIDE"
                   for code, _ in assumed(result))


def test_peering_not_in_sync_routes_the_peered_space() -> None:
    # remoteAddressSpace (what was peered) is authoritative when not FullyInSync (§4.4):
    # b grew 10.2.9.0/24 after the peering, and a does not route to it yet.
    net = _pair(ab={"peeringSyncLevel": "RemoteNotInSync",
                    "remoteAddressSpace": {"addressPrefixes": ["10.2.1.0/24"]}})
    b = next(r for r in net.resources if r["name"] == "b")
    b["properties"]["subnets"].append({"name": "t", "properties": {"addressPrefix":
                                                                    "10.2.9.0/24"}})
    net.vm("z", "b", "t", "10.2.9.4")
    assert check(net, "x", "y")["connectionStatus"] == "Reachable"
    assert check(net, "x", "z")["connectionStatus"] == "Unreachable"
    topo = net.topology()
    assert [a.code for a in topo.assumptions] == ["ASSUME_PEERING_REMOTE_ADDRESS_SPACE"]


def test_use_remote_gateways_without_a_gateway_loads_and_changes_nothing() -> None:
    # Gateway transit is modelled (gateways.py, tests/emulator/test_gateways.py): with no
    # gateway in the peer it adds no route, no assumption, and is not refused.
    net = _pair(ab={"useRemoteGateways": True}, ba={"allowGatewayTransit": True})
    assert net.topology().assumptions == []
    assert check(net, "x", "y")["connectionStatus"] == "Reachable"


def test_two_peerings_using_remote_gateways_are_refused() -> None:
    net = _pair(ab={"useRemoteGateways": True})
    net.vnet("c", "10.3.0.0/16")
    net.peer("a", "c", ab={"useRemoteGateways": True})
    with pytest.raises(TopologyError, match="only one peering") as err:
        net.topology()
    assert "a-to-c" in str(err.value)


def test_peering_to_a_vnet_outside_the_topology_is_kept_and_undetermined() -> None:
    # A snapshot of one subscription peered with a hub in another: the peering says what it
    # peered (remoteAddressSpace); the twin routes it and cannot say what happens there.
    net = Net()
    net.vnet("a", "10.1.0.0/16")
    net.subnet("a", "s", "10.1.1.0/24")
    net.vm("x", "a", "s", "10.1.1.4")
    far = "/subscriptions/22222222-0000-0000-0000-000000000000/resourceGroups/hub/providers/" \
          "Microsoft.Network/virtualNetworks/hub"
    net.resources[0]["properties"]["virtualNetworkPeerings"].append({"name": "to-hub", "properties": {
        "remoteVirtualNetwork": {"id": far}, "peeringState": "Connected",
        "remoteAddressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}})
    topo = net.topology()
    assert [(a.code, a.field) for a in topo.assumptions] == [
        ("EXTERNAL_VNET", "remoteVirtualNetwork.id")]
    result = check(topo, "x", "10.0.0.4")
    assert result["connectionStatus"] == "Unreachable"
    assert assumed(result) == [("EXTERNAL_VNET", True)] and outcome(result) == "undetermined"
    # The peered space is in x's VirtualNetwork tag, as a peer's space is.
    cfg = topo.nics[net.resources[1]["id"].lower()].primary
    assert ipaddress.IPv4Address("10.0.0.4") in virtual_network_tag(topo, cfg)


def test_dangling_peering_without_the_peered_space_is_refused() -> None:
    net = _pair()
    net.resources[0]["properties"]["virtualNetworkPeerings"][0]["properties"][
        "remoteVirtualNetwork"] = {"id": "/subscriptions/x/virtualNetworks/gone"}
    with pytest.raises(TopologyError, match="virtualNetworks/gone"):
        net.topology()
