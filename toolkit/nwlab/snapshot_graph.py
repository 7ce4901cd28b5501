"""An estate as a topology, read through Azure Resource Graph (subscriptions or a management group).

One query per group of resource types (reference §6.5: project plain columns, order by id, keep
arrays such as subnets, peerings and rules whole as JSON: they can exceed mv-expand's 400-row cap),
subscriptions in batches of 300, pages by $skipToken, the quota waited out. What Resource Graph
cannot answer is read over ARM: a VM's power state when `properties.extended` lacks it, each
gateways' learned routes, each VNet's effective security admin rules and the service tags'
prefixes (the ARM snapshot's code).
A coverage record says which subscriptions were read and which were denied or skipped, and why.
Each finished query is saved next to the output (`<path>.partial.json`), so an interrupted snapshot continues
where it stopped. The output is today's snapshot format, scrubbed the same way.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwlab import snapshot_compute
from nwlab.arm.errors import ArmError, NwlabError
from nwlab.arm.ids import ZERO_SUBSCRIPTION
from nwlab.arm.resource_graph import QueryResult, ResourceGraph, validate_scope
from nwlab.files import write_text
from nwlab.inventory import AGENT_PUBLISHER, read_power_statuses
from nwlab.progress import auto_progress
from nwlab.snapshot import (
    DROP_KEYS,
    arm_of,
    capture_outside_resources,
    clean_resource,
    outside_scope,
    placeholder_others,
    write_json,
)

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.arm.session import ArmClient

log = logging.getLogger(__name__)
STATE_VERSION = 2  # 2: the state names each saved query's text (a changed query is not reused)
COLUMNS = "id, name, type, location, subscriptionId, resourceGroup, kind, sku, zones, properties"
# ARM's spelling of every type the twin reads (Resource Graph answers them lower-cased).
TYPES = {t.lower(): t for t in (
    "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkInterfaces",
    "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/routeTables",
    "Microsoft.Network/publicIPAddresses", "Microsoft.Network/networkWatchers",
    "Microsoft.Network/applicationSecurityGroups", "Microsoft.Network/azureFirewalls",
    "Microsoft.Network/firewallPolicies", "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
    "Microsoft.Network/ipGroups", "Microsoft.Network/privateEndpoints",
    "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "Microsoft.Network/privateDnsZones/A", "Microsoft.Network/virtualNetworkGateways",
    "Microsoft.Network/localNetworkGateways", "Microsoft.Network/connections",
    "Microsoft.Network/loadBalancers", "Microsoft.Network/natGateways",
    "Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/extensions",
    "Microsoft.Compute/virtualMachineScaleSets",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces")}


@dataclass(frozen=True)
class Step:
    """One query of the snapshot: a table and the types it reads (the unit of resume)."""

    name: str
    table: str
    types: tuple[str, ...]

    @property
    def query(self) -> str:
        names = ", ".join(f"'{t.lower()}'" for t in self.types)
        return (f"{self.table} | where type in~ ({names}) | project {COLUMNS} "
                "| order by id asc")


STEPS = (
    Step("networks", "Resources", ("Microsoft.Network/virtualNetworks",
                                   "Microsoft.Network/networkInterfaces")),
    Step("filtering", "Resources", ("Microsoft.Network/networkSecurityGroups",
                                    "Microsoft.Network/routeTables",
                                    "Microsoft.Network/applicationSecurityGroups")),
    Step("edges", "Resources", ("Microsoft.Network/publicIPAddresses",
                                "Microsoft.Network/natGateways", "Microsoft.Network/loadBalancers",
                                "Microsoft.Network/virtualNetworkGateways",
                                "Microsoft.Network/localNetworkGateways",
                                "Microsoft.Network/connections")),
    Step("firewalls", "Resources", ("Microsoft.Network/azureFirewalls",
                                    "Microsoft.Network/firewallPolicies",
                                    "Microsoft.Network/ipGroups")),
    # Rule collection groups live in NetworkResources (reference §6.4).
    Step("firewall-rules", "NetworkResources",
         ("Microsoft.Network/firewallPolicies/ruleCollectionGroups",)),
    Step("private-link", "Resources", ("Microsoft.Network/privateEndpoints",
                                       "Microsoft.Network/privateDnsZones",
                                       "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                                       "Microsoft.Network/privateDnsZones/A")),
    Step("compute", "Resources", ("Microsoft.Compute/virtualMachines",
                                  "Microsoft.Compute/virtualMachines/extensions",
                                  "Microsoft.Compute/virtualMachineScaleSets")),
    # Uniform scale-set instances and their NICs are only in ComputeResources (reference §6.4).
    Step("scale-set-instances", "ComputeResources",
         ("Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
          "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces")),
    Step("watchers", "Resources", ("Microsoft.Network/networkWatchers",)),
)
COVERAGE_QUERY = ("ResourceContainers | where type =~ 'microsoft.resources/subscriptions' "
                  "| project id, name, subscriptionId, properties | order by id asc")


class SnapshotError(NwlabError):
    """The snapshot cannot be taken as asked (no subscription in scope could be read)."""


@dataclass
class SnapshotProgress:
    """What a progress display receives: queries done of all, rows read so far (as `counts`)."""

    done: int
    total: int
    counts: dict[str, int]


def take_graph_snapshot(client: ArmClient | Any, *, path: Any = None,
                        subscriptions: list[str] | None = None,
                        management_group: str | None = None, keep_subscription: bool = False,
                        progress: Any = True, page_size: int = 1000,
                        graph: ResourceGraph | None = None) -> dict[str, Any]:
    """Read the estate in scope through Resource Graph and return (and write) it as a topology.

    `progress`: True picks a display (a widget in a notebook, tqdm in a terminal, a log line every
    few seconds otherwise), False none, or a callable taking SnapshotProgress.
    """
    arm = arm_of(client)
    if management_group is not None and not isinstance(management_group, str):
        raise TypeError("management_group: expected a management group name, e.g. 'ProductionMG'")
    if subscriptions is None and management_group is None:
        subscriptions = [arm.subscription_id]
    graph = graph or ResourceGraph(arm)
    scope: dict[str, Any] = ({"subscriptions": list(subscriptions)} if subscriptions is not None
                             else {"management_groups": [management_group]})
    # GUIDs, one scope, not empty: refused before any request.
    subs, groups = validate_scope(scope.get("subscriptions"), scope.get("management_groups"))
    scope = {"subscriptions": subs} if subs is not None else {"management_groups": groups}
    target = Path(path) if path is not None else None
    queries = {"coverage": COVERAGE_QUERY, **{s.name: s.query for s in STEPS}}
    state = _load_state(target, scope, queries)
    display = _display(progress, len(STEPS) + 1)
    try:
        for name, query in queries.items():
            if name not in state["done"]:
                result = graph.query(query, page_size=page_size, **scope)
                state["done"][name] = result.rows
                state["incomplete"] += _incomplete(name, result)
                # Every page counts, the coverage query's too (it spends the same quota).
                state["stats"]["pages"] += result.pages
                state["stats"]["throttled"] += result.throttled
                state["stats"]["quota_waits"] += result.quota_waits
                _save_state(target, state)
            _tick(display, state)
    finally:
        if display is not None and hasattr(display, "close"):
            display.close()
    topology = _assemble(arm, state, subs)
    if not keep_subscription:
        topology = _scrub(topology)
    if target is not None:
        write_json(target, topology)
        _state_path(target).unlink(missing_ok=True)
    return topology


# -- assembly ---------------------------------------------------------------------------------------

def _assemble(client: ArmClient | Any, state: dict[str, Any], requested: list[str] | None
              ) -> dict[str, Any]:
    arm = arm_of(client)
    readable = {str(r.get("subscriptionId") or str(r.get("id", "")).split("/")[-1]).lower(): r
                for r in state["done"]["coverage"]}
    read: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    for sub, row in sorted(readable.items()):
        status = str((row.get("properties") or {}).get("state") or "Enabled")
        # Disabled or deleted subscriptions answer nothing useful: named, not dropped.
        (read if status.lower() in ("enabled", "pastdue", "warned") else skipped).append(
            {"subscriptionId": sub, "state": status} if status.lower() in
            ("enabled", "pastdue", "warned") else
            {"subscriptionId": sub, "reason": f"subscription state {status}"})
    denied = [{"subscriptionId": s.lower(),
               "reason": "Resource Graph returned no row for it: the caller cannot read it, or it "
                         "does not exist"}
              for s in requested or [] if s.lower() not in readable]
    if not read:
        raise SnapshotError(
            "None of the subscriptions in scope could be read through Resource Graph "
            f"({len(denied)} denied, {len(skipped)} skipped).",
            fix="Check the subscription ids (`az account list -o table`) and that the identity "
                "has Reader on them.")
    resources: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for step in STEPS:
        for row in state["done"].get(step.name) or []:
            item = _resource(row)
            if item is not None:
                resources[str(item["id"]).lower()] = item
    for item in list(resources.values()):
        if item["type"] == "Microsoft.Compute/virtualMachines" and \
                not item["properties"]["instanceView"]["statuses"]:
            _power_state_over_arm(arm, item, notes)
        elif item["type"] == snapshot_compute.T_VMSS and snapshot_compute.is_uniform(item):
            _instances_over_arm(arm, str(item["id"]), resources, notes)
    primary = read[0]["subscriptionId"]
    # Effective admin rules and service-tag prefixes: Resource Graph has neither, the ARM
    # snapshot's reads fetch them (one shared capture, so both paths give the twin the same).
    outside = outside_scope(resources, [e["subscriptionId"] for e in read])
    capture_outside_resources(arm, resources, outside, primary, children=False)
    notes += [f"could not read {n}" for n in outside]
    topology: dict[str, Any] = {
        "subscriptionId": primary,
        "resources": sorted(resources.values(), key=lambda r: (str(r.get("type")), str(r.get("id")))),
        "emulation": {"dns": {}, "probes": 100},
        "snapshot": {"via": "resource-graph",
                     "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "coverage": {"read": read, "denied": denied, "skipped": skipped,
                                  "incomplete": list(state.get("incomplete") or [])},
                     "queries": {k: v for k, v in state["stats"].items()}},
    }
    if notes:
        topology["emulation"]["notes"] = notes
    return topology


def _incomplete(name: str, result: QueryResult) -> list[dict[str, str]]:
    """What a query's answer says it left out: never dropped silently, named in the coverage."""
    out = []
    if result.subscription_limit_hit:
        out.append({"query": name, "reason": "x-ms-tenant-subscription-limit-hit: Resource Graph "
                    "read only the first 10,000 subscriptions of the scope"})
    if result.truncated:
        out.append({"query": name, "reason": "resultTruncated: Resource Graph cut the answer "
                    "and sent no $skipToken"})
    if result.missing:
        out.append({"query": name, "reason": f"{result.missing} rows fewer than totalRecords "
                    "announced"})
    return out


