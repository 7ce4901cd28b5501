"""Fixes for a Virtual Network Manager security admin rule that denies a flow.

Admin rules are evaluated before every NSG (doc virtual-network-manager/concept-security-admins):
Deny drops the packet, Allow hands it to the NSGs, AlwaysAllow lets it through without them. So
no NSG change can undo an admin Deny: the fix goes on the admin rule collection that holds the
deny, and takes effect only once its configuration is committed to the region (doc
concept-deployments; only one security admin configuration of a manager is deployed in a region
at a time, so the commit names the deny's configuration). Each fix is therefore two steps: the
rule write and the commit.

Smallest first: an Allow admin rule for exactly the flow at the free priority just above the
deny (the NSGs still decide the flow); then the same as AlwaysAllow (the NSGs no longer filter
the flow, so it opens more); then deleting the deny. Admin priorities are 1-4096 and unique in a
collection (AdminRule schema); the one chosen is free among every effective admin rule of the
direction, so no tie with another collection's rule either.

Request bodies follow the AdminRule (kind Custom) and NetworkManagerCommit schemas of
Azure/azure-rest-api-specs (networkManagerSecurityAdminConfiguration.json, networkManager.json);
the az commands are those of the CLI's virtual-network-manager extension
(az network manager security-admin-config rule-collection rule create/delete,
az network manager post-commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from nwlab.arm.ids import parse_resource_id
from nwlab.diagnostics.fixes import (
    ARM,
    NETWORK_API,
    Fix,
    FixRequest,
    Flow,
    arm_url,
    az_command,
    unique_name,
    widens_of,
)

__all__ = ["ADMIN_MAX_PRIORITY", "ADMIN_MIN_PRIORITY", "admin_rule_fixes"]

ADMIN_MIN_PRIORITY, ADMIN_MAX_PRIORITY = 1, 4096
# Admin rules spell "every protocol" Any (SecurityConfigurationRuleProtocol), not '*'.
_PROTOCOLS = {"Tcp": "Tcp", "Udp": "Udp", "Icmp": "Icmp", "*": "Any"}
_RULE_TYPES = ("networkmanagers", "securityadminconfigurations", "rulecollections", "rules")


def _parts(rule_id: str) -> Any:
    rid = parse_resource_id(rule_id or "")
    if rid is None or rid.namespace.lower() != "microsoft.network" or \
            tuple(t.lower() for t in rid.types) != _RULE_TYPES:
        raise ValueError(f"rule: {rule_id!r} is not a security admin rule id; e.g. "
                         "'/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                         "rg/providers/Microsoft.Network/networkManagers/nm/"
                         "securityAdminConfigurations/cfg/ruleCollections/rc/rules/DenyWeb' "
                         "(the id listNetworkManagerEffectiveSecurityAdminRules gives)")
    return rid


def _az(verb: str, rid: Any, args: list[tuple[str, Any]]) -> str:
    return az_command(verb, rid, "--network-manager-name", args, parent=rid.names[0])


def _commit(rid: Any, location: str, endpoint: str, api_version: str) -> tuple[str, FixRequest]:
    manager = str(rid).split("/securityAdminConfigurations/")[0]
    config = str(rid).split("/ruleCollections/")[0]
    command = _az("network manager post-commit", rid, [
        ("--commit-type", "SecurityAdmin"), ("--configuration-ids", config),
        ("--target-locations", location)])
    return command, FixRequest("POST", arm_url(endpoint, f"{manager}/commit", api_version), {
        "targetLocations": [location], "configurationIds": [config],
        "commitType": "SecurityAdmin"})


def _free(deny: int, taken: set[int]) -> int | None:
    for candidate in range(min(deny - 1, ADMIN_MAX_PRIORITY), ADMIN_MIN_PRIORITY - 1, -1):
        if candidate not in taken:
            return candidate
    return None


def _allow(rid: Any, name: str, flow: Flow, access: str, priority: int, direction: str,
           location: str, endpoint: str, api_version: str) -> tuple[str, FixRequest, dict]:
    """The az command, request and properties of an admin rule for exactly the flow."""
    props: dict[str, Any] = {
        "description": f"Allows the flow {rid.name} denied (added by nwlab)"[:140],
        "protocol": _PROTOCOLS[flow.protocol], "access": access, "priority": priority,
        "direction": direction,
        "sources": [{"addressPrefix": flow.source, "addressPrefixType": "IPPrefix"}],
        "destinations": [{"addressPrefix": flow.destination, "addressPrefixType": "IPPrefix"}]}
    args: list[tuple[str, Any]] = [
        ("--configuration-name", rid.names[1]), ("--rule-collection-name", rid.names[2]),
        ("--rule-name", name), ("--kind", "Custom"), ("--access", access),
        ("--direction", direction), ("--priority", str(priority)),
        ("--protocol", props["protocol"]),
        ("--sources", [f"address-prefix={flow.source}", "address-prefix-type=IPPrefix"]),
        ("--destinations", [f"address-prefix={flow.destination}",
                            "address-prefix-type=IPPrefix"])]
    if flow.protocol != "Icmp" and flow.destination_port is not None:
        props["destinationPortRanges"] = [str(flow.destination_port)]
        args.append(("--dest-port-ranges", str(flow.destination_port)))
    args.append(("--description", props["description"]))
    collection = str(rid).rsplit("/rules/", 1)[0]
    command = _az("network manager security-admin-config rule-collection rule create", rid, args)
    request = FixRequest("PUT", arm_url(endpoint, f"{collection}/rules/{name}", api_version),
                         {"kind": "Custom", "properties": props})
    return command, request, props


def admin_rule_fixes(rule: Mapping[str, Any], flow: Flow, *, location: str,
                     taken_priorities: Iterable[int] = (), taken_names: Iterable[str] = (),
                     endpoint: str = ARM, api_version: str = NETWORK_API) -> list[Fix]:
    """The fixes for an admin Deny, smallest first (see the module docstring). `rule` is an
    item of listNetworkManagerEffectiveSecurityAdminRules (its id names the manager,
    configuration and collection); `location` the region of the VNet it applies to (the
    commit's target); `taken_priorities` the priorities of the effective admin rules of the
    deny's direction."""
    rid = _parts(str(rule.get("id") or ""))
    props = dict(rule.get("properties") or {})
    if str(props.get("access", "")).lower() != "deny":
        raise ValueError(f"rule: {rid.name} is an {props.get('access')!r} admin rule, not a Deny")
    priority, direction = int(props.get("priority") or 0), str(props.get("direction") or "")
    if direction.lower() not in ("inbound", "outbound"):
        raise ValueError(f"rule: {rid.name} has direction {direction!r}, not Inbound/Outbound")
    direction = direction.capitalize()
    if not location:
        raise ValueError("location: the region of the VNet the admin rule applies to is needed "
                         "for the commit, e.g. location='westus'")
    commit = _commit(rid, location, endpoint, api_version)
    taken = {int(p) for p in taken_priorities} | {priority}
    names = {str(n) for n in taken_names}
    fixes: list[Fix] = []
    free = _free(priority, taken)
    label = f"nwlab-allow-{flow.protocol}-{flow.destination_port or 'any'}-{flow.source}-to-" \
            f"{flow.destination}".replace("*", "any").lower()
    if free is not None:
        for access, note in (
                ("Allow", "Admin Allow hands the flow to the NSGs, which still decide it."),
                ("AlwaysAllow", "AlwaysAllow lets the flow through whatever the NSGs say.")):
            name = unique_name(label if access == "Allow" else f"{label}-always", names)
            command, request, rule_props = _allow(rid, name, flow, access, free, direction,
                                                  location, endpoint, api_version)
            widens = widens_of(rule_props, flow)
            if access == "AlwaysAllow":
                widens = "; ".join(w for w in (widens, "the NSGs no longer filter this flow")
                                   if w)
            fixes.append(Fix(
                kind=f"add-admin-{access.lower()}-rule",
                title=f"Admin {access} {flow.protocol} {flow.source} -> {flow.destination} at "
                      f"priority {free}, just above {rid.name} ({priority}), committed to "
                      f"{location}",
                command=f"{command}\n{commit[0]}", request=request, resource_id=str(rid),
                note=f"{note} The commit deploys the configuration {rid.names[1]} to "
                     f"{location}: commit it to every other region it is deployed to as well "
                     "(az network manager list-deploy-status), to keep them alike.",
                widens=widens, steps=((command, request), commit)))
    delete = _az("network manager security-admin-config rule-collection rule delete", rid, [
        ("--configuration-name", rid.names[1]), ("--rule-collection-name", rid.names[2]),
        ("--rule-name", rid.name), ("--yes", [])])
    delete_request = FixRequest("DELETE", arm_url(endpoint, str(rid), api_version))
    fixes.append(Fix(
        kind="delete-admin-rule", title=f"Delete the admin rule {rid.name}, committed to "
                                        f"{location}",
        command=f"{delete}\n{commit[0]}", request=delete_request, resource_id=str(rid),
        note="Removes the admin deny for every flow it covered, in every VNet its collection "
             "applies to.",
        widens=widens_of(props, flow, f"{rid.name} no longer denies"),
        steps=((delete, delete_request), commit)))
    if free is None:
        fixes[0] = replace(fixes[0], note=f"No free admin priority below {priority} "
                           f"({ADMIN_MIN_PRIORITY}-{ADMIN_MAX_PRIORITY}): no admin rule can be "
                           "evaluated before this deny. " + fixes[0].note)
    return fixes
