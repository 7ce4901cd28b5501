"""Network security group evaluation: Azure's default rules, service tags, first match wins.

Order (Azure's NSG article): outbound traffic meets the NIC's NSG then the subnet's; inbound
traffic meets the subnet's NSG then the NIC's; both must allow, a missing NSG allows. NSGs are
stateful, so callers evaluate only the direction a flow is opened in and never the reply.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .routing import user_route_prefixes
from .topology import IpConfig, Nic, Nsg, PortRange, Prefix, SecurityRule, Topology, key

AZURE_LOAD_BALANCER = ipaddress.IPv4Network("168.63.129.16/32")
ANY_PORT = (PortRange(0, 65535),)


def _default(name: str, priority: int, direction: str, access: str, src: Prefix,
             dst: Prefix) -> SecurityRule:
    return SecurityRule(name=name, priority=priority, direction=direction, access=access,
                        protocol="*", source_prefixes=(src,), source_ports=ANY_PORT,
                        destination_prefixes=(dst,), destination_ports=ANY_PORT, default=True)


# Azure's implied rules, with their real names and priorities.
DEFAULT_RULES: tuple[SecurityRule, ...] = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer",
             "*"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork",
             "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


@dataclass(frozen=True)
class Packet:
    """The first packet of a flow. A port of None is a wildcard ('*' in ipFlowVerify)."""

    protocol: str  # Tcp | Udp | Icmp
    source: ipaddress.IPv4Address
    source_port: int | None
    destination: ipaddress.IPv4Address
    destination_port: int | None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: SecurityRule | None  # None when no NSG applies
    nsg_id: str | None


def virtual_network_tag(topo: Topology, cfg: IpConfig) -> tuple[ipaddress.IPv4Network, ...]:
    """What the VirtualNetwork tag means for this NIC: its VNet, peered VNets, and the prefixes
    of the user routes on its subnet (a 0.0.0.0/0 user route widens it to everything, as Azure
    does)."""
    vnet = topo.vnet_of(cfg)
    nets = list(vnet.spaces)
    for peer in vnet.peered_vnet_ids:
        nets.extend(topo.vnets[key(peer)].spaces)
    nets.extend(user_route_prefixes(topo, topo.subnet_of(cfg)))
    return tuple(nets)


def _prefix_matches(prefix: Prefix, addr: ipaddress.IPv4Address,
                    vnet_tag: tuple[ipaddress.IPv4Network, ...]) -> bool:
    if prefix == "*":
        return True
    if prefix == "VirtualNetwork":
        return any(addr in net for net in vnet_tag)
    if prefix == "Internet":
        # DESIGN.md: public address space outside what VirtualNetwork means here.
        return addr.is_global and not any(addr in net for net in vnet_tag)
    if prefix == "AzureLoadBalancer":
        return addr in AZURE_LOAD_BALANCER
    assert isinstance(prefix, ipaddress.IPv4Network)
    return addr in prefix


def _ports_match(ranges: tuple[PortRange, ...], port: int | None) -> bool:
    return port is None or any(port in r for r in ranges)


def rule_matches(rule: SecurityRule, packet: Packet,
                 vnet_tag: tuple[ipaddress.IPv4Network, ...]) -> bool:
    if rule.protocol != "*" and rule.protocol != packet.protocol:
        return False
    # ICMP has no ports, so a rule's port ranges do not narrow it (Tcp/Udp rules never match).
    if packet.protocol != "Icmp" and not (
            _ports_match(rule.source_ports, packet.source_port)
            and _ports_match(rule.destination_ports, packet.destination_port)):
        return False
    return (any(_prefix_matches(p, packet.source, vnet_tag) for p in rule.source_prefixes)
            and any(_prefix_matches(p, packet.destination, vnet_tag)
                    for p in rule.destination_prefixes))


def first_match(nsg: Nsg, direction: str, packet: Packet,
                vnet_tag: tuple[ipaddress.IPv4Network, ...]) -> SecurityRule:
    """The rule that decides: lowest priority number first; the defaults always match last."""
    rules = sorted((r for r in nsg.rules + DEFAULT_RULES if r.direction == direction),
                   key=lambda r: r.priority)
    for rule in rules:
        if rule_matches(rule, packet, vnet_tag):
            return rule
    raise AssertionError("the DenyAll default rule matches every packet")


def evaluate(topo: Topology, nic: Nic, cfg: IpConfig, direction: str, packet: Packet) -> Verdict:
    """Apply the NIC's and its subnet's NSGs in Azure's order; the first Deny decides."""
    subnet_nsg = topo.subnet_of(cfg).nsg_id
    order = [nic.nsg_id, subnet_nsg] if direction == "Outbound" else [subnet_nsg, nic.nsg_id]
    vnet_tag = virtual_network_tag(topo, cfg)
    last = Verdict(True, None, None)
    for nsg_id in order:
        if nsg_id is None:
            continue
        rule = first_match(topo.nsgs[key(nsg_id)], direction, packet, vnet_tag)
        last = Verdict(rule.access == "Allow", rule, nsg_id)
        if not last.allowed:
            return last
    return last
