"""A VNet's effective security admin rules (Virtual Network Manager): the POST
listNetworkManagerEffectiveSecurityAdminRules, paged by a skipToken in the body (reference
§4.3; the session's list() follows GET nextLinks only). Shared by the snapshot, which stores
them, and the diagnosis, which fixes an admin rule that denies."""

from __future__ import annotations

from typing import Any

from nwlab.arm.session import response_json

__all__ = ["effective_admin_rules"]


def effective_admin_rules(arm: Any, vnet_id: str) -> list[dict[str, Any]]:
    """Every item of every page (ArmError from the service as raised by `arm.request`)."""
    path = f"{vnet_id}/listNetworkManagerEffectiveSecurityAdminRules"
    rules: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        body = response_json(arm.request("POST", path, json={"skipToken": token}
                                         if token else {}), strict=True) or {}
        rules += [item for item in body.get("value") or [] if isinstance(item, dict)]
        token = body.get("skipToken") or None
        if token is None:
            return rules
