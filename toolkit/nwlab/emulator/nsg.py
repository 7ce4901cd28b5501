"""Security filtering: Virtual Network Manager admin rules, then NSGs (Azure's order).

Order (Azure's NSG article): outbound traffic meets the NIC's NSG then the subnet's; inbound
traffic meets the subnet's NSG then the NIC's; both must allow, a missing NSG allows. Security
admin rules of the NIC's VNet come first in each direction (doc virtual-network-manager/
concept-security-admins): Deny drops, AlwaysAllow accepts without the NSGs, Allow hands over
to the NSGs. NSGs (and, assumed, admin rules) are stateful, so callers evaluate only the
direction a flow is opened in and never the reply.

Rules are compiled once per NSG and direction (address sides merged into prefix sets, service
tags resolved for the NSG's region, ASG ids ready) and cached on the topology.

Dual stack (twin-semantics §13.2 rule 2): a rule's IPv6 prefixes match IPv6 packets, default
rules apply to both families, VirtualNetwork gains the IPv6 spaces of the VNet and its open
peers (and IPv6 user-route prefixes), and Internet is global address space of either family.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from . import gateways
from .assumptions import Assumption
from .peering import peering_open
from .prefixset import PrefixSet
from .routing import user_route_prefixes, user_route_prefixes6
from .topology import (
    IpConfig,
    Nic,
    PortRange,
    Prefix,
    SecurityRule,
    ServiceTag,
    Topology,
    key,
)

AZURE_LOAD_BALANCER = ipaddress.IPv4Address("168.63.129.16")
# The source of IPv6 health probes: not in the probe article (which names 168.63.129.16 only),
# observed in packet captures of IPv6 probes (cilium/cilium#25242); AzureLoadBalancer holds it.
AZURE_LOAD_BALANCER6 = ipaddress.IPv6Address("fe80::1234:5678:9abc")
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
    source: ipaddress.IPv4Address | ipaddress.IPv6Address
    source_port: int | None
    destination: ipaddress.IPv4Address | ipaddress.IPv6Address
    destination_port: int | None
    via_appliance: bool = False  # relayed by an appliance on the way (ASG match by IP)
    # The source is an Internet address the twin does not know (a VM's public egress address
    # without an instance public IP): it is in Internet and matches no CIDR, tag or ASG.
    source_unknown_public: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: SecurityRule | None  # None when no NSG or admin rule applies
    nsg_id: str | None  # the NSG, or the admin rules' pseudo-resource, that decided
    assumptions: tuple[Assumption, ...] = ()


@dataclass(frozen=True)
class Side:
    """One address side of a rule, compiled: what kinds of address it names."""

    any: bool
    vnet: bool
    internet: bool
    load_balancer: bool
    # The side's CIDRs merged into one set, and each resolved service tag's own set (shared
    # with every rule naming the tag: compiling never merges thousands of tag prefixes).
    prefix_sets: tuple[PrefixSet, ...]
    asgs: tuple[str, ...]  # lower-cased ASG ids
    unresolved: bool  # names a service tag without prefixes: cannot say it does not match


@dataclass(frozen=True)
class Compiled:
    rule: SecurityRule
    source: Side
    destination: Side
    notes: tuple[Assumption, ...]  # recorded at load about this rule
    protocol: str | None  # None: any protocol
    source_ports: tuple[tuple[int, int], ...] | None  # None: any port
    destination_ports: tuple[tuple[int, int], ...] | None


@dataclass(frozen=True)
class Context:
    """Where a rule is evaluated: the NIC configuration and what its tags mean there."""

    cfg: IpConfig
    vnet_key: str
    vnet_tag: PrefixSet


def virtual_network_tag(topo: Topology, cfg: IpConfig) -> PrefixSet:
    """What the VirtualNetwork tag means for this NIC: its VNet, peered VNets it may reach
    (a peering with allowVirtualNetworkAccess off leaves the tag, doc virtual-network-manage-
    peering), the on-premises spaces its gateway routes reach, and the CIDR prefixes of the user
    routes on its subnet (a 0.0.0.0/0 user route widens it to everything, as Azure does; tag
    routes assumed not to join)."""
    subnet = topo.subnet_of(cfg)
    cache_key = ("vnet-tag", key(subnet.id))
    cached = topo.cache.get(cache_key)
    if cached is not None:
        return cached
    vnet = topo.vnets[key(subnet.vnet_id)]
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [*vnet.spaces, *vnet.spaces6]
    for link in vnet.peerings:
        if peering_open(topo, vnet.id, link.remote_vnet_id):
            # what was peered (the remote space when in sync), both families
            nets.extend((*link.routed_spaces, *link.routed_spaces6))
    nets.extend(user_route_prefixes(topo, subnet))
    nets.extend(user_route_prefixes6(topo, subnet))
    # "all connected on-premises address spaces" (doc virtual-network/service-tags-overview):
    # the prefixes the subnet's gateway routes carry, local network gateways and BGP alike.
    nets.extend(route.prefix for route in gateways.gateway_routes(topo, subnet)
                if isinstance(route.prefix, ipaddress.IPv4Network))
    result = PrefixSet(nets)
    topo.cache[cache_key] = result
    return result


def _compile_side(topo: Topology, prefixes: tuple[Prefix, ...], asgs: tuple[str, ...],
                  region: str) -> Side:
    cache_key = ("side", prefixes, asgs, region.lower())
    cached = topo.cache.get(cache_key)
    if cached is not None:
        return cached
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    sets: list[PrefixSet] = []
    unresolved = False
    flags = {"*": False, "VirtualNetwork": False, "Internet": False, "AzureLoadBalancer": False}
    for prefix in prefixes:
        if isinstance(prefix, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            nets.append(prefix)  # each family matches its own packets (PrefixSet)
        elif isinstance(prefix, ServiceTag):
            data, _ = topo.service_tags.lookup(prefix.name, region)
            if data is None:
                unresolved = True
            else:
                sets.append(data.prefixes)
        elif isinstance(prefix, str):
            flags[prefix] = True
    if nets:
        sets.insert(0, PrefixSet(nets))
    side = Side(flags["*"], flags["VirtualNetwork"], flags["Internet"],
                flags["AzureLoadBalancer"], tuple(s for s in sets if s),
                tuple(key(a) for a in asgs), unresolved)
    topo.cache[cache_key] = side
    return side


def _port_spans(ranges: tuple[PortRange, ...]) -> tuple[tuple[int, int], ...] | None:
    spans = tuple((r.low, r.high) for r in ranges)
    return None if any(low == 0 and high == 65535 for low, high in spans) else spans


def _compile(topo: Topology, rules: tuple[SecurityRule, ...], region: str) -> tuple[Compiled, ...]:
    return tuple(Compiled(r, _compile_side(topo, r.source_prefixes, r.source_asgs, region),
                          _compile_side(topo, r.destination_prefixes, r.destination_asgs, region),
                          tuple(topo.assumptions_at.get(key(r.id), ())) if r.id else (),
                          None if r.protocol == "*" else r.protocol,
                          _port_spans(r.source_ports), _port_spans(r.destination_ports))
                 for r in rules)


def compiled_nsg(topo: Topology, nsg_id: str, direction: str) -> tuple[Compiled, ...]:
    cache_key = ("nsg", key(nsg_id), direction)
    cached = topo.cache.get(cache_key)
    if cached is None:
        nsg = topo.nsgs[key(nsg_id)]
        rules = sorted((r for r in nsg.rules + DEFAULT_RULES if r.direction == direction),
                       key=lambda r: r.priority)
        cached = topo.cache[cache_key] = _compile(topo, tuple(rules), nsg.location)
    return cached


def compiled_admin(topo: Topology, vnet_key: str, direction: str) -> tuple[Compiled, ...]:
    cache_key = ("admin", vnet_key, direction)
    cached = topo.cache.get(cache_key)
    if cached is None:
        rules = topo.admin_rules.get(vnet_key, {}).get(direction, ())
        cached = topo.cache[cache_key] = _compile(topo, rules, topo.vnets[vnet_key].location)
    return cached


def _in_spans(spans: tuple[tuple[int, int], ...] | None, port: int | None) -> bool:
    if spans is None or port is None:
        return True
    return any(low <= port <= high for low, high in spans)


def _side_matches(topo: Topology, side: Side,
                  addr: ipaddress.IPv4Address | ipaddress.IPv6Address, local: bool,
                  unknown_public: bool, ctx: Context, packet: Packet,
                  notes: list[Assumption], rule: SecurityRule) -> bool | None:
    """True/False, or None when only an unresolved service tag could make it match."""
    if side.any:
        return True
    if unknown_public:  # an Internet address nobody named (see Packet)
        return side.internet
    if side.vnet and addr in ctx.vnet_tag:
        return True
    if side.internet and addr.is_global and addr not in ctx.vnet_tag:
        return True  # DESIGN.md: public address space outside what VirtualNetwork means here
    if side.load_balancer and addr in (AZURE_LOAD_BALANCER, AZURE_LOAD_BALANCER6):
        return True
    for prefixes in side.prefix_sets:
        if addr in prefixes:
            return True
    for asg in side.asgs:
        if local:
            if asg in ctx.cfg.asg_ids:  # membership is per ipConfiguration
                return True
            continue
        if addr not in topo.asg_members.get(asg, ()):
            continue
        if topo.asg_vnet.get(asg) != ctx.vnet_key:
            notes.append(Assumption(
                "ASSUME_ASG_OTHER_VNET_NO_MATCH", rule.id or topo.asgs[asg],
                f"{addr} is a member of {topo.asgs[asg]}, whose members are in another "
                "virtual network: the rule does not match here", alternatives=(
                    "the rule matches",), verdict_sensitive=True))
            continue
        if packet.via_appliance:
            notes.append(Assumption(
                "ASSUME_ASG_MATCH_BY_IP", rule.id or topo.asgs[asg],
                f"{addr} matched {topo.asgs[asg]} by IP after passing an appliance",
                alternatives=("ASG membership follows the NIC that sent the packet",)))
        return True
    return None if side.unresolved else False


def rule_matches(topo: Topology, item: Compiled, packet: Packet, ctx: Context, direction: str,
                 notes: list[Assumption]) -> bool | None:
    if item.protocol is not None and item.protocol != packet.protocol:
        return False
    # ICMP has no ports, so a rule's port ranges do not narrow it (Tcp/Udp rules never match).
    if packet.protocol != "Icmp" and not (
            _in_spans(item.destination_ports, packet.destination_port)
            and _in_spans(item.source_ports, packet.source_port)):
        return False
    outbound = direction == "Outbound"
    src = _side_matches(topo, item.source, packet.source, outbound,
                        packet.source_unknown_public, ctx, packet, notes, item.rule)
    if src is False:
        return False
    dst = _side_matches(topo, item.destination, packet.destination, not outbound, False, ctx,
                        packet, notes, item.rule)
    if dst is False:
        return False
    return True if src and dst else None


def first_match(topo: Topology, rules: tuple[Compiled, ...], direction: str, packet: Packet,
                ctx: Context, notes: list[Assumption]) -> SecurityRule | None:
    """The rule that decides, lowest priority number first; None when none matches (admin
    rules; an NSG always ends with DenyAll). A rule that depends on an unresolved service tag
    is taken as not matching; its assumption is verdict-sensitive when its access differs
    from the access of the rule that decides."""
    unsure: list[Compiled] = []
    for item in rules:
        matched = rule_matches(topo, item, packet, ctx, direction, notes)
        if matched is False:
            if item.notes:  # evaluated: its load-time notes (IPv6, region) concern this path
                notes.extend(n for n in item.notes if n.code != "UNRESOLVED_SERVICE_TAG")
            continue
        if matched is None:
            unsure.append(item)
            continue
        notes.extend(item.notes)
        for other in unsure:
            notes.extend(n.sensitive(other.rule.access != item.rule.access)
                         for n in other.notes if n.code == "UNRESOLVED_SERVICE_TAG")
        return item.rule
    for other in unsure:  # nothing decided (admin rules): an unresolved match would
        notes.extend(n.sensitive() for n in other.notes if n.code == "UNRESOLVED_SERVICE_TAG")
    return None


def context(topo: Topology, cfg: IpConfig) -> Context:
    return Context(cfg, key(topo.subnet_of(cfg).vnet_id), virtual_network_tag(topo, cfg))


def evaluate(topo: Topology, nic: Nic, cfg: IpConfig, direction: str, packet: Packet) -> Verdict:
    """Admin rules of the NIC's VNet, then the NIC's and its subnet's NSGs in Azure's order;
    the first Deny decides."""
    ctx = context(topo, cfg)
    notes: list[Assumption] = []
    admin = compiled_admin(topo, ctx.vnet_key, direction) if topo.admin_rules else ()
    if admin:
        rule = first_match(topo, admin, direction, packet, ctx, notes)
        if rule is not None:
            notes.append(Assumption(
                "ASSUME_ADMIN_RULES_STATEFUL", rule.id, f"admin rule {rule.name!r} decided "
                "the flow; its replies are assumed not filtered"))
            if rule.access != "Allow":
                if rule.access == "Deny":
                    notes.append(Assumption(
                        "ASSUME_ADMIN_RULE_ISSUE", rule.id, "the block is reported as "
                        f"NetworkSecurityRule with RuleName {rule.name!r} on this hop"))
                return Verdict(rule.access == "AlwaysAllow", rule,
                               topo.vnets[ctx.vnet_key].id + "/effectiveSecurityAdminRules",
                               tuple(notes))
    subnet_nsg = topo.subnet_of(cfg).nsg_id
    order = [nic.nsg_id, subnet_nsg] if direction == "Outbound" else [subnet_nsg, nic.nsg_id]
    last = Verdict(True, None, None, tuple(notes))
    for nsg_id in order:
        if nsg_id is None:
            continue
        decided = first_match(topo, compiled_nsg(topo, nsg_id, direction), direction, packet,
                              ctx, notes)
        assert decided is not None, "the DenyAll default rule matches every packet"
        last = Verdict(decided.access == "Allow", decided, nsg_id, tuple(notes))
        if not last.allowed:
            return last
    return last
