"""ARM resource ids: parse them, build them, and tell a VM id from the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

ZERO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
VM_ID_EXAMPLE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
                 "/providers/Microsoft.Compute/virtualMachines/MultiTierApp0")


@dataclass(frozen=True)
class ResourceId:
    """The parts of `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/...]`."""

    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def type(self) -> str:
        return "/".join((self.namespace, *self.types))

    @property
    def name(self) -> str:
        return self.names[-1]

    def __str__(self) -> str:
        tail = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.namespace}/{tail}")


def parse_resource_id(text: str) -> ResourceId | None:
    """Parse an ARM resource id (leading slash optional); None when `text` is not one."""
    parts = [p for p in text.strip().split("/") if p]
    lowered = [p.lower() for p in parts]
    if len(parts) < 8 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups" \
            or lowered[4] != "providers" or (len(parts) - 6) % 2:
        return None
    rest = parts[6:]
    return ResourceId(parts[1], parts[3], parts[5], tuple(rest[0::2]), tuple(rest[1::2]))


def is_vm_id(rid: ResourceId | None) -> bool:
    return rid is not None and rid.type.lower() == "microsoft.compute/virtualmachines"


def is_vmss_instance_id(rid: ResourceId | None) -> bool:
    """A Uniform scale set instance: ``…/virtualMachineScaleSets/{vmss}/virtualMachines/{i}``."""
    return rid is not None and rid.type.lower() == \
        "microsoft.compute/virtualmachinescalesets/virtualmachines"


def vm_id(subscription: str, resource_group: str, name: str) -> str:
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{name}")


def normalize_region(region: str) -> str:
    """`West Central US` and `westcentralus` are the same region (az compares them loosely too)."""
    return region.replace(" ", "").lower()
