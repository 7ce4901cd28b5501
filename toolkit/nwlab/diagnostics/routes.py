"""EffectiveRoutes (NIC effectiveRouteTable): the routes a NIC's traffic is forwarded with
(reference §4.1). Despite the operation's name it returns routes, not route tables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from nwlab.diagnostics._wire import Field, Wire, flag, listed, nested_list, text
from nwlab.diagnostics.render import table_frame, table_html, table_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["EffectiveRoute", "EffectiveRoutes"]

# On equal prefixes a user route beats a BGP (gateway) route, which beats a system route (Azure's
# routing article); unknown sources rank with system routes.
_SOURCE_RANK = {"user": 2, "virtualnetworkgateway": 1}


@dataclass(frozen=True)
class EffectiveRoute(Wire):
    """One route: its prefixes, next hop, where it comes from (Default, User, gateway) and state.

    nextHopType is an open string: live tables also show VNetPeering and
    VirtualNetworkServiceEndpoint, and 2025-07-01 added VirtualApplianceEcmp.
    """

    name: str | None = None
    source: str = ""
    state: str = ""
    address_prefixes: tuple[str, ...] = ()
    next_hop_type: str = ""
    next_hop_ips: tuple[str, ...] = ()
    disable_bgp_route_propagation: bool | None = None
    has_bgp_override: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("name", "name", text), Field("source", "source", text),
        Field("state", "state", text), listed("addressPrefix", "address_prefixes"),
        Field("nextHopType", "next_hop_type", text), listed("nextHopIpAddress", "next_hop_ips"),
        Field("disableBgpRoutePropagation", "disable_bgp_route_propagation", flag),
        Field("hasBgpOverride", "has_bgp_override", flag))

    @property
    def active(self) -> bool:
        return self.state.lower() == "active"

    def prefix_for(self, address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The longest of this route's prefixes holding `address`; None when none does (service
        tags used as prefixes are not expanded here)."""
        ip = ipaddress.ip_address(address)
        best = None
        for prefix in self.address_prefixes:
            try:
                net = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                continue
            if net.version == ip.version and ip in net and (best is None
                                                            or net.prefixlen > best.prefixlen):
                best = net
        return best


@dataclass(frozen=True)
class EffectiveRoutes(Wire):
    """EffectiveRouteListResult: every route of the NIC, active and overridden (Invalid)."""

    routes: tuple[EffectiveRoute, ...] = ()
    next_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (nested_list("value", "routes", EffectiveRoute),
                                           Field("nextLink", "next_link", text))
    COLUMNS: ClassVar[tuple[str, ...]] = ("source", "state", "address_prefix", "next_hop_type",
                                          "next_hop_ip", "name")

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    def route_for(self, address: str) -> EffectiveRoute | None:
        """The active route Azure forwards `address` with: longest prefix, then user over
        gateway over system routes. ValueError when `address` is not an IP address."""
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"address: {address!r} is not an IP address; e.g. "
                             "routes.route_for('10.1.4.4')") from None
        best: tuple[int, int] | None = None
        chosen = None
        for route in self.routes:
            net = route.prefix_for(address) if route.active else None
            if net is None:
                continue
            rank = (net.prefixlen, _SOURCE_RANK.get(route.source.lower(), 0))
            if best is None or rank > best:
                best, chosen = rank, route
        return chosen

    def rows(self) -> list[dict[str, Any]]:
        return [{"source": r.source, "state": r.state, "address_prefix": r.address_prefixes,
                 "next_hop_type": r.next_hop_type, "next_hop_ip": r.next_hop_ips, "name": r.name}
                for r in self.routes]

    def summary(self) -> str:
        nic = self.meta.get("nic")
        active = sum(1 for r in self.routes if r.active)
        where = f" of {nic.rsplit('/', 1)[-1]}" if isinstance(nic, str) and nic else ""
        return f"Effective routes{where}: {len(self.routes)} routes, {active} active"

    def frame(self) -> pd.DataFrame:
        """One row per route; address_prefix and next_hop_ip hold lists."""
        return table_frame(self.COLUMNS, self.rows())

    def __str__(self) -> str:
        return table_text(self.summary(), self.COLUMNS, self.rows())

    def _repr_html_(self) -> str:
        return table_html("effective-routes", self.summary(), self.COLUMNS, self.rows(),
                          marked=[r.active and r.next_hop_type.lower() == "none"
                                  for r in self.routes])

    def __repr__(self) -> str:
        return f"<EffectiveRoutes {len(self.routes)} routes>"
