"""System routes as Azure adds and removes them, and a VM's public IP as a destination
(twin-semantics §5; doc virtual-network/virtual-networks-udr-overview, "Default")."""

from __future__ import annotations

import pytest

from .factory import Net, assumed, check, route, rule, summary


@pytest.mark.parametrize(("space", "inside"), [
    ("10.0.0.0/7", "10.200.0.4"),  # strictly contains 10.0.0.0/8
    ("172.0.0.0/11", "172.20.0.4"),  # contains 172.16.0.0/12
    ("192.168.0.0/15", "192.168.9.4"),  # contains 192.168.0.0/16
    ("100.0.0.0/9", "100.70.0.4"),  # contains 100.64.0.0/10
    ("10.0.0.0/8", "10.200.0.4"),  # equal: the route becomes VnetLocal
])
def test_none_route_removed_when_the_vnet_space_equals_or_contains_it(space: str,
                                                                     inside: str) -> None:
    net = Net()
    net.vnet("v", space)
    first = space.split("/")[0]
    base = first.rsplit(".", 2)[0]
    net.subnet("v", "a", f"{base}.1.0/24")
    net.subnet("v", "b", inside.rsplit(".", 1)[0] + ".0/24")
    net.vm("a", "v", "a", f"{base}.1.4")
    net.vm("b", "v", "b", inside)
    assert check(net, "a", "b")["connectionStatus"] == "Reachable"


def test_none_route_kept_when_the_vnet_space_is_inside_it() -> None:
    net = Net()
    net.vnet("v", "10.1.0.0/16")
    net.subnet("v", "a", "10.1.1.0/24")
    net.vm("a", "v", "a", "10.1.1.4")
    result = check(net, "a", "10.9.0.4")
    assert summary(result)[0][2] == ["UserDefinedRoute:Outbound:Default"]


def _public(*, nsg_rules: tuple[dict, ...] | None = (), sku: str = "Standard",
            source_pip: str | None = None, rt: tuple[dict, ...] = ()) -> Net:
    """a (10.0.1.4) in one VNet; b (10.1.1.4, public IP 20.1.2.3) in another, unpeered."""
    net = Net()
    net.vnet("va", "10.0.0.0/16")
    net.vnet("vb", "10.1.0.0/16")
    net.subnet("va", "s", "10.0.1.0/24")
    if rt:
        net.rt("rtb", *rt)
    net.subnet("vb", "s", "10.1.1.0/24", nsg="nb" if nsg_rules is not None else None,
               rt="rtb" if rt else None)
    if nsg_rules is not None:
        net.nsg("nb", *nsg_rules)
    net.vm("a", "va", "s", "10.0.1.4", public_ip=source_pip)
    net.vm("b", "vb", "s", "10.1.1.4", public_ip="20.1.2.3", pip_sku=sku)
    return net


ALLOW_80 = rule("web", 100, "Inbound", "Allow", src="Internet", dport="80", protocol="Tcp")


def test_public_ip_reaches_the_vm_through_its_inbound_nsg() -> None:
    result = check(_public(nsg_rules=(ALLOW_80,)), "a", "20.1.2.3", 80)
    assert result["connectionStatus"] == "Reachable"
    assert [(h[0], h[1]) for h in summary(result)] == [
        ("Source", "10.0.1.4"), ("Internet", "20.1.2.3"), ("VnetLocal", "10.1.1.4")]


def test_public_ip_source_is_internet_not_virtual_network() -> None:
    # Before this issue the twin answered as if an Internet host listened on every port.
    result = check(_public(), "a", "20.1.2.3", 80)
    assert result["connectionStatus"] == "Unreachable"
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:DefaultRule_DenyAllInBound"]


def test_public_ip_port_not_allowed_is_denied() -> None:
    result = check(_public(nsg_rules=(ALLOW_80,)), "a", "20.1.2.3", 22)
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:DefaultRule_DenyAllInBound"]


def test_standard_public_ip_without_nsg_is_closed_basic_is_open() -> None:
    closed = check(_public(nsg_rules=None), "a", "20.1.2.3", 80)
    assert closed["connectionStatus"] == "Unreachable"
    assert ("ASSUME_PUBLIC_IP_CLOSED", True) in assumed(closed)
    opened = check(_public(nsg_rules=None, sku="Basic"), "a", "20.1.2.3", 80)
    assert opened["connectionStatus"] == "Reachable"


def test_rule_naming_the_senders_public_ip_matches_when_it_is_known() -> None:
    only_a = (rule("from-a", 100, "Inbound", "Allow", src="52.0.0.9/32", dport="80"),)
    assert check(_public(nsg_rules=only_a, source_pip="52.0.0.9"), "a", "20.1.2.3",
                 80)["connectionStatus"] == "Reachable"
    unknown = check(_public(nsg_rules=only_a), "a", "20.1.2.3", 80)
    assert unknown["connectionStatus"] == "Unreachable"
    assert ("ASSUME_EGRESS_ADDRESS_UNKNOWN", True) in assumed(unknown)


def test_public_ip_reply_follows_a_default_route_to_an_appliance_and_breaks() -> None:
    # doc "0.0.0.0/0": resources in a subnet whose 0/0 goes to an appliance are no longer
    # reachable directly from the Internet (the reply takes the appliance path).
    net = _public(nsg_rules=(ALLOW_80,),
                  rt=(route("all-to-nva", "0.0.0.0/0", "VirtualAppliance", "10.1.1.9"),))
    assert check(net, "a", "20.1.2.3", 80)["connectionStatus"] == "Unreachable"


def test_public_ip_destination_listeners_apply() -> None:
    net = _public(nsg_rules=(ALLOW_80,))
    net.emulation["listeners"] = {net.vm_id("b"): [443]}
    result = check(net, "a", "20.1.2.3", 80)
    assert summary(result)[-1][2] == ["NoListenerOnDestination:Inbound:"]
