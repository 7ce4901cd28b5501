"""VM inventory: a VM's status, power state and Network Watcher agent, read from ARM.

The one home of these readings: the watcher's pre-flight and list_vms, the snapshots (ARM GETs
and Resource Graph) and diagnostics read a VM through here. It takes the ARM client, never the watcher, so the
snapshot modules need not import the watcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nwlab.arm.errors import ArmError, PreflightError
from nwlab.arm.ids import is_vm_id, is_vmss_instance_id, parse_resource_id

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.arm.session import ArmClient

AGENT_PUBLISHER = "microsoft.azure.networkwatcher"
AGENT_TYPES = frozenset({"networkwatcheragentwindows", "networkwatcheragentlinux"})


@dataclass(frozen=True)
class VmStatus:
    """What pre-flight needs to know about a VM: where it is, whether it runs, whether it has the agent."""

    id: str
    name: str
    resource_group: str
    location: str
    power_state: str | None  # "running", "deallocated", ... None when unknown
    agent: bool
    os_type: str | None

    @property
    def running(self) -> bool:
        # Azure omits nothing here in practice; an unknown power state is not treated as stopped.
        return self.power_state in (None, "running")


# Answers are read leniently: a field of the wrong JSON type (a list where an object belongs, a
# number where a string does) reads as absent, so a damaged answer gives a result or a typed
# error further on, never an AttributeError here.


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text_or_empty(value: Any) -> str:
    """A JSON string field, or "" for anything else (absent, a number, a list)."""
    return value if isinstance(value, str) else ""


_text = text_or_empty


def power_state(statuses: Iterable[dict[str, Any]] | None) -> str | None:
    """"running", "deallocated", ... from an instance view's statuses (PowerState/<state>)."""
    for status in _items(statuses):
        code = _text(status.get("code"))
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def power_statuses(statuses: Any) -> list[dict[str, Any]]:
    """Only the PowerState/... entries of an instance view (what a snapshot keeps)."""
    return [s for s in _items(statuses) if _text(s.get("code")).startswith("PowerState/")]


def is_agent(extension: dict[str, Any]) -> bool:
    """An extension from the Network Watcher publisher (any type or state)."""
    return _text(_obj(extension.get("properties")).get("publisher")).lower() == AGENT_PUBLISHER


def has_agent(extensions: Iterable[dict[str, Any]] | None) -> bool:
    """The Network Watcher agent, matched by publisher and type (its name varies; reference §5.2)."""
    for ext in _items(extensions):
        props = _obj(ext.get("properties"))
        publisher = _text(props.get("publisher")).lower()
        kind = _text(props.get("type")).lower()
        state = (_text(props.get("provisioningState")) or "Succeeded").lower()
        if publisher == AGENT_PUBLISHER and kind in AGENT_TYPES and state == "succeeded":
            return True
    return False


def read_vm_status(arm: ArmClient, vm_id: str) -> VmStatus:
    """GET the VM (region), its instance view (power state) and its extensions (agent)."""
    try:
        # $expand=instanceView brings the power state in the same answer: one read less.
        vm = arm.get_object(vm_id, params={"$expand": "instanceView"})
    except ArmError as exc:
        if exc.status == 404:
            rid = parse_resource_id(vm_id)
            where = f" in resource group {rid.resource_group}" if rid else ""
            raise PreflightError(
                f"Source VM {rid.name if rid else vm_id} was not found{where}.",
                fix="Check the VM name and resource_group (nw.list_vms() lists them).") from exc
        raise
    # Follow-up reads go to the id that was asked for, not to one the answer claims.
    return status_from_vm(arm, vm, vm_id)


def status_from_vm(arm: ArmClient, vm: dict[str, Any], asked: str | None = None) -> VmStatus:
    """A VM's status from its ARM body, reading the instance view and extensions only when the
    body lacks them (a list answer has neither)."""
    vm_id = asked or _text(vm.get("id"))
    rid = parse_resource_id(vm_id)
    # A VM or a Uniform scale set instance (both answer .../instanceView and .../extensions);
    # one listed without a usable id gets no follow-up reads.
    readable = is_vm_id(rid) or is_vmss_instance_id(rid)
    props = _obj(vm.get("properties"))
    statuses = _obj(props.get("instanceView")).get("statuses")
    if not isinstance(statuses, list) and readable:
        statuses = _obj(arm.get_json(f"{vm_id}/instanceView")).get("statuses")
    extensions = [r for r in _items(vm.get("resources"))
                  if _obj(r.get("properties")).get("publisher")]
    if not extensions and readable:
        extensions = list(arm.list(f"{vm_id}/extensions"))
    os_type = _text(_obj(_obj(props.get("storageProfile")).get("osDisk")).get("osType"))
    return VmStatus(id=vm_id, name=_text(vm.get("name")) or (rid.name if rid else ""),
                    resource_group=rid.resource_group if rid else "",
                    location=_text(vm.get("location")), power_state=power_state(statuses),
                    agent=has_agent(extensions), os_type=os_type or None)


def read_power_statuses(arm: ArmClient, vm_id: str) -> list[dict[str, Any]]:
    """The VM's PowerState/... statuses from its instance view (one GET)."""
    return power_statuses(_obj(arm.get_json(f"{vm_id}/instanceView")).get("statuses"))


def agent_extensions(arm: ArmClient, vm_id: str) -> list[dict[str, Any]]:
    """The VM's Network Watcher extensions, each cut to what identifies the agent (extension
    settings may hold secrets)."""
    out = []
    for ext in arm.list(f"{vm_id}/extensions"):
        if is_agent(ext):
            props = _obj(ext.get("properties"))
            out.append({"id": ext.get("id"), "name": ext.get("name"),
                        "type": "Microsoft.Compute/virtualMachines/extensions",
                        "location": ext.get("location"),
                        "properties": {k: props.get(k) for k in
                                       ("publisher", "type", "typeHandlerVersion",
                                        "provisioningState") if k in props}})
    return out


__all__ = ["AGENT_PUBLISHER", "AGENT_TYPES", "VmStatus", "agent_extensions", "has_agent",
           "is_agent", "power_state", "power_statuses", "read_power_statuses", "read_vm_status",
           "status_from_vm"]
