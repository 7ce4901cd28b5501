"""Effective routes of a subnet and the route a destination takes (Azure's routing article,
doc virtual-network/virtual-networks-udr-overview).

System routes: the VNet's spaces (VnetLocal), Connected peerings' peered spaces (VNetPeering),
0.0.0.0/0 (Internet) and the None routes for 10/8, 172.16/12, 192.168/16 and 100.64/10. A None
route is removed when one of the VNet's own ranges equals or contains it, and from a subnet whose
route table has a 0.0.0.0/0 user route. User routes may name a service tag: one candidate per
tag prefix. Longest prefix wins; on equal prefixes a user route beats a system route, an
explicit CIDR route beats a tag route, and tag routes rank regional > top-level >
AzureCloud.<region> > AzureCloud.

Optional system routes (issue 11): VirtualNetworkGateway routes (gateways.py),
VirtualNetworkServiceEndpoint routes (service_endpoints.py), /32 InterfaceEndpoint routes
(private_endpoints.py); a route table's disablePeeringRoute "All" drops the peering routes.

IPv6 (dual stack, twin-semantics §13): a separate table and longest-prefix match per family;
an IPv6 destination meets only IPv6 routes. The routing article lists no IPv6 system routes,
so the twin assumes (ASSUME_IPV6_SYSTEM_ROUTES) VnetLocal for the VNet's IPv6 spaces,
VNetPeering for peered IPv6 spaces, ::/0 to Internet and no IPv6 None routes; user routes with
IPv6 prefixes join it, and so do the IPv6 prefixes of a tag route whose next hop has no address
(Internet, None, VirtualNetworkGateway, VnetLocal): the routing article lets a route name a tag
without saying which family it routes (ASSUME_IPV6_TAG_ROUTE). A tag route to a
VirtualAppliance carries an IPv4 next hop, which cannot take an IPv6 packet, so its IPv6 prefixes
are not routed. Optional system routes (gateways: IPv4 only in Azure; service endpoints and
private endpoints: IPv4 addresses) stay in the IPv4 table.

Each subnet's table is built once per topology (on first use) into a longest-prefix index:
prefix length -> network -> route, so a lookup is at most 33 dict probes whatever the size of
the service tags it expands.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from . import gateways, private_endpoints, service_endpoints
from .servicetags import route_tag_rank
from .topology import Route, RouteTable, Subnet, Topology, key

NONE_PREFIXES = tuple(ipaddress.IPv4Network(p) for p in
                      ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
EVERYTHING = ipaddress.IPv4Network("0.0.0.0/0")
EVERYTHING6 = ipaddress.IPv6Network("::/0")
# Equal-prefix order among system routes. A peered range equal to a reserved prefix: the
# reference assumes the peering route is added and the None route kept (twin-semantics §5.4);
# the peering route is taken, as the VNet-local route is for the VNet's own range.
# Gateway (BGP) routes beat the other system routes on equal prefixes (doc: User > BGP >
# system); VNet, peering and service-endpoint routes beat them even when they are longer
# (see route_index).
SYSTEM_ORDER = {"VirtualNetworkGateway": 4, "VnetLocal": 3, "InterfaceEndpoint": 3,
                "VNetPeering": 2, "Internet": 1, "None": 0}
# Routes a BGP route never overrides, whatever its length (doc, "How Azure selects a route").
BEATS_BGP = frozenset({"VnetLocal", "VNetPeering", "VirtualNetworkServiceEndpoint"})

# Next hops that carry an address of the route's family: a tag route's is IPv4 (topology.py
# parses it so), so such a tag route cannot route the tag's IPv6 prefixes.
ADDRESSED_HOPS = frozenset({"VirtualAppliance", "VirtualApplianceEcmp"})

RouteIndex = tuple[tuple[int, dict[int, Route]], ...]  # (prefix length, network -> route)


def user_routes(topo: Topology, subnet: Subnet) -> tuple[Route, ...]:
    if subnet.route_table_id is None:
        return ()
    return topo.route_tables[key(subnet.route_table_id)].routes


def user_route_prefixes(topo: Topology, subnet: Subnet) -> list[ipaddress.IPv4Network]:
    """The CIDR (not tag, not IPv6) prefixes of the subnet's user routes."""
    return [r.prefix for r in user_routes(topo, subnet)
            if isinstance(r.prefix, ipaddress.IPv4Network)]


