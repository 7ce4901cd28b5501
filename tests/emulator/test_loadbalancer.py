"""Load balancers (twin-semantics §10): a flow to a frontend takes a healthy backend by its rule;
health comes from probes that 168.63.129.16 sends and the backends' NSGs must allow; an
internal frontend can be a route's next hop (an HA appliance pair)."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator.topology import TopologyError

from .factory import SUB, Net, assumed, check, outcome, route, rule, summary

LB = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/ilb"
FRONTEND_IP = "10.0.2.100"


def _lb(*, rules: list[dict[str, Any]] | None = None, probe_port: int = 80,
        nat: list[dict[str, Any]] | None = None, sku: str = "Standard",
        public: bool = False) -> dict[str, Any]:
    fe = {"id": f"{LB}/frontendIPConfigurations/fe"}
    pool = {"id": f"{LB}/backendAddressPools/web"}
    if rules is None:
        rules = [{"name": "http", "properties": {
            "frontendIPConfiguration": fe, "backendAddressPool": pool, "protocol": "Tcp",
            "frontendPort": 80, "backendPort": 8080, "probe": {"id": f"{LB}/probes/p"}}}]
    fe_props: dict[str, Any] = {"publicIPAddress": {"id": PIP}} if public else {
        "privateIPAddress": FRONTEND_IP, "privateIPAllocationMethod": "Static",
        "subnet": {"id": f"{_VNET}/subnets/web"}}
    return {"id": LB, "name": "ilb", "type": "Microsoft.Network/loadBalancers",
            "location": "westus", "sku": {"name": sku}, "properties": {
                "frontendIPConfigurations": [{"name": "fe", "properties": fe_props}],
                "backendAddressPools": [{"name": "web", "properties": {}}],
                "probes": [{"name": "p", "properties": {"protocol": "Tcp",
                                                        "port": probe_port}}],
                "loadBalancingRules": rules, "inboundNatRules": nat or []}}


_VNET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
PIP = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/fe-pip"
PUBLIC_FRONTEND = "20.0.0.10"
CLIENT_PUBLIC = "52.0.0.9"


def _web(web_rules: tuple[dict[str, Any], ...] = (), *, web_nsg: bool = True,
         client_public: bool = True, **lb: Any) -> Net:
    """client a (10.0.1.4); web1/web2 (10.0.2.4/.5) behind the ILB frontend 10.0.2.100, or with
    ``public=True`` behind the public frontend 20.0.0.10 (a then has the public IP 52.0.0.9,
    its Internet egress address, unless ``client_public`` is False)."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    net.subnet("v", "web", "10.0.2.0/24", nsg="web-nsg" if web_nsg else None)
    net.nsg("web-nsg", *web_rules)
    public = lb.get("public", False)
    net.vm("a", "v", "a", "10.0.1.4",
           public_ip=CLIENT_PUBLIC if public and client_public else None)
    if public:
        net.resources.append({"id": PIP, "name": "fe-pip", "location": "westus",
                              "type": "Microsoft.Network/publicIPAddresses",
                              "sku": {"name": "Standard"},
                              "properties": {"ipAddress": PUBLIC_FRONTEND,
                                             "publicIPAllocationMethod": "Static"}})
    net.vm("web1", "v", "web", "10.0.2.4")
    net.vm("web2", "v", "web", "10.0.2.5")
    for res in net.resources:
        if res["name"] in ("web1-nic", "web2-nic"):
            res["properties"]["ipConfigurations"][0]["properties"][
                "loadBalancerBackendAddressPools"] = [{"id": f"{LB}/backendAddressPools/web"}]
    net.resources.append(_lb(**lb))
    net.emulation["listeners"] = {net.vm_id("web1"): [8080, 80], net.vm_id("web2"): [8080, 80]}
    return net


def test_frontend_delivers_to_a_healthy_backend_on_the_backend_port() -> None:
    result = check(_web(), "a", FRONTEND_IP, 80)
    assert result["connectionStatus"] == "Reachable"
    assert [h[:2] for h in summary(result)] == [("Source", "10.0.1.4"),
                                                ("VnetLocal", "10.0.2.4")]
    # Two healthy backends: which one takes the flow is the twin's choice, said on the result.
    assert ("ASSUME_LB_BACKEND_FIRST_HEALTHY", False) in assumed(result)


