"""Azure Resource Graph over the twin's own topology (the subset docs/resource-graph.md lists).

`POST /providers/Microsoft.ResourceGraph/resources` with a QueryRequest: the query forms the
snapshot sends (a table, `where type =~ '...'` or `where type in~ (...)`, `project` of plain
columns, `order by id asc`), `$top`/`$skipToken` paging, `resultFormat` objectArray only, quota
headers on every answer (a knob makes it throttle) and subscriptions that the caller cannot read
(dropped silently, as Resource Graph does; all unreadable is 400 NoValidSubscriptionsInQueryRequest).
Shares no code with the client: plain JSON in, plain JSON out.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from .errors import ArmError

JSON = dict[str, Any]
TABLES = ("resources", "resourcecontainers", "computeresources", "networkresources")
COLUMNS = ("id", "name", "type", "location", "subscriptionId", "resourceGroup", "tenantId",
           "kind", "sku", "zones", "properties", "managedBy", "identity", "tags")
ZERO_TENANT = "00000000-0000-0000-0000-000000000000"
MAX_TOP = 1000
_WHERE = re.compile(r"^where\s+type\s*(?:=~\s*'([^']+)'|in~\s*\(([^)]*)\))$", re.IGNORECASE)
_ORDER = re.compile(r"^order\s+by\s+id(\s+asc)?$", re.IGNORECASE)
_QUOTED = re.compile(r"'([^']*)'")
# Resource Graph places uniform scale-set instances and their NICs in ComputeResources.
_COMPUTE_TYPES = ("microsoft.compute/virtualmachinescalesets/virtualmachines",
                  "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces")
_NETWORK_TYPES = ("microsoft.network/firewallpolicies/rulecollectiongroups",)


def _bad_query(problem: str) -> ArmError:
    """The 400 Resource Graph sends for a query it cannot parse (reference §6.3 error shape)."""
    return ArmError(400, "BadRequest", f"Query is invalid: {problem}. The nwlab emulator "
                    "understands the subset in docs/resource-graph.md.")


class ResourceGraphService:
    """Knobs: `quota` queries per `quota_window_s` per caller (None: unlimited; every page counts),
    `page_size` rows per page at most, `denied` subscription ids the caller cannot read."""

    def __init__(self, *, quota: int | None = None, quota_window_s: float = 5.0,
                 page_size: int = MAX_TOP, clock: Callable[[], float] = time.monotonic) -> None:
        self.quota = quota
        self.quota_window_s = quota_window_s
        self.page_size = page_size
        self.denied: set[str] = set()
        self.throttled = 0
        self.queries = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._used = 0
        # The rows of the last query, keyed by the topology object (a write makes a new one)
        # and the query: a paged read builds them once, not once per page (O(rows), not
        # O(rows x pages) at thousands of VNets).
        self._rows_of: tuple[Any, str, list[JSON]] | None = None

    # -- quota ------------------------------------------------------------------------------------
    def _spend(self) -> tuple[int, float] | None:
        """Take one query from the window: (remaining, seconds to reset), or None when spent."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self.quota_window_s:
                self._window_start, self._used = now, 0
            resets = max(0.0, self.quota_window_s - (now - self._window_start))
            if self.quota is None:
                return 1 << 30, resets
            if self._used >= self.quota:
                return None
            self._used += 1
            return self.quota - self._used, resets

    def _resets_in(self) -> float:
        with self._lock:
            return max(0.0, self.quota_window_s - (self._clock() - self._window_start))

    # -- one request ------------------------------------------------------------------------------
    def answer(self, topology: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, body, headers) for one QueryRequest over the topology's resources."""
        spent = self._spend()
        if spent is None:
            self.throttled += 1
            wait = self._resets_in()
            return 429, {"error": {"code": "RateLimiting", "message": "Please provide below info "
                                   "when asking for support: the user quota is spent (emulator)."}}, \
                {"Retry-After": str(max(1, math.ceil(wait))), "x-ms-user-quota-remaining": "0",
                 "x-ms-user-quota-resets-after": _hms(wait)}
        remaining, resets = spent
        headers = {"x-ms-user-quota-remaining": str(remaining),
                   "x-ms-user-quota-resets-after": _hms(resets)}
        try:
            page = self._page(topology, body)
        except ArmError as exc:
            return exc.status, exc.body(), headers
        self.queries += 1
        return 200, page, headers

    def _rows(self, topology: Any, query: str) -> list[JSON]:
        """Every row of `query` over the topology, in id order (cached for its next pages)."""
        cached = self._rows_of
        if cached is not None and cached[0] is topology and cached[1] == query:
            return cached[2]
        subscription_id = str(topology.subscription_id)
        resources = list(topology.document["resources"])
        listed = {str(r.get("id", "")).lower() for r in resources}
        # Extensions given inline in a VM's "resources" array are rows of their own here.
        extensions = [e for group in topology.extensions.values() for e in group
                      if str(e.get("id", "")).lower() not in listed]
        # A scale-set instance's extensions are no Resource Graph type (ComputeResources holds
        # the instances and their NICs only, reference §6.4): a client reads them over ARM.
        resources = [r for r in resources if not _instance_extension(r)]
        extensions = [e for e in extensions if not _instance_extension(e)]
        table, types, columns = parse_query(query)
        rows = [self._row(subscription_id, r, columns)
                for r in self._table(table, resources, extensions, subscription_id)
                if types is None or str(r.get("type", "")).lower() in types]
        rows.sort(key=lambda r: str(r.get("id", "")).lower())
        self._rows_of = (topology, query, rows)
        return rows

    def _page(self, topology: Any, body: Any) -> JSON:
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ArmError(400, "BadRequest", "The request body must be a QueryRequest with a "
                           "'query' string.")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ArmError(400, "BadRequest", "'options' must be an object.")
        if str(options.get("resultFormat", "objectArray")).lower() != "objectarray":
            raise ArmError(400, "BadRequest", "The emulator answers resultFormat objectArray only.")
        self._check_scope(str(topology.subscription_id), body)
        rows = self._rows(topology, body["query"])
        offset = 0
        token = options.get("$skipToken")
        if token:
            offset = _read_token(token, body["query"])
        top = options.get("$top", 100)
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
            raise ArmError(400, "BadRequest", f"options.$top must be 1-{MAX_TOP}.")
        size = min(top, self.page_size)
        data = rows[offset:offset + size]
        page: JSON = {"totalRecords": len(rows), "count": len(data), "resultTruncated": "false",
                      "facets": [], "data": data}
        if offset + size < len(rows):
            page["$skipToken"] = _token(offset + size, body["query"])
        return page

    def _check_scope(self, subscription_id: str, body: JSON) -> None:
        subs = body.get("subscriptions")
        groups = body.get("managementGroups")
        if subs is not None:
            if not isinstance(subs, list) or not all(isinstance(s, str) for s in subs):
                raise ArmError(400, "BadRequest", "'subscriptions' must be a list of ids.")
            readable = [s for s in subs if s.lower() == subscription_id.lower()
                        and s.lower() not in self.denied]
        elif groups is not None:
            # Every management group holds the twin's one subscription (assumption, documented).
            readable = [] if subscription_id.lower() in self.denied else [subscription_id]
        else:
            readable = [] if subscription_id.lower() in self.denied else [subscription_id]
        if not readable:
            raise ArmError(400, "NoValidSubscriptionsInQueryRequest", "None of the subscriptions "
                           "in the request can be read by the caller.")

    @staticmethod
    def _table(table: str, resources: list[JSON], extensions: list[JSON],
               subscription_id: str) -> list[JSON]:
        if table == "resourcecontainers":
            groups: dict[str, JSON] = {}
            for res in resources:
                parts = str(res["id"]).split("/")
                if len(parts) > 4 and parts[3].lower() == "resourcegroups":
                    groups.setdefault(parts[4].lower(), {
                        "id": f"/subscriptions/{subscription_id}/resourceGroups/{parts[4]}",
                        "name": parts[4], "type": "microsoft.resources/subscriptions/resourcegroups",
                        "location": res.get("location", ""), "properties": {}})
            return [{"id": f"/subscriptions/{subscription_id}", "name": "nwlab emulator",
                     "type": "microsoft.resources/subscriptions", "location": "",
                     "properties": {"state": "Enabled"}}, *groups.values()]
        everything = resources + extensions
        if table == "computeresources":
            return [r for r in everything if str(r.get("type", "")).lower() in _COMPUTE_TYPES]
        if table == "networkresources":
            return [r for r in everything if str(r.get("type", "")).lower() in _NETWORK_TYPES]
        return [r for r in everything if str(r.get("type", "")).lower()
                not in _COMPUTE_TYPES + _NETWORK_TYPES]

    @staticmethod
    def _row(subscription_id: str, res: JSON, columns: tuple[str, ...] | None) -> JSON:
        """The resource as a Resource Graph row: lower-cased type, scope columns, and for VMs the
        power state under properties.extended (where Resource Graph puts it)."""
        row = copy.deepcopy(res)
        row["type"] = str(row.get("type", "")).lower()
        parts = str(row["id"]).split("/")
        row["subscriptionId"] = subscription_id
        row["resourceGroup"] = parts[4].lower() if len(parts) > 4 and \
            parts[3].lower() == "resourcegroups" else ""
        row["tenantId"] = ZERO_TENANT
        props = row.setdefault("properties", {})
        if row["type"].startswith("microsoft.network/"):
            props.setdefault("provisioningState", "Succeeded")  # as ARM GET shows the resource
        if row["type"] == "microsoft.compute/virtualmachines":
            view = props.pop("instanceView", None) or {}
            code = next((str(s.get("code")) for s in view.get("statuses") or []
                         if str(s.get("code", "")).lower().startswith("powerstate/")),
                        "PowerState/running")
            props.setdefault("extended", {})["instanceView"] = {"powerState": {"code": code}}
            row.pop("resources", None)  # extensions are rows of their own
        if columns is not None:
            row = {c: row.get(c) for c in columns}
        return row