def _resource(row: dict[str, Any]) -> dict[str, Any] | None:
    """A Resource Graph row back in ARM GET's shape, reduced as the ARM snapshot reduces it."""
    rtype = TYPES.get(str(row.get("type", "")).lower())
    if rtype is None or not row.get("id"):
        return None
    props = dict(row.get("properties") or {})
    item: dict[str, Any] = {k: v for k, v in row.items() if v is not None and k not in DROP_KEYS
                            and k not in ("subscriptionId", "resourceGroup", "tenantId")}
    item["type"] = rtype
    if rtype == "Microsoft.Compute/virtualMachines":
        code = (((props.get("extended") or {}).get("instanceView") or {}).get("powerState")
                or {}).get("code")
        os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
        # Only what the twin needs: no OS profile (admin names, custom data).
        item["properties"] = {"networkProfile": props.get("networkProfile") or {},
                              "storageProfile": {"osDisk": {"osType": os_type}} if os_type else {},
                              "instanceView": {"statuses": [{"code": code}] if code else []}}
    elif rtype == "Microsoft.Compute/virtualMachines/extensions":
        if str(props.get("publisher", "")).lower() != AGENT_PUBLISHER:
            return None  # other extensions' settings may hold secrets and the twin needs none
        item["properties"] = {k: props[k] for k in ("publisher", "type", "typeHandlerVersion",
                                                    "provisioningState") if k in props}
    elif rtype.startswith("Microsoft.Compute/virtualMachineScaleSets"):
        item["properties"] = props
        return snapshot_compute.graph_row(rtype, item)  # no OS profile, agent extension only
    else:
        # A connection's pre-shared key, a gateway's client secrets: never written (as in ARM's).
        item = clean_resource({**item, "properties": props})
    return item