def test_backend_choice_is_verdict_sensitive_when_backends_differ() -> None:
    # web1's NIC denies 8080, web2's does not: which backend the hash picks decides.
    net = _web()
    net.nsg("web1-only", rule("no-8080", 100, "Inbound", "Deny", dport="8080",
                              protocol="Tcp"))
    for res in net.resources:
        if res["name"] == "web1-nic":
            res["properties"]["networkSecurityGroup"] = {"id": net.rid(
                "Microsoft.Network", "networkSecurityGroups", "web1-only")}
    result = check(net, "a", FRONTEND_IP, 80)
    assert ("ASSUME_LB_BACKEND_FIRST_HEALTHY", True) in assumed(result)
    assert result["nwlab"]["outcome"] == "undetermined"


def test_backend_port_listener_decides_not_the_frontend_port() -> None:
    net = _web()
    net.emulation["listeners"] = {net.vm_id("web1"): [80], net.vm_id("web2"): [80]}
    result = check(net, "a", FRONTEND_IP, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert summary(result)[-1][2] == ["NoListenerOnDestination:Inbound:"]


def test_probe_blocked_by_the_backend_nsg_takes_the_member_out() -> None:
    deny_probe = rule("deny-lb", 100, "Inbound", "Deny", src="AzureLoadBalancer")
    result = check(_web((deny_probe,)), "a", FRONTEND_IP, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert result["hops"][-1]["type"] == "Destination"
    notes = result["nwlab"]["assumptions"]
    down = next(n for n in notes if n["code"] == "ASSUME_LB_HEALTH_FROM_PROBE")
    # NSGs must admit AzureLoadBalancer (doc): a denied probe is documented, not a guess.
    assert "UserRule_deny-lb" in down["assumed"] and not down["verdictSensitive"]


def test_probe_allowed_but_not_listening_is_down_for_that_member_only() -> None:
    net = _web()
    net.emulation["listeners"] = {net.vm_id("web1"): [8080], net.vm_id("web2"): [8080, 80]}
    result = check(net, "a", FRONTEND_IP, 80)
    assert result["connectionStatus"] == "Reachable"
    assert result["hops"][-1]["address"] == "10.0.2.5"
    assert ("ASSUME_LB_BACKEND_FIRST_HEALTHY", False) not in assumed(result)


def test_backend_inbound_nsg_sees_the_backend_address_and_port() -> None:
    deny = rule("no-8080", 100, "Inbound", "Deny", dst="10.0.2.0/24", dport="8080",
                protocol="Tcp")
    result = check(_web((deny,)), "a", FRONTEND_IP, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert summary(result)[-1] == ("VnetLocal", "10.0.2.4",
                                   ["NetworkSecurityRule:Inbound:UserRule_no-8080"])


def test_no_rule_for_the_port_drops_at_the_frontend() -> None:
    result = check(_web(), "a", FRONTEND_IP, 443)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_LB_NO_RULE_DROPS", False) in assumed(result)


def test_icmp_is_never_load_balanced() -> None:
    result = check(_web(), "a", FRONTEND_IP, 0, protocol="Icmp")
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_LB_NO_RULE_DROPS", False) in assumed(result)


def _ha_rule() -> list[dict[str, Any]]:
    return [{"name": "ha", "properties": {
        "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/fe"},
        "backendAddressPool": {"id": f"{LB}/backendAddressPools/web"}, "protocol": "All",
        "frontendPort": 0, "backendPort": 0, "probe": {"id": f"{LB}/probes/p"}}}]


def test_ha_ports_rule_carries_every_tcp_port_unchanged() -> None:
    net = _web(rules=_ha_rule())
    net.emulation["listeners"] = {net.vm_id("web1"): [80, 5432], net.vm_id("web2"): [80]}
    assert check(net, "a", FRONTEND_IP, 5432)["connectionStatus"] == "Reachable"


def _ssh_to_web2(web_rules: tuple[dict[str, Any], ...] = (), **lb: Any) -> Net:
    """_web with the inbound NAT rule ssh-web2: frontend port 50022 to web2's port 22."""
    nat = [{"name": "ssh-web2", "properties": {
        "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/fe"},
        "protocol": "Tcp", "frontendPort": 50022, "backendPort": 22}}]
    net = _web(web_rules, nat=nat, **lb)
    for res in net.resources:
        if res["name"] == "web2-nic":
            res["properties"]["ipConfigurations"][0]["properties"][
                "loadBalancerInboundNatRules"] = [{"id": f"{LB}/inboundNatRules/ssh-web2"}]
    net.emulation["listeners"] = {net.vm_id("web1"): [80], net.vm_id("web2"): [22, 80]}
    return net


def test_inbound_nat_rule_reaches_its_one_backend() -> None:
    result = check(_ssh_to_web2(), "a", FRONTEND_IP, 50022)
    assert result["connectionStatus"] == "Reachable"
    assert result["hops"][-1]["address"] == "10.0.2.5"


def test_internal_frontend_as_a_route_next_hop_goes_through_a_forwarding_backend() -> None:
    # The HA NVA pair: spoke b routes 10.0.1.0/24 to the ILB; the NVAs forward.
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.rt("to-nva", route("a", "10.0.1.0/24", "VirtualAppliance", FRONTEND_IP))
    net.subnet("v", "a", "10.0.1.0/24")
    net.subnet("v", "web", "10.0.2.0/24")
    net.subnet("v", "b", "10.0.3.0/24", rt="to-nva")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.3.4")
    net.vm("web1", "v", "web", "10.0.2.4", forwarding=True)
    for res in net.resources:
        if res["name"] == "web1-nic":
            res["properties"]["ipConfigurations"][0]["properties"][
                "loadBalancerBackendAddressPools"] = [{"id": f"{LB}/backendAddressPools/web"}]
    net.resources.append(_lb(rules=_ha_rule()))
    result = check(net, "b", "a", 443)
    assert result["connectionStatus"] == "Reachable"
    assert [h[:2] for h in summary(result)] == [("Source", "10.0.3.4"),
                                                ("VirtualAppliance", "10.0.2.4"),
                                                ("VnetLocal", "10.0.1.4")]
    assert ("ASSUME_ILB_NEXT_HOP_KEEPS_DESTINATION", False) in assumed(result)


def test_backend_cannot_reach_its_own_internal_frontend() -> None:
    net = _web()
    result = check(net, "web1", FRONTEND_IP, 80)
    # web2 still answers: only the sender itself is excluded.
    assert result["hops"][-1]["address"] == "10.0.2.5"


def test_dangling_pool_reference_is_refused_naming_the_nic() -> None:
    net = _web()
    for res in net.resources:
        if res["name"] == "web1-nic":
            res["properties"]["ipConfigurations"][0]["properties"][
                "loadBalancerBackendAddressPools"] = [{"id": f"{LB}/backendAddressPools/nope"}]
    with pytest.raises(TopologyError, match=r"web1-nic.*loadBalancerBackendAddressPools"):
        net.topology()


def test_rule_naming_another_lbs_frontend_is_refused() -> None:
    bad = _ha_rule()
    bad[0]["properties"]["frontendIPConfiguration"] = {"id": "/x/frontendIPConfigurations/fe"}
    with pytest.raises(TopologyError, match="frontendIPConfiguration"):
        _web(rules=bad).topology()


# A public frontend as a check's destination: out by the client's outbound path, in from the
# Internet through the rule to a healthy backend whose NSGs see the client's egress address.

ALLOW_INTERNET = rule("web-from-internet", 200, "Inbound", "Allow", src="Internet",
                      dport="8080", protocol="Tcp")


def test_public_frontend_takes_the_flow_from_the_internet_to_a_healthy_backend() -> None:
    result = check(_web((ALLOW_INTERNET,), public=True), "a", PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Reachable"
    assert [h[:2] for h in summary(result)] == [
        ("Source", "10.0.1.4"), ("Internet", PUBLIC_FRONTEND), ("VnetLocal", "10.0.2.4")]
    assert ("ASSUME_PUBLIC_FRONTEND_PATH", False) in assumed(result)
    assert ("ASSUME_LB_BACKEND_FIRST_HEALTHY", False) in assumed(result)
    assert outcome(result) == "reached"


def test_public_frontend_backend_nsg_sees_the_clients_egress_address() -> None:
    # AllowVnetInBound does not admit it: the source is the client's public IP (Internet).
    result = check(_web(public=True), "a", PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert summary(result)[-1] == ("VnetLocal", "10.0.2.4",
                                   ["NetworkSecurityRule:Inbound:DefaultRule_DenyAllInBound"])
    only_client = rule("client", 100, "Inbound", "Allow", src=f"{CLIENT_PUBLIC}/32",
                       dport="8080", protocol="Tcp")
    assert check(_web((only_client,), public=True), "a", PUBLIC_FRONTEND,
                 80)["connectionStatus"] == "Reachable"


def test_public_frontend_from_an_unknown_egress_address_is_undetermined() -> None:
    only_client = rule("client", 100, "Inbound", "Allow", src=f"{CLIENT_PUBLIC}/32",
                       dport="8080", protocol="Tcp")
    result = check(_web((only_client,), public=True, client_public=False), "a",
                   PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_EGRESS_ADDRESS_UNKNOWN", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_public_frontend_probe_blocked_takes_every_member_out() -> None:
    deny_probe = rule("deny-lb", 100, "Inbound", "Deny", src="AzureLoadBalancer")
    result = check(_web((deny_probe, ALLOW_INTERNET), public=True), "a", PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert result["hops"][-1]["type"] == "Destination"
    assert ("ASSUME_LB_HEALTH_FROM_PROBE", False) in assumed(result)


def test_public_frontend_needs_an_outbound_path_from_the_client() -> None:
    net = _web((ALLOW_INTERNET,), public=True, client_public=False)
    for res in net.resources:
        if res["name"] == "v":
            res["properties"]["subnets"][0]["properties"]["defaultOutboundAccess"] = False
    result = check(net, "a", PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert [h["type"] for h in result["hops"]] == ["Source", "Destination"]
    assert ("ASSUME_NO_OUTBOUND_UNREACHABLE", False) in assumed(result)


def test_public_frontend_reply_breaks_when_the_backend_defaults_to_an_appliance() -> None:
    # doc virtual-networks-udr-overview, "0.0.0.0/0": a subnet whose 0/0 goes to an appliance
    # is no longer reachable directly from the Internet (the reply takes the appliance).
    net = _web((ALLOW_INTERNET,), public=True)
    net.rt("via-nva", route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.1.4"))
    for res in net.resources:
        if res["name"] == "v":
            res["properties"]["subnets"][1]["properties"]["routeTable"] = {
                "id": net.rid("Microsoft.Network", "routeTables", "via-nva")}
    result = check(net, "a", PUBLIC_FRONTEND, 80)
    assert not result["hops"][-1]["issues"]
    assert result["connectionStatus"] == "Unreachable"


def test_public_frontend_inbound_nat_rule_reaches_its_one_backend() -> None:
    ssh = rule("ssh", 110, "Inbound", "Allow", src="Internet", dport="22", protocol="Tcp")
    result = check(_ssh_to_web2((ssh,), public=True), "a", PUBLIC_FRONTEND, 50022)
    assert result["connectionStatus"] == "Reachable"
    assert result["hops"][-1]["address"] == "10.0.2.5"


def test_standard_public_frontend_without_an_nsg_is_closed() -> None:
    result = check(_web(public=True, web_nsg=False), "a", PUBLIC_FRONTEND, 80)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_PUBLIC_IP_CLOSED", True) in assumed(result)
    # A Basic load balancer's frontend is open.
    basic = check(_web(public=True, web_nsg=False, sku="Basic"), "a", PUBLIC_FRONTEND, 80)
    assert basic["connectionStatus"] == "Reachable"
