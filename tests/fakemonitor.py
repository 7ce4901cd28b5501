"""Connection Monitor routes for the fake ARM server, in the documented shapes (reference
connection-monitor.md §1.3, §4; diagnostics-and-estate-api.md §7), and a fake Log Analytics.

`install_monitor(fake, ...)` adds: the monitors list per watcher (paged when asked), PUT (201 +
Azure-AsyncOperation, one InProgress poll), GET (Succeeded), POST stop/start and DELETE (202 +
Location, one 202 poll), the metrics of every monitor, and the workspace GET.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fakearm import RG, SUB, WATCHER_ID, FakeArm, Seen

EAST_WATCHER = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network"
                "/networkWatchers/NetworkWatcher_eastus")
EAST_VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/WebEast0"
DB_VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/Database0"
WORKSPACE = (f"/subscriptions/{SUB}/resourceGroups/monitor-rg/providers/"
             "Microsoft.OperationalInsights/workspaces/nwlab-law")
WORKSPACE_GUID = "00000000-0000-0000-0000-0000000000aa"
T0 = "2026-12-01T09:00:00Z"
STAMPS = ["2026-12-01T09:00:00Z", "2026-12-01T09:01:00Z", "2026-12-01T09:02:00Z"]


def add_east_vm(fake: FakeArm) -> None:
    """A second source VM in eastus with the agent, and the eastus watcher beside westcentralus."""
    vm = {"id": EAST_VM, "name": "WebEast0", "location": "eastus",
          "type": "Microsoft.Compute/virtualMachines",
          "properties": {"storageProfile": {"osDisk": {"osType": "Linux"}},
                         "instanceView": {"statuses": [{"code": "PowerState/running"}]}}}
    agent = {"name": "AzureNetworkWatcherExtension",
             "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                            "type": "NetworkWatcherAgentLinux", "provisioningState": "Succeeded"}}
    fake.on("GET", r"/virtualMachines/WebEast0$", (200, {}, vm))
    fake.on("GET", r"/virtualMachines/WebEast0/extensions$", (200, {}, {"value": [agent]}))
    fake.on("GET", r"/providers/Microsoft.Network/networkWatchers$", (200, {}, {"value": [
        {"id": WATCHER_ID, "name": "NetworkWatcher_westcentralus", "location": "westcentralus"},
        {"id": EAST_WATCHER, "name": "NetworkWatcher_eastus", "location": "eastus"}]}))


def metric_series(metric: str, test: tuple[str, str, str, str], values: list[float]) -> dict[str, Any]:
    """One `timeseries` item: lower-cased dimension names, as the service sends them."""
    group, source, destination, config = test
    dims = [("testgroupname", group), ("sourcename", source), ("destinationname", destination),
            ("testconfigurationname", config), ("protocol", "Tcp")]
    return {"metadatavalues": [{"name": {"value": n, "localizedValue": n}, "value": v}
                               for n, v in dims],
            "data": [{"timeStamp": t, "average": v} for t, v in zip(STAMPS, values, strict=False)]}


def metrics_body(series: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The Metrics_List answer (mon24 shape) for the three metrics; absent ones have no series."""
    return {"cost": 0, "timespan": f"{STAMPS[0]}/{STAMPS[-1]}", "interval": "PT1M",
            "namespace": "Microsoft.Network/networkWatchers/connectionMonitors",
            "resourceregion": "westcentralus",
            "value": [{"id": f"x/providers/Microsoft.Insights/metrics/{name}",
                       "type": "Microsoft.Insights/metrics",
                       "name": {"value": name, "localizedValue": name}, "unit": "Count",
                       "timeseries": series.get(name, []), "errorCode": "Success"}
                      for name in ("ChecksFailedPercent", "RoundTripTimeMs", "TestResult")]}


