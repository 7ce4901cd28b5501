"""A topology load pauses the cyclic collector and always restores it (gcpause.py)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from nwlab.emulator import Topology, TopologyError
from nwlab.emulator.topology import load_topology

from .factory import SUB, Net, rule


def _estate(*rules: dict[str, Any]) -> dict[str, Any]:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.nsg("n", *rules)
    return net.document()


def test_a_load_runs_with_the_collector_paused_and_restores_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    parse = Topology._parse

    def spy(self: Topology) -> None:
        seen.append(gc.isenabled())
        parse(self)

    monkeypatch.setattr(Topology, "_parse", spy)
    assert gc.isenabled()
    load_topology(_estate(rule("a", 100, "Inbound", "Allow")))
    assert seen == [False]
    assert gc.isenabled()


def test_a_refused_load_restores_the_collector() -> None:
    with pytest.raises(TopologyError, match="priority 100 is already used"):
        Topology(_estate(rule("a", 100, "Inbound", "Allow"), rule("b", 100, "Inbound", "Deny")))
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        Topology(_estate(rule("a", 100, "Inbound", "Allow")))
        assert not gc.isenabled()
    finally:
        gc.enable()


def _with_id(entry: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """A rule under an id of its own, so two rules can share a name (not their id)."""
    return {**entry, "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
            f"Microsoft.Network/networkSecurityGroups/n/securityRules/{rule_id}"}


def test_the_earliest_clashing_rule_is_the_one_reported() -> None:
    # The last "c" clashes with "a" (priority) and with the first "c" (name): whichever
    # comes first in the list is the one reported.
    with pytest.raises(TopologyError, match="priority 100 is already used by inbound rule 'a'"):
        Topology(_estate(rule("a", 100, "Inbound", "Allow"), rule("c", 200, "Inbound", "Allow"),
                         _with_id(rule("c", 100, "Inbound", "Deny"), "c2")))
    with pytest.raises(TopologyError, match=r"securityRules/c2.*duplicate rule name"):
        Topology(_estate(rule("c", 300, "Inbound", "Allow"), rule("a", 100, "Inbound", "Allow"),
                         _with_id(rule("c", 100, "Inbound", "Deny"), "c2")))


def test_a_large_topology_is_frozen_out_of_the_collector_and_holds_no_cycle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nwlab.emulator import gcpause
    from nwlab.emulator.topology import key
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    nsg = net.nsg("n", rule("a", 100, "Inbound", "Allow"))
    net.subnet("v", "s", "10.0.1.0/24", nsg="n")
    net.vm("vm", "v", "s", "10.0.1.4")
    gc.collect()
    frozen = gc.get_freeze_count()
    monkeypatch.setattr(gcpause, "LONG_LIVED_RESOURCES", 10**9)
    small = net.topology()
    assert gc.get_freeze_count() == frozen  # below the threshold nothing is frozen
    monkeypatch.setattr(gcpause, "LONG_LIVED_RESOURCES", 1)
    try:
        topo = net.topology()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
    # Frozen objects are freed by reference counting only: a topology, and one a write
    # derives from it, must leave no cycle for the collector to find.
    written, _ = topo.with_child(nsg, "securityRules", {
        "name": "b", "id": f"{nsg}/securityRules/b",
        "properties": rule("b", 200, "Inbound", "Deny")["properties"]})
    assert [r.name for r in written.nsgs[key(nsg)].rules] == ["a", "b"]
    gc.collect()
    del topo, written, small
    assert gc.collect() == 0
