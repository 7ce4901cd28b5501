"""VirtualApplianceEcmp user routes (twin-semantics §14; spec routeTable.json RouteNextHopEcmp)."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator import TopologyError

from .factory import Net, assumed, check, outcome


def ecmp(name: str, prefix: str, *ips: str) -> dict[str, Any]:
    return {"name": name, "properties": {"addressPrefix": prefix,
                                         "nextHopType": "VirtualApplianceEcmp",
                                         "nextHop": {"nextHopIpAddresses": list(ips)}}}


def _net(second_forwards: bool = True) -> Net:
    """a (10.0.1.4) routes 10.0.2.0/24 to the ECMP set {nva1 10.0.3.4, nva2 10.0.3.5};
    b (10.0.2.4) answers; the reply goes straight back (VnetLocal)."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.rt("rt", ecmp("pair", "10.0.2.0/24", "10.0.3.4", "10.0.3.5"))
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.subnet("v", "b", "10.0.2.0/24")
    net.subnet("v", "nva", "10.0.3.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    net.vm("nva1", "v", "nva", "10.0.3.4", forwarding=True)
    net.vm("nva2", "v", "nva", "10.0.3.5", forwarding=second_forwards)
    return net


def test_ecmp_route_takes_a_member_and_all_members_reaching_is_not_sensitive() -> None:
    result = check(_net(), "a", "b")
    assert [(h["type"], h["address"]) for h in result["hops"]] == [
        ("Source", "10.0.1.4"), ("VirtualAppliance", "10.0.3.4"), ("VnetLocal", "10.0.2.4")]
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_ECMP_FLOW_HASH", False) in assumed(result)
    assert outcome(result) == "reached"


def test_ecmp_members_that_disagree_leave_the_verdict_undetermined() -> None:
    result = check(_net(second_forwards=False), "a", "b")
    assert result["connectionStatus"] == "Reachable"  # member 0, as drawn
    note = next(a for a in result["nwlab"]["assumptions"] if a["code"] == "ASSUME_ECMP_FLOW_HASH")
    assert note["verdictSensitive"] is True
    assert "members 0 of 2 reach" in note["assumed"]
    assert outcome(result) == "undetermined"


@pytest.mark.parametrize("ips", [[], ["10.0.3.4"], ["10.0.3.4", "not-an-ip"]])
def test_ecmp_route_needs_two_or_more_addresses(ips: list[str]) -> None:
    net = _net()
    table = next(r for r in net.resources if r["name"] == "rt")
    table["properties"]["routes"] = [ecmp("pair", "10.0.2.0/24", *ips)]
    with pytest.raises(TopologyError, match="nextHop"):
        net.topology()


def test_ecmp_route_loads_without_assumptions() -> None:
    assert _net().topology().assumptions == []
