"""Your real network, offline: read what connection troubleshoot depends on and write it as a topology.

The output is the emulator's topology format (ARM resources as ARM GET returns them, plus an
`emulation` section), so `nwlab.emulate(topology=path)` answers what-if questions about the
network before anyone changes it. Only what routing and filtering need is kept: no tags, no OS
profile (admin names, custom data, secrets), no etags; the subscription id becomes zeros unless
`keep_subscription=True`. Beside the resources it stores what the twin reads from outside them
(docs/twin.md): each VNet's effective security admin rules and, per region, the prefixes of the
service tags the estate's rules and routes name.
"""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from nwlab import snapshot_compute
from nwlab.arm.admin_rules import effective_admin_rules
from nwlab.arm.errors import ArmError, OperationTimeout
from nwlab.arm.ids import ZERO_SUBSCRIPTION
from nwlab.arm.lro import run_operation
from nwlab.files import write_text
from nwlab.inventory import agent_extensions, read_power_statuses

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.arm.session import ArmClient

NETWORK_TYPES = ("virtualNetworks", "networkInterfaces", "networkSecurityGroups", "routeTables",
                 "publicIPAddresses", "applicationSecurityGroups", "azureFirewalls",
                 "firewallPolicies", "ipGroups", "privateEndpoints", "virtualNetworkGateways",
                 "localNetworkGateways", "connections")
# Private DNS is its own API surface under Microsoft.Network with its own versions (spec
# privatedns/resource-manager/Microsoft.Network/stable/2020-06-01).
PRIVATE_DNS_API = "2020-06-01"
# Child collections the twin reads, listed per parent: (parent type, segment, api-version).
CHILD_LISTS = (("microsoft.network/firewallpolicies", "ruleCollectionGroups", None),
               ("microsoft.network/privatednszones", "virtualNetworkLinks", PRIVATE_DNS_API),
               ("microsoft.network/privatednszones", "A", PRIVATE_DNS_API),
               ("microsoft.network/privatednszones", "AAAA", PRIVATE_DNS_API))
# Properties that can hold a secret or a credential and that the twin never reads: a
# connection's pre-shared key, a gateway's point-to-site client settings (RADIUS secrets,
# root certificates).
SECRET_PROPERTIES = frozenset({"sharedKey", "vpnClientConfiguration", "authorizationKey"})
# Top-level keys that carry nothing the engine needs and may carry what a user would not share.
DROP_KEYS = frozenset({"etag", "tags", "managedBy", "identity", "zones", "plan", "systemData"})
_REFERENCE = re.compile(
    r"/subscriptions/[^/\"]+/resourceGroups/[^/\"]+/providers/Microsoft\.Network/"
    r"(?:virtualNetworks|networkSecurityGroups|routeTables|publicIPAddresses|"
    r"applicationSecurityGroups|firewallPolicies|ipGroups|localNetworkGateways|"
    r"virtualNetworkGateways)/[^/\"]+",
    re.IGNORECASE)


def outside_scope(resources: dict[str, dict[str, Any]], subscriptions: list[str]) -> list[str]:
    """Notes for what the resources reference in a subscription the snapshot did not read (a
    peer VNet elsewhere): the twin keeps such a peer as an external VNet when the peering says
    what it peered, and the note says it was not captured."""
    inside = tuple(f"/subscriptions/{s}/".lower() for s in subscriptions)
    text = json.dumps(list(resources.values()))
    found = {m.group(0) for m in _REFERENCE.finditer(text)
             if m.group(0).lower() not in resources and not m.group(0).lower().startswith(inside)}
    return [f"{rid}: in another subscription, not captured" for rid in sorted(found)]


def clean_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource as a snapshot keeps it: no DROP_KEYS, no secret properties, and no NSG
    default rules (the twin implies them; both snapshot paths store the same)."""
    out = {k: v for k, v in resource.items() if k not in DROP_KEYS}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: v for k, v in out["properties"].items()
                             if k not in SECRET_PROPERTIES and k != "defaultSecurityRules"}
    return out


def _vm_entry(arm: ArmClient, vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM reduced to its network profile, OS type and power state, plus its agent extension."""
    vm_id = str(vm.get("id"))
    props = vm.get("properties") or {}
    os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    entry = {"id": vm_id, "name": vm.get("name"), "type": "Microsoft.Compute/virtualMachines",
             "location": vm.get("location"),
             "properties": {"networkProfile": props.get("networkProfile") or {},
                            "storageProfile": {"osDisk": {"osType": os_type}} if os_type else {},
                            "instanceView": {"statuses": read_power_statuses(arm, vm_id)}}}
    agents = agent_extensions(arm, vm_id)
    for ext in agents:
        ext["location"] = ext["location"] or vm.get("location")
    return [entry, *agents]


