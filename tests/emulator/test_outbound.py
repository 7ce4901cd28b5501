"""Outbound to the Internet (twin-semantics §11): NAT gateway, instance public IP, load balancer
outbound rules, default outbound access, and private subnets (defaultOutboundAccess: false)."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator.topology import TopologyError

from .factory import SUB, Net, assumed, check, route, rule, summary

RG = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network"


def _net(subnet_props: dict[str, Any] | None = None, *, public_ip: str | None = None) -> Net:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    net.vm("a", "v", "a", "10.0.1.4", public_ip=public_ip)
    net.resources[0]["properties"]["subnets"][0]["properties"].update(subnet_props or {})
    return net


def _nat(net: Net, address: str = "20.9.9.9") -> None:
    net.resources.append({"id": f"{RG}/publicIPAddresses/ngw-pip", "name": "ngw-pip",
                          "type": "Microsoft.Network/publicIPAddresses", "location": "westus",
                          "sku": {"name": "Standard"}, "properties": {"ipAddress": address}})
    net.resources.append({"id": f"{RG}/natGateways/ngw", "name": "ngw",
                          "type": "Microsoft.Network/natGateways", "location": "westus",
                          "sku": {"name": "Standard"}, "properties": {
                              "publicIpAddresses": [{"id": f"{RG}/publicIPAddresses/ngw-pip"}]}})


def test_default_outbound_access_reaches_the_internet() -> None:
    assert check(_net(), "a", "13.107.21.200", 443)["connectionStatus"] == "Reachable"


def test_private_subnet_without_an_outbound_method_cannot_reach_the_internet() -> None:
    result = check(_net({"defaultOutboundAccess": False}), "a", "13.107.21.200", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert summary(result) == [("Source", "10.0.1.4", []),
                               ("Destination", "13.107.21.200", [])]
    assert assumed(result) == [("ASSUME_NO_OUTBOUND_UNREACHABLE", False)]


def test_private_subnet_still_reaches_private_addresses() -> None:
    net = _net({"defaultOutboundAccess": False})
    net.subnet("v", "b", "10.0.2.0/24")
    net.vm("b", "v", "b", "10.0.2.4")
    assert check(net, "a", "b", 22)["connectionStatus"] == "Reachable"


def test_nat_gateway_gives_a_private_subnet_the_internet() -> None:
    net = _net({"defaultOutboundAccess": False,
                "natGateway": {"id": f"{RG}/natGateways/ngw"}})
    _nat(net)
    result = check(net, "a", "13.107.21.200", 443)
    assert result["connectionStatus"] == "Reachable"
    assert "nwlab" not in result


def test_instance_public_ip_gives_a_private_subnet_the_internet() -> None:
    net = _net({"defaultOutboundAccess": False}, public_ip="20.1.1.1")
    assert check(net, "a", "13.107.21.200", 443)["connectionStatus"] == "Reachable"


def test_nat_gateway_address_is_the_source_a_public_ip_destination_sees() -> None:
    # Precedence: the NAT gateway beats the instance public IP, so a rule admitting only the
    # NAT gateway's address lets the check in.
    net = _net({"natGateway": {"id": f"{RG}/natGateways/ngw"}}, public_ip="20.1.1.1")
    _nat(net, "20.9.9.9")
    net.vnet("w", "10.1.0.0/16")
    net.subnet("w", "s", "10.1.1.0/24", nsg="nw")
    net.nsg("nw", rule("from-ngw", 100, "Inbound", "Allow", src="20.9.9.9", dport="443",
                       protocol="Tcp"))
    net.vm("b", "w", "s", "10.1.1.4", public_ip="20.2.2.2")
    assert check(net, "a", "20.2.2.2", 443)["connectionStatus"] == "Reachable"


def _public_lb(net: Net, *, outbound_rule: bool, disable_snat: bool = True) -> None:
    lb = f"{RG}/loadBalancers/plb"
    net.resources.append({"id": f"{RG}/publicIPAddresses/plb-pip", "name": "plb-pip",
                          "type": "Microsoft.Network/publicIPAddresses", "location": "westus",
                          "sku": {"name": "Standard"}, "properties": {"ipAddress": "20.7.7.7"}})
    fe = {"id": f"{lb}/frontendIPConfigurations/fe"}
    pool = {"id": f"{lb}/backendAddressPools/be"}
    net.resources.append({"id": lb, "name": "plb", "type": "Microsoft.Network/loadBalancers",
                          "location": "westus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {
            "publicIPAddress": {"id": f"{RG}/publicIPAddresses/plb-pip"}}}],
        "backendAddressPools": [{"name": "be", "properties": {}}],
        "loadBalancingRules": [{"name": "web", "properties": {
            "frontendIPConfiguration": fe, "backendAddressPool": pool, "protocol": "Tcp",
            "frontendPort": 80, "backendPort": 80, "disableOutboundSnat": disable_snat}}],
        "outboundRules": [{"name": "out", "properties": {
            "frontendIPConfigurations": [fe], "backendAddressPool": pool,
            "protocol": "All"}}] if outbound_rule else []}})
    for res in net.resources:
        if res["name"] == "a-nic":
            res["properties"]["ipConfigurations"][0]["properties"][
                "loadBalancerBackendAddressPools"] = [pool]


def test_load_balancer_outbound_rule_gives_a_private_subnet_the_internet() -> None:
    net = _net({"defaultOutboundAccess": False})
    _public_lb(net, outbound_rule=True)
    result = check(net, "a", "13.107.21.200", 443)
    assert result["connectionStatus"] == "Reachable"
    assert "nwlab" not in result


def test_public_lb_rule_with_outbound_snat_is_an_assumed_outbound_path() -> None:
    net = _net({"defaultOutboundAccess": False})
    _public_lb(net, outbound_rule=False, disable_snat=False)
    result = check(net, "a", "13.107.21.200", 443)
    assert result["connectionStatus"] == "Reachable"
    assert assumed(result) == [("ASSUME_LB_RULE_OUTBOUND_SNAT", True)]


def test_public_lb_rule_without_snat_gives_no_outbound() -> None:
    net = _net({"defaultOutboundAccess": False})
    _public_lb(net, outbound_rule=False, disable_snat=True)
    assert check(net, "a", "13.107.21.200", 443)["connectionStatus"] == "Unreachable"


def test_default_route_to_an_appliance_is_decided_before_the_outbound_method() -> None:
    # A private subnet whose 0/0 goes to an appliance egresses through the appliance's
    # subnet; that subnet's outbound method is what counts.
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.rt("rt", route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.9.4"))
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.subnet("v", "nva", "10.0.9.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("nva", "v", "nva", "10.0.9.4", forwarding=True)
    net.resources[0]["properties"]["subnets"][0]["properties"]["defaultOutboundAccess"] = False
    assert check(net, "a", "13.107.21.200", 443)["connectionStatus"] == "Reachable"
    net.resources[0]["properties"]["subnets"][1]["properties"]["defaultOutboundAccess"] = False
    assert check(net, "a", "13.107.21.200", 443)["connectionStatus"] == "Unreachable"


def test_dangling_nat_gateway_is_refused_naming_the_subnet() -> None:
    net = _net({"natGateway": {"id": f"{RG}/natGateways/missing"}})
    with pytest.raises(TopologyError, match=r"subnets/a.*natGateway"):
        net.topology()