def user_route_prefixes6(topo: Topology, subnet: Subnet) -> list[ipaddress.IPv6Network]:
    """The IPv6 CIDR prefixes of the subnet's user routes."""
    return [r.prefix for r in user_routes(topo, subnet)
            if isinstance(r.prefix, ipaddress.IPv6Network)]


def system_routes6(topo: Topology, subnet: Subnet) -> list[Route]:
    """The assumed IPv6 system routes (module docstring; ASSUME_IPV6_SYSTEM_ROUTES)."""
    vnet = topo.vnets[key(subnet.vnet_id)]
    routes = [Route("VnetLocal", space, "VnetLocal", None, None) for space in vnet.spaces6]
    for link in () if peering_routes_disabled(topo, subnet) else vnet.peerings:
        external = key(link.remote_vnet_id) not in topo.vnets
        routes += [Route("VNetPeering", space, "VNetPeering", None, None,
                         id=link.id if external else "")
                   for space in link.routed_spaces6]
    routes.append(Route("Internet", EVERYTHING6, "Internet", None, None))
    return routes


def route_index6(topo: Topology, subnet: Subnet) -> RouteIndex:
    """The IPv6 longest-prefix index: system routes, then user routes with IPv6 prefixes."""
    cache_key = ("routes6", key(subnet.id))
    cached = topo.cache.get(cache_key)
    if cached is not None:
        return cached
    candidates = [(r.prefix, r) for r in system_routes6(topo, subnet)]
    candidates += expanded_user_routes(topo, subnet, version=6)
    index = _by_length(candidates)
    topo.cache[cache_key] = index
    return index


def system_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    vnet = topo.vnets[key(subnet.vnet_id)]
    routes = [Route("VnetLocal", space, "VnetLocal", None, None) for space in vnet.spaces]
    for link in () if peering_routes_disabled(topo, subnet) else vnet.peerings:
        # A peering to a VNet outside the topology carries its id: its assumption
        # (EXTERNAL_VNET) joins the walk that takes the route.
        external = key(link.remote_vnet_id) not in topo.vnets
        routes += [Route("VNetPeering", space, "VNetPeering", None, None,
                         id=link.id if external else "")
                   for space in link.routed_spaces]
    routes += gateways.gateway_routes(topo, subnet)
    routes += service_endpoints.endpoint_routes(topo, subnet)
    routes += private_endpoints.endpoint_routes(topo, subnet)
    routes.append(Route("Internet", EVERYTHING, "Internet", None, None))
    if not any(r.prefix == EVERYTHING for r in user_routes(topo, subnet)):
        # doc "Default": a VNet range equal to a reserved prefix turns its route into
        # VnetLocal, one containing it removes it; a user 0/0 removes them all.
        routes += [Route("None", p, "None", None, None) for p in NONE_PREFIXES
                   if not any(p.subnet_of(space) for space in vnet.spaces)]
    return routes


def peering_routes_disabled(topo: Topology, subnet: Subnet) -> bool:
    """disablePeeringRoute "All" on the subnet's route table drops its VNetPeering routes (doc
    virtual-network/configure-disable-peering-route-propagation, preview)."""
    if subnet.route_table_id is None:
        return False
    props = (topo.raw.get(key(subnet.route_table_id)) or {}).get("properties") or {}
    return str(props.get("disablePeeringRoute") or "None").lower() == "all"


