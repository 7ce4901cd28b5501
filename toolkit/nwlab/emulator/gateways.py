"""VPN and ExpressRoute gateways (twin-semantics §9; doc virtual-network/
virtual-networks-udr-overview, "Optional default routes" and "Border gateway protocol").

A virtual network gateway sits in its VNet's GatewaySubnet. It adds VirtualNetworkGateway
routes to every subnet of its VNet and of peered VNets that use it (their link has
``useRemoteGateways`` and the gateway VNet's link back ``allowGatewayTransit``):
- the address prefixes of the local network gateways of its Connected IPsec connections,
- the address spaces of the VNets behind its Connected Vnet2Vnet connections,
- the routes it learned over BGP, where the snapshot stored the gateway's ``getLearnedRoutes``
  answer (ExpressRoute routes exist only there: they cannot be derived from configuration).
A subnet whose route table has ``disableBgpRoutePropagation`` gets none of them.

What lies beyond the gateway is outside the twin: a check taking such a route ends at a
VirtualNetworkGateway hop and its verdict is undetermined (ASSUME_GATEWAY_BEYOND).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .assumptions import Assumption
from .topology import (
    T_CONNECTION,
    T_GATEWAY,
    T_LEARNED_ROUTES,
    IPAddress,
    Route,
    Subnet,
    Topology,
    key,
    props_of,
)


@dataclass(frozen=True)
class Gateway:
    id: str
    vnet_id: str
    address: str  # the hop's address: the gateway's private IP, else its public IP, else ""
    prefixes: tuple[ipaddress.IPv4Network, ...]
    notes: tuple[Assumption, ...] = ()  # what the twin assumed about its connections


def _ref(value: Any) -> str | None:
    return value.get("id") if isinstance(value, dict) and isinstance(value.get("id"), str) \
        else None


def _networks(texts: Any) -> list[ipaddress.IPv4Network]:
    out = []
    for text in texts or []:
        try:
            net = ipaddress.ip_network(str(text), strict=False)
        except ValueError:
            continue  # a bad prefix in a learned-routes answer is not the user's to fix
        if isinstance(net, ipaddress.IPv4Network):
            out.append(net)
    return out


def _address(topo: Topology, props: dict[str, Any]) -> str:
    for cfg in props.get("ipConfigurations") or []:
        cprops = props_of(cfg)
        if cprops.get("privateIPAddress"):
            return str(cprops["privateIPAddress"])
        pip = topo.raw.get(key(_ref(cprops.get("publicIPAddress")) or ""))
        if pip is not None and props_of(pip).get("ipAddress"):
            return str(props_of(pip)["ipAddress"])
    return ""


def _vnet_of(props: dict[str, Any]) -> str | None:
    for cfg in props.get("ipConfigurations") or []:
        subnet = _ref(props_of(cfg).get("subnet"))
        if subnet and "/subnets/" in subnet:
            return subnet.rsplit("/subnets/", 1)[0]
    return None


def gateways(topo: Topology) -> dict[str, Gateway]:
    """VNet key -> the VNet's gateway with the prefixes it routes (built once per topology)."""
    cached = topo.cache.get("gateways")
    if cached is not None:
        return cached
    learned: dict[str, list[ipaddress.IPv4Network]] = {}
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() == T_LEARNED_ROUTES:
            gw = str(res.get("gatewayId") or res["id"].rsplit("/learnedRoutes", 1)[0])
            # origin Network is the gateway's own VNet: already a VnetLocal route.
            learned.setdefault(key(gw), []).extend(
                net for r in res.get("value") or [] if isinstance(r, dict)
                and str(r.get("origin", "")).lower() != "network"
                for net in _networks([r.get("network")]))
    routed: dict[str, list[ipaddress.IPv4Network]] = {}
    notes: dict[str, list[Assumption]] = {}
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() != T_CONNECTION:
            continue
        props = props_of(res)
        gw_ref = _ref(props.get("virtualNetworkGateway1"))
        if gw_ref is None:
            continue
        gw = gw_ref
        status = props.get("connectionStatus")
        if status is None:
            notes.setdefault(key(gw), []).append(Assumption(
                "ASSUME_GATEWAY_CONNECTION_UP", res["id"], "the connection has no "
                "connectionStatus: it is taken as Connected and its prefixes are routed",
                field="connectionStatus", alternatives=("not connected: no routes",)))
        elif str(status) != "Connected":
            continue  # assumed: static routes exist only while the connection is up (§9.4)
        local = topo.raw.get(key(_ref(props.get("localNetworkGateway2")) or ""))
        if local is not None:
            routed.setdefault(key(gw), []).extend(_networks(
                (props_of(local).get("localNetworkAddressSpace") or {}).get("addressPrefixes")))
        remote = topo.raw.get(key(_ref(props.get("virtualNetworkGateway2")) or ""))
        remote_vnet = _vnet_of(props_of(remote)) if remote is not None else None
        if remote_vnet is not None and key(remote_vnet) in topo.vnets:
            routed.setdefault(key(gw), []).extend(topo.vnets[key(remote_vnet)].spaces)
    out: dict[str, Gateway] = {}
    for res in topo.raw.values():
        if str(res.get("type", "")).lower() != T_GATEWAY:
            continue
        props = props_of(res)
        vnet = _vnet_of(props)
        if vnet is None or key(vnet) not in topo.vnets:
            continue
        nets = tuple(dict.fromkeys([*routed.get(key(res["id"]), []),
                                    *learned.get(key(res["id"]), [])]))
        out[key(vnet)] = Gateway(res["id"], vnet, _address(topo, props), nets,
                                 tuple(notes.get(key(res["id"]), ())))
    topo.cache["gateways"] = out
    return out


