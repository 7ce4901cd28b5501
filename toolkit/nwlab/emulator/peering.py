"""What a VNet peering lets across (doc virtual-network/virtual-network-manage-peering).

Only Connected peerings exist for the twin (the loader drops the others). A packet crossing
from VNet B into VNet A needs:
- ``allowVirtualNetworkAccess`` on the links (assumed: either side false drops both directions,
  and the route stays; twin-semantics §4.4);
- when it is *forwarded* (its source is outside B's own address space, i.e. an appliance in B
  relays it), ``allowForwardedTraffic`` on the side ``emulation.peeringForwardedTraffic``
  names: the receiving side by default (the portal's reading), or sender, both, ignore.
"""

from __future__ import annotations

from .assumptions import Assumption
from .topology import IPAddress, Topology, key


def peering_open(topo: Topology, a: str, b: str) -> bool:
    """allowVirtualNetworkAccess on both links (a missing reverse link counts as open)."""
    return all(link.allow_access for link in (topo.link(a, b), topo.link(b, a))
               if link is not None)


def crossing(topo: Topology, sender_vnet: str, receiver_vnet: str,
             source: IPAddress) -> tuple[bool, list[Assumption]]:
    """May a packet from ``source`` cross from the sender's VNet into the receiver's?"""
    if key(sender_vnet) == key(receiver_vnet):
        return True, []
    out_link = topo.link(sender_vnet, receiver_vnet)
    in_link = topo.link(receiver_vnet, sender_vnet)
    notes: list[Assumption] = []
    if not peering_open(topo, sender_vnet, receiver_vnet):
        closed = next(link for link in (out_link, in_link)
                      if link is not None and not link.allow_access)
        agree = all(link is None or not link.allow_access for link in (out_link, in_link))
        notes.append(Assumption(
            "ASSUME_PEERING_ACCESS_EITHER_SIDE", closed.id, "allowVirtualNetworkAccess is "
            "false: the packet is dropped at the peering", field="allowVirtualNetworkAccess",
            alternatives=("only the direction away from the closed side is dropped",),
            verdict_sensitive=not agree))
        return False, notes
    sender = topo.vnets[key(sender_vnet)]
    if any(source in space for space in sender.spaces) or \
            any(source in space for space in sender.spaces6):  # either family
        return True, notes
    mode = topo.emulation.forwarded_traffic
    sender_ok = out_link is not None and out_link.allow_forwarded
    receiver_ok = in_link is None or in_link.allow_forwarded
    allowed = {"receiver": receiver_ok, "sender": sender_ok, "both": receiver_ok and sender_ok,
               "ignore": True}[mode]
    where = in_link or out_link
    assert where is not None  # a crossing always has the link that routed it
    notes.append(Assumption(
        "ASSUME_PEERING_FORWARDED_RECEIVER_SIDE", where.id,
        f"forwarded traffic from {source} is {'let in' if allowed else 'dropped'} by the "
        f"{mode} side's allowForwardedTraffic", field="allowForwardedTraffic",
        alternatives=tuple(m for m in ("receiver", "sender", "both", "ignore") if m != mode),
        verdict_sensitive=receiver_ok != sender_ok))
    return allowed, notes