def _power_state_over_arm(arm: ArmClient, vm: dict[str, Any], notes: list[str]) -> None:
    """Resource Graph's power state converges slowly and may be absent: read the instance view."""
    try:
        statuses = read_power_statuses(arm, str(vm["id"]))
    except ArmError as exc:
        notes.append(f"could not read the power state of {vm['id']}: {exc.status} {exc.code}")
        return
    vm["properties"]["instanceView"]["statuses"] = statuses


def _instances_over_arm(arm: ArmClient, vmss_id: str, resources: dict[str, dict[str, Any]],
                        notes: list[str]) -> None:
    """A Uniform scale set's instances as the ARM snapshot reads them (their agent extension and
    power state, which Resource Graph's instance rows lack): each replaces its Resource Graph
    row, so a check from an instance answers as on the estate."""
    try:
        for instance in snapshot_compute.arm_instances(arm, vmss_id):
            resources[str(instance["id"]).lower()] = instance
    except ArmError as exc:
        notes.append(f"could not read the instances of {vmss_id} (their agent extension and "
                     f"power state): {exc.status} {exc.code}")


def _scrub(topology: dict[str, Any]) -> dict[str, Any]:
    """Each subscription id becomes a placeholder: the first zeros, the next ...0001 and so on,
    so resources of different subscriptions never collide."""
    coverage = topology["snapshot"]["coverage"]
    subs = [e["subscriptionId"] for part in ("read", "denied", "skipped") for e in coverage[part]]
    text = json.dumps(topology)
    written: set[str] = set()
    for i, sub in enumerate(dict.fromkeys(s.lower() for s in subs)):
        placeholder = ZERO_SUBSCRIPTION[:-12] + f"{i:012d}"
        text = _replace_casefold(text, sub, placeholder)
        written.add(placeholder)
    # A subscription outside the scope that a resource names (a peer elsewhere) too, as the
    # ARM snapshot scrubs it.
    return dict(json.loads(placeholder_others(text, written)))


