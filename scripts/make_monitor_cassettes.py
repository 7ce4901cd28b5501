"""Make the bundled Connection Monitor cassettes: create, list, results, stop/start and delete.

As for the seed cassettes (make_seed_cassettes.py, whose inventory stand-in this reuses), nobody
here can reach Azure: the real nwlab client is recorded against loopback stand-ins that answer the
documented shapes (reference connection-monitor.md §1.3 and §4, diagnostics-and-estate-api.md §7):
an ARM stand-in (monitors, their operations, metrics, the workspace) and a Log Analytics stand-in
on a second origin. The recordings are rewritten to https://management.azure.com and
https://api.loganalytics.io, so nwlab.replay() serves them like Azure's. The monitor watches the
documented Contoso checks, so its results can be compared with the replayed ad-hoc mesh.

    python scripts/make_monitor_cassettes.py toolkit/nwlab/cassettes     (make monitor-cassettes)
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from make_seed_cassettes import ARM, LOCATION, RG, SUB, WATCHER, StandIn, tidy

from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.session import ArmClient
from nwlab.recording import Cassette, recording
from nwlab.watcher import NetworkWatcher

LOG_ANALYTICS = "https://api.loganalytics.io"
NAME = "contoso-mesh"
MONITOR = f"{WATCHER}/connectionMonitors/{NAME}"
WORKSPACE = f"{RG}/providers/Microsoft.OperationalInsights/workspaces/contoso-law"
WORKSPACE_GUID = SUB  # the workspace's customerId, zeroed like every id in a cassette
CHECKS = [{"source": "MultiTierApp0", "destination": "Database0", "port": 80,
           "resource_group": "ContosoRG"},
          {"source": "MultiTierApp0", "destination": "13.107.21.200", "port": 80,
           "resource_group": "ContosoRG"},
          {"source": "MultiTierApp0", "destination": "https://bing.com",
           "resource_group": "ContosoRG"}]
FREQUENCY_S = 300
THRESHOLDS = {"checks_failed_percent": 10, "round_trip_time_ms": 100}
START = datetime(2026, 12, 1, 9, 0)
BUCKETS = 12  # one hour at the tests' five-minute frequency
OPERATION = "6b5f3c1e-0d2a-4c7b-9e41-2f8a7d6c5b40"
CORRELATION = "0c7b2e55-3a1d-4f9e-8b6c-5d4e3f2a1b0c"
# The documented outcome of each check (seed scenarios): Database0:80 blocked by an NSG rule,
# 13.107.21.200 by a route to None, bing.com reachable.
FAILING = {"Database0", "13.107.21.200"}


def stamp(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rtt(bucket: int) -> float:
    return round(3.0 + (bucket % 5) * 0.4, 1)


class MonitorStandIn:
    """ARM and Log Analytics for one monitor; inventory reads go to the seed stand-in."""

    def __init__(self, inventory: StandIn) -> None:
        self.inventory = inventory
        self.monitors: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), self._handler()) for _ in range(2)]
        self.arm, self.log_analytics = (f"http://127.0.0.1:{s.server_address[1]}"
                                        for s in self.servers)

    def start(self) -> None:
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def answer(self, method: str, path: str, query: str,
               body: Any) -> tuple[int, dict[str, str], Any]:
        lower = path.lower()
        monitor = self.monitors.get(lower)
        ids = {"x-ms-request-id": OPERATION, "x-ms-correlation-request-id": CORRELATION}
        if method == "GET" and lower == f"{WATCHER}/connectionMonitors".lower():
            return 200, {}, {"value": [self._done(m) for m in self.monitors.values()]}
        if method == "PUT" and "/connectionmonitors/" in lower:
            self.monitors[lower] = {
                "name": path.rsplit("/", 1)[-1], "id": path, "etag": 'W/"1"',
                "type": "Microsoft.Network/networkWatchers/connectionMonitors",
                "location": body["location"], "tags": body.get("tags"),
                "properties": {**body["properties"], "provisioningState": "Updating",
                               "connectionMonitorType": "MultiEndpoint"}}
            async_url = (f"{self.arm}/subscriptions/{SUB}/providers/Microsoft.Network/locations/"
                         f"{LOCATION}/operations/{OPERATION}?api-version=2024-05-01")
            return 201, {**ids, "Azure-AsyncOperation": async_url,
                         "azure-asyncnotification": "Enabled"}, self.monitors[lower]
        if method == "GET" and lower.endswith(f"/operations/{OPERATION}"):
            self.polls[lower] = self.polls.get(lower, 0) + 1
            done = self.polls[lower] > 1  # one InProgress poll, as the recording in §1.3 shows
            return 200, ids, {"status": "Succeeded" if done else "InProgress"}
        if method == "GET" and monitor is not None:
            return 200, ids, self._done(monitor)
        if method in ("POST", "DELETE") and (monitor is not None or lower.rsplit("/", 1)[0]
                                             in self.monitors):
            if method == "DELETE":
                self.monitors.pop(lower)
            action = lower.rsplit("/", 1)[-1] if method == "POST" else "delete"
            location = (f"{self.arm}{WATCHER}/operationResults/{action}-{OPERATION}"
                        "?api-version=2024-05-01")
            return 202, {**ids, "Location": location, "Retry-After": "10"}, None
        if method == "GET" and "/operationresults/" in lower:
            self.polls[lower] = self.polls.get(lower, 0) + 1
            return (202, {**ids, "Retry-After": "10"}, None) if self.polls[lower] == 1 \
                else (200, ids, None)
        if method == "GET" and lower.endswith("/providers/microsoft.insights/metrics"):
            return 200, {}, self._metrics()
        if method == "GET" and lower == WORKSPACE.lower():
            return 200, {}, {"id": WORKSPACE, "name": "contoso-law", "location": LOCATION,
                             "type": "Microsoft.OperationalInsights/workspaces",
                             "properties": {"customerId": WORKSPACE_GUID,
                                            "provisioningState": "Succeeded"}}
        if method == "POST" and lower == f"/v1/workspaces/{WORKSPACE_GUID}/query":
            return 200, {}, self._logs(str(body.get("query") or ""))
        return self.inventory.answer(method, path, query)

    @staticmethod
    def _done(monitor: dict[str, Any]) -> dict[str, Any]:
        done = json.loads(json.dumps(monitor))
        done["properties"].update(provisioningState="Succeeded", monitoringStatus="Running",
                                  startTime=stamp(-5))
        return done

    def _tests(self) -> list[tuple[str, str, str, str]]:
        props = next(iter(self.monitors.values()))["properties"]
        return [(g["name"], s, d, c) for g in props["testGroups"] for s in g["sources"]
                for d in g["destinations"] for c in g["testConfigurations"]]

    def _metrics(self) -> dict[str, Any]:
        values: dict[str, list[dict[str, Any]]] = {"ChecksFailedPercent": [],
                                                   "RoundTripTimeMs": [], "TestResult": []}
        for group, source, destination, config in self._tests():
            failing = destination in FAILING
            dims = [{"name": {"value": n, "localizedValue": n}, "value": v} for n, v in
                    (("testgroupname", group), ("sourcename", source),
                     ("destinationname", destination), ("testconfigurationname", config))]
            times = [stamp(FREQUENCY_S // 60 * b) for b in range(BUCKETS)]
            series = {"ChecksFailedPercent": [100.0 if failing else 0.0] * BUCKETS,
                      "RoundTripTimeMs": [None if failing else rtt(b) for b in range(BUCKETS)],
                      "TestResult": [3.0 if failing else 1.0] * BUCKETS}
            for name, points in series.items():
                values[name].append({"metadatavalues": dims, "data": [
                    {"timeStamp": t, **({"average": v} if v is not None else {})}
                    for t, v in zip(times, points, strict=True)]})
        units = {"ChecksFailedPercent": "Percent", "RoundTripTimeMs": "MilliSeconds",
                 "TestResult": "Count"}
        return {"cost": 0, "timespan": f"{stamp(0)}/{stamp(60)}", "interval": "PT1M",
                "namespace": "Microsoft.Network/networkWatchers/connectionMonitors",
                "resourceregion": LOCATION,
                "value": [{"id": f"{MONITOR}/providers/Microsoft.Insights/metrics/{n}",
                           "type": "Microsoft.Insights/metrics",
                           "name": {"value": n, "localizedValue": n}, "unit": units[n],
                           "timeseries": series, "errorCode": "Success"}
                          for n, series in values.items()]}

    def _logs(self, kql: str) -> dict[str, Any]:
        if kql.startswith("NWConnectionMonitorPathResult"):
            columns = [("TimeGenerated", "datetime"), ("ConnectionMonitorResourceId", "string"),
                       ("TestGroupName", "string"), ("TestConfigurationName", "string"),
                       ("SourceName", "string"), ("DestinationName", "string"),
                       ("PathTestResult", "string"), ("PathTestResultCriterion", "string"),
                       ("HopAddresses", "string"), ("HopTypes", "string"), ("Hops", "string"),
                       ("Issues", "string")]
            rows = [[stamp(0), MONITOR, g, c, s, d, "Fail", "ChecksFailedPercent",
                     "10.1.1.4", "Source", json.dumps([{"address": "10.1.1.4", "type": "Source"}]),
                     json.dumps([{"type": "NetworkSecurityRule" if d == "Database0"
                                  else "UserDefinedRoute", "severity": "Error"}])]
                    for g, s, d, c in self._tests() if d in FAILING]
        else:
            columns = [("TimeGenerated", "datetime"), ("ConnectionMonitorResourceId", "string"),
                       ("TestGroupName", "string"), ("TestConfigurationName", "string"),
                       ("SourceName", "string"), ("DestinationName", "string"),
                       ("Protocol", "string"), ("DestinationPort", "int"),
                       ("TestResult", "string"), ("ChecksTotal", "long"), ("ChecksFailed", "long"),
                       ("AvgRoundTripTimeMs", "real"), ("MinRoundTripTimeMs", "real"),
                       ("MaxRoundTripTimeMs", "real"), ("JitterMs", "real")]
            rows = []
            for b in range(BUCKETS):
                for g, s, d, c in self._tests():
                    timing = [None] * 4 if d in FAILING else \
                        [rtt(b), round(rtt(b) - 0.6, 1), round(rtt(b) + 1.1, 1), 0.3]
                    rows.append([stamp(FREQUENCY_S // 60 * b + 1), MONITOR, g, c, s, d,
                                 "Http" if c.startswith("http") else "Tcp",
                                 int(c.split("-")[1]), "Fail" if d in FAILING else "Pass", 10,
                                 10 if d in FAILING else 0, *timing])
        return {"tables": [{"name": "PrimaryResult",
                            "columns": [{"name": n, "type": t} for n, t in columns],
                            "rows": rows}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                status, headers, body = stand_in.answer(self.command, url.path, url.query,
                                                        json.loads(raw) if raw else None)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def rewrite_log_analytics(path: Path, stand_in: str) -> None:
    """The second origin: the Log Analytics stand-in's address becomes Log Analytics' own."""
    cassette = Cassette.load(path)
    data = json.loads(json.dumps(cassette.to_dict()).replace(stand_in, LOG_ANALYTICS))
    Cassette.from_dict(data, cassette.name).save(path)


def main(out_dir: str) -> int:
    out = Path(out_dir)
    inventory = StandIn()
    stand_in = MonitorStandIn(inventory)
    stand_in.start()
    arm = ArmClient(subscription_id=SUB, credential=StaticTokenCredential("recording"),
                    cloud=resolve_cloud("AzureCloud", stand_in.arm), sleep=None)
    nw = NetworkWatcher(arm, poll_interval=0.0, backend="recording")
    nw.log_analytics_endpoint = stand_in.log_analytics
    rewrite = (stand_in.arm, ARM)
    made: dict[str, Any] = {}

    def create() -> Any:
        made["monitor"] = nw.monitor(CHECKS, NAME, workspace=WORKSPACE, frequency_s=FREQUENCY_S,
                                     thresholds=THRESHOLDS)
        return made["monitor"].status()

    steps: list[tuple[str, str, Any]] = [
        ("monitor-create", "Promote the documented Contoso checks to a connection monitor",
         create),
        ("monitor-list", "The subscription's connection monitors", nw.list_monitors),
        ("monitor-results", "The last hour of the monitor: metrics and Log Analytics rows",
         lambda: made["monitor"].results(since="1h")),
        ("monitor-stop-start", "Stop and start the monitor",
         lambda: made["monitor"].stop().start()),
        ("monitor-delete", "Delete the monitor", lambda: made["monitor"].delete()),
    ]
    try:
        for name, note, step in steps:
            nw._watchers = None  # every cassette carries its own discovery reads
            path = out / f"{name}.json"
            with recording(arm.session, path, name=name, note=note, rewrite_endpoint=rewrite):
                outcome = step()
            rewrite_log_analytics(path, stand_in.log_analytics)
            tidy(path, None)
            print(f"recorded {path} ({type(outcome).__name__})")
    finally:
        stand_in.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "toolkit/nwlab/cassettes"))
