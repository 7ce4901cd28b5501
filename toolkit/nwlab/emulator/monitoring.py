"""The twin's monitoring surface, joined up for the facade and the server: connection monitors
(connection_monitor.py), their metrics on ARM (metrics.py), the Log Analytics workspaces they
write to, and the query origin (log_analytics.py).

Workspaces: a workspace GET answers for a workspace the topology holds
(Microsoft.OperationalInsights/workspaces) or one a monitor's outputs name; the twin assumes a
workspace named in outputs exists (code ASSUME_MONITOR_WORKSPACE, docs/twin.md). Its customerId
is derived from its id, so it is the same on every run.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any

from . import log_analytics, metrics
from .clock import TwinClock
from .connection_monitor import ConnectionMonitorService, Evaluation, Monitor
from .errors import ArmError, not_found
from .topology import JSON, Topology, key

T_WORKSPACE = "microsoft.operationalinsights/workspaces"
WORKSPACE_NAMESPACE = uuid.UUID("5d0f7a52-63a4-4a43-9a1e-6e776c61622d")  # fixed: stable GUIDs


def customer_id(workspace_id: str) -> str:
    return str(uuid.uuid5(WORKSPACE_NAMESPACE, key(workspace_id)))


class Monitoring:
    """Routes' answers as (status, body, headers)."""

    def __init__(self, clock: TwinClock | None = None, *, retry_after: float = 1.0) -> None:
        self.service = ConnectionMonitorService(clock or TwinClock(), retry_after=retry_after)
        self.probes: int | None = None
        self.topology_workspaces: list[JSON] = []  # refreshed by the facade on each workspace GET

    @property
    def clock(self) -> TwinClock:
        return self.service.clock

    def below_watcher(self, method: str, segs: list[str], low: list[str], watcher: JSON,
                      query: dict[str, str], body: Any, topology: Topology,
                      endpoint: str) -> tuple[int, Any, dict[str, str]]:
        if len(low) == 13 and low[8] == "connectionmonitors" and \
                low[10:13] == ["providers", "microsoft.insights", "metrics"]:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", "Metrics are read with GET.")
            self.service.observe(topology)
            monitor_id = "/" + "/".join(segs[:10])
            monitor = self.service.find(monitor_id)
            if monitor is None:
                raise not_found(monitor_id)
            return 200, metrics.answer(monitor, lambda s, e: self._evaluations([monitor], s, e),
                                       query, self.clock.now(), monitor.location), {}
        return self.service.handle(method, segs, low, watcher, query, body, topology, endpoint)

    def workspace(self, workspace_id: str, topology: Topology) -> JSON:
        """GET of a Log Analytics workspace: the topology's, or one a monitor writes to."""
        self.topology_workspaces = topology.resources_of_type(T_WORKSPACE)
        stored = topology.raw.get(key(workspace_id))
        if stored is not None:
            out = copy.deepcopy(stored)
        elif any(key(w) == key(workspace_id) for m in self._monitors() for w in _outputs(m)):
            parts = workspace_id.strip("/").split("/")
            out = {"id": workspace_id, "name": parts[-1],
                   "type": "Microsoft.OperationalInsights/workspaces",
                   "location": next(m.location for m in self._monitors()
                                    if key(workspace_id) in {key(w) for w in _outputs(m)}),
                   "properties": {}}
        else:
            raise not_found(workspace_id)
        props = out.setdefault("properties", {})
        props.setdefault("customerId", customer_id(workspace_id))
        props.setdefault("provisioningState", "Succeeded")
        return out

    def query(self, guid: str, body: dict[str, Any]) -> dict[str, Any]:
        """The Log Analytics answer for the workspace whose customerId is `guid`."""
        parsed = log_analytics.parse_kql(body.get("query"))
        start, end = log_analytics.query_window(body, self.clock.now())
        monitors = [m for m in self._monitors()
                    if any(customer_id(w) == guid.lower() for w in _outputs(m))]
        if not monitors and not any(customer_id(r["id"]) == guid.lower()
                                    for r in self.topology_workspaces):
            raise ArmError(404, "WorkspaceNotFoundError", f"The workspace {guid} could not be "
                           "found (the twin knows the workspaces its monitors write to).")
        return log_analytics.answer(parsed, self._evaluations(monitors, start, end))

    def _evaluations(self, monitors: list[Monitor], start: datetime,
                     end: datetime) -> list[Evaluation]:
        out: list[Evaluation] = []
        for monitor in monitors:
            out.extend(self.service.evaluations(monitor, start, end, self.probes))
        return out

    def _monitors(self) -> list[Monitor]:
        with self.service._lock:
            return list(self.service.monitors.values())


def _outputs(monitor: Monitor) -> list[str]:
    found = []
    for output in monitor.body["properties"].get("outputs") or []:
        settings = (output or {}).get("workspaceSettings") or {}
        if settings.get("workspaceResourceId"):
            found.append(str(settings["workspaceResourceId"]))
    return found