def _replace_casefold(text: str, old: str, new: str) -> str:
    import re

    return re.sub(re.escape(old), new, text, flags=re.IGNORECASE)


# -- resume -----------------------------------------------------------------------------------------

def _state_path(target: Path) -> Path:
    return target.with_name(target.name + ".partial.json")


def _load_state(target: Path | None, scope: dict[str, Any], queries: dict[str, str]
                ) -> dict[str, Any]:
    """The saved queries of an interrupted snapshot of the same scope and queries, else a fresh
    state. A state of another scope, another version or other queries is refused, not
    overwritten: it is another run's work, and its rows are not this snapshot's."""
    fresh = {"version": STATE_VERSION, "scope": scope, "queries": queries, "done": {},
             "incomplete": [], "stats": {"pages": 0, "throttled": 0, "quota_waits": 0}}
    if target is None or not _state_path(target).exists():
        return fresh
    where = _state_path(target)
    try:
        saved = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{where} is not a snapshot's resume state ({exc}).",
                            fix=f"Delete {where.name} to start afresh.") from None
    problem = _not_resumable(saved, scope, queries)
    if problem:
        raise SnapshotError(
            f"{where} holds an interrupted snapshot of {problem}; it is not resumed for this one.",
            fix=f"Resume it with the same scope, write this snapshot to another path, or delete "
                f"{where.name} to start afresh.")
    log.info("resuming the snapshot: %d of %d queries already read", len(saved["done"]),
             len(queries))
    saved.setdefault("stats", fresh["stats"])
    saved.setdefault("incomplete", [])
    return dict(saved)


def _not_resumable(saved: Any, scope: dict[str, Any], queries: dict[str, str]) -> str | None:
    """Why a saved state cannot continue this snapshot (None when it can)."""
    if not isinstance(saved, dict) or not isinstance(saved.get("done"), dict):
        return "an unknown shape"
    if saved.get("version") != STATE_VERSION:
        return f"another nwlab version (state version {saved.get('version')!r})"
    if saved.get("scope") != scope:
        return f"another scope ({_scope_text(saved.get('scope'))})"
    changed = [n for n in saved["done"] if (saved.get("queries") or {}).get(n) != queries.get(n)]
    if changed:
        return f"other queries ({', '.join(sorted(changed))})"
    return None


def _scope_text(scope: Any) -> str:
    if not isinstance(scope, dict):
        return "unknown"
    subs = scope.get("subscriptions") or []
    groups = scope.get("management_groups") or []
    return (f"{len(subs)} subscription(s)" if subs else
            f"management group {', '.join(map(str, groups))}" if groups else "unknown")


def _save_state(target: Path | None, state: dict[str, Any]) -> None:
    # The state holds real subscription ids while the snapshot runs; it is deleted at the end.
    # Written after every query with all rows read so far: compact, as json's C encoder writes
    # it (an indented or sorted dump takes the pure-Python encoder, ten times slower, and at
    # thousands of VNets the saves cost more than the queries).
    if target is not None:
        write_text(_state_path(target), json.dumps(state, separators=(",", ":")))


# -- progress ---------------------------------------------------------------------------------------

def _display(progress: Any, total: int) -> Callable[[SnapshotProgress], None] | None:
    """The display a check batch gets (progress.auto_progress): a widget in a notebook, tqdm on
    a terminal, a log line every few seconds otherwise; or the caller's own callable."""
    if progress is False or progress is None:
        return None
    if callable(progress) and progress is not True:
        return progress
    return auto_progress(total, "snapshot queries")  # type: ignore[return-value]


def _tick(display: Callable[[SnapshotProgress], None] | None, state: dict[str, Any]) -> None:
    if display is None:
        return
    rows = sum(len(v) for v in state["done"].values())
    display(SnapshotProgress(len(state["done"]), len(STEPS) + 1, {"rows": rows}))


__all__ = ["STEPS", "SnapshotError", "SnapshotProgress", "Step",
           "take_graph_snapshot"]
