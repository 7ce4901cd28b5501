"""Routing semantics: system/user routes, None routes, appliances, reply paths, peering."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nwlab.emulator import engine

from .factory import SUB, Net, check, route, rule, summary

OK = "Reachable"
NO = "Unreachable"


def lab(a_routes: tuple[dict, ...] = (), b_routes: tuple[dict, ...] = (),
        nva_routes: tuple[dict, ...] = (), *, forwarding: bool = True,
        nva_nsg: tuple[dict, ...] | None = None) -> Net:
    """VNet 10.0.0.0/16: a 10.0.1.4, b 10.0.2.4, appliance nva 10.0.3.4, nva2 10.0.4.4."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    for name, prefix, routes in (("a", "10.0.1.0/24", a_routes), ("b", "10.0.2.0/24", b_routes),
                                 ("nva", "10.0.3.0/24", nva_routes)):
        net.subnet("v", name, prefix, rt=f"rt-{name}" if routes else None)
        if routes:
            net.rt(f"rt-{name}", *routes)
    net.subnet("v", "nva2", "10.0.4.0/24", rt="rt-nva2")
    net.rt("rt-nva2", route("back", "10.0.2.0/24", "VirtualAppliance", "10.0.3.4"))
    if nva_nsg is not None:
        net.nsg("nva-nsg", *nva_nsg)
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    net.vm("nva", "v", "nva", "10.0.3.4", forwarding=forwarding, agent=False,
           nsg="nva-nsg" if nva_nsg is not None else None)
    net.vm("nva2", "v", "nva2", "10.0.4.4", forwarding=True, agent=False)
    return net


VIA_NVA = route("via-nva", "10.0.2.0/24", "VirtualAppliance", "10.0.3.4")
HOPS_DIRECT = [("Source", "10.0.1.4", []), ("VnetLocal", "10.0.2.4", [])]
HOPS_VIA_NVA = [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.3.4", []),
                ("VnetLocal", "10.0.2.4", [])]
NONE_DEFAULT = ["UserDefinedRoute:Outbound:Default"]