def _instance_extension(res: JSON) -> bool:
    rid = str(res.get("id", "")).lower()
    return "/virtualmachinescalesets/" in rid and "/extensions/" in rid


def parse_query(text: str) -> tuple[str, frozenset[str] | None, tuple[str, ...] | None]:
    """(table, lower-cased types or None, projected columns or None) of a query in the subset."""
    stages = [s.strip() for s in text.strip().split("|")]
    table = stages[0].lower()
    if table not in TABLES:
        raise _bad_query(f"unknown table {stages[0]!r} (use {', '.join(TABLES)})")
    types: frozenset[str] | None = None
    columns: tuple[str, ...] | None = None
    for stage in stages[1:]:
        where = _WHERE.match(stage)
        if where:
            names = [where.group(1)] if where.group(1) else _QUOTED.findall(where.group(2))
            found = frozenset(n.lower() for n in names)
            types = found if types is None else types & found
        elif stage.lower().startswith("project "):
            columns = tuple(c.strip() for c in stage[8:].split(","))
            unknown = [c for c in columns if c not in COLUMNS]
            if unknown:
                raise _bad_query(f"project supports plain columns only ({', '.join(COLUMNS)}); "
                                 f"got {', '.join(unknown)}")
        elif _ORDER.match(stage):
            continue  # rows are always served ordered by id
        else:
            raise _bad_query(f"unsupported stage {stage!r}")
    return table, types, columns


def _token(offset: int, query: str) -> str:
    raw = json.dumps({"offset": offset, "query": _fingerprint(query)}).encode()
    return base64.b64encode(raw).decode()


def _read_token(token: Any, query: str) -> int:
    try:
        data = json.loads(base64.b64decode(str(token), validate=True))
        offset = int(data["offset"])
        same = data["query"] == _fingerprint(query)
    except (ValueError, KeyError, TypeError):
        raise ArmError(400, "BadRequest", "options.$skipToken is not a token this service "
                       "issued.") from None
    if not same or offset < 0:
        raise ArmError(400, "BadRequest", "options.$skipToken belongs to another query; the "
                       "query and scope must be identical across pages.")
    return offset


def _fingerprint(query: str) -> str:
    return str(zlib.crc32(" ".join(query.split()).encode()))


def _hms(seconds: float) -> str:
    whole = max(0, math.ceil(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
