"""The one error type the engine and the facade raise: an ARM error with its HTTP status."""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """A request Azure would refuse: becomes ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(resource_id: str) -> ArmError:
    """ARM's wording for a missing resource, so clients that pattern-match it keep working."""
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered[:-1] else ""
    provider_path = resource_id
    if "providers" in lowered:
        provider_path = "/".join(parts[lowered.index("providers") + 1:])
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{provider_path}' under resource group '{group}' was not found."
                    " For more details please go to https://aka.ms/ARMResourceNotFoundFix")