def arm_of(client: Any) -> ArmClient:
    """The ARM client a snapshot reads through: `client` itself, or a NetworkWatcher's `.arm`
    (take_snapshot(arm) keeps working; the snapshot never uses anything else of the watcher)."""
    arm = getattr(client, "arm", client)
    if not callable(getattr(arm, "get_json", None)) or not isinstance(
            getattr(arm, "subscription_id", None), str):
        raise TypeError(f"snapshot: expected an ARM client (nw.arm) or a NetworkWatcher, got "
                        f"{type(client).__name__}; e.g. take_snapshot(nw.arm, resource_group='RG')")
    return arm


def take_snapshot(client: ArmClient | Any, *, resource_group: str | None = None, path: Any = None,
                  keep_subscription: bool = False) -> dict[str, Any]:
    """Read the network in scope (a resource group, or the whole subscription) as a topology.

    `client`: the ARM client (nw.arm); a NetworkWatcher is accepted for its ARM client."""
    arm = arm_of(client)
    if resource_group is not None and not isinstance(resource_group, str):
        raise TypeError("resource_group: expected a resource group name, e.g. 'ContosoRG'")
    sub = arm.subscription_id
    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{resource_group}" if resource_group else "")
    resources: dict[str, dict[str, Any]] = {}
    missing_notes: list[str] = []
    for kind in (*NETWORK_TYPES, *snapshot_compute.EGRESS_TYPES):
        for item in arm.list(f"{scope}/providers/Microsoft.Network/{kind}"):
            resources[str(item["id"]).lower()] = clean_resource(item)
    for item in arm.list(f"{scope}/providers/Microsoft.Network/privateDnsZones",
                            api_version=PRIVATE_DNS_API):
        resources[str(item["id"]).lower()] = clean_resource(item)
    for item in snapshot_compute.arm_scale_sets(arm, scope, clean_resource):
        resources[str(item["id"]).lower()] = item
    for vm in arm.list(f"{scope}/providers/Microsoft.Compute/virtualMachines"):
        for item in _vm_entry(arm, vm):
            resources[str(item["id"]).lower()] = item
    # Peered VNets, NSGs and route tables may live in other groups: fetch what is referenced.
    for _ in range(3):
        text = json.dumps(list(resources.values()))
        wanted = {m.group(0) for m in _REFERENCE.finditer(text)
                  if m.group(0).lower() not in resources}
        # A topology holds one subscription: a peer in another stays a reference, which the
        # twin keeps as an external VNet when the peering says what it peered.
        elsewhere = {r for r in wanted if not r.lower().startswith(f"/subscriptions/{sub}/".lower())}
        missing_notes += [f"{rid}: in another subscription, not captured"
                          for rid in sorted(elsewhere) if rid.lower() not in resources]
        for rid in elsewhere:
            resources.setdefault(rid.lower(), {})
        wanted -= elsewhere
        if not wanted:
            break
        for rid in sorted(wanted):
            try:
                resources[rid.lower()] = clean_resource(arm.get_json(rid))
            except ArmError as exc:
                missing_notes.append(f"{rid}: {exc.status} {exc.code}")
                resources[rid.lower()] = {}
    resources = {k: v for k, v in resources.items() if v}
    regions = {str(r.get("location", "")).replace(" ", "").lower() for r in resources.values()}
    capture_outside_resources(arm, resources, missing_notes, sub)
    for watcher in arm.list(f"/subscriptions/{sub}/providers/Microsoft.Network/networkWatchers"):
        if str(watcher.get("location", "")).replace(" ", "").lower() in regions:
            resources[str(watcher["id"]).lower()] = clean_resource(watcher)
    topology: dict[str, Any] = {
        "subscriptionId": sub,
        "resources": sorted(resources.values(), key=lambda r: (str(r.get("type")), str(r.get("id")))),
        "emulation": {"dns": {}, "probes": 100},
    }
    if missing_notes:
        topology["emulation"]["notes"] = [f"could not read {n}" for n in missing_notes]
    if not keep_subscription:
        topology = json.loads(_zero_subscriptions(json.dumps(topology), sub))
    if path is not None:
        write_json(path, topology)
    return topology


_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})", re.IGNORECASE)


