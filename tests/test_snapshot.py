"""nw.snapshot(): a real (here: emulated) network read over ARM becomes a topology the emulator runs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import nwlab
from nwlab.emulator import DEFAULT_TOPOLOGY_PATH

ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def private_network():
    """The Contoso topology under a random, non-zero subscription id, served by the emulator."""
    subscription = str(uuid.uuid4())
    text = Path(DEFAULT_TOPOLOGY_PATH).read_text(encoding="utf-8").replace(ZERO, subscription)
    topology = json.loads(text)
    topology["resources"][0].setdefault("tags", {})["owner"] = "someone@contoso.example"
    nw = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    yield nw, subscription
    nw.close()


def test_snapshot_scrubs_subscription_and_tags(private_network, tmp_path):
    nw, subscription = private_network
    path = tmp_path / "mine.json"
    topology = nw.snapshot("ContosoRG", path=path)
    text = path.read_text()
    assert subscription not in text
    assert ZERO in text
    assert "someone@contoso.example" not in text
    assert json.loads(text) == topology
    types = {r["type"] for r in topology["resources"]}
    assert {"Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/extensions",
            "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkInterfaces",
            "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/routeTables",
            "Microsoft.Network/networkWatchers"} <= types


def test_snapshot_keeps_subscription_only_when_asked(private_network):
    nw, subscription = private_network
    topology = nw.snapshot("ContosoRG", keep_subscription=True)
    assert topology["subscriptionId"] == subscription
    assert all(subscription in r["id"] for r in topology["resources"])


def test_snapshot_answers_the_same_checks_offline(private_network):
    nw, _ = private_network
    topology = nw.snapshot("ContosoRG")
    twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    try:
        for destination, port in (("Database0", 80), ("13.107.21.200", 80)):
            live = nw.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
            offline = twin.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
            assert offline.status == live.status
            assert [h.type for h in offline.hops] == [h.type for h in live.hops]
            assert [i.to_dict() for i in offline.issues] == [i.to_dict() for i in live.issues]
    finally:
        twin.close()


def test_snapshot_what_if_changes_the_twin_not_the_original(private_network):
    nw, _ = private_network
    twin = nwlab.emulate(nw.snapshot("ContosoRG"), check_seconds=0, retry_after=0)
    try:
        before = twin.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        nsg = next(r["id"] for r in twin.snapshot("ContosoRG")["resources"]
                   if r["type"] == "Microsoft.Network/networkSecurityGroups"
                   and any(rule["name"] == "Port80"
                           for rule in r["properties"].get("securityRules", [])))
        twin.delete_security_rule(nsg, "Port80")
        after = twin.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        original = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        assert not before.reachable
        assert after.reachable
        assert not original.reachable
    finally:
        twin.close()
