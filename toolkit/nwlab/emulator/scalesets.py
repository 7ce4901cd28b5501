"""Virtual machine scale sets (twin-semantics §12), Uniform and Flexible.

Flexible instances are ordinary virtual machines (``properties.virtualMachineScaleSet.id``) with
ordinary NICs; Uniform instances are ``virtualMachineScaleSets/{vmss}/virtualMachines/{i}``
resources whose NICs sit under the instance's path. Either way, once resolved an instance NIC is
a VM NIC to the walk. The Network Watcher agent of a scale set is a scale-set extension, so an
instance has it when its own extensions or its scale set's extension profile list it, provisioned
(one rule for both, topology.is_agent_extension).

Connection troubleshoot lists scale sets among supported sources and not among destinations (doc
network-watcher/connection-troubleshoot-overview): an instance is accepted as a source (named by
its instance id, which the REST contract does not spell out: an assumption) and refused as a
destination with the address to give instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .assumptions import Assumption
from .errors import ArmError
from .topology import (
    T_VMSS,
    T_VMSS_VM,
    Topology,
    TopologyError,
    VirtualMachine,
    is_agent_extension,
    key,
    register_part,
)


def scale_set_of(instance_id: str) -> str:
    """The scale set id of a Uniform instance id (``…/virtualMachines/{i}`` cut off)."""
    head, sep, _ = instance_id.rstrip("/").rpartition("/virtualMachines/")
    if not sep:
        head, sep, _ = instance_id.rstrip("/").rpartition("/virtualmachines/")
    return head


def is_instance(vm_id: str) -> bool:
    return "/virtualmachinescalesets/" in key(vm_id)


def _profile_has_agent(vmss: Mapping[str, Any]) -> bool:
    profile = ((vmss.get("properties") or {}).get("virtualMachineProfile") or {})
    extensions = (profile.get("extensionProfile") or {}).get("extensions") or []
    return any(isinstance(ext, Mapping) and isinstance(ext.get("properties"), Mapping)
               and is_agent_extension(ext["properties"]) for ext in extensions)


def apply(topo: Topology) -> None:
    """Validate instance and Flexible member references; give instances their scale set's
    agent; record a Uniform scale set whose instances the topology does not hold."""
    with_instances = set()
    for vm_key, vm in list(topo.vms.items()):
        raw = topo.raw[vm_key]
        if str(raw.get("type", "")).lower() == T_VMSS_VM:
            parent, field = scale_set_of(vm.id), "id"
        else:
            ref = (raw.get("properties") or {}).get("virtualMachineScaleSet")
            parent = str(ref.get("id")) if isinstance(ref, Mapping) and ref.get("id") else ""
            field = "virtualMachineScaleSet.id"
            if not parent:
                continue
        vmss = topo.raw.get(key(parent))
        if vmss is None or str(vmss.get("type", "")).lower() != T_VMSS:
            raise TopologyError(vm.id, f"its scale set {parent!r} is not a scale set in the "
                                "topology", field=field, code="InvalidResourceReference")
        with_instances.add(key(parent))
        if not vm.has_agent and _profile_has_agent(vmss):
            topo.vms[vm_key] = VirtualMachine(vm.id, vm.name, vm.location, vm.nic_ids,
                                              vm.power_state, True)
    for res in topo.resources_of_type(T_VMSS):
        if key(res["id"]) not in with_instances:
            topo.note(Assumption(
                "ASSUME_VMSS_WITHOUT_INSTANCES", res["id"], "the topology holds no instance of "
                "this scale set: its model (networkInterfaceConfigurations) makes no NICs",
                field="virtualMachineProfile"))


def source_note(vm: VirtualMachine) -> Assumption | None:
    """The assumption a check from a scale set instance carries."""
    if not is_instance(vm.id):
        return None
    return Assumption("ASSUME_VMSS_INSTANCE_SOURCE", vm.id, "a Uniform scale set instance is "
                      "named as the check's source by its instance id (the REST contract has "
                      "no instance field)")


def refuse_destination(topo: Topology, vm: VirtualMachine) -> None:
    """Uniform instances are not a documented destination: say what to give instead. (A
    Flexible member is a virtual machine resource, and VMs are documented destinations.)"""
    if not is_instance(vm.id):
        return
    nic = topo.nics.get(key(vm.nic_ids[0])) if vm.nic_ids else None
    address = f" ({nic.primary.address})" if nic else ""
    raise ArmError(400, "InvalidRequestFormat",
                   f"destination {vm.id} is a scale set instance; connection troubleshoot "
                   "documents VMs, FQDNs, URIs and IP addresses as destinations, not scale set "
                   f"instances. Give the instance's private IP address{address} as "
                   "destination.address instead.")


register_part("scalesets", 10, apply)