def expanded_user_routes(topo: Topology, subnet: Subnet, version: int = 4,
                         ) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Route],
                                    ...]:
    """(prefix, route) per candidate of one address family: a CIDR route of that family, a tag
    route once per prefix of its tag of that family (IPv6 only when its next hop has no address:
    module docstring). Cached per route table and family, which every subnet using the table
    shares (a Storage route is hundreds of prefixes); a route write drops its table's entries
    (Topology._rewrite)."""
    if subnet.route_table_id is None:
        return ()
    table_key = key(subnet.route_table_id)
    cache_key = ("user-routes", table_key, version)
    cached = topo.cache.get(cache_key)
    if cached is None:
        cached = topo.cache[cache_key] = _expand(topo, topo.route_tables[table_key], version)
    return cached


def _expand(topo: Topology, table: RouteTable, version: int,
            ) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Route], ...]:
    out: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Route]] = []
    for route in table.routes:
        if route.prefix is not None:
            if route.prefix.version == version:
                out.append((route.prefix, route))
            continue
        if route.tag is None or (version == 6 and route.next_hop_type in ADDRESSED_HOPS):
            continue
        data, _ = topo.service_tags.lookup(route.tag, table.location)
        if data is None:
            continue  # UNRESOLVED_SERVICE_TAG, recorded at load
        ranked = replace(route, prefix=None, rank=route_tag_rank(data))
        out.extend((net, ranked) for net in data.prefixes.networks if net.version == version)
    return tuple(out)


def _rank(route: Route) -> tuple[int, int]:
    if route.next_hop_type == "VirtualNetworkServiceEndpoint":
        return (2, 0)  # assumed: wins an exact tie with a user route (service_endpoints.py)
    if route.route_table_id is not None:
        return (1, route.rank)
    return (0, SYSTEM_ORDER.get(route.next_hop_type, 0))


def route_index(topo: Topology, subnet: Subnet) -> RouteIndex:
    cache_key = ("routes", key(subnet.id))
    cached = topo.cache.get(cache_key)
    if cached is not None:
        return cached
    system = system_routes(topo, subnet)
    shielded = [r.prefix for r in system if r.next_hop_type in BEATS_BGP
                and isinstance(r.prefix, ipaddress.IPv4Network)]
    candidates = [(r.prefix, r) for r in system if r.next_hop_type != "VirtualNetworkGateway"
                  or not any(isinstance(r.prefix, ipaddress.IPv4Network)
                             and r.prefix.subnet_of(p) for p in shielded)]
    candidates += expanded_user_routes(topo, subnet)
    index = _by_length(candidates)
    topo.cache[cache_key] = index
    return index


MASKS = tuple((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33))
ALL128 = (1 << 128) - 1
MASKS6 = tuple((ALL128 << (128 - n)) & ALL128 for n in range(129))


def lookup(topo: Topology, subnet: Subnet,
           destination: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Route | None:
    """The route a packet from this subnet to ``destination`` takes (None: no route at all);
    each family has its own table."""
    value = int(destination)
    if destination.version == 6:
        index, masks = route_index6(topo, subnet), MASKS6
    else:
        index, masks = route_index(topo, subnet), MASKS
    for length, slot in index:
        route = slot.get(value & masks[length])
        if route is not None:
            return route
    return None


def _by_length(candidates: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network | None, Route]]
               ) -> tuple[tuple[int, dict[int, Route]], ...]:
    """Longest-prefix-match index of one address family: prefix length (longest first) ->
    network address -> the best-ranked route for that exact prefix."""
    by_length: dict[int, dict[int, Route]] = {}
    for prefix, route in candidates:
        assert prefix is not None  # the callers keep one family's prefixed routes only
        slot = by_length.setdefault(prefix.prefixlen, {})
        net = int(prefix.network_address)
        best = slot.get(net)
        if best is None or _rank(route) > _rank(best):
            slot[net] = route
    return tuple(sorted(by_length.items(), reverse=True))
