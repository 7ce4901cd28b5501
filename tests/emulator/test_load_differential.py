"""Documents on which the fast loader (cebbb7a..ceec6ef) parted from the loader before it
(612cee3), found by a differential fuzzer: each test asserts what the earlier loader does."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator import Topology, TopologyError
from nwlab.emulator.topology import Listing, key

SUB = "00000000-0000-0000-0000-000000000000"
AGENT = {"publisher": "Microsoft.Azure.NetworkWatcher", "type": "NetworkWatcherAgentLinux"}


def _rid(kind: str, name: str, provider: str = "Microsoft.Network", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/rg1/providers/{provider}/{kind}/{name}"


def _body(priority: int = 100) -> dict[str, Any]:
    return {"priority": priority, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "80"}


def _nsg(name: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"id": _rid("networkSecurityGroups", name), "name": name,
                           "type": "Microsoft.Network/networkSecurityGroups",
                           "location": "westus", **extra}
    if properties is not None:
        res["properties"] = properties
    return res


def _vnet(*subnets: dict[str, Any]) -> dict[str, Any]:
    return {"id": _rid("virtualNetworks", "v"), "name": "v",
            "type": "Microsoft.Network/virtualNetworks", "location": "westus",
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                           "subnets": list(subnets)}}


def _vm(name: str, ip: str, **extra: Any) -> list[dict[str, Any]]:
    nic, vm = _rid("networkInterfaces", f"{name}-nic"), _rid(
        "virtualMachines", name, "Microsoft.Compute")
    cfg = {"privateIPAddress": ip, "subnet": {"id": f"{_rid('virtualNetworks', 'v')}/subnets/a"}}
    return [{"id": nic, "name": f"{name}-nic", "type": "Microsoft.Network/networkInterfaces",
             "location": "westus", "properties": {
                 "virtualMachine": {"id": vm},
                 "ipConfigurations": [{"name": "c", "properties": cfg}]}},
            {"id": vm, "name": name, "type": "Microsoft.Compute/virtualMachines",
             "location": "westus",
             "properties": {"networkProfile": {"networkInterfaces": [{"id": nic}]}}, **extra}]


def _load(*resources: dict[str, Any], sub: str = SUB) -> Topology:
    return Topology({"subscriptionId": sub, "resources": list(resources)})


# -- an inline child typed as a resource the parse reads ----------------------------------------

def test_an_inline_child_typed_as_an_asg_is_an_asg_a_nic_can_join() -> None:
    odd = f"{_rid('virtualNetworks', 'v')}/subnets/odd"
    vnet = _vnet({"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}},
                 {"name": "odd", "type": "Microsoft.Network/applicationSecurityGroups",
                  "properties": {"addressPrefix": "10.0.2.0/24"}})
    nic, vm = _vm("web", "10.0.1.4")
    nic["properties"]["ipConfigurations"][0]["properties"]["applicationSecurityGroups"] = [
        {"id": odd}]
    topo = _load(vnet, nic, vm)  # the fast loader raised KeyError here
    assert key(odd) in topo.asgs
    assert {str(a) for a in topo.asg_members[key(odd)]} == {"10.0.1.4"}


def test_an_inline_rule_typed_as_a_network_watcher_is_a_watcher() -> None:
    nsg = _nsg("n", {"securityRules": [{"name": "r", "location": "westus",
                                        "type": "Microsoft.Network/networkWatchers",
                                        "properties": _body()}]})
    topo = _load(nsg)
    assert key(f"{nsg['id']}/securityRules/r") in topo.watchers


# -- an extension a VM lists belongs to the VM its id names -------------------------------------

def test_an_extension_listed_under_another_vms_id_is_that_vms() -> None:
    web_id = _rid("virtualMachines", "web", "Microsoft.Compute")
    db = _vm("db", "10.0.1.5", resources=[{"id": f"{web_id}/extensions/nw",
                                            "properties": dict(AGENT)}])
    topo = _load(_vnet({"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}),
                 *_vm("web", "10.0.1.4"), *db)
    assert topo.vms[key(web_id)].has_agent
    assert not topo.vms[key(db[1]["id"])].has_agent


@pytest.mark.parametrize("segment", ["/Extensions/", "/ext/"])
def test_a_listed_extension_whose_id_names_no_vm_is_refused(segment: str) -> None:
    vm_id = _rid("virtualMachines", "web", "Microsoft.Compute")
    web = _vm("web", "10.0.1.4", resources=[{"id": f"{vm_id}{segment}nw",
                                              "properties": dict(AGENT)}])
    with pytest.raises(TopologyError, match="extension of a virtual machine that is not in"):
        _load(_vnet({"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}), *web)


# -- the listing's resource groups ----------------------------------------------------------------

@pytest.mark.parametrize("sub", ["\u0130-sub", "x/resourceGroups/evil"])
def test_the_listing_reads_groups_as_one_built_alone(sub: str) -> None:
    asg = {"id": _rid("applicationSecurityGroups", "a", sub=sub), "name": "a",
           "type": "Microsoft.Network/applicationSecurityGroups", "location": "westus",
           "properties": {}}
    topo = _load(asg, sub=sub)
    alone = Listing(topo.document["resources"])
    built = topo._listing()
    assert (built.by_type, built.groups) == (alone.by_type, alone.groups)


# -- NSGs copying one another ---------------------------------------------------------------------

def test_a_copy_with_an_empty_rule_name_takes_the_name_from_its_own_id() -> None:
    def nsg(name: str) -> dict[str, Any]:
        rid = _rid("networkSecurityGroups", name)
        return _nsg(name, {"securityRules": [
            {"name": "", "id": f"{rid}/securityRules/{name}-r", "properties": _body()}]})

    topo = _load(nsg("n0"), nsg("n1"))
    for name in ("n0", "n1"):
        (only,) = topo.nsgs[key(_rid("networkSecurityGroups", name))].rules
        assert only.name == f"{name}-r"


def test_a_copy_whose_empty_names_clash_through_its_ids_is_refused() -> None:
    def nsg(name: str, first: str) -> dict[str, Any]:
        rid = _rid("networkSecurityGroups", name)
        return _nsg(name, {"securityRules": [
            {"name": "", "id": f"{rid}/securityRules/one/{first}", "properties": _body(100)},
            {"name": "b", "properties": _body(200)}]})

    with pytest.raises(TopologyError, match="duplicate rule name"):
        _load(nsg("n0", "a"), nsg("n1", "b"))


@pytest.mark.parametrize("later", range(4))
def test_an_nsg_after_a_dropped_default_rules_copy_loads_with_no_rules(later: int) -> None:
    # defaultSecurityRules (an object here) is dropped by the load after its rules were
    # walked: what the walk noted by id() must not name the new empty list of a later NSG.
    rules = [{"name": "r", "properties": _body()}]
    topo = _load(_nsg("a", {"securityRules": rules}),
                 _nsg("b", {"defaultSecurityRules": {"securityRules": [
                     {"name": "r", "properties": _body()}]}}),
                 *(_nsg(f"c{i}", {}) for i in range(later + 1)))
    for i in range(later + 1):
        assert topo.nsgs[key(_rid("networkSecurityGroups", f"c{i}"))].rules == ()


@pytest.mark.parametrize("later", range(4))
def test_a_rule_with_no_properties_after_a_dropped_body_is_refused(later: int) -> None:
    # The dropped body's id, reused for the default properties of a rule, named its repr: the
    # rule was read as a copy of the dropped body.
    first = _nsg("a", {"defaultSecurityRules": {"securityRules": [{"properties": _body()}]},
                       "securityRules": [{"name": "r", "properties": _body()}]})
    with pytest.raises(TopologyError, match="priority must be an integer"):
        _load(first, *(_nsg(f"c{i}") for i in range(later)),
              _nsg("d", {"securityRules": [{"name": "x"}]}))
