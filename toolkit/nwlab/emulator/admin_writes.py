"""Writes to Virtual Network Manager security admin rules, and the commit that deploys them.

Azure keeps admin rules in a network manager's security admin configuration; they take effect
only when the configuration is committed to a region (POST {networkManager}/commit, commitType
SecurityAdmin), and only one security admin configuration of a manager is deployed in a region
at a time (doc virtual-network-manager/concept-deployments). The twin holds what is deployed:
each VNet's effective admin rules (topology pseudo-resources, twin-semantics §3.1). So a rule
PUT or DELETE here is kept pending, as Azure keeps it undeployed, and a commit writes the
pending changes of the committed configuration into the effective rules of the VNets in the
target regions that the changed rule collection already applies to: the twin does not hold the
collections' network groups (ASSUME_ADMIN_COMMIT_SCOPE).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .assumptions import Assumption
from .errors import ArmError, not_found
from .topology import JSON, T_ADMIN, Topology, TopologyError, key, parse_admin_rule

__all__ = ["AdminWrites"]

RULE_SEGMENTS = ("networkmanagers", "securityadminconfigurations", "rulecollections", "rules")


def _collection(rule_id: str) -> str:
    """The rule collection part of an admin rule id (lower case): '.../ruleCollections/{rc}'."""
    return key(rule_id).rsplit("/rules/", 1)[0]


def _configuration(rule_id: str) -> str:
    return key(rule_id).split("/rulecollections/", 1)[0]


def _rule_path(low: list[str]) -> bool:
    """Is this path (lower-cased segments) a rule of a security admin configuration?"""
    return len(low) == 14 and tuple(low[6:13:2]) == RULE_SEGMENTS


class AdminWrites:
    """Pending admin rule writes of one emulator, by rule id (None: deleted), until committed."""

    def __init__(self) -> None:
        self.pending: dict[str, JSON | None] = {}

    def handles(self, low: list[str]) -> bool:
        return len(low) >= 8 and low[4:7] == ["providers", "microsoft.network", "networkmanagers"]

    def handle(self, topo: Topology, method: str, segs: list[str], low: list[str],
               body: Any) -> tuple[int, Any, Topology]:
        """(status, body, the topology after the request) for a request under a manager."""
        if _rule_path(low):
            return (*self._rule(topo, method, "/" + "/".join(segs), body), topo)
        if len(low) == 9 and low[8] == "commit":
            if method != "POST":
                raise ArmError(405, "MethodNotAllowed", "commit takes POST.")
            return 202, None, self._commit(topo, "/" + "/".join(segs[:8]), body)
        raise ArmError(404, "InvalidResourceType", "The twin models a network manager's "
                       "security admin rules and their commit only: "
                       f"'{'/'.join(segs[8:])}' is not served.")

    # -- rules --------------------------------------------------------------------------------
    def _deployed(self, topo: Topology, rule_id: str) -> JSON | None:
        for record in topo.resources_of_type(T_ADMIN):
            for item in record.get("value") or []:
                if isinstance(item, Mapping) and key(str(item.get("id", ""))) == key(rule_id):
                    return copy.deepcopy(dict(item))
        return None

    def _rule(self, topo: Topology, method: str, rule_id: str, body: Any) -> tuple[int, Any]:
        k = key(rule_id)
        current = self.pending[k] if k in self.pending else self._deployed(topo, rule_id)
        if method == "GET":
            if current is None:
                raise not_found(rule_id)
            return 200, current
        if method == "DELETE":
            self.pending[k] = None
            return (200 if current is not None else 204), None
        if method != "PUT":
            raise ArmError(405, "MethodNotAllowed", "An admin rule takes GET, PUT or DELETE.")
        if not isinstance(body, Mapping) or str(body.get("kind", "")).lower() != "custom":
            raise ArmError(400, "InvalidRequestFormat", "The twin writes admin rules of kind "
                           "'Custom' only: send {\"kind\": \"Custom\", \"properties\": {...}}.")
        item: JSON = {"id": rule_id, "name": rule_id.rsplit("/", 1)[-1], "kind": "Custom",
                      "type": "Microsoft.Network/networkManagers/securityAdminConfigurations/"
                              "ruleCollections/rules",
                      "properties": {k2: v for k2, v in dict(body.get("properties") or {})
                                     .items() if k2 != "provisioningState"}}
        try:
            parse_admin_rule(item, rule_id, 0)
        except TopologyError as exc:
            raise ArmError(400, exc.code, str(exc)) from None
        priority = item["properties"].get("priority")
        if isinstance(priority, int) and not 1 <= priority <= 4096:
            # The spec's range (1-4096); the twin's loader also reads the preview article's 0.
            raise ArmError(400, "InvalidRequestFormat", f"priority must be 1-4096, got "
                           f"{priority}.")
        self.pending[k] = item
        return (200 if current is not None else 201), copy.deepcopy(item)

    # -- commit -------------------------------------------------------------------------------
    def _commit(self, topo: Topology, manager_id: str, body: Any) -> Topology:
        if not isinstance(body, Mapping):
            raise ArmError(400, "InvalidRequestFormat", "The commit body must be a JSON object "
                           "with targetLocations, configurationIds and commitType.")
        kind = str(body.get("commitType", ""))
        locations = body.get("targetLocations")
        configs = body.get("configurationIds")
        if kind.lower() != "securityadmin":
            raise ArmError(400, "InvalidRequestFormat", f"commitType {kind!r}: the twin deploys "
                           "SecurityAdmin configurations only.")
        if not isinstance(locations, list) or not locations or \
                not isinstance(configs, list) or not configs:
            raise ArmError(400, "InvalidRequestFormat", "targetLocations and configurationIds "
                           "must be non-empty lists.")
        regions = {str(r).replace(" ", "").lower() for r in locations}
        committed = {key(str(c)) for c in configs}
        if any(not c.startswith(key(manager_id) + "/securityadminconfigurations/")
               for c in committed):
            raise ArmError(400, "InvalidRequestFormat", "configurationIds must be security "
                           f"admin configurations of {manager_id}.")
        changes = {k: v for k, v in self.pending.items() if _configuration(k) in committed}
        if not changes:
            return topo
        document = copy.deepcopy(dict(topo.document))
        notes: list[Assumption] = []
        for record in document["resources"]:
            if str(record.get("type", "")).lower() != T_ADMIN:
                continue
            vnet = topo.vnets.get(key(str(record.get("vnetId", ""))))
            if vnet is None or vnet.location.replace(" ", "").lower() not in regions:
                continue
            record["value"], touched = _apply(list(record.get("value") or []), changes)
            notes += [Assumption("ASSUME_ADMIN_COMMIT_SCOPE", rid, "the committed rule is "
                                 "deployed to this VNet because its rule collection already "
                                 "applies here (network groups are not in the twin)")
                      for rid in touched]
        for k in changes:
            del self.pending[k]
        try:
            new = Topology(document, owned=True)
        except TopologyError as exc:
            raise ArmError(400, exc.code, str(exc)) from None
        for note in notes:
            new.note(note)
        return new


def _apply(items: list[Any], changes: Mapping[str, JSON | None]) -> tuple[list[Any], list[str]]:
    """One VNet's effective admin rules with the committed changes of the collections it
    already has: upserts keep the collection's fields from a sibling; deletions drop the rule.
    Also returns the ids of the rules written."""
    here = {_collection(str(i.get("id", ""))): i for i in items if isinstance(i, Mapping)}
    out = [i for i in items if not (isinstance(i, Mapping) and key(str(i.get("id", ""))) in changes)]
    written = []
    for rule_key, item in changes.items():
        sibling = here.get(_collection(rule_key))
        if item is None or sibling is None:
            continue  # deleted, or a collection that does not apply to this VNet
        entry = {k: copy.deepcopy(v) for k, v in sibling.items()
                 if k not in ("id", "name", "type", "kind", "properties")}
        entry.update(id=item["id"], kind="Custom", properties=copy.deepcopy(item["properties"]))
        out.append(entry)
        written.append(str(item["id"]))
    return out, written
