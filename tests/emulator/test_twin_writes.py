"""What-if writes re-parse only the resource they change: the result must be the network a
full load of the written document gives, and the topology before the write must not move."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator import Topology, TopologyError

from .factory import Net, check, route, rule

CHECKS = [("web", "db", 1433), ("web", "db", 22), ("db", "web", 80), ("web", "20.60.1.1", 443),
          ("web", "40.78.1.1", 1433), ("web", "9.9.9.9", 80)]


def _estate() -> tuple[Net, str, str]:
    net = Net()
    web, db = net.asg("asg-web"), net.asg("asg-db")
    net.vnet("v", "10.0.0.0/16")
    nsg = net.nsg("n", rule("web-db", 100, "Inbound", "Allow", src_asgs=[web], dst_asgs=[db],
                            dport="1433"),
                  rule("deny-db", 110, "Inbound", "Deny", dst_asgs=[db]),
                  rule("no-sql", 120, "Outbound", "Deny", dst="Sql.WestUS"))
    rt = net.rt("rt", route("storage", "Storage", "Internet"))
    net.subnet("v", "a", "10.0.1.0/24", nsg="n", rt="rt")
    net.vm("web", "v", "a", "10.0.1.4", asgs=[web])
    net.vm("db", "v", "a", "10.0.1.5", asgs=[db])
    net.service_tags({"Storage": ["20.60.0.0/16"], "Sql.WestUS": ["40.78.0.0/16"]})
    return net, nsg, rt


def _answers(topo: Topology) -> list[Any]:
    return [check(topo, s, d, p) for s, d, p in CHECKS]


def _same_as_a_full_load(topo: Topology) -> None:
    full = Topology(topo.document)
    assert _answers(topo) == _answers(full)
    assert sorted(map(str, topo.assumptions)) == sorted(map(str, full.assumptions))
    assert set(topo.raw) == set(full.raw)


@pytest.mark.parametrize("write", [
    lambda t, nsg, rt: t.with_child(nsg, "securityRules", {
        "name": "block-22", "id": f"{nsg}/securityRules/block-22", "properties": {
            "priority": 105, "direction": "Inbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*",
            "destinationPortRange": "22"}}),
    lambda t, nsg, rt: t.with_child(nsg, "securityRules", {
        "name": "no-sql", "id": f"{nsg}/securityRules/no-sql", "properties": {
            "priority": 120, "direction": "Outbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "AzureKeyVault", "destinationPortRange": "*"}}),
    lambda t, nsg, rt: t.without_child(nsg, "securityRules", "deny-db"),
    lambda t, nsg, rt: t.with_child(rt, "routes", {
        "name": "drop", "id": f"{rt}/routes/drop", "properties": {
            "addressPrefix": "9.9.9.0/24", "nextHopType": "None"}}),
    lambda t, nsg, rt: t.without_child(rt, "routes", "storage"),
], ids=["add-rule", "rule-to-unresolved-tag", "delete-rule", "add-route", "delete-tag-route"])
def test_a_write_gives_the_network_a_full_load_gives(write: Any) -> None:
    net, nsg, rt = _estate()
    before = net.topology()
    answers = _answers(before)  # fills the caches the write must invalidate
    after, _ = write(before, nsg, rt)
    _same_as_a_full_load(after)
    assert _answers(after) != answers  # each write changes at least one answer
    assert _answers(before) == answers  # a check that started keeps its network


def test_an_invalid_write_is_refused_and_changes_nothing() -> None:
    net, nsg, _ = _estate()
    before = net.topology()
    with pytest.raises(TopologyError, match="priority 100 is already used"):
        before.with_child(nsg, "securityRules", {
            "name": "dup", "id": f"{nsg}/securityRules/dup", "properties": {
                "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "*",
                "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": "*"}})
    _same_as_a_full_load(before)
