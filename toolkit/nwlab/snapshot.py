"""Your real network, offline: read what connection troubleshoot depends on and write it as a topology.

The output is the emulator's topology format (ARM resources as ARM GET returns them, plus an
`emulation` section), so `nwlab.emulate(topology=path)` answers what-if questions about the
network before anyone changes it. Only what routing and filtering need is kept: no tags, no OS
profile (admin names, custom data, secrets), no etags; the subscription id becomes zeros unless
`keep_subscription=True`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from nwlab.arm.errors import ArmError
from nwlab.arm.ids import ZERO_SUBSCRIPTION
from nwlab.files import write_text
from nwlab.watcher import AGENT_PUBLISHER

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.watcher import NetworkWatcher

NETWORK_TYPES = ("virtualNetworks", "networkInterfaces", "networkSecurityGroups", "routeTables",
                 "publicIPAddresses")
# Top-level keys that carry nothing the engine needs and may carry what a user would not share.
_DROP_KEYS = frozenset({"etag", "tags", "managedBy", "identity", "zones", "plan", "systemData"})
_REFERENCE = re.compile(
    r"/subscriptions/[^/\"]+/resourceGroups/[^/\"]+/providers/Microsoft\.Network/"
    r"(?:virtualNetworks|networkSecurityGroups|routeTables|publicIPAddresses)/[^/\"]+",
    re.IGNORECASE)


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in _DROP_KEYS}


def _vm_entry(nw: NetworkWatcher, vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM reduced to its network profile, OS type and power state, plus its agent extension."""
    vm_id = str(vm.get("id"))
    props = vm.get("properties") or {}
    view = nw.arm.get_json(f"{vm_id}/instanceView") or {}
    statuses = [s for s in view.get("statuses") or [] if str(s.get("code", "")).startswith("PowerState/")]
    os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    entry = {"id": vm_id, "name": vm.get("name"), "type": "Microsoft.Compute/virtualMachines",
             "location": vm.get("location"),
             "properties": {"networkProfile": props.get("networkProfile") or {},
                            "storageProfile": {"osDisk": {"osType": os_type}} if os_type else {},
                            "instanceView": {"statuses": statuses}}}
    out = [entry]
    for ext in nw.arm.list(f"{vm_id}/extensions"):
        ext_props = ext.get("properties") or {}
        if str(ext_props.get("publisher", "")).lower() == AGENT_PUBLISHER:
            # Extension settings may hold secrets; only what identifies the agent is kept.
            out.append({"id": ext.get("id"), "name": ext.get("name"),
                        "type": "Microsoft.Compute/virtualMachines/extensions",
                        "location": ext.get("location") or vm.get("location"),
                        "properties": {k: ext_props.get(k) for k in
                                       ("publisher", "type", "typeHandlerVersion",
                                        "provisioningState") if k in ext_props}})
    return out


def take_snapshot(nw: NetworkWatcher, *, resource_group: str | None = None, path: Any = None,
                  keep_subscription: bool = False) -> dict[str, Any]:
    """Read the network in scope (a resource group, or the whole subscription) as a topology."""
    if resource_group is not None and not isinstance(resource_group, str):
        raise TypeError("resource_group: expected a resource group name, e.g. 'ContosoRG'")
    sub = nw.subscription_id
    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{resource_group}" if resource_group else "")
    resources: dict[str, dict[str, Any]] = {}
    for kind in NETWORK_TYPES:
        for item in nw.arm.list(f"{scope}/providers/Microsoft.Network/{kind}"):
            resources[str(item["id"]).lower()] = _clean(item)
    for vm in nw.arm.list(f"{scope}/providers/Microsoft.Compute/virtualMachines"):
        for item in _vm_entry(nw, vm):
            resources[str(item["id"]).lower()] = item
    # Peered VNets, NSGs and route tables may live in other groups: fetch what is referenced.
    missing_notes: list[str] = []
    for _ in range(3):
        text = json.dumps(list(resources.values()))
        wanted = {m.group(0) for m in _REFERENCE.finditer(text)
                  if m.group(0).lower() not in resources}
        if not wanted:
            break
        for rid in sorted(wanted):
            try:
                resources[rid.lower()] = _clean(nw.arm.get_json(rid))
            except ArmError as exc:
                missing_notes.append(f"{rid}: {exc.status} {exc.code}")
                resources[rid.lower()] = {}
    resources = {k: v for k, v in resources.items() if v}
    regions = {str(r.get("location", "")).replace(" ", "").lower() for r in resources.values()}
    for watcher in nw.arm.list(f"/subscriptions/{sub}/providers/Microsoft.Network/networkWatchers"):
        if str(watcher.get("location", "")).replace(" ", "").lower() in regions:
            resources[str(watcher["id"]).lower()] = _clean(watcher)
    topology: dict[str, Any] = {
        "subscriptionId": sub,
        "resources": sorted(resources.values(), key=lambda r: (str(r.get("type")), str(r.get("id")))),
        "emulation": {"dns": {}, "probes": 100},
    }
    if missing_notes:
        topology["emulation"]["notes"] = [f"could not read {n}" for n in missing_notes]
    if not keep_subscription:
        topology = json.loads(json.dumps(topology).replace(sub, ZERO_SUBSCRIPTION))
    if path is not None:
        write_text(path, json.dumps(topology, indent=1, sort_keys=True) + "\n")
    return topology