CASES: list[tuple[str, Callable[[], Net], str, str, list]] = [
    ("system_vnetlocal_direct", lambda: lab(), "b", OK, HOPS_DIRECT),
    ("longest_prefix_user_24_beats_system_16", lambda: lab((VIA_NVA,)), "b", OK, HOPS_VIA_NVA),
    ("longest_prefix_system_16_beats_user_8",
     lambda: lab((route("wide", "10.0.0.0/8", "VirtualAppliance", "10.0.3.4"),)), "b", OK,
     HOPS_DIRECT),
    ("user_beats_system_on_equal_prefix",
     lambda: lab((route("same", "10.0.0.0/16", "VirtualAppliance", "10.0.3.4"),)), "b", OK,
     HOPS_VIA_NVA),
    ("system_none_route_10_8", lambda: lab(), "10.200.0.4", NO,
     [("Source", "10.0.1.4", NONE_DEFAULT), ("Destination", "10.200.0.4", [])]),
    ("system_none_route_172_16_12", lambda: lab(), "172.20.0.4", NO,
     [("Source", "10.0.1.4", NONE_DEFAULT), ("Destination", "172.20.0.4", [])]),
    ("system_none_route_192_168_16", lambda: lab(), "192.168.7.7", NO,
     [("Source", "10.0.1.4", NONE_DEFAULT), ("Destination", "192.168.7.7", [])]),
    ("system_none_route_100_64_10", lambda: lab(), "100.64.1.1", NO,
     [("Source", "10.0.1.4", NONE_DEFAULT), ("Destination", "100.64.1.1", [])]),
    ("user_none_route_reports_user",
     lambda: lab((route("drop", "10.0.2.4/32", "None"),)), "b", NO,
     [("Source", "10.0.1.4", ["UserDefinedRoute:Outbound:User"]),
      ("Destination", "10.0.2.4", [])]),
    ("default_user_route_removes_none_routes",
     lambda: lab((route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.3.4"),)), "10.200.0.4",
     # The source subnet lost its None route (no issue there); the appliance's subnet has no
     # default user route, so its own system None route drops the packet there.
     NO, [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.3.4", NONE_DEFAULT),
          ("Destination", "10.200.0.4", [])]),
    ("narrower_user_route_keeps_none_routes",
     lambda: lab((route("some", "8.8.8.0/24", "VirtualAppliance", "10.0.3.4"),)),
     "10.200.0.4", NO, [("Source", "10.0.1.4", NONE_DEFAULT),
                        ("Destination", "10.200.0.4", [])]),
    ("internet_system_route", lambda: lab(), "8.8.8.8", OK,
     [("Source", "10.0.1.4", []), ("Internet", "8.8.8.8", [])]),
    ("internet_through_appliance_natted_back",
     lambda: lab((route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.3.4"),)), "8.8.8.8", OK,
     [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.3.4", []),
      ("Internet", "8.8.8.8", [])]),
    ("private_address_sent_to_internet_dies",
     lambda: lab((route("odd", "10.9.0.0/16", "Internet"),)), "10.9.0.4", NO,
     [("Source", "10.0.1.4", []), ("Destination", "10.9.0.4", [])]),
    ("vnetlocal_without_nic_is_a_dead_end", lambda: lab(), "10.0.2.99", NO,
     [("Source", "10.0.1.4", []), ("Destination", "10.0.2.99", [])]),
    ("appliance_that_does_not_exist",
     lambda: lab((route("ghost", "10.0.2.0/24", "VirtualAppliance", "10.0.3.99"),)), "b", NO,
     [("Source", "10.0.1.4", []), ("Destination", "10.0.2.4", [])]),
    ("gateway_route_not_modelled_dead_end",
     lambda: lab((route("gw", "10.0.2.0/24", "VirtualNetworkGateway"),)), "b", NO,
     [("Source", "10.0.1.4", []), ("Destination", "10.0.2.4", [])]),
    ("appliance_chain_with_symmetric_reply",
     lambda: lab((route("to-nva2", "10.0.2.0/24", "VirtualAppliance", "10.0.4.4"),),
                 (route("back", "10.0.1.0/24", "VirtualAppliance", "10.0.3.4"),)), "b", OK,
     [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.4.4", []),
      ("VirtualAppliance", "10.0.3.4", []), ("VnetLocal", "10.0.2.4", [])]),
    ("appliance_without_ip_forwarding_drops",
     lambda: lab((VIA_NVA,), forwarding=False), "b", NO,
     [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.3.4", [])]),
    ("appliance_inbound_nsg_on_arrival",
     lambda: lab((VIA_NVA,), nva_nsg=(rule("in", 100, "Inbound", "Deny"),)), "b", NO,
     [("Source", "10.0.1.4", []),
      ("VirtualAppliance", "10.0.3.4", ["NetworkSecurityRule:Inbound:UserRule_in"]),
      ("VnetLocal", "10.0.2.4", [])]),
    ("appliance_outbound_nsg_on_leaving",
     lambda: lab((VIA_NVA,), nva_nsg=(rule("out", 100, "Outbound", "Deny"),)), "b", NO,
     [("Source", "10.0.1.4", []),
      ("VirtualAppliance", "10.0.3.4", ["NetworkSecurityRule:Outbound:UserRule_out"]),
      ("VnetLocal", "10.0.2.4", [])]),
    ("appliance_uses_its_own_subnet_routes",
     lambda: lab((VIA_NVA,), nva_routes=(route("drop", "10.0.2.0/24", "None"),)), "b", NO,
     [("Source", "10.0.1.4", []),
      ("VirtualAppliance", "10.0.3.4", ["UserDefinedRoute:Outbound:User"]),
      ("Destination", "10.0.2.4", [])]),
    ("reply_through_appliance_without_forwarding_dies",
     lambda: lab(b_routes=(route("back", "10.0.1.0/24", "VirtualAppliance", "10.0.3.4"),),
                 forwarding=False), "b", NO, HOPS_DIRECT),
    ("reply_asymmetric_through_forwarding_appliance_works",
     lambda: lab(b_routes=(route("back", "10.0.1.0/24", "VirtualAppliance", "10.0.3.4"),)),
     "b", OK, HOPS_DIRECT),
    ("reply_to_none_route_dies",
     lambda: lab(b_routes=(route("back", "10.0.1.0/24", "None"),)), "b", NO, HOPS_DIRECT),
    ("loop_guard_between_appliances",
     lambda: lab((VIA_NVA,), nva_routes=(route("ping", "10.0.2.0/24", "VirtualAppliance",
                                                "10.0.4.4"),)), "b", NO,
     [("Source", "10.0.1.4", []), ("VirtualAppliance", "10.0.3.4", []),
      ("VirtualAppliance", "10.0.4.4", [])]),
]


@pytest.mark.parametrize(("build", "dest", "status", "hops"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_route_rule(build: Callable[[], Net], dest: str, status: str, hops: list) -> None:
    result = check(build(), "a", dest)
    assert result["connectionStatus"] == status
    assert summary(result) == hops


def test_none_route_removed_only_by_exact_default_route_and_vnet_space_kept() -> None:
    """A VNet whose space is exactly 10.0.0.0/8 keeps VnetLocal for it, not None."""
    net = Net()
    net.vnet("v", "10.0.0.0/8")
    net.subnet("v", "a", "10.0.1.0/24")
    net.subnet("v", "b", "10.9.0.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.9.0.4")
    assert check(net, "a", "b")["connectionStatus"] == OK


def _peering(both: bool = True, state: str | None = None) -> Net:
    net = Net()
    net.vnet("v1", "10.1.0.0/16")
    net.vnet("v2", "10.2.0.0/16")
    net.subnet("v1", "s", "10.1.0.0/24")
    net.subnet("v2", "s", "10.2.0.0/24")
    net.peer("v1", "v2", both=both, state=state)
    net.vm("a", "v1", "s", "10.1.0.4")
    net.vm("b", "v2", "s", "10.2.0.4")
    return net


def test_peering_routes_both_ways() -> None:
    result = check(_peering(), "a", "b")
    assert result["connectionStatus"] == OK
    assert summary(result) == [("Source", "10.1.0.4", []), ("VnetLocal", "10.2.0.4", [])]


def test_one_sided_peering_has_no_way_back() -> None:
    result = check(_peering(both=False), "a", "b")
    assert result["connectionStatus"] == NO
    assert summary(result) == [("Source", "10.1.0.4", []), ("VnetLocal", "10.2.0.4", [])]


def test_disconnected_peering_is_a_none_route() -> None:
    result = check(_peering(state="Disconnected"), "a", "b")
    assert summary(result) == [("Source", "10.1.0.4", NONE_DEFAULT),
                               ("Destination", "10.2.0.4", [])]


def test_appliance_in_peered_vnet() -> None:
    net = _peering()
    net.subnet("v2", "nva", "10.2.1.0/24")
    net.vm("nva", "v2", "nva", "10.2.1.4", forwarding=True, agent=False)
    net.subnet("v1", "t", "10.1.1.0/24", rt="rt")
    net.rt("rt", route("hub", "10.2.0.0/24", "VirtualAppliance", "10.2.1.4"))
    net.vm("c", "v1", "t", "10.1.1.4")
    result = check(net, "c", "b")
    assert result["connectionStatus"] == OK
    assert [h[0] for h in summary(result)] == ["Source", "VirtualAppliance", "VnetLocal"]


def test_stopped_appliance_drops() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.subnet("v", "b", "10.0.2.0/24")
    net.subnet("v", "n", "10.0.3.0/24")
    net.rt("rt", VIA_NVA)
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    net.vm("nva", "v", "n", "10.0.3.4", forwarding=True, power="deallocated")
    assert check(net, "a", "b")["connectionStatus"] == NO


@pytest.mark.parametrize(("routes", "dest", "expected"), [
    ((), "10.0.2.4", ("VnetLocal", "", "System Route")),
    ((), "8.8.8.8", ("Internet", "", "System Route")),
    ((), "10.200.0.1", ("None", "", "System Route")),
    ((VIA_NVA,), "10.0.2.4", ("VirtualAppliance", "10.0.3.4", "rt-a")),
])
def test_next_hop(routes: tuple[dict, ...], dest: str, expected: tuple[str, str, str]) -> None:
    topo = lab(routes).topology()
    vm = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a"
    out = engine.next_hop(topo, {"targetResourceId": vm, "sourceIPAddress": "10.0.1.4",
                                 "destinationIPAddress": dest})
    assert (out["nextHopType"], out["nextHopIpAddress"],
            out["routeTableId"].split("/")[-1]) == expected