def install_monitor(fake: FakeArm, *, existing: dict[str, list[str]] | None = None,
                    page_size: int | None = None, metrics: Any = None,
                    async_put: bool = True) -> dict[str, Any]:
    """Routes for the monitor lifecycle; returns the stored bodies by monitor path (lower case).
    `async_put=False` answers the PUT 200 without an operation to poll (an update done at once)."""
    stored: dict[str, Any] = {}
    existing = existing or {}

    def monitors_of(watcher: str) -> list[dict[str, Any]]:
        region = watcher.rsplit("_", 1)[-1].lower()
        names = existing.get(region, [])
        made = [b for p, b in stored.items() if p.startswith(watcher.lower() + "/")]
        return [{"name": n, "id": f"{watcher}/connectionMonitors/{n}", "location": region,
                 "properties": {"provisioningState": "Succeeded"}} for n in names] + made

    def listing(seen: Seen) -> tuple[int, dict[str, str], Any]:
        watcher = seen.path.rsplit("/connectionMonitors", 1)[0]
        items = monitors_of(watcher)
        if page_size is None:
            return 200, {}, {"value": items}
        start = int(seen.query.get("skip", "0"))
        body: dict[str, Any] = {"value": items[start:start + page_size]}
        if start + page_size < len(items):
            body["nextLink"] = (f"{fake.endpoint}{watcher}/connectionMonitors"
                                f"?api-version=2024-05-01&skip={start + page_size}")
        return 200, {}, body

    def put(seen: Seen) -> tuple[int, dict[str, str], Any]:
        name = seen.path.rsplit("/", 1)[-1]
        resource = {"name": name, "id": seen.path, "etag": 'W/"1"', "location": seen.body["location"],
                    "type": "Microsoft.Network/networkWatchers/connectionMonitors",
                    "tags": seen.body.get("tags"),
                    "properties": {**seen.body["properties"], "provisioningState": "Updating",
                                   "connectionMonitorType": "MultiEndpoint",
                                   "resourceGuid": "00000000-0000-0000-0000-000000000001"}}
        stored[seen.path.lower()] = resource
        region = seen.body["location"]
        if not async_put:
            return 200, {}, resource
        return 201, {"Azure-AsyncOperation": "{endpoint}" + f"/subscriptions/{SUB}/providers/"
                     f"Microsoft.Network/locations/{region}/operations/op-{name}"
                     "?api-version=2024-05-01", "azure-asyncnotification": "Enabled"}, resource

    def get(seen: Seen) -> tuple[int, dict[str, str], Any]:
        resource = stored.get(seen.path.lower())
        if resource is None:
            return 404, {}, {"error": {"code": "NotFound", "message": "connection monitor not found"}}
        done = json.loads(json.dumps(resource))
        done["properties"].update(provisioningState="Succeeded", monitoringStatus="Running",
                                  startTime="2026-12-01T08:55:00.000Z")
        return 200, {}, done

    def delete(seen: Seen) -> tuple[int, dict[str, str], Any]:
        stored.pop(seen.path.lower(), None)
        return 202, {"Location": "{endpoint}" + f"{seen.path.rsplit('/connectionMonitors', 1)[0]}"
                     "/operationResults/del-1?api-version=2024-05-01", "Retry-After": "0"}, None

    action = (202, {"Location": "{endpoint}" + f"{WATCHER_ID}/operationResults/act-1"
                    "?api-version=2024-05-01", "Retry-After": "0"}, None)
    fake.on("GET", r"/networkWatchers/[^/]+/connectionMonitors$", listing)
    fake.on("PUT", r"/connectionMonitors/[^/]+$", put)
    fake.on("GET", r"/connectionMonitors/[^/]+$", get)
    fake.on("DELETE", r"/connectionMonitors/[^/]+$", delete)
    fake.on("POST", r"/connectionMonitors/[^/]+/(stop|start)$", action)
    fake.on("GET", r"/locations/[^/]+/operations/op-", (200, {}, {"status": "InProgress"}),
            (200, {}, {"status": "Succeeded"}))
    for operation in ("del-1", "act-1"):
        fake.on("GET", rf"/operationResults/{operation}$", (202, {"Retry-After": "0"}, None),
                (200, {}, None))
    fake.on("GET", r"/connectionMonitors/[^/]+/providers/Microsoft.Insights/metrics$",
            (200, {}, metrics if metrics is not None else metrics_body({})))
    fake.on("GET", re.escape(WORKSPACE) + "$",
            (200, {}, {"id": WORKSPACE, "name": "nwlab-law",
                       "properties": {"customerId": WORKSPACE_GUID}}))
    return stored


def la_table(columns: list[tuple[str, str]], rows: list[list[Any]]) -> dict[str, Any]:
    return {"tables": [{"name": "PrimaryResult",
                        "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}]}


TEST_COLUMNS = [("TimeGenerated", "datetime"), ("ConnectionMonitorResourceId", "string"),
                ("TestGroupName", "string"), ("TestConfigurationName", "string"),
                ("SourceName", "string"), ("DestinationName", "string"), ("Protocol", "string"),
                ("DestinationPort", "int"), ("TestResult", "string"), ("ChecksTotal", "long"),
                ("ChecksFailed", "long"), ("AvgRoundTripTimeMs", "real"),
                ("MinRoundTripTimeMs", "real"), ("MaxRoundTripTimeMs", "real"),
                ("JitterMs", "real")]
PATH_COLUMNS = [("TimeGenerated", "datetime"), ("ConnectionMonitorResourceId", "string"),
                ("TestGroupName", "string"), ("TestConfigurationName", "string"),
                ("SourceName", "string"), ("DestinationName", "string"),
                ("PathTestResult", "string"), ("PathTestResultCriterion", "string"),
                ("HopAddresses", "string"), ("HopTypes", "string"), ("Hops", "dynamic"),
                ("Issues", "dynamic")]


def install_log_analytics(la: FakeArm, test_rows: list[list[Any]],
                          path_rows: list[list[Any]] | None = None) -> None:
    """The query endpoint: the test table for NWConnectionMonitorTestResult, the path table for
    NWConnectionMonitorPathResult (chosen by the KQL in the body)."""
    def query(seen: Seen) -> tuple[int, dict[str, str], Any]:
        if str(seen.body.get("query", "")).startswith("NWConnectionMonitorPathResult"):
            return 200, {}, la_table(PATH_COLUMNS, path_rows or [])
        return 200, {}, la_table(TEST_COLUMNS, test_rows)

    la.on("POST", rf"^/v1/workspaces/{WORKSPACE_GUID}/query$", query)