def _placeholder(n: int) -> str:
    """The n-th other subscription (from 0): 11111111-0000-..., 22222222-0000-...; each group
    one repeated digit, the shape the leak scan knows cannot be a real (random) id."""
    first, second = "123456789abcdef"[n % 15], "0123456789abcdef"[n // 15 % 16]
    return f"{first * 8}-{second * 4}-0000-0000-000000000000"


def _zero_subscriptions(text: str, own: str) -> str:
    """The snapshot's subscription becomes zeros; any other one a reference names (a peer in
    another subscription) becomes a stable placeholder, in order of first use."""
    return placeholder_others(text.replace(own, ZERO_SUBSCRIPTION), {ZERO_SUBSCRIPTION})


def placeholder_others(text: str, keep: set[str]) -> str:
    """Every subscription id a resource id names, other than those in `keep` (lower-cased
    placeholders already written), becomes a stable placeholder, in order of first use."""
    others: dict[str, str] = {}
    for match in _SUBSCRIPTION.finditer(text):
        found = match.group(1).lower()
        if found not in keep and found not in others:
            others[found] = _placeholder(len(others))
    for found, placeholder in others.items():
        text = re.sub(re.escape(found), placeholder, text, flags=re.IGNORECASE)
    return text


def write_json(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """A topology (or a snapshot's resume state) as the twin reads it, written atomically."""
    write_text(path, json.dumps(document, indent=1, sort_keys=True) + "\n")


# Tags computed per NIC (DESIGN.md), never read from the Service Tags API.
_COMPUTED_TAGS = frozenset({"*", "any", "virtualnetwork", "internet", "azureloadbalancer"})
# Free text in an admin rule that a user may not want to share; nothing the twin reads.
_ADMIN_TEXT = frozenset({"description", "configurationDescription",
                         "ruleCollectionDescription"})


def _region(resource: dict[str, Any]) -> str:
    return str(resource.get("location", "")).replace(" ", "").lower()


def _without_text(rule: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rule.items() if k not in _ADMIN_TEXT}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: v for k, v in out["properties"].items() if k not in _ADMIN_TEXT}
    return out


def capture_outside_resources(arm: ArmClient, resources: dict[str, dict[str, Any]],
                              notes: list[str], subscription: str, *,
                              children: bool = True) -> None:
    """Add what the twin reads beyond the resources' own GET (docs/twin.md) to `resources`
    (keyed by lower-cased id): child collections (rule collection groups, private DNS links and
    records; `children=False` when Resource Graph already returned them), gateways' learned
    routes, each VNet's effective admin rules, then the prefixes of the service tags the rules
    and routes name, per region. Shared by the ARM and the Resource Graph snapshot, so both give
    the twin the same. Failures become `notes`."""
    captures = [_learned_routes, _admin_rules]
    if children:
        captures.insert(0, _children)
    for capture in captures:
        for item in capture(arm, resources, notes):
            resources[str(item["id"]).lower()] = item
    for item in _service_tags(arm, resources, notes, subscription):  # last: admin rules name tags
        resources[str(item["id"]).lower()] = item


# Admin-rule reads in flight at once: each is a POST of a few hundred milliseconds on Azure, so
# thousands of VNets read one after another would wait on latency; the write budget (the POSTs
# spend it) still paces them once its burst is spent.
ADMIN_READERS = 8


def _admin_rules(arm: ArmClient, resources: dict[str, dict[str, Any]],
                 notes: list[str]) -> list[dict[str, Any]]:
    """Each VNet's effective security admin rules (Virtual Network Manager): what is deployed,
    not the inert configuration (twin-semantics §3.1), one pseudo-resource per VNet, read
    ADMIN_READERS at a time and kept in the VNets' order (a refused read is a note)."""
    vnets = [r for r in resources.values()
             if str(r.get("type", "")).lower() == "microsoft.network/virtualnetworks"]

    def read(vnet_id: str) -> list[dict[str, Any]] | ArmError:
        try:
            return [_without_text(item) for item in effective_admin_rules(arm, vnet_id)]
        except ArmError as exc:
            return exc

    out = []
    pool = ThreadPoolExecutor(max_workers=ADMIN_READERS, thread_name_prefix="nwlab-admin")
    try:
        for vnet, rules in zip(vnets, pool.map(read, [str(v["id"]) for v in vnets]),
                               strict=True):
            vnet_id = str(vnet["id"])
            if isinstance(rules, ArmError):
                notes.append(f"{vnet_id}/listNetworkManagerEffectiveSecurityAdminRules: "
                             f"{rules.status} {rules.code}")
            elif rules:
                out.append({"id": f"{vnet_id}/effectiveSecurityAdminRules",
                            "name": "effectiveSecurityAdminRules",
                            "type": "Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules",
                            "location": vnet.get("location"), "vnetId": vnet_id, "value": rules})
    finally:
        # Another failure (the transport, a cancel) ends the snapshot as it did one read at a
        # time: the reads not started are dropped, those in flight end within their timeout.
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _tag_names(resource: dict[str, Any]) -> set[str]:
    """The service tags one NSG, route table or admin-rule list names (lower-cased)."""
    rtype = str(resource.get("type", "")).lower()
    props = resource.get("properties") or {}
    names: list[Any] = []
    if rtype == "microsoft.network/networksecuritygroups":
        for rule in props.get("securityRules") or []:
            rp = rule.get("properties") or {}
            for side in ("source", "destination"):
                names.append(rp.get(f"{side}AddressPrefix"))
                names.extend(rp.get(f"{side}AddressPrefixes") or [])
    elif rtype == "microsoft.network/routetables":
        names = [(r.get("properties") or {}).get("addressPrefix") for r in props.get("routes") or []]
    elif rtype == "microsoft.network/virtualnetworks/effectivesecurityadminrules":
        for rule in resource.get("value") or []:
            rp = rule.get("properties") or {}
            names += [e.get("addressPrefix") for side in ("sources", "destinations")
                      for e in rp.get(side) or []
                      if str(e.get("addressPrefixType", "")).lower() == "servicetag"]
    return {n.strip().lower() for n in names if isinstance(n, str) and n.strip()
            and n.strip().lower() not in _COMPUTED_TAGS and not n.strip()[0].isdigit()
            and ":" not in n}


def _service_tags(arm: ArmClient, resources: dict[str, dict[str, Any]],
                  notes: list[str], subscription: str) -> list[dict[str, Any]]:
    """The prefixes of the tags the estate's rules and routes use, per region, from the Service
    Tags discovery API (the doc advises querying with the resource's own region)."""
    wanted: dict[str, set[str]] = {}
    for resource in resources.values():
        names = _tag_names(resource)
        if names:
            wanted.setdefault(_region(resource), set()).update(names)
    out = []
    retrieved = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for region, names in sorted(wanted.items()):
        # Public data: any subscription the caller can read answers it for every region.
        path = (f"/subscriptions/{subscription}/providers/Microsoft.Network/locations/"
                f"{region}/serviceTags")
        try:
            body = arm.get_json(path) or {}
            values = list(body.get("values") or [])
            # The answer is paged with nextLink but its items are under "values", not the
            # "value" that ArmClient.list() reads.
            next_link = body.get("nextLink")
            while next_link:
                page = arm.get_json(next_link) or {}
                values += page.get("values") or []
                next_link = page.get("nextLink")
        except ArmError as exc:
            notes.append(f"{path}: {exc.status} {exc.code}")
            continue
        kept = [v for v in values if isinstance(v, dict)
                and str(v.get("name", "")).lower() in names]
        out.append({"id": path, "name": str(body.get("name") or "public"),
                    "type": "Microsoft.Network/serviceTags", "location": region,
                    "cloud": body.get("cloud"), "changeNumber": body.get("changeNumber"),
                    "retrievedAt": retrieved, "values": kept})
    return out


def _children(arm: ArmClient, resources: dict[str, dict[str, Any]],
              notes: list[str]) -> list[dict[str, Any]]:
    """Firewall Policy rule collection groups, private DNS zone links, A and AAAA records: child
    collections ARM lists under their parent, stored as resources of their own."""
    out = []
    for parent in list(resources.values()):
        ptype = str(parent.get("type", "")).lower()
        for wanted, segment, api in CHILD_LISTS:
            if ptype != wanted:
                continue
            path = f"{parent['id']}/{segment}"
            try:
                out += [clean_resource(item) for item in arm.list(path, api_version=api)]
            except ArmError as exc:
                notes.append(f"{path}: {exc.status} {exc.code}")
    return out


def _learned_routes(arm: ArmClient, resources: dict[str, dict[str, Any]],
                    notes: list[str]) -> list[dict[str, Any]]:
    """Each gateway's BGP-learned routes (POST getLearnedRoutes, a long-running operation):
    ExpressRoute and BGP routes exist only there (twin-semantics §9.2 rule 7)."""
    out = []
    for gw in [r for r in resources.values() if str(r.get("type", "")).lower()
               == "microsoft.network/virtualnetworkgateways"]:
        path = f"{gw['id']}/getLearnedRoutes"
        try:
            op = run_operation(arm, path, None, poll_interval=2.0, timeout=120.0)
        except ArmError as exc:
            notes.append(f"{path}: {exc.status} {exc.code}")
            continue
        except OperationTimeout:
            notes.append(f"{path}: did not finish within 120 s")
            continue
        body = op.body if isinstance(op.body, dict) else {}
        out.append({"id": f"{gw['id']}/learnedRoutes", "name": "learnedRoutes",
                    "type": "Microsoft.Network/virtualNetworkGateways/learnedRoutes",
                    "gatewayId": gw["id"], "observedAt": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "value": [r for r in body.get("value") or [] if isinstance(r, dict)]})
    return out
