"""Where a packet meets a part of the estate the twin does not model (twin-semantics §15 rule 2).

"Neither wall nor hole": an Application Gateway's frontend, a Virtual WAN hub (its router, its
firewall, its address prefix), a Route Server, an NVA in a vWAN hub, a private link service, a
service in a delegated subnet, or any resource of a type the twin does not know that holds a
private IP address is neither transparent nor a drop. A walk whose destination or next hop is
such an address (and no NIC, firewall or load balancer frontend of the twin holds it) stops
there with the verdict undetermined, naming the resource (``dead_end``).

Routes the twin cannot see are said where a route is taken: a VNet connected to a Virtual WAN
hub gets the hub's routes (other spokes, branches, routing intent), and a VNet with a Route
Server gets the routes its BGP peers advertise (doc route-server/overview), unless the subnet's
route table disables BGP route propagation (``route_notes``).

Both indexes are built on first use (topology.cache), so loading pays nothing for them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import outbound
from .assumptions import Assumption
from .topology import (
    INERT_TYPES,
    MODELLED_TYPES,
    T_FIREWALL,
    IPAddress,
    Route,
    Subnet,
    Topology,
    key,
    props_of,
)

T_APP_GATEWAY = "microsoft.network/applicationgateways"
T_VIRTUAL_HUB = "microsoft.network/virtualhubs"  # a vWAN hub, or a Route Server
T_HUB_CONNECTION = "microsoft.network/virtualhubs/hubvirtualnetworkconnections"
T_HUB_BGP = "microsoft.network/virtualhubs/bgpconnections"
T_HUB_IP_CONFIG = "microsoft.network/virtualhubs/ipconfigurations"
ADDRESS_FIELDS = frozenset({"privateipaddress"})  # any casing: ARM and NVA specs differ
ADDRESS_LIST_FIELDS = frozenset({"virtualrouterips"})  # a hub's or Route Server's router
# System routes a propagated route does not override (the VNet's and its peers' spaces, a
# private endpoint's /32).
OWN_SPACE_HOPS = frozenset({"VnetLocal", "VNetPeering", "InterfaceEndpoint"})


@dataclass(frozen=True)
class Holder:
    """A resource the twin does not model that holds an address or a prefix."""

    resource_id: str
    what: str  # e.g. "Microsoft.Network/applicationGateways frontend"


@dataclass(frozen=True)
class Index:
    addresses: dict[IPAddress, Holder]
    networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Holder], ...]
    # VNet key -> the hub connections and Route Servers whose routes the twin does not see.
    vnet_routes: dict[str, tuple[Holder, ...]]


def _addresses(obj: Any) -> Iterator[IPAddress]:
    """Every address an unknown resource's JSON names in a privateIPAddress field (or a
    router IP list), at any depth: future types hold their addresses the same way."""
    if isinstance(obj, dict):
        for name, value in obj.items():
            low = name.lower()
            texts = [value] if low in ADDRESS_FIELDS else \
                value if low in ADDRESS_LIST_FIELDS and isinstance(value, list) else []
            yield from (a for a in map(_address, texts) if a is not None)
            if isinstance(value, (dict, list)):
                yield from _addresses(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _addresses(item)


def _public_ip_refs(obj: Any) -> Iterator[str]:
    """The public IPs an unknown resource's JSON references (an Application Gateway's public
    frontend, a Bastion's or an NVA's address), at any depth."""
    if isinstance(obj, dict):
        for name, value in obj.items():
            if name.lower() == "publicipaddress" and isinstance(value, dict) \
                    and isinstance(value.get("id"), str):
                yield value["id"]
            elif isinstance(value, (dict, list)):
                yield from _public_ip_refs(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _public_ip_refs(item)


def _address(text: Any) -> IPAddress | None:
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        return None


def _vnet_of_subnet(subnet_id: Any) -> str:
    return key(str(subnet_id)).split("/subnets/")[0]


def build(topo: Topology) -> Index:
    addresses: dict[IPAddress, Holder] = {}
    networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Holder]] = []
    vnet_routes: dict[str, list[Holder]] = {}
    listing = topo._listing()  # top-level resources by type, shared with ARM lists
    unknown = [rtype for rtype, group in listing.by_type if group is None
               and rtype not in MODELLED_TYPES and rtype not in INERT_TYPES]
    for rtype in (T_FIREWALL, *unknown):
        for res in topo.resources_of_type(rtype):
            _read(topo, res, rtype, addresses, networks, vnet_routes)
    # A Route Server with BGP peers programs their routes into its VNet (route-server/overview).
    for res in topo.resources_of_type(T_HUB_BGP):
        hub_key = key(res["id"]).split("/bgpconnections/")[0]
        for vnet_key in _route_server_vnets(topo, hub_key):
            vnet_routes.setdefault(vnet_key, []).append(Holder(res["id"], "Route Server BGP peer"))
    for subnet_key, subnet in topo.subnets.items():
        raw = topo.raw.get(subnet_key) or {}
        services = [str(props_of(d).get("serviceName") or d.get("name") or "a service")
                    for d in props_of(raw).get("delegations") or [] if isinstance(d, dict)]
        if services:
            holder = Holder(subnet.id, f"subnet delegated to {', '.join(services)}")
            networks.extend((net, holder) for net in subnet.prefixes)
            networks.extend((net, holder) for net in subnet.prefixes6)
    return Index(addresses, tuple(networks),
                 {k: tuple(v) for k, v in vnet_routes.items()})


def _read(topo: Topology, res: dict[str, Any], rtype: str, addresses: dict[IPAddress, Holder],
          networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Holder]],
          vnet_routes: dict[str, list[Holder]]) -> None:
    """What one resource of a type the twin does not model (or a vWAN hub's firewall) holds."""
    props = props_of(res)
    holder = Holder(res["id"], str(res.get("type", "")))
    if rtype == T_FIREWALL:
        # A vWAN hub's firewall (hubIPAddresses) is not placed in a VNet of the twin.
        hub_ip = (props.get("hubIPAddresses") or {}).get("privateIPAddress") \
            if isinstance(props.get("hubIPAddresses"), dict) else None
        for address in _addresses({"privateIPAddress": hub_ip} if hub_ip else {}):
            addresses.setdefault(address, Holder(res["id"], "vWAN hub firewall"))
        return
    for address in _addresses(props):
        addresses.setdefault(address, holder)
    for pip_id in _public_ip_refs(props):
        public = outbound.public_address(topo, pip_id)
        if public is not None:
            addresses.setdefault(public, holder)
    if rtype == T_VIRTUAL_HUB:
        net = _network(props.get("addressPrefix"))
        if net is not None:  # a vWAN hub's own space (a Route Server has none)
            networks.append((net, Holder(res["id"], "Virtual WAN hub")))
        # Older api-versions list the hub's connections inline.
        for field in ("virtualNetworkConnections", "hubVirtualNetworkConnections"):
            for conn in props.get(field) or []:
                remote = props_of(conn).get("remoteVirtualNetwork")
                if isinstance(remote, dict) and isinstance(remote.get("id"), str):
                    vnet_routes.setdefault(key(remote["id"]), []).append(Holder(
                        str(conn.get("id") or res["id"]), "Virtual WAN hub connection"))
    elif rtype == T_HUB_CONNECTION:
        remote = (props.get("remoteVirtualNetwork") or {}).get("id") \
            if isinstance(props.get("remoteVirtualNetwork"), dict) else None
        if isinstance(remote, str):
            vnet_routes.setdefault(key(remote), []).append(Holder(
                res["id"], "Virtual WAN hub connection"))


def _route_server_vnets(topo: Topology, hub_key: str) -> set[str]:
    """The VNets of a Route Server's ipConfigurations (inline or stored as resources)."""
    hub = topo.raw.get(hub_key) or {}
    configs = [c for c in props_of(hub).get("ipConfigurations") or [] if isinstance(c, dict)]
    configs += [r for r in topo.resources_of_type(T_HUB_IP_CONFIG)
                if key(r["id"]).startswith(hub_key + "/ipconfigurations/")]
    found = set()
    for config in configs:
        subnet = (props_of(config).get("subnet") or {}).get("id") \
            if isinstance(props_of(config).get("subnet"), dict) else None
        if isinstance(subnet, str):
            found.add(_vnet_of_subnet(subnet))
    return found


def index_of(topo: Topology) -> Index:
    found = topo.cache.get("unmodelled")
    if found is None:
        found = topo.cache["unmodelled"] = build(topo)
    return found


def holder_at(topo: Topology, address: IPAddress) -> Holder | None:
    index = index_of(topo)
    found = index.addresses.get(address)
    if found is not None:
        return found
    return next((h for net, h in index.networks if address in net), None)


def dead_end(holder: Holder, address: IPAddress) -> Assumption:
    return Assumption(
        "UNMODELLED_RESOURCE_TYPE", holder.resource_id,
        f"{address} is held by {holder.what}, which the twin does not model: the trace stops "
        "there, verdict undetermined", alternatives=("the packet is delivered",
                                                     "the packet is dropped"),
        verdict_sensitive=True)


def route_notes(topo: Topology, subnet: Subnet, route: Route | None,
                bgp_disabled: bool) -> list[Assumption]:
    """Routes this subnet's VNet receives that the twin does not see: a vWAN hub's (doc
    virtual-wan/about-virtual-hub-routing) and a Route Server's BGP peers' (unless the route
    table disables BGP route propagation, doc route-server/overview). Verdict-sensitive when
    a system route other than the VNet's own or a peer's space decided (those beat a longer
    propagated route, as gateway routes, twin-semantics §9); a user route is the user's."""
    sensitive = route is None or (route.route_table_id is None
                                  and route.next_hop_type not in OWN_SPACE_HOPS)
    holders = index_of(topo).vnet_routes.get(key(subnet.vnet_id), ())
    out = []
    for holder in holders:
        if bgp_disabled and holder.what == "Route Server BGP peer":
            continue
        out.append(Assumption(
            "UNMODELLED_RESOURCE_TYPE", holder.resource_id,
            f"the routes {holder.what} {holder.resource_id.rsplit('/', 1)[-1]} gives this "
            "virtual network are not in the twin's effective routes", field="routes",
            alternatives=("a propagated route sends the packet elsewhere",),
            verdict_sensitive=sensitive))
    return out
