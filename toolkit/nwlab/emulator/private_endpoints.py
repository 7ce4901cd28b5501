"""Private endpoints and private DNS zones (twin-semantics §7; doc private-link/
private-endpoint-overview, private-link/disable-private-endpoint-network-policy,
private-link/private-endpoint-dns).

- The endpoint's NIC (``properties.privateEndpoint`` set, no VM) answers when its connection
  is Approved, on the service's documented ports for its groupId (assumed,
  ASSUME_PRIVATE_ENDPOINT_PORTS; an unknown groupId answers on any port and says so).
- Each endpoint address is a /32 InterfaceEndpoint system route in every subnet of the
  endpoint's VNet and of directly peered VNets (assumed: not further,
  ASSUME_PRIVATE_ENDPOINT_ROUTE_SCOPE is noted where the route is taken from a peer).
  When the endpoint subnet's ``privateEndpointNetworkPolicies`` is RouteTableEnabled or
  Enabled, a user route in the client's subnet that covers the address with a prefix at least
  as long as the endpoint VNet's range invalidates the /32 (a 0/0 never does).
- NSGs of the endpoint's subnet filter traffic to it only with NetworkSecurityGroupEnabled or
  Enabled; the default Disabled skips them (the client's outbound NSGs always apply).
- The hop at the endpoint is drawn VnetLocal at its NIC (undocumented,
  ASSUME_PRIVATE_ENDPOINT_HOP); its replies use system routes (field consensus).
- DNS: a name ``<x>.<service zone>`` or ``<x>.privatelink.<service zone>`` resolves to the A
  record ``<x>`` (AAAA for an IPv6 check) of a private DNS zone ``privatelink.<service zone>``
  (or the zone named exactly) that is linked to the querying VM's VNet (assumed: peering does
  not extend a link).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .assumptions import Assumption
from .topology import (
    T_DNS_A,
    T_DNS_AAAA,
    T_DNS_LINK,
    T_PRIVATE_ENDPOINT,
    IPAddress,
    IpConfig,
    Nic,
    Route,
    Subnet,
    Topology,
    key,
    props_of,
)

# groupId -> the ports its service answers on (doc private-endpoint-overview, "Private-link
# resource"; the ports are the services' documented client ports).
SERVICE_PORTS: dict[str, frozenset[int]] = {
    "blob": frozenset({443}), "blob_secondary": frozenset({443}), "table": frozenset({443}),
    "queue": frozenset({443}), "web": frozenset({443}), "dfs": frozenset({443}),
    "file": frozenset({443, 445}), "sqlserver": frozenset({1433}),
    "vault": frozenset({443}), "registry": frozenset({443}), "sites": frozenset({443}),
    "sql": frozenset({443}), "mongodb": frozenset({443, 10255}),
    "postgresqlserver": frozenset({5432}), "mysqlserver": frozenset({3306}),
    "namespace": frozenset({443, 5671, 5672}), "rediscache": frozenset({6380}),
}
FILTERING_POLICIES = frozenset({"enabled", "networksecuritygroupenabled"})
ROUTING_POLICIES = frozenset({"enabled", "routetableenabled"})


@dataclass(frozen=True)
class Endpoint:
    id: str
    nic_id: str
    subnet_id: str
    addresses: tuple[IPAddress, ...]
    approved: bool
    group_ids: tuple[str, ...]


def endpoints(topo: Topology) -> dict[str, Endpoint]:
    """NIC key -> the private endpoint owning it (built once per topology)."""
    cached = topo.cache.get("private-endpoints")
    if cached is not None:
        return cached
    out: dict[str, Endpoint] = {}
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() != T_PRIVATE_ENDPOINT:
            continue
        props = props_of(res)
        connections = [props_of(c) for c in (props.get("privateLinkServiceConnections") or [])
                       + (props.get("manualPrivateLinkServiceConnections") or [])]
        approved = any(str((c.get("privateLinkServiceConnectionState") or {}).get(
            "status", "")).lower() == "approved" for c in connections)
        groups = tuple(str(g).lower() for c in connections for g in c.get("groupIds") or [])
        for ref in props.get("networkInterfaces") or []:
            nic = topo.nics.get(key(str((ref or {}).get("id", ""))))
            if nic is None:
                continue
            out[key(nic.id)] = Endpoint(res["id"], nic.id, nic.primary.subnet_id,
                                        tuple(c.address for c in nic.ip_configs), approved,
                                        groups)
    # A NIC that names its endpoint (properties.privateEndpoint) without the endpoint in the
    # topology still answers as one: its connection state is unknown (assumed approved).
    for nic in topo.nics.values():
        ref = props_of(topo.raw.get(key(nic.id))).get("privateEndpoint")
        if key(nic.id) not in out and isinstance(ref, dict) and ref.get("id"):
            out[key(nic.id)] = Endpoint(str(ref["id"]), nic.id, nic.primary.subnet_id,
                                        tuple(c.address for c in nic.ip_configs), True, ())
    topo.cache["private-endpoints"] = out
    return out


def policy(topo: Topology, subnet_id: str) -> str:
    return str(props_of(topo.raw.get(key(subnet_id))).get("privateEndpointNetworkPolicies")
               or "Disabled").lower()


def endpoint_of(topo: Topology, nic: Nic) -> Endpoint | None:
    return endpoints(topo).get(key(nic.id))


def endpoint_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    """The /32 InterfaceEndpoint routes this subnet gets (own VNet and direct peers)."""
    vnet = topo.vnets[key(subnet.vnet_id)]
    reach = {key(vnet.id)} | {key(v) for v in vnet.peered_vnet_ids}
    user = []
    if subnet.route_table_id is not None:
        user = [r.prefix for r in topo.route_tables[key(subnet.route_table_id)].routes
                if isinstance(r.prefix, ipaddress.IPv4Network)]
    routes = []
    for ep in endpoints(topo).values():
        pe_subnet = topo.subnets[key(ep.subnet_id)]
        pe_vnet = topo.vnets[key(pe_subnet.vnet_id)]
        if key(pe_vnet.id) not in reach:
            continue
        routable = policy(topo, ep.subnet_id) in ROUTING_POLICIES
        for address in ep.addresses:
            floor = min((s.prefixlen for s in pe_vnet.spaces if address in s), default=32)
            if routable and any(address in p and p.prefixlen >= floor for p in user):
                continue  # doc disable-private-endpoint-network-policy: the UDR takes over
            routes.append(Route("InterfaceEndpoint", ipaddress.IPv4Network(f"{address}/32"),
                                "InterfaceEndpoint", None, None))
    return routes


def nsgs_apply(topo: Topology, ep: Endpoint) -> bool:
    return policy(topo, ep.subnet_id) in FILTERING_POLICIES


def answers(ep: Endpoint, protocol: str, port: int) -> tuple[bool, list[Assumption]]:
    """Does the endpoint answer this probe, and what did the twin assume to say so?"""
    if not ep.approved:
        return False, []
    ports = frozenset().union(*(SERVICE_PORTS.get(g, frozenset()) for g in ep.group_ids))
    if protocol == "Icmp":
        return False, [Assumption(
            "ASSUME_PRIVATE_ENDPOINT_PORTS", ep.id, "a private endpoint does not answer ICMP",
            alternatives=("it answers",), verdict_sensitive=True)]
    if not ports:
        return True, [Assumption(
            "ASSUME_PRIVATE_ENDPOINT_PORTS", ep.id, "the endpoint's service has no known "
            f"ports (groupIds {list(ep.group_ids)}): it answers on {port}",
            alternatives=("it does not answer on this port",), verdict_sensitive=True)]
    ok = port in ports
    return ok, [Assumption(
        "ASSUME_PRIVATE_ENDPOINT_PORTS", ep.id, f"the endpoint answers on its service's ports "
        f"{sorted(ports)}", alternatives=("another set of ports",), verdict_sensitive=not ok)]


def hop_note(ep: Endpoint, cfg: IpConfig) -> Assumption:
    return Assumption("ASSUME_PRIVATE_ENDPOINT_HOP", ep.id, f"the private endpoint is drawn as a "
                      f"VnetLocal hop at its NIC address {cfg.address} (undocumented)")


# Record-set type -> (records field, address field, family): Private DNS record sets
# (privatedns.json RecordSetProperties: aRecords[].ipv4Address, aaaaRecords[].ipv6Address).
RECORD_SETS = {T_DNS_A: ("aRecords", "ipv4Address", 4),
               T_DNS_AAAA: ("aaaaRecords", "ipv6Address", 6)}
DnsIndex = dict[tuple[str, int], list[tuple[str, str, IPAddress]]]


def _dns_index(topo: Topology) -> DnsIndex:
    """(VNet key, family) -> (name, zone id, address) for every A and AAAA record of the zones
    linked to the VNet."""
    cached = topo.cache.get("private-dns")
    if cached is not None:
        return cached
    links: dict[str, set[str]] = {}  # zone key -> linked VNet keys
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() == T_DNS_LINK:
            zone = key(res["id"]).rsplit("/virtualnetworklinks/", 1)[0]
            vnet = key(str((props_of(res).get("virtualNetwork") or {}).get("id", "")))
            links.setdefault(zone, set()).add(vnet)
    out: DnsIndex = {}
    for res in topo.raw.values():
        kind = RECORD_SETS.get(str(res.get("type", "")).lower())
        if kind is None:
            continue
        records_field, address_field, family = kind
        zone_id = key(res["id"]).rsplit("/", 2)[0]  # .../privateDnsZones/{zone}/{A|AAAA}/{name}
        zone = zone_id.rsplit("/", 1)[-1]
        public = zone[len("privatelink."):] if zone.startswith("privatelink.") else zone
        addresses = []
        for record in props_of(res).get(records_field) or []:
            try:
                address = ipaddress.ip_address(str(record.get(address_field)))
            except ValueError:
                continue  # not an address: the record answers nothing
            if address.version == family:
                addresses.append(address)
        if not addresses:
            continue
        for vnet in links.get(zone_id, ()):
            for name in {f"{res['name'].lower()}.{zone}", f"{res['name'].lower()}.{public}"}:
                out.setdefault((vnet, family), []).append((name, zone_id, addresses[0]))
    topo.cache["private-dns"] = out
    return out


def resolve(topo: Topology, vnet_id: str, host: str, family: int = 4,
            ) -> tuple[IPAddress | None, str | None]:
    """(address, zone id) from a private DNS zone linked to ``vnet_id``: its A record (family
    4) or AAAA record (family 6); (None, None): no answer."""
    for name, zone_id, address in _dns_index(topo).get((key(vnet_id), family), ()):
        if name == host:
            return address, zone_id
    return None, None
