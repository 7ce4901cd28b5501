"""The ARM contract over a topology: request (method, path, query, body) -> response.

No sockets here (server.py owns HTTP); this module decides what Azure Resource Manager would
answer, so it can be read against the reference side by side. Paths are case-insensitive and
any api-version value is accepted, as a client may pin any version; a write without one is
refused, as ARM refuses it.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import diagnostics, engine
from .admin_writes import AdminWrites
from .clock import TwinClock
from .errors import ArmError, not_found
from .monitoring import T_WORKSPACE, Monitoring
from .nsg import DEFAULT_RULES
from .resource_graph import ResourceGraphService
from .rule_writes import refuse_security_rule_put
from .servicetags import T_SERVICE_TAGS
from .topology import (
    JSON,
    T_ADMIN,
    T_NIC,
    T_NSG,
    T_NW,
    T_RT,
    T_VM,
    T_VMSS,
    T_VMSS_VM,
    T_VNET,
    Topology,
    TopologyError,
    key,
    parse_route,
    parse_security_rule,
)

NO_BODY = object()  # a response without a body (204), as opposed to the JSON literal null
# ARM's answer to a request without ?api-version= (its code and message, verbatim).
MISSING_API_VERSION = ("MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")

# Child collections a client can list or address: (parent type, child segment) -> property.
CHILD_FIELDS = {
    ("microsoft.network/virtualnetworks", "subnets"): "subnets",
    ("microsoft.network/virtualnetworks", "virtualnetworkpeerings"): "virtualNetworkPeerings",
    ("microsoft.network/networksecuritygroups", "securityrules"): "securityRules",
    ("microsoft.network/routetables", "routes"): "routes",
    ("microsoft.network/networkinterfaces", "ipconfigurations"): "ipConfigurations",
}
# Child collections kept as separate resources in a topology (their ids under the parent).
STORED_CHILDREN = frozenset({("microsoft.network/firewallpolicies", "rulecollectiongroups"),
                             ("microsoft.network/privatednszones", "virtualnetworklinks"),
                             ("microsoft.network/privatednszones", "a"),
                             ("microsoft.network/privatednszones", "aaaa")})
# Children that can be written, so a what-if uses the calls a user would make against Azure.
WRITABLE = {(T_NSG, "securityrules"): "securityRules", (T_RT, "routes"): "routes"}
ACTIONS = ("connectivitycheck", "ipflowverify", "nexthop", "networkconfigurationdiagnostic")
# NIC actions Azure runs as long-running operations (reference §4.1, §4.2).
NIC_ACTIONS = ("effectiveroutetable", "effectivenetworksecuritygroups")
# The twin's own endpoints live under a provider namespace Azure does not have, so a client
# can never mistake them for an Azure API: GET /subscriptions/{id}/providers/nwlab.emulator/
# assumptions lists every assumption of the loaded topology.
EXTENSION_NAMESPACE = "nwlab.emulator"


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or NO_BODY
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Operation:
    """A started long-running action: its answer is fixed at POST time, revealed when ready.

    A connectivity check is validated at POST time and computed at the first poll that may see
    it, over the topology captured at POST (PUT/DELETE replace the topology, never mutate it),
    so the answer is the one of the network as it was when the check started while a burst of
    POSTs is answered quickly.
    """

    ready_at: float
    location: str
    result: JSON | None = None
    compute: Callable[[], JSON] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> JSON | None:
        with self.lock:
            if self.compute is not None:
                self.result, self.compute = self.compute(), None
            return self.result


def format_seconds(value: float) -> str:
    """Retry-After text: an integer when whole (what Azure sends), else a short decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class ArmApp:
    """Everything the emulator answers, over a topology that writes replace atomically."""

    def __init__(self, topology: Topology, *, check_seconds: float, retry_after: float,
                 probes: int | None, page_size: int, max_operations: int = 10000,
                 clock: Callable[[], float] = time.monotonic,
                 twin_clock: TwinClock | None = None) -> None:
        self.topology = topology
        self.check_seconds = check_seconds
        self.retry_after = retry_after
        self.probes = probes
        self.page_size = page_size
        self.endpoint = ""  # set by the server once it knows its port
        self._clock = clock
        self._lock = threading.Lock()
        self._ops: OrderedDict[str, Operation] = OrderedDict()
        self._max_ops = max_operations
        self.resource_graph = ResourceGraphService()  # knobs: quota, page_size, denied
        # Connection Monitor, its metrics and Log Analytics, on the twin's clock
        self.monitoring = Monitoring(twin_clock, retry_after=retry_after)
        self.monitoring.probes = probes
        self._analyzers: dict[str, JSON] = {}  # connectionAnalyzers by key(id)
        self.admin_writes = AdminWrites()  # admin rule writes waiting for their commit

    # -- entry point -----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: bytes | None,
               ) -> Response:
        # Only writes are held to it: the twin's own readers (and its tests) poll Location URLs
        # that carry no api-version when the POST had none, and reads change nothing.
        if method in ("PUT", "DELETE") and not any(
                k.lower() == "api-version" and v.strip() for k, v in query.items()):
            raise ArmError(400, *MISSING_API_VERSION)
        segs = [s for s in path.split("/") if s]
        low = [s.lower() for s in segs]
        if low == ["subscriptions"]:
            return self._only(method, "GET") or self._list([self._subscription()], path, query)
        if low == ["providers", "microsoft.resourcegraph", "resources"]:
            self._only(method, "POST")
            return Response(*self.resource_graph.answer(self.topology, parse_json(body)))
        if not low or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", f"No route for '{path}'.")
        if len(low) < 2 or low[1] != self.topology.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound",
                           f"The subscription '{segs[1] if len(segs) > 1 else ''}' could not "
                           "be found.")
        if len(low) == 2:
            return self._only(method, "GET") or Response(200, self._subscription())
        if len(low) == 8 and low[2] == "resourcegroups" and f"{low[5]}/{low[6]}" == T_WORKSPACE:
            return self._only(method, "GET") or Response(
                200, self.monitoring.workspace("/" + "/".join(segs), self.topology))
        if low[2] == "resourcegroups":
            return self._in_group(method, segs, low, path, query, body)
        if low[2] == "providers":
            if len(low) == 8 and low[3:5] == ["microsoft.network", "locations"] and \
                    low[6] == "operationresults":
                return self._only(method, "GET") or self._poll(segs[7])
            if len(low) == 7 and low[3:5] == ["microsoft.network", "locations"] and \
                    low[6] == "servicetags":
                return self._only(method, "GET") or Response(200, self._service_tags(segs[5]))
            if len(low) == 8 and low[3:5] == ["microsoft.network", "locations"] and \
                    low[6] == "operations":  # a connection monitor PUT's Azure-AsyncOperation
                self._only(method, "GET")
                return Response(*self.monitoring.service.poll_async(segs[7]))
            if low[3:] == [EXTENSION_NAMESPACE, "assumptions"]:
                # The twin's extension (not an Azure API): every assumption of the topology
                # as it is now, paged like any ARM list.
                return self._only(method, "GET") or self._list(
                    [a.to_json() for a in self.topology.assumptions], path, query)
            if len(low) == 5:
                return self._only(method, "GET") or self._list(
                    self._of_type(f"{low[3]}/{low[4]}", None, query), path, query)
        raise ArmError(404, "InvalidResourceType", f"No route for '{path}'.")

    # -- subscription and resource groups -----------------------------------------------------
    def _subscription(self) -> JSON:
        sub = self.topology.subscription_id
        return {"id": f"/subscriptions/{sub}", "subscriptionId": sub,
                "displayName": "nwlab emulator", "state": "Enabled",
                "tenantId": "00000000-0000-0000-0000-000000000000"}

    def _groups(self) -> dict[str, JSON]:
        sub = self.topology.subscription_id
        return {low: self._group(sub, name, location)
                for low, (name, location) in self.topology.resource_groups().items()}

    @staticmethod
    def _group(sub: str, name: str, location: str) -> JSON:
        return {"id": f"/subscriptions/{sub}/resourceGroups/{name}", "name": name,
                "type": "Microsoft.Resources/resourceGroups", "location": location,
                "properties": {"provisioningState": "Succeeded"}}

    def _in_group(self, method: str, segs: list[str], low: list[str], path: str,
                  query: dict[str, str], body: bytes | None) -> Response:
        if len(low) == 3:
            return self._only(method, "GET") or self._list(list(self._groups().values()),
                                                           path, query)
        found = self.topology.resource_groups().get(low[3])
        if found is None:
            raise ArmError(404, "ResourceGroupNotFound",
                           f"Resource group '{segs[3]}' could not be found.")
        if len(low) == 4:
            return self._only(method, "GET") or Response(
                200, self._group(self.topology.subscription_id, *found))
        if low[4] != "providers" or len(low) < 7:
            raise ArmError(404, "InvalidResourceType", f"No route for '{path}'.")
        rtype = f"{low[5]}/{low[6]}"
        if len(low) == 7:
            return self._only(method, "GET") or self._list(
                self._of_type(rtype, low[3], query), path, query)
        if len(low) > 8 and self.admin_writes.handles(low):
            # A manager's admin rules and their commit: the manager itself need not be in
            # the topology (a snapshot holds the effective rules its VNets get).
            with self._lock:
                status, out, self.topology = self.admin_writes.handle(
                    self.topology, method, segs, low, parse_json(body))
            return Response(status, NO_BODY if out is None else out)
        resource_id = "/" + "/".join(segs[:8])
        parent = self.topology.raw.get(key(resource_id))
        if parent is None or str(parent.get("type", "")).lower() != rtype:
            raise not_found(resource_id)
        if len(low) == 8:
            return self._only(method, "GET") or Response(200, self._render(parent, query))
        if rtype == T_NW and low[8] in ("connectionmonitors", "operationresults"):
            return _monitor_response(*self.monitoring.below_watcher(
                method, segs, low, parent, query, parse_json(body), self.topology,
                self.endpoint))
        if len(low) == 9:
            if method == "POST" and rtype == T_NW and low[8] in ACTIONS:
                return self._start(low[8], parent, query, body)
            if method == "POST" and rtype == T_NIC and low[8] in NIC_ACTIONS:
                return self._start_nic(low[8], parent, query)
            if rtype == T_VNET and low[8] == "listnetworkmanagereffectivesecurityadminrules":
                return self._only(method, "POST") or self._admin_rules(parent, body)
            if rtype == T_NW and low[8] == "connectionanalyzers":  # List (nw26, pageable)
                return self._only(method, "GET") or self._list(
                    self._analyzers_of(parent["id"]), path, query)
            if rtype == T_VM and low[8] == "instanceview":
                return self._only(method, "GET") or Response(200, self._instance_view(parent))
            return self._only(method, "GET") or self._list(
                self._children(parent, low[8], resource_id), path, query)
        if rtype == T_NW and low[8] == "connectionanalyzers" and len(low) in (10, 11):
            return self._analyzer(method, parent, segs, low, query, body)
        if len(low) == 10:
            child_id = "/" + "/".join(segs[:10])
            if method in ("PUT", "DELETE") and (rtype, low[8]) in WRITABLE:
                return self._write(method, parent, low[8], segs[9], child_id, body)
            self._only(method, "GET")
            if rtype == T_NSG and low[8] == "defaultsecurityrules":
                for item in self._default_rules(parent["id"]):
                    if item["name"].lower() == low[9]:
                        return Response(200, item)
            child = self.topology.raw.get(key(child_id))
            if child is None:
                raise not_found(child_id)
            return Response(200, self._render(child, query))
        if len(low) == 11 and rtype == T_VMSS and low[8] == "virtualmachines" \
                and low[10] in ("extensions", "instanceview"):
            return self._instance_read(method, "/" + "/".join(segs[:10]), low[10], path, query)
        raise ArmError(404, "InvalidResourceType", f"No route for '{path}'.")

    def _instance_read(self, method: str, instance_id: str, segment: str, path: str,
                       query: dict[str, str]) -> Response:
        """A Uniform instance's own extensions (VirtualMachineScaleSetVMExtensions_List) or its
        instance view (VirtualMachineScaleSetVMs_GetInstanceView), as for a VM."""
        instance = self.topology.raw.get(key(instance_id))
        if instance is None or str(instance.get("type", "")).lower() != T_VMSS_VM:
            raise not_found(instance_id)
        self._only(method, "GET")
        if segment == "instanceview":
            return Response(200, self._instance_view(instance))
        return self._list([copy.deepcopy(e) for e in
                           self.topology.extensions.get(key(instance_id), [])], path, query)

    @staticmethod
    def _only(method: str, allowed: str) -> Response | None:
        if method != allowed:
            raise ArmError(405, "MethodNotAllowed",
                           f"The requested method '{method}' is not allowed here; use {allowed}.")
        return None

    # -- reads ----------------------------------------------------------------------------------
    def _of_type(self, rtype: str, group: str | None, query: dict[str, str]) -> list[JSON]:
        return [self._render(r, query) for r in self.topology.resources_of_type(rtype, group)]

    def _children(self, parent: JSON, segment: str, parent_id: str) -> list[JSON]:
        ptype = str(parent["type"]).lower()
        if ptype == T_VM and segment == "extensions":
            return [copy.deepcopy(e) for e in self.topology.extensions.get(key(parent_id), [])]
        if ptype == T_NSG and segment == "defaultsecurityrules":
            return self._default_rules(parent["id"])
        if ptype == T_VMSS and segment in ("virtualmachines", "networkinterfaces"):
            # A Uniform scale set's instances (Compute) and their NICs (Network RP, served at
            # the scale set's path), as the snapshot lists them.
            return self._scale_set_children(parent_id, segment)
        prop = CHILD_FIELDS.get((ptype, segment))
        if prop is None and (ptype, segment) in STORED_CHILDREN:
            # Children a snapshot stores as resources of their own (rule collection groups,
            # private DNS links and records).
            under = f"{key(parent_id)}/{segment}/"
            return [self._render(r, {}) for r in self.topology.document["resources"]
                    if key(r["id"]).startswith(under) and "/" not in r["id"][len(under):]]
        if prop is None:
            raise ArmError(404, "InvalidResourceType",
                           f"'{segment}' is not a child collection of {parent_id}.")
        return [self._render(c, {}) for c in parent["properties"].get(prop, [])]

    def _scale_set_children(self, vmss_id: str, segment: str) -> list[JSON]:
        inside = key(vmss_id) + "/virtualmachines/"
        wanted = T_VMSS_VM if segment == "virtualmachines" else T_NIC
        return [self._render(r, {}) for r in self.topology.document["resources"]
                if key(r["id"]).startswith(inside) and str(r.get("type", "")).lower() == wanted]

    def _render(self, res: JSON, query: dict[str, str]) -> JSON:
        """A resource as ARM GET shows it (instance view only on request, default rules)."""
        out = copy.deepcopy(res)
        rtype = str(out.get("type", "")).lower()
        props = out.setdefault("properties", {})
        if rtype.startswith("microsoft.network/"):
            props.setdefault("provisioningState", "Succeeded")
        if rtype == T_VM:
            expand = query.get("$expand", "").lower() == "instanceview" or \
                query.get("statusonly", "").lower() == "true"
            props.pop("instanceView", None)
            if expand:
                props["instanceView"] = self._instance_view(res)
        if rtype == T_NSG:
            props["defaultSecurityRules"] = self._default_rules(out["id"])
        return out

    def _service_tags(self, location: str) -> JSON:
        """ServiceTags_List for a region, from what the topology stores for it (an empty list
        when it stores nothing: the twin does not invent prefixes)."""
        sub = self.topology.subscription_id
        wanted = location.replace(" ", "").lower()
        stored = next((r for r in self.topology.resources_of_type(T_SERVICE_TAGS)
                       if str(r.get("location", "")).replace(" ", "").lower() == wanted), {})
        return {"name": "public", "type": "Microsoft.Network/serviceTags",
                "id": f"/subscriptions/{sub}/providers/Microsoft.Network/serviceTags/public",
                "changeNumber": stored.get("changeNumber", "0"),
                "cloud": stored.get("cloud", "Public"),
                "values": copy.deepcopy(stored.get("values", []))}

    def _admin_rules(self, vnet: JSON, body: bytes | None) -> Response:
        """listNetworkManagerEffectiveSecurityAdminRules: the stored effective rules of the
        VNet, paged with skipToken as the service pages them."""
        payload = parse_json(body) or {}
        token = payload.get("skipToken") if isinstance(payload, dict) else None
        try:
            skip = int(token) if token else 0
        except (TypeError, ValueError):
            raise ArmError(400, "InvalidSkipToken", f"skipToken {token!r} is not one this "
                           "service issued.") from None
        stored = next((r for r in self.topology.resources_of_type(T_ADMIN)
                       if key(str(r.get("vnetId", ""))) == key(vnet["id"])), {})
        items = list(stored.get("value") or [])
        page = items[skip:skip + self.page_size]
        more = skip + self.page_size < len(items)
        return Response(200, {"value": copy.deepcopy(page),
                              "skipToken": str(skip + self.page_size) if more else None})

    @staticmethod
    def _instance_view(vm: JSON) -> JSON:
        view = copy.deepcopy((vm.get("properties") or {}).get("instanceView") or {})
        statuses = view.setdefault("statuses", [])
        codes = [str(s.get("code", "")).lower() for s in statuses]
        if not any(c.startswith("provisioningstate/") for c in codes):
            statuses.insert(0, {"code": "ProvisioningState/succeeded", "level": "Info"})
        if not any(c.startswith("powerstate/") for c in codes):
            statuses.append({"code": "PowerState/running", "level": "Info",
                             "displayStatus": "VM running"})
        return view

    @staticmethod
    def _default_rules(nsg_id: str) -> list[JSON]:
        def prefix(p: Any) -> str:
            return str(p)

        return [{"name": r.name, "id": f"{nsg_id}/defaultSecurityRules/{r.name}",
                 "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                 "properties": {"description": f"Azure default rule {r.name}",
                                "protocol": r.protocol, "sourcePortRange": "*",
                                "destinationPortRange": "*",
                                "sourceAddressPrefix": prefix(r.source_prefixes[0]),
                                "destinationAddressPrefix": prefix(r.destination_prefixes[0]),
                                "access": r.access, "priority": r.priority,
                                "direction": r.direction, "provisioningState": "Succeeded"}}
                for r in DEFAULT_RULES]

    def _list(self, items: list[JSON], path: str, query: dict[str, str]) -> Response:
        """``{"value": [...]}`` with nextLink paging ($top sets the page size, default large)."""
        try:
            size = int(query.get("$top", self.page_size))
            skip = int(query.get("$skiptoken", 0))
        except ValueError:
            raise ArmError(400, "InvalidQueryParameterValue",
                           "$top and $skiptoken must be integers.") from None
        size = max(1, size)
        page: JSON = {"value": items[skip:skip + size]}
        if skip + size < len(items):
            nxt = dict(query)
            nxt["$skiptoken"] = str(skip + size)
            page["nextLink"] = f"{self.endpoint}{path}?{urlencode(nxt)}"
        return Response(200, page)

    # -- writes ---------------------------------------------------------------------------------
    def _write(self, method: str, parent: JSON, segment: str, name: str, child_id: str,
               body: bytes | None) -> Response:
        prop = WRITABLE[(str(parent["type"]).lower(), segment)]
        with self._lock:  # one writer at a time; readers keep the topology they started with
            topo = self.topology
            if method == "DELETE":
                self.topology, existed = topo.without_child(parent["id"], prop, name)
                return Response(200 if existed else 204, NO_BODY)
            payload = parse_json(body)
            if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
                raise ArmError(400, "InvalidRequestFormat",
                               "The body must be a JSON object with 'properties'.")
            kind = "securityRules" if prop == "securityRules" else "routes"
            child = {"name": name, "id": child_id,
                     "type": f"{parent['type']}/{kind}",
                     "properties": {k: v for k, v in payload["properties"].items()
                                    if k != "provisioningState"}}
            try:
                if prop == "securityRules":
                    parse_security_rule(child, child_id)
                    refuse_security_rule_put(parent, child)
                else:
                    parse_route(child, child_id, parent["id"])
                self.topology, created = topo.with_child(parent["id"], prop, child)
            except TopologyError as exc:
                raise ArmError(400, exc.code, str(exc)) from None
            stored = self.topology.raw[key(child_id)]
            return Response(201 if created else 200, self._render(stored, {}))

    # -- long-running actions ---------------------------------------------------------------
    def _start(self, action: str, watcher_raw: JSON, query: dict[str, str],
               body: bytes | None) -> Response:
        payload = parse_json(body)
        topo = self.topology  # the network as it is when the check starts
        watcher = topo.watchers[key(watcher_raw["id"])]
        compute: Callable[[], JSON] | None = None
        result: JSON | None = None
        if action == "connectivitycheck":
            spec = engine.parse_check(topo, watcher, payload)  # bad requests fail the POST
            probes = self.probes
            compute = functools.partial(engine.run_check, topo, spec, probes)
        elif action == "ipflowverify":
            result = engine.ip_flow_verify(topo, payload)
        elif action == "networkconfigurationdiagnostic":
            result, _ = diagnostics.network_configuration_diagnostic(topo, payload)
        else:
            result = engine.next_hop(topo, payload)
        return self._operation(watcher.location, query, result, compute)

    def _analyzer(self, method: str, watcher_raw: JSON, segs: list[str], low: list[str],
                  query: dict[str, str], body: bytes | None) -> Response:
        """connectionAnalyzers: the resource, kept per app, and its /query as an operation."""
        analyzer_id = "/" + "/".join(segs[:10])
        stored = self._analyzers.get(key(analyzer_id))
        if len(low) == 11:
            if low[10] != "query" or method != "POST":
                raise ArmError(404, "InvalidResourceType", f"No route for '{analyzer_id}/"
                               f"{segs[10]}'.")
            if stored is None:
                raise not_found(analyzer_id)
            topo = self.topology
            watcher = topo.watchers[key(watcher_raw["id"])]
            compute = functools.partial(diagnostics.analyzer_query, topo, watcher, stored,
                                        self.probes)
            return self._operation(watcher.location, query, None, compute)
        if method == "PUT":
            resource = diagnostics.analyzer_resource(self.topology, analyzer_id, segs[9],
                                                     parse_json(body))
            self._analyzers[key(analyzer_id)] = resource
            return Response(200 if stored is not None else 201, copy.deepcopy(resource))
        if method == "DELETE":
            existed = self._analyzers.pop(key(analyzer_id), None) is not None
            return Response(200 if existed else 204, NO_BODY)
        self._only(method, "GET")
        if stored is None:
            raise not_found(analyzer_id)
        return Response(200, copy.deepcopy(stored))

    def _analyzers_of(self, watcher_id: str) -> list[JSON]:
        prefix = key(watcher_id) + "/connectionanalyzers/"
        return [copy.deepcopy(r) for k, r in sorted(self._analyzers.items())
                if k.startswith(prefix)]

    def _start_nic(self, action: str, nic_raw: JSON, query: dict[str, str]) -> Response:
        """A NIC's effective routes or NSGs, answered over the topology as it is now."""
        topo = self.topology
        if action == "effectiveroutetable":
            result = diagnostics.effective_routes(topo, nic_raw["id"])
        else:
            result = diagnostics.effective_nsgs(topo, nic_raw["id"])
        return self._operation(str(nic_raw.get("location") or "global"), query, result, None)

    def _operation(self, region: str, query: dict[str, str], result: JSON | None,
                   compute: Callable[[], JSON] | None) -> Response:
        topo = self.topology
        op_id = str(uuid.uuid4())
        api = query.get("api-version", "")
        location = (f"{self.endpoint}/subscriptions/{topo.subscription_id}/providers/"
                    f"Microsoft.Network/locations/{region}/operationResults/{op_id}"
                    + (f"?{urlencode({'api-version': api})}" if api else ""))
        with self._lock:
            self._ops[op_id] = Operation(self._clock() + self.check_seconds, location, result,
                                         compute)
            while len(self._ops) > self._max_ops:  # bounded memory under load tests
                self._ops.popitem(last=False)
        return Response(202, None, {"Location": location,
                                    "Retry-After": format_seconds(self.retry_after),
                                    "x-ms-request-id": op_id})

    def _poll(self, op_id: str) -> Response:
        with self._lock:
            op = self._ops.get(op_id.lower()) or self._ops.get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found (unknown or "
                           "expired operation id).")
        if self._clock() < op.ready_at:
            return Response(202, None, {"Location": op.location,
                                        "Retry-After": format_seconds(self.retry_after)})
        return Response(200, op.answer(), {"Location": op.location})


def _monitor_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    return Response(status, NO_BODY if status == 204 else body, headers)


def parse_json(body: bytes | None) -> Any:
    """A request body as JSON; malformed JSON is the ARM 400 a client would get."""
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArmError(400, "InvalidRequestContent",
                       f"The request content was invalid and could not be deserialized: {exc}."
                       ) from None
