"""Effective routes of a subnet and the route a destination takes (Azure's routing article).

System routes: the VNet's spaces (VnetLocal), peered VNets (VNetPeering), 0.0.0.0/0 (Internet)
and the None routes for 10/8, 172.16/12, 192.168/16 and 100.64/10. A 0.0.0.0/0 user route
removes those None routes. Longest prefix wins; on equal prefixes a user route beats a system
route.
"""

from __future__ import annotations

import ipaddress

from .topology import Route, Subnet, Topology, key

NONE_PREFIXES = tuple(ipaddress.IPv4Network(p) for p in
                      ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
EVERYTHING = ipaddress.IPv4Network("0.0.0.0/0")


def user_routes(topo: Topology, subnet: Subnet) -> tuple[Route, ...]:
    if subnet.route_table_id is None:
        return ()
    return topo.route_tables[key(subnet.route_table_id)].routes


def user_route_prefixes(topo: Topology, subnet: Subnet) -> list[ipaddress.IPv4Network]:
    return [r.prefix for r in user_routes(topo, subnet)]


def system_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    vnet = topo.vnets[key(subnet.vnet_id)]
    routes = [Route("VnetLocal", space, "VnetLocal", None, None) for space in vnet.spaces]
    for peer_id in vnet.peered_vnet_ids:
        routes += [Route("VNetPeering", space, "VNetPeering", None, None)
                   for space in topo.vnets[key(peer_id)].spaces]
    routes.append(Route("Internet", EVERYTHING, "Internet", None, None))
    covered = {r.prefix for r in routes}
    if not any(r.prefix == EVERYTHING for r in user_routes(topo, subnet)):
        # A VNet that uses one of these ranges exactly keeps its VnetLocal route instead.
        routes += [Route("None", p, "None", None, None) for p in NONE_PREFIXES
                   if p not in covered]
    return routes


def effective_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    return system_routes(topo, subnet) + list(user_routes(topo, subnet))


def lookup(topo: Topology, subnet: Subnet, destination: ipaddress.IPv4Address) -> Route | None:
    """The route a packet from this subnet to ``destination`` takes (None: no route at all)."""
    best: Route | None = None
    for route in effective_routes(topo, subnet):
        if destination not in route.prefix:
            continue
        rank = (route.prefix.prefixlen, route.route_table_id is not None)
        if best is None or rank > (best.prefix.prefixlen, best.route_table_id is not None):
            best = route
    return best
