"""What a snapshot keeps of load balancers, NAT gateways and scale sets (twin-semantics §10-12).

Load balancers and NAT gateways are plain Network resources: kept as ARM GET returns them (minus
the keys every snapshot drops). Scale sets are reduced the way a VM is: a scale set's model keeps
its orchestration mode, its network profile and only the Network Watcher agent of its extension
profile (the OS profile holds admin names and custom data, other extensions' settings may hold
secrets); a Uniform instance keeps its network profile, power state and agent extension. A
Uniform instance's NIC is served by the Network RP under the scale set's path (api-version
2018-10-01, spec example VmssNetworkInterfaceGet) and Resource Graph types it as a Compute child;
the topology stores it as the ``Microsoft.Network/networkInterfaces`` ARM GET shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nwlab.inventory import AGENT_PUBLISHER

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.arm.session import ArmClient

EGRESS_TYPES = ("loadBalancers", "natGateways")  # Microsoft.Network lists beside NETWORK_TYPES
T_VMSS = "Microsoft.Compute/virtualMachineScaleSets"
T_INSTANCE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
T_NIC = "Microsoft.Network/networkInterfaces"
# Resource Graph's type for a Uniform instance's NIC (ComputeResources table).
GRAPH_INSTANCE_NIC = "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces"
VMSS_NIC_API_VERSION = "2018-10-01"
_AGENT_KEYS = ("publisher", "type", "typeHandlerVersion", "provisioningState")


def _agent_only(extensions: Any) -> list[dict[str, Any]]:
    out = []
    for ext in extensions if isinstance(extensions, list) else []:
        props = (ext.get("properties") or {}) if isinstance(ext, dict) else {}
        if str(props.get("publisher", "")).lower() == AGENT_PUBLISHER:
            entry: dict[str, Any] = {k: ext[k] for k in ("id", "name") if k in ext}
            entry["properties"] = {k: props[k] for k in _AGENT_KEYS if k in props}
            out.append(entry)
    return out


def reduce_scale_set(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") or {}
    profile = props.get("virtualMachineProfile") or {}
    kept: dict[str, Any] = {"networkProfile": profile.get("networkProfile") or {}}
    agent = _agent_only((profile.get("extensionProfile") or {}).get("extensions"))
    if agent:
        kept["extensionProfile"] = {"extensions": agent}
    out: dict[str, Any] = {k: item[k] for k in ("id", "name", "location", "sku") if k in item}
    out["type"] = T_VMSS
    out["properties"] = {"orchestrationMode": props.get("orchestrationMode") or "Uniform",
                         "virtualMachineProfile": kept}
    return out


def reduce_instance(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") or {}
    statuses = [s for s in ((props.get("instanceView") or {}).get("statuses") or [])
                if str(s.get("code", "")).startswith("PowerState/")]
    out: dict[str, Any] = {k: item[k] for k in ("id", "name", "location", "instanceId")
                           if k in item}
    out["type"] = T_INSTANCE
    out["properties"] = {"networkProfile": props.get("networkProfile") or {},
                         "instanceView": {"statuses": statuses}}
    agent = _agent_only(item.get("resources"))
    if agent:
        out["resources"] = agent
    return out


def graph_row(rtype: str, item: dict[str, Any]) -> dict[str, Any]:
    """A Resource Graph row of a scale set type, reduced like the ARM snapshot reduces it."""
    lowered = rtype.lower()
    if lowered == T_VMSS.lower():
        return reduce_scale_set(item)
    if lowered == T_INSTANCE.lower():
        return reduce_instance(item)
    if lowered == GRAPH_INSTANCE_NIC:
        return {**item, "type": T_NIC}
    return item


def arm_scale_sets(arm: ArmClient, scope: str,
                   clean: Any) -> Iterator[dict[str, Any]]:
    """Every scale set in scope, and for Uniform ones their instances and instance NICs."""
    for vmss in arm.list(f"{scope}/providers/Microsoft.Compute/virtualMachineScaleSets"):
        yield reduce_scale_set(vmss)
        if not is_uniform(vmss):
            continue  # Flexible members are ordinary VMs and NICs, listed with the rest
        vmss_id = str(vmss["id"])
        yield from arm_instances(arm, vmss_id)
        for nic in arm.list(f"{vmss_id}/networkInterfaces",
                               api_version=VMSS_NIC_API_VERSION):
            yield {**clean(nic), "type": T_NIC}


def is_uniform(vmss: dict[str, Any]) -> bool:
    """A Uniform scale set (the default when the mode is absent): its instances are children."""
    mode = str((vmss.get("properties") or {}).get("orchestrationMode") or "Uniform")
    return mode.lower() == "uniform"


def arm_instances(arm: ArmClient, vmss_id: str) -> Iterator[dict[str, Any]]:
    """A Uniform scale set's instances as VirtualMachineScaleSetVMs_List returns them with
    $expand=instanceView: each with its extensions (the top-level ``resources`` array, where
    the agent shows) and power state, in one paged read per scale set. Resource Graph has
    neither (an instance's extensions are no Resource Graph type; reference §6.4), so both
    snapshots read them here."""
    for instance in arm.list(f"{vmss_id}/virtualMachines", params={"$expand": "instanceView"}):
        yield reduce_instance(instance)
