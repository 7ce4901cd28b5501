"""Virtual machine scale sets (twin-semantics §12): Uniform instances and Flexible members as
sources and destinations, in the twin and through check()."""

from __future__ import annotations

from typing import Any

import pytest

import nwlab
from nwlab.emulator.errors import ArmError
from nwlab.emulator.topology import TopologyError

from .factory import SUB, Net, assumed, check, rule, summary

COMPUTE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute"
VMSS = f"{COMPUTE}/virtualMachineScaleSets/web"
AGENT = {"name": "nwagent", "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                                           "type": "NetworkWatcherAgentLinux",
                                           "typeHandlerVersion": "1.4"}}


def _vmss(mode: str = "Uniform", *, agent: bool = True) -> dict[str, Any]:
    profile = {"networkProfile": {"networkInterfaceConfigurations": [{
        "name": "web-nic", "properties": {"primary": True, "ipConfigurations": [{
            "name": "ipconfig1", "properties": {"subnet": {"id": "x"}}}]}}]}}
    if agent:
        profile["extensionProfile"] = {"extensions": [AGENT]}
    return {"id": VMSS, "name": "web", "type": "Microsoft.Compute/virtualMachineScaleSets",
            "location": "westus", "sku": {"name": "Standard_B1s", "capacity": 2},
            "properties": {"orchestrationMode": mode, "virtualMachineProfile": profile}}


def _instance(net: Net, index: int, ip: str, subnet_id: str) -> str:
    """A Uniform instance and its NIC under the instance's path, as Compute and Network GET
    them."""
    inst = f"{VMSS}/virtualMachines/{index}"
    nic = f"{inst}/networkInterfaces/web-nic"
    net.resources.append({"id": nic, "name": "web-nic",
                          "type": "Microsoft.Network/networkInterfaces", "location": "westus",
                          "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
                              "privateIPAddress": ip, "subnet": {"id": subnet_id},
                              "primary": True}}], "virtualMachine": {"id": inst}}})
    net.resources.append({"id": inst, "name": f"web_{index}", "instanceId": str(index),
                          "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                          "location": "westus", "properties": {
                              "networkProfile": {"networkInterfaces": [{"id": nic}]},
                              "instanceView": {"statuses": [{"code": "PowerState/running"}]}},
                          "resources": [{"id": f"{inst}/extensions/nwagent", **AGENT}]})
    return inst


def _net(*, agent: bool = True) -> tuple[Net, str, str]:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    web = net.subnet("v", "web", "10.0.2.0/24", nsg="web-nsg")
    net.nsg("web-nsg", rule("no-ssh", 100, "Inbound", "Deny", dport="22", protocol="Tcp"))
    net.vm("a", "v", "a", "10.0.1.4")
    net.resources.append(_vmss(agent=agent))
    first = _instance(net, 0, "10.0.2.4", web)
    second = _instance(net, 1, "10.0.2.5", web)
    return net, first, second


def _engine_check(net: Net, source: str, dest: dict[str, Any]) -> dict[str, Any]:
    from nwlab.emulator import engine
    topo = net.topology()
    watcher = next(iter(topo.watchers.values()))
    spec = engine.parse_check(topo, watcher, {"source": {"resourceId": source},
                                              "destination": dest})
    return engine.run_check(topo, spec)


def test_uniform_instance_is_a_source_and_says_how_it_was_named() -> None:
    net, first, _ = _net()
    result = _engine_check(net, first, {"address": "10.0.1.4", "port": 80})
    assert result["connectionStatus"] == "Reachable"
    assert summary(result)[0][:2] == ("Source", "10.0.2.4")
    assert ("ASSUME_VMSS_INSTANCE_SOURCE", False) in assumed(result)


