"""Service endpoints (twin-semantics §8; doc virtual-network/
virtual-network-service-endpoints-overview).

A subnet's ``serviceEndpoints[] {service, locations[]}`` adds, to that subnet only, a
VirtualNetworkServiceEndpoint system route per prefix of the service's tag in the listed
locations (``Storage.WestEurope`` for Microsoft.Storage in westeurope; ``*`` is the top-level
tag). The prefixes come from the stored Service Tags answer (servicetags.py); a service or
region with no stored tag adds nothing and says so (UNRESOLVED_SERVICE_TAG at load).

Selection (routing.py): these routes beat BGP routes even when those are longer and win an
exact-prefix tie with a user route (assumed: the endpoints article says they override UDRs,
the routing article says user routes win ties; ASSUME_SERVICE_ENDPOINT_BEATS_EQUAL_UDR).
The PaaS side is outside the twin: the check ends at an Internet-typed hop
(ASSUME_SERVICE_ENDPOINT_HOP).
"""

from __future__ import annotations

from .assumptions import Assumption
from .servicetags import endpoint_tag_names
from .topology import IPAddress, Route, Subnet, Topology, key


def endpoint_entries(topo: Topology, subnet: Subnet) -> list[tuple[str, list[object]]]:
    props = (topo.raw.get(key(subnet.id)) or {}).get("properties") or {}
    out = []
    for entry in props.get("serviceEndpoints") or []:
        if isinstance(entry, dict) and isinstance(entry.get("service"), str):
            out.append((entry["service"], list(entry.get("locations") or [])))
    return out


def endpoint_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    region = topo.vnets[key(subnet.vnet_id)].location
    routes: list[Route] = []
    for service, locations in endpoint_entries(topo, subnet):
        for name in endpoint_tag_names(service, locations):
            data, _ = topo.service_tags.lookup(name, region)
            if data is None:
                continue  # UNRESOLVED_SERVICE_TAG, recorded at load
            # IPv4 only: the routing article lists these routes with IPv4 examples and says
            # nothing of IPv6, so an IPv6 packet to the service keeps its ::/0 route.
            routes += [Route(service, net, "VirtualNetworkServiceEndpoint", None, None,
                             ) for net in data.prefixes.networks if net.version == 4]
    return routes


def hop_assumption(subnet: Subnet, destination: IPAddress,
                   tie_with_user_route: bool) -> list[Assumption]:
    notes = [Assumption(
        "ASSUME_SERVICE_ENDPOINT_HOP", subnet.id, f"{destination} is reached through the "
        "subnet's service endpoint: drawn as one Internet hop (the service's drawing is "
        "undocumented); the service answers", field="serviceEndpoints")]
    if tie_with_user_route:
        notes.append(Assumption(
            "ASSUME_SERVICE_ENDPOINT_BEATS_EQUAL_UDR", subnet.id, "the service endpoint route "
            "wins over a user route with the same prefix", field="serviceEndpoints",
            alternatives=("the user route wins the tie",), verdict_sensitive=True))
    return notes