def _propagation_disabled(topo: Topology, subnet: Subnet) -> bool:
    if subnet.route_table_id is None:
        return False
    table = topo.raw.get(key(subnet.route_table_id)) or {}
    return bool(props_of(table).get("disableBgpRoutePropagation"))


def gateway_for(topo: Topology, subnet: Subnet) -> Gateway | None:
    """The gateway whose routes this subnet gets: its VNet's own, else a peer's through
    gateway transit (useRemoteGateways here, allowGatewayTransit on the peer's link back)."""
    found = gateways(topo)
    vnet = topo.vnets[key(subnet.vnet_id)]
    own = found.get(key(vnet.id))
    if own is not None:
        return own
    for link in vnet.peerings:
        remote = found.get(key(link.remote_vnet_id))
        back = topo.link(link.remote_vnet_id, vnet.id)
        if remote is None or back is None:
            continue
        if props_of(topo.raw.get(key(link.id))).get("useRemoteGateways") and \
                props_of(topo.raw.get(key(back.id))).get("allowGatewayTransit"):
            return remote
    return None


def gateway_routes(topo: Topology, subnet: Subnet) -> list[Route]:
    """The subnet's VirtualNetworkGateway system routes (none with BGP propagation off)."""
    if _propagation_disabled(topo, subnet):
        return []
    gw = gateway_for(topo, subnet)
    if gw is None:
        return []
    return [Route("VirtualNetworkGateway", net, "VirtualNetworkGateway", None, None, id=gw.id)
            for net in gw.prefixes]


def beyond(gw: Gateway, destination: IPAddress) -> Assumption:
    """What the twin says about a packet handed to a gateway (twin-semantics §9.4)."""
    return Assumption(
        "ASSUME_GATEWAY_BEYOND", gw.id, f"{destination} is beyond the gateway: the check ends "
        "at a VirtualNetworkGateway hop at the gateway and is reported Unreachable",
        alternatives=("the on-premises endpoint answers",), verdict_sensitive=True)


def user_route_notes(topo: Topology, gw: Gateway, route: Route) -> list[Assumption]:
    """What the twin assumes when a user route sends a packet to an ExpressRoute gateway.

    The routing article allows a user route to VirtualNetworkGateway only towards a VPN
    gateway (twin-semantics §9.2 rule 5: not an ExpressRoute gateway, whose custom routing is
    BGP only). It does not say what happens to a packet such a route matches; the twin hands it
    to the gateway as the route says and lets the verdict stay open."""
    kind = str(props_of(topo.raw.get(key(gw.id))).get("gatewayType") or "Vpn")
    if kind.lower() != "expressroute":
        return []
    return [Assumption(
        "ASSUME_GATEWAY_USER_ROUTE_EXPRESSROUTE", route.id, "a user route sends the packet to "
        "an ExpressRoute gateway, which Azure documents only for VPN gateways: the twin hands it "
        "to the gateway", field="nextHopType",
        alternatives=("the route is ignored or the packet dropped",), verdict_sensitive=True)]


def ipv6_stop(topo: Topology, gw: Gateway, destination: IPAddress) -> Assumption | None:
    """An IPv6 packet handed to a VPN gateway goes no further: VPN gateways carry IPv4 only
    (doc virtual-network/ip-services/ipv6-overview, limitations; twin-semantics §13.2 rule 4).
    ExpressRoute private peering has IPv6, so an ExpressRoute gateway keeps ASSUME_GATEWAY_BEYOND.
    None when the gateway may carry the packet."""
    kind = str(props_of(topo.raw.get(key(gw.id))).get("gatewayType") or "Vpn")
    if destination.version != 6 or kind.lower() != "vpn":
        return None
    return Assumption(
        "ASSUME_IPV6_VPN_GATEWAY_STOPS", gw.id, f"{destination} is IPv6 and VPN gateways carry "
        "IPv4 only (documented): the check ends at the gateway hop, which carries no issue "
        "(no documented issue type names it)", field="gatewayType")