def test_uniform_instance_nic_is_a_destination_by_address_with_its_nsgs() -> None:
    net, _, _ = _net()
    assert check(net, "a", "10.0.2.5", 80)["connectionStatus"] == "Reachable"
    denied = check(net, "a", "10.0.2.5", 22)
    assert summary(denied)[-1] == ("VnetLocal", "10.0.2.5",
                                   ["NetworkSecurityRule:Inbound:UserRule_no-ssh"])


def test_uniform_instance_as_destination_is_refused_naming_its_address() -> None:
    net, _, second = _net()
    with pytest.raises(ArmError, match=r"10\.0\.2\.5"):
        _engine_check(net, f"{COMPUTE}/virtualMachines/a", {"resourceId": second})


def test_agent_comes_from_the_scale_set_extension_profile() -> None:
    net, first, _ = _net()
    for res in net.resources:
        if res.get("id") == first:
            del res["resources"]  # no instance extension: only the profile names the agent
    assert net.topology().vms[first.lower()].has_agent
    net2, first2, _ = _net(agent=False)
    for res in net2.resources:
        if res.get("id") == first2:
            del res["resources"]
    with pytest.raises(ArmError, match="agent"):
        _engine_check(net2, first2, {"address": "10.0.1.4", "port": 80})


def test_a_failed_agent_in_the_extension_profile_is_no_agent() -> None:
    # A model extension carries provisioningState like a VM's own extension: one that failed
    # to provision runs no agent, on a scale set as on a VM (one rule for both).
    net, first, _ = _net()
    for res in net.resources:
        if res.get("id") == first:
            del res["resources"]
        elif res.get("id") == VMSS:
            res["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"] = [
                {**AGENT, "properties": {**AGENT["properties"], "provisioningState": "Failed"}}]
    assert not net.topology().vms[first.lower()].has_agent
    with pytest.raises(ArmError, match="agent"):
        _engine_check(net, first, {"address": "10.0.1.4", "port": 80})


def _flexible_net() -> Net:
    """VM a and flex1, a member of a Flexible scale set, in one subnet."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("flex1", "v", "a", "10.0.1.5")
    net.resources.append(_vmss("Flexible"))
    for res in net.resources:
        if res["name"] == "flex1":
            res["properties"]["virtualMachineScaleSet"] = {"id": VMSS}
    return net


def test_flexible_member_is_an_ordinary_vm_source_and_destination() -> None:
    net = _flexible_net()
    assert net.topology().assumptions == []
    assert check(net, "a", "flex1", 80)["connectionStatus"] == "Reachable"
    assert check(net, "flex1", "a", 80)["connectionStatus"] == "Reachable"


def test_flexible_member_has_no_default_outbound_access() -> None:
    net = _flexible_net()
    assert check(net, "a", "13.107.21.200", 443)["connectionStatus"] == "Reachable"
    result = check(net, "flex1", "13.107.21.200", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert assumed(result) == [("ASSUME_NO_OUTBOUND_UNREACHABLE", False)]


def test_instance_of_a_missing_scale_set_is_refused() -> None:
    net, _, _ = _net()
    net.resources = [r for r in net.resources if r.get("id") != VMSS]
    with pytest.raises(TopologyError, match="scale set"):
        net.topology()


def test_scale_set_without_instances_is_an_assumption() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.resources.append(_vmss())
    assert [a.code for a in net.topology().assumptions] == ["ASSUME_VMSS_WITHOUT_INSTANCES"]


def test_check_from_an_instance_through_the_client() -> None:
    net, first, second = _net()
    nw = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    try:
        result = nw.check(first, "10.0.1.4", 80)
        assert result.reachable
        assert "ASSUME_VMSS_INSTANCE_SOURCE" in [a.code for a in result.assumptions]
        with pytest.raises(ValueError, match="private IP address"):
            nw.check("a", second, 80, resource_group="rg")
        with pytest.raises(ValueError, match="virtualMachines/<instanceId>"):
            nw.check(VMSS, "10.0.1.4", 80)
    finally:
        nw.close()
