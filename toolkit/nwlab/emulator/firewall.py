"""Azure Firewall (twin-semantics §6; doc firewall/rule-processing, firewall/snat-private-range,
firewall/firewall-faq).

The firewall has no NIC in a snapshot. The twin puts a forwarding appliance at
``ipConfigurations[0].properties.privateIPAddress`` in AzureFirewallSubnet; a user route
``VirtualAppliance`` to that address reaches it, and its onward traffic follows
AzureFirewallSubnet's routes. Rules, from the classic collections on the firewall and from the
Firewall Policy's rule collection groups (a base policy's groups first, then by group priority,
then collection priority):
- network rules first: the first matching rule decides (Allow or Deny);
- then application rules, for HTTP/HTTPS/MSSQL ports: they match a target FQDN, so they decide
  only when the check names a host; for an IP destination the twin cannot tell
  (ASSUME_FIREWALL_L4_ONLY, verdict-sensitive);
- nothing matched: default deny.
DNAT rules (``natRuleCollections``, ``FirewallPolicyNatRuleCollection``) come before both and
apply to a flow addressed to one of the firewall's public IPs (``dnat``): the first rule whose
source, destination, protocol and port match translates the destination to its
``translatedAddress`` (or ``translatedFqdn``, resolved as the twin resolves names:
ASSUME_FIREWALL_DNAT_FQDN) and ``translatedPort``, and the translated flow is allowed without
network rule processing (doc firewall/rule-processing; an older FAQ lets an explicit network deny
override it: ASSUME_FIREWALL_DNAT_SKIPS_NETWORK_RULES); no rule: default deny. The translated flow
is SNATed to a firewall address in AzureFirewallSubnet (Azure Network Security Blog, "Azure
Firewall NAT Behaviors": both addresses are translated, the source port kept). NAT rule
collections of a base policy are not inherited (they are specific to one firewall's addresses).

SNAT (doc firewall/snat-private-range): a network-rule flow to an address outside the SNAT
private ranges (IANA RFC 1918 + 100.64/10 by default, ``Network.SNAT.PrivateRanges`` classic or
``snat.privateRanges`` policy) leaves with the firewall's address; application rules always
SNAT. Downstream NSGs then see the firewall's private IP (ASSUME_FIREWALL_SNAT_ADDRESS).

A denied flow: the hop is VirtualAppliance at the firewall's IP (ASSUME_FIREWALL_HOP) and it
carries no issue of a documented type (a firewall rule is not an NSG rule); the extension
field names the deciding rule (ASSUME_FIREWALL_DENY), with the alternative that the real
service may report Reachable because the firewall can complete a TCP handshake itself (doc
connection-troubleshoot-overview, "Fault types"); the twin reports what the rules do.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import outbound, private_endpoints
from .assumptions import Assumption
from .topology import (
    T_FIREWALL,
    T_RULE_COLLECTION_GROUP,
    IPAddress,
    IpConfig,
    Nic,
    Topology,
    TopologyError,
    key,
    parse_address,
    props_of,
    register_part,
)

DEFAULT_PRIVATE = tuple(ipaddress.IPv4Network(p) for p in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
APPLICATION_PORTS = frozenset({80, 443, 1433})  # HTTP, HTTPS, MSSQL (rule-processing)


@dataclass(frozen=True)
class FirewallRule:
    kind: str  # network | application | nat
    name: str  # collection/rule, as the verdict names it
    action: str  # Allow | Deny | Dnat
    protocols: frozenset[str]  # TCP UDP ICMP ANY (network), HTTP HTTPS MSSQL (application)
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    ports: tuple[str, ...]
    fqdns: tuple[str, ...] = ()
    translated_address: str = ""  # nat: translatedAddress, or ...
    translated_fqdn: str = ""  # ... translatedFqdn
    translated_port: str = ""  # nat: translatedPort


@dataclass(frozen=True)
class Firewall:
    id: str
    address: ipaddress.IPv4Address
    subnet_id: str
    rules: tuple[FirewallRule, ...]  # DNAT, network, then application, each in processing order
    private_ranges: tuple[str, ...]
    public_ip_ids: tuple[str, ...] = ()  # its public IPs: DNAT frontends, Internet egress
    public_addresses: tuple[ipaddress.IPv4Address, ...] = ()

    def as_nic(self) -> tuple[Nic, IpConfig]:
        """The synthetic forwarding NIC the walk continues from (no VM, no NSG); its first public
        IP is its Internet egress address (doc firewall/snat-private-range)."""
        cfg = IpConfig(f"{self.id}/ipConfigurations/0", "firewall", self.address,
                       self.subnet_id, True,
                       public_ip_id=self.public_ip_ids[0] if self.public_ip_ids else None)
        return Nic(self.id, self.id.rsplit("/", 1)[-1], (cfg,), None, True, None), cfg


@dataclass
class Decision:
    allowed: bool
    rule: str  # deciding rule, or "DefaultDeny"
    snat: bool
    assumptions: list[Assumption]
    # DNAT: where the rule sends the flow (address, port; port None: the flow's own).
    translated: tuple[ipaddress.IPv4Address, int | None] | None = None


def _list(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or [])


def _ip_groups(topo: Topology, ids: Any) -> tuple[str, ...]:
    out: list[str] = []
    for gid in ids or []:
        out += _list(props_of(topo.raw.get(key(str(gid)))).get("ipAddresses"))
    return tuple(out)


def _policy_rule(topo: Topology, coll: str, action: str, raw: dict[str, Any]) -> FirewallRule:
    kind = {"networkrule": "network", "applicationrule": "application",
            "natrule": "nat"}.get(str(raw.get("ruleType", "")).lower(), "network")
    protocols = frozenset(str(p).upper() for p in raw.get("ipProtocols") or []) \
        if kind != "application" else \
        frozenset(str(p.get("protocolType", "")).upper() + ":" + str(p.get("port", ""))
                  for p in raw.get("protocols") or [] if isinstance(p, dict))
    return _rule(topo, kind, f"{coll}/{raw.get('name', '')}",
                 "Dnat" if kind == "nat" else action, protocols, raw)


def _rule(topo: Topology, kind: str, name: str, action: str, protocols: frozenset[str],
          raw: dict[str, Any]) -> FirewallRule:
    """The match fields of a rule; classic and Policy rules spell them alike."""
    return FirewallRule(
        kind, name, action, protocols,
        _list(raw.get("sourceAddresses")) + _ip_groups(topo, raw.get("sourceIpGroups")),
        _list(raw.get("destinationAddresses")) + _ip_groups(topo, raw.get("destinationIpGroups")),
        _list(raw.get("destinationPorts")),
        _list(raw.get("targetFqdns")) + _list(raw.get("destinationFqdns")),
        str(raw.get("translatedAddress") or ""), str(raw.get("translatedFqdn") or ""),
        str(raw.get("translatedPort") or ""))


def _policy_groups(topo: Topology, policy_id: str,
                   seen: set[str]) -> list[tuple[dict[str, Any], bool]]:
    """(rule collection group, inherited) of a policy, a base policy's first (rule-processing
    doc)."""
    if key(policy_id) in seen:
        return []
    seen.add(key(policy_id))
    policy = topo.raw.get(key(policy_id))
    base = props_of(policy).get("basePolicy")
    inherited = [(g, True) for g, _ in _policy_groups(topo, base["id"], seen)] \
        if isinstance(base, dict) and base.get("id") else []
    own = [res for res in topo.raw.values() if str(res.get("type", "")).lower() == T_RULE_COLLECTION_GROUP
           and key(res["id"]).startswith(key(policy_id) + "/rulecollectiongroups/")]
    own.sort(key=lambda g: _priority(props_of(g), g["id"]))
    return inherited + [(g, False) for g in own]


def _policy_rules(topo: Topology, policy_id: str) -> list[FirewallRule]:
    out = []
    for group, inherited in _policy_groups(topo, policy_id, set()):
        collections = [c for c in props_of(group).get("ruleCollections") or []
                       if isinstance(c, dict)]
        if inherited:
            # doc firewall-manager/policy-overview: DNAT rule collections are not inherited
            # from a parent policy (they name one firewall's addresses).
            collections = [c for c in collections if str(c.get("ruleCollectionType", "")).lower()
                           != "firewallpolicynatrulecollection"]
        collections.sort(key=lambda c: _priority(c, group["id"]))
        for coll in collections:
            action = str((coll.get("action") or {}).get("type") or "Deny").capitalize()
            out += [_policy_rule(topo, str(coll.get("name", "")), action, r)
                    for r in coll.get("rules") or [] if isinstance(r, dict)]
    return out


def _classic_rules(topo: Topology, props: dict[str, Any]) -> list[FirewallRule]:
    out = []
    for field, kind in (("natRuleCollections", "nat"), ("networkRuleCollections", "network"),
                        ("applicationRuleCollections", "application")):
        collections = [c for c in props.get(field) or [] if isinstance(c, dict)]
        collections.sort(key=lambda c: _priority(props_of(c), str(c.get("id") or "")))
        for coll in collections:
            cprops = props_of(coll)
            action = str((cprops.get("action") or {}).get("type") or "Deny").capitalize()
            for raw in cprops.get("rules") or []:
                if not isinstance(raw, dict):
                    continue
                if kind == "application":
                    protocols = frozenset(
                        str(p.get("protocolType", "")).upper() + ":" + str(p.get("port", ""))
                        for p in raw.get("protocols") or [] if isinstance(p, dict))
                else:
                    protocols = frozenset(str(p).upper() for p in raw.get("protocols") or [])
                out.append(_rule(topo, kind, f"{coll.get('name', '')}/{raw.get('name', '')}",
                                 "Dnat" if kind == "nat" else action, protocols, raw))
    return out


def firewalls(topo: Topology) -> dict[ipaddress.IPv4Address, Firewall]:
    """Private IP -> firewall (built once per topology; ``at_public`` indexes the public IPs)."""
    cached = topo.cache.get("firewalls")
    if cached is not None:
        return cached
    out: dict[ipaddress.IPv4Address, Firewall] = {}
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() != T_FIREWALL:
            continue
        props = props_of(res)
        configs = [props_of(c) for c in props.get("ipConfigurations") or []]
        if not configs or not configs[0].get("privateIPAddress"):
            continue  # a vWAN hub firewall (hubIPAddresses) is not in a VNet of the topology
        subnet = str((configs[0].get("subnet") or {}).get("id") or "")
        if key(subnet) not in topo.subnets:
            continue
        rules = _classic_rules(topo, props)
        policy = props.get("firewallPolicy")
        ranges: tuple[str, ...] = tuple(
            r.strip() for r in str((props.get("additionalProperties") or {}).get(
                "Network.SNAT.PrivateRanges", "IANAPrivateRanges")).split(","))
        if isinstance(policy, dict) and policy.get("id"):
            rules += _policy_rules(topo, policy["id"])
            snat = props_of(topo.raw.get(key(policy["id"]))).get("snat") or {}
            if snat.get("privateRanges"):
                ranges = _list(snat["privateRanges"])
        order = {"nat": 0, "network": 1, "application": 2}  # the type order beats priorities
        rules.sort(key=lambda r: order[r.kind])
        address = _private_address(res)
        pip_ids = tuple(str(c["publicIPAddress"]["id"]) for c in configs
                        if isinstance(c.get("publicIPAddress"), dict)
                        and c["publicIPAddress"].get("id")
                        and key(str(c["publicIPAddress"]["id"])) in topo.public_ips)
        publics = tuple(a for a in (outbound.public_address(topo, p) for p in pip_ids) if a)
        out[address] = Firewall(res["id"], address, subnet, tuple(rules), ranges, pip_ids,
                                publics)
    topo.cache["firewalls"] = out
    return out


def _private_address(res: dict[str, Any]) -> ipaddress.IPv4Address:
    config = (props_of(res).get("ipConfigurations") or [{}])[0]
    return parse_address(props_of(config).get("privateIPAddress"),
                         str(config.get("id") or res["id"]), "privateIPAddress")


def _priority(holder: dict[str, Any], rid: str) -> int:
    """A rule collection's (or group's) priority; unset sorts last (65000, the spec's top)."""
    value = holder.get("priority", 65000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TopologyError(rid, f"priority must be an integer 100-65000, got {value!r}",
                            field="priority", code="InvalidRequestFormat")
    return value


def _check_values(topo: Topology) -> None:
    """At load, not at the first check that builds the index (lazily): the values the index
    converts (the firewall's private IP, collection priorities) are refused here when Azure
    would refuse them, naming the resource."""
    for res in topo.resources_of_type(T_FIREWALL):
        props = props_of(res)
        config = (props.get("ipConfigurations") or [{}])[0]
        if props_of(config).get("privateIPAddress"):
            _private_address(res)
        for field in ("networkRuleCollections", "applicationRuleCollections",
                      "natRuleCollections"):
            for coll in props.get(field) or []:
                _priority(props_of(coll), str(coll.get("id") or res["id"]))
    for group in topo.resources_of_type(T_RULE_COLLECTION_GROUP):
        _priority(props_of(group), group["id"])
        for coll in props_of(group).get("ruleCollections") or []:
            _priority(coll, group["id"])


register_part("firewall", 40, _check_values)


def at_public(topo: Topology, address: IPAddress) -> Firewall | None:
    """The firewall one of whose public IPs is ``address`` (a DNAT frontend)."""
    index: dict[IPAddress, Firewall] | None = topo.cache.get("firewalls_public")
    if index is None:
        index = topo.cache["firewalls_public"] = {
            a: fw for fw in firewalls(topo).values() for a in fw.public_addresses}
    return index.get(address)


def is_firewall(topo: Topology, resource_id: str) -> bool:
    return str((topo.raw.get(key(resource_id)) or {}).get("type", "")).lower() == T_FIREWALL


def firewall_near(topo: Topology, vnet_ids: Iterable[str],
                  address: IPAddress) -> Firewall | None:
    """The firewall at ``address`` in one of these VNets (the sender's or a peer); firewalls
    are IPv4 here (dual stack is preview, twin-semantics §13.2 rule 4)."""
    if not isinstance(address, ipaddress.IPv4Address):
        return None
    fw = firewalls(topo).get(address)
    if fw is None:
        return None
    wanted = {key(v) for v in vnet_ids}
    return fw if key(topo.subnets[key(fw.subnet_id)].vnet_id) in wanted else None


def firewall_for_ipv6(topo: Topology, vnet_ids: Iterable[str],
                      address: ipaddress.IPv6Address) -> Firewall | None:
    """The firewall whose AzureFirewallSubnet holds the IPv6 ``address`` in one of these VNets.
    Azure Firewall's dual stack is preview (doc firewall/deploy-dual-stack-firewall: network
    rules only, no IPv6-only firewall) and neither the stored spec nor the docs give the ARM
    field of its IPv6 private address, so an IPv6 next hop is matched by subnet, not address,
    and never looked up among the IPv4 addresses the firewall is placed at."""
    wanted = {key(v) for v in vnet_ids}
    for fw in firewalls(topo).values():
        subnet = topo.subnets[key(fw.subnet_id)]
        if key(subnet.vnet_id) in wanted and any(address in p for p in subnet.prefixes6):
            return fw
    return None


def ipv6_note(fw: Firewall, address: ipaddress.IPv6Address) -> Assumption:
    return Assumption(
        "ASSUME_IPV6_FIREWALL_FAMILY", fw.id, f"an IPv6 flow routed to {address} in the "
        "firewall's subnet stops at the firewall: Azure Firewall's IPv6 support is preview "
        "(network rules only) and the twin evaluates its rules for IPv4 flows only",
        alternatives=("the dual-stack firewall's network rules allow the flow",
                      "they deny it"), verdict_sensitive=True)


@functools.lru_cache(maxsize=1 << 14)
def _entry(text: str) -> tuple[str, Any]:
    """One address entry parsed once: ("any"), ("range", (lo, hi)), ("net", network) or
    ("tag", name) - rules are matched for every check, their texts never change."""
    text = text.strip()
    if text == "*":
        return "any", None
    if "-" in text and text[:1].isdigit():
        lo, _, hi = text.partition("-")
        try:
            return "range", (int(ipaddress.IPv4Address(lo)), int(ipaddress.IPv4Address(hi)))
        except ValueError:
            return "none", None
    try:
        return "net", ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "tag", text  # network rules take service tags


def _in(address: ipaddress.IPv4Address, entries: tuple[str, ...], topo: Topology,
        region: str) -> bool:
    value = int(address)
    for text in entries:
        kind, item = _entry(text)
        if kind == "any":
            return True
        if kind == "range" and item[0] <= value <= item[1]:
            return True
        if kind == "net" and address in item:
            return True
        if kind == "tag":
            data, _ = topo.service_tags.lookup(item, region)
            if data is not None and address in data.prefixes:
                return True
    return False


def _port_in(port: int | None, entries: tuple[str, ...]) -> bool:
    for text in entries:
        text = text.strip()
        if text == "*" or port is None:
            return True
        lo, _, hi = text.partition("-")
        if lo.isdigit() and int(lo) <= port <= int(hi or lo):
            return True
    return False


def _carries(rule: FirewallRule, protocol: str) -> bool:
    """A network or DNAT rule's protocols (none listed: any) carry this flow's."""
    return not rule.protocols or "ANY" in rule.protocols or protocol.upper() in rule.protocols


def _private(fw: Firewall, destination: ipaddress.IPv4Address) -> bool:
    for text in fw.private_ranges:
        if text.lower() == "ianaprivateranges":
            if any(destination in n for n in DEFAULT_PRIVATE):
                return True
        else:
            try:
                if destination in ipaddress.ip_network(text, strict=False):
                    return True
            except ValueError:
                continue
    return False


def decide(topo: Topology, fw: Firewall, protocol: str, source: ipaddress.IPv4Address,
           destination: ipaddress.IPv4Address, port: int | None, host: str | None) -> Decision:
    """The firewall's verdict on a flow's first packet (twin-semantics §6.2 rules 3-8)."""
    region = str((topo.raw.get(key(fw.id)) or {}).get("location", ""))
    notes = [_hop_note(fw)]
    l7_unknown = False
    for rule in fw.rules:
        if rule.kind == "nat":
            continue  # DNAT needs a packet to the firewall's public address
        if not _in(source, rule.sources, topo, region):
            continue
        if rule.kind == "network":
            if _carries(rule, protocol) and _in(destination, rule.destinations, topo, region) \
                    and _port_in(port, rule.ports):
                allowed = rule.action == "Allow"
                return Decision(allowed, rule.name, allowed and not _private(fw, destination),
                                notes + _deny_notes(fw, rule.name, allowed))
            continue
        # Application rule: HTTP/HTTPS/MSSQL on the rule's protocol ports, matched by FQDN.
        if protocol == "Icmp" or port not in APPLICATION_PORTS or not any(
                p.endswith(f":{port}") for p in rule.protocols):
            continue
        if host is None:
            l7_unknown = True
            continue
        if any(fnmatch.fnmatch(host, f.lower()) for f in rule.fqdns):
            allowed = rule.action == "Allow"
            return Decision(allowed, rule.name, allowed,
                            notes + _deny_notes(fw, rule.name, allowed))
    if l7_unknown:
        notes.append(Assumption(
            "ASSUME_FIREWALL_L4_ONLY", fw.id, "an application rule matches this flow's source "
            "and port but decides by FQDN and the check names an address: the twin does not "
            "apply it", alternatives=("the application rule allows the flow",),
            verdict_sensitive=True))
    return Decision(False, "DefaultDeny", False, notes + _deny_notes(fw, "DefaultDeny", False))


def _hop_note(fw: Firewall) -> Assumption:
    return Assumption("ASSUME_FIREWALL_HOP", fw.id, "the firewall is drawn as a "
                      "VirtualAppliance hop at its private IP (undocumented)")


def _any(entries: tuple[str, ...]) -> bool:
    return any(_entry(text)[0] == "any" for text in entries)


def dnat(topo: Topology, fw: Firewall, protocol: str, source: ipaddress.IPv4Address | None,
         destination: ipaddress.IPv4Address, port: int | None) -> Decision:
    """The firewall's verdict on a flow addressed to one of its public IPs (twin-semantics §6.2
    rules 5-6): the first DNAT rule matching source, destination, protocol and port translates
    it; none: default deny. ``source`` None is a public address the twin does not know (the
    sender's egress without a public IP of its own): it matches only a ``*`` source."""
    region = str((topo.raw.get(key(fw.id)) or {}).get("location", ""))
    notes = [_hop_note(fw)]
    undecided: list[str] = []  # DNAT rules an unknown source might have matched
    for rule in fw.rules:
        if rule.kind != "nat":
            continue
        if not (_carries(rule, protocol) and _in(destination, rule.destinations, topo, region)
                and _port_in(port, rule.ports)):
            continue
        if source is None and not _any(rule.sources):
            undecided.append(rule.name)
            continue
        if source is not None and not _in(source, rule.sources, topo, region):
            continue
        return _translate(topo, fw, rule, protocol, source, port, region, notes, undecided)
    if undecided:
        notes.append(_unknown_source_note(fw, undecided))
    return Decision(False, "DefaultDeny", False, notes + _deny_notes(fw, "DefaultDeny", False))


def _unknown_source_note(fw: Firewall, rules: list[str]) -> Assumption:
    return Assumption(
        "ASSUME_EGRESS_ADDRESS_UNKNOWN", fw.id, "the sender's public egress address is not in "
        f"the topology: DNAT rule(s) {', '.join(rules)} name sources it may be in and are not "
        "applied", alternatives=("the egress address is in the rule's sources",),
        verdict_sensitive=True)


def _translate(topo: Topology, fw: Firewall, rule: FirewallRule, protocol: str,
               source: ipaddress.IPv4Address | None, port: int | None, region: str,
               notes: list[Assumption], undecided: list[str]) -> Decision:
    """A matching DNAT rule: its translated address (or FQDN) and port."""
    if undecided:
        notes.append(_unknown_source_note(fw, undecided))
    address: IPAddress | None = None
    if rule.translated_address:
        try:
            address = ipaddress.ip_address(rule.translated_address.strip())
        except ValueError:
            address = None
    elif rule.translated_fqdn:
        # The firewall resolves the name with its DNS settings; the twin has the private DNS
        # zones linked to the firewall's VNet, then emulation.dns.
        host = rule.translated_fqdn.strip().lower().rstrip(".")
        vnet = topo.subnets[key(fw.subnet_id)].vnet_id
        address = private_endpoints.resolve(topo, vnet, host)[0] or topo.emulation.dns.get(host)
        notes.append(Assumption(
            "ASSUME_FIREWALL_DNAT_FQDN", fw.id, f"translatedFqdn {host} of {rule.name} "
            + (f"resolves to {address} (private DNS zones linked to the firewall's VNet, then "
               "emulation.dns)" if address else "does not resolve: the flow is dropped"),
            field="translatedFqdn", alternatives=("the firewall's DNS servers answer otherwise",),
            verdict_sensitive=address is None))
    if not isinstance(address, ipaddress.IPv4Address):
        return Decision(False, rule.name, False, notes + _deny_notes(fw, rule.name, False))
    text = rule.translated_port.strip()
    translated_port = int(text) if text.isdigit() else port
    # doc firewall/rule-processing: the translated flow is allowed without network rules; the
    # firewall FAQ (older) lets an explicit network deny override that.
    deny = next((r for r in fw.rules if r.kind == "network" and r.action == "Deny"
                 and (source is None or _in(source, r.sources, topo, region))
                 and _in(address, r.destinations, topo, region)
                 and _port_in(translated_port, r.ports) and _carries(r, protocol)), None)
    if deny is not None:
        notes.append(Assumption(
            "ASSUME_FIREWALL_DNAT_SKIPS_NETWORK_RULES", fw.id, f"the DNAT rule {rule.name} "
            f"allows the translated flow without network rule processing; the network deny "
            f"{deny.name} matches it and is not applied",
            alternatives=(f"{deny.name} overrides the DNAT rule's implicit allow (firewall "
                          "FAQ)",), verdict_sensitive=True))
    return Decision(True, rule.name, True, notes, (address, translated_port))


def _deny_notes(fw: Firewall, rule: str, allowed: bool) -> list[Assumption]:
    if allowed:
        return []
    return [Assumption(
        "ASSUME_FIREWALL_DENY", fw.id, f"the firewall drops the flow ({rule}); the hop carries "
        "no issue (no documented issue type names a firewall rule)",
        alternatives=("the firewall completes the TCP handshake itself and the service "
                      "reports Reachable",))]  # the twin's verdict is the rule's: not sensitive


def snat_note(fw: Firewall) -> Assumption:
    return Assumption("ASSUME_FIREWALL_SNAT_ADDRESS", fw.id, f"the flow is SNATed to the "
                      f"firewall's private IP {fw.address}; later rules see that source",
                      alternatives=("another address of AzureFirewallSubnet",))
