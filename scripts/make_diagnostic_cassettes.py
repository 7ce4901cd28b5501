"""Make the bundled cassettes of the other diagnostics from the documented examples.

The same mechanism as make_seed_cassettes.py: the real nwlab client is recorded against that
script's loopback stand-in, taught here to answer the documented request of each operation
(ipFlowVerify, nextHop, networkConfigurationDiagnostic, the NIC's effectiveRouteTable and
effectiveNetworkSecurityGroups) with 202 + Location, one 202 poll, then the documented result;
plus the reads the client makes first (the VM, its NIC, the watcher list). The connectionAnalyzers
run (PUT, its Azure-AsyncOperation, POST /query, DELETE) answers with the 2025-09-01 example's
shapes. The shapes come from
shared/reference/diagnostics-and-estate-api.md, copied with ids zeroed into
tests/data/diagnostics/shapes.json. Run with `make cassettes`; the output is committed.

    python scripts/make_diagnostic_cassettes.py tests/data/diagnostics/shapes.json toolkit/nwlab/cassettes
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from make_seed_cassettes import ARM, LOCATION, RUNNING, SUB, StandIn, tidy

from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.session import ArmClient
from nwlab.recording import recording
from nwlab.watcher import NetworkWatcher

# The documented examples' resources (reference §2-§4), ids zeroed.
VM1 = f"/subscriptions/{SUB}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm1"
NIC1 = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/nic1"
# Which documented answer each operation gives, and the call that makes the documented request.
RUNS: list[tuple[str, str, str, str]] = [
    ("diag-connection-analyzer", "/query", "connection_analyzer", "query-2025-09-01"),
    # (cassette, action path suffix, shapes key, example name)
    ("diag-ip-flow-verify", "/ipflowverify", "ip_flow_verify", "spec-2026-01-01"),
    ("diag-next-hop", "/nexthop", "next_hop", "spec-2025-07-01"),
    ("diag-nsg-diagnostic", "/networkconfigurationdiagnostic", "nsg_diagnostic",
     "spec-2026-01-01-profiles"),
    ("diag-effective-routes", "/effectiveroutetable", "effective_routes", "spec-2026-01-01"),
    ("diag-effective-security-rules", "/effectivenetworksecuritygroups",
     "effective_security_rules", "spec-2025-03-01"),
]



class DiagnosticStandIn(StandIn):
    """The seed stand-in plus vm1, nic1 and one scripted diagnostic at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.result: Any = None
        self.status_polls: dict[str, int] = {}

    def _handler(self) -> type[Any]:
        handler = super()._handler()
        handler.do_PUT = handler.do_DELETE = handler._serve
        return handler

    def analyzer(self, method: str, path: str, lower: str) -> tuple[int, dict[str, str], Any] | None:
        """The connectionAnalyzers resource: PUT 201 + Azure-AsyncOperation, the status polls
        (one InProgress, then Succeeded), POST /query 202 + both headers, the result, DELETE."""
        region = f"{self.endpoint}/subscriptions/{SUB}/providers/Microsoft.Network/locations/{LOCATION}"
        version = "?api-version=2026-01-01"
        if "/connectionanalyzers/" in lower and method == "PUT":
            self.status_polls.clear()
            name = path.rsplit("/", 1)[1]
            return 201, {"Azure-AsyncOperation": f"{region}/operationResults/{self.op_id}-create"
                                                 f"{version}", "Retry-After": "30"}, {
                "name": name, "id": path, "type": "Microsoft.Network/networkWatchers/"
                "connectionAnalyzers", "location": LOCATION,
                "properties": {"provisioningState": "Creating", "status": "Running"}}
        if "/connectionanalyzers/" in lower and method == "DELETE":
            return 200, {}, None
        if method == "POST" and lower.endswith("/query"):
            return 202, {"Azure-AsyncOperation": f"{region}/nwOperations/{self.op_id}{version}",
                         "Location": f"{region}/operationResults/{self.op_id}{version}",
                         "Retry-After": "10", "x-ms-request-id": self.op_id}, None
        for status in (f"/operationresults/{self.op_id}-create", f"/nwoperations/{self.op_id}"):
            if lower.endswith(status):
                self.status_polls[status] = self.status_polls.get(status, 0) + 1
                state = "InProgress" if self.status_polls[status] == 1 else "Succeeded"
                return 200, {"Retry-After": "10"}, {"status": state}
        if lower.endswith(f"/operationresults/{self.op_id}") and self.action == "/query":
            return 200, {"x-ms-request-id": self.op_id}, self.result
        return None

    def answer(self, method: str, path: str, query: str = "") -> tuple[int, dict[str, str], Any]:
        lower = path.lower()
        analyzer = self.analyzer(method, path, lower)
        if analyzer is not None:
            return analyzer
        if method == "POST" and lower.endswith(self.action):
            self.polls = 0
            nic_op = lower.endswith(("/effectiveroutetable", "/effectivenetworksecuritygroups"))
            # The NIC operations answer at the NIC's operationResults (the documented Location);
            # the watcher's at the region's, as connectivityCheck does.
            base = (path.rsplit("/", 1)[0] if nic_op else
                    f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{LOCATION}")
            return 202, {"Location": f"{self.endpoint}{base}/operationResults/{self.op_id}"
                                     "?api-version=2024-05-01",
                         "Retry-After": "10", "x-ms-request-id": self.op_id,
                         "x-ms-correlation-request-id": str(uuid.uuid5(uuid.UUID(self.op_id),
                                                                       "correlation"))}, None
        if "/operationresults/" in lower and self.op_id in lower:
            self.polls += 1
            if self.polls == 1:
                return 202, {"Retry-After": "10", "x-ms-request-id": self.op_id}, None
            return 200, {"x-ms-request-id": self.op_id}, self.result
        if lower == VM1.lower():
            return 200, {}, {"name": "vm1", "id": VM1, "type": "Microsoft.Compute/virtualMachines",
                             "location": LOCATION, "properties": {
                                 "provisioningState": "Succeeded",
                                 "networkProfile": {"networkInterfaces": [
                                     {"id": NIC1, "properties": {"primary": True}}]},
                                 **({"instanceView": {"statuses": RUNNING}}
                                    if "instanceview" in query.lower() else {})}}
        if lower == NIC1.lower():
            configs = [{"name": f"ipconfig{n}", "properties": {
                "privateIPAddress": ip, "privateIPAddressVersion": "IPv4", "primary": n == 1}}
                for n, ip in enumerate(("10.2.0.4", "10.0.0.5"), start=1)]
            return 200, {}, {"name": "nic1", "id": NIC1, "location": LOCATION,
                             "type": "Microsoft.Network/networkInterfaces",
                             "properties": {"ipConfigurations": configs}}
        return super().answer(method, path, query)


def calls(nw: NetworkWatcher) -> dict[str, Any]:
    """Each operation called so that the client sends the documented request."""
    return {
        "ip_flow_verify": lambda: nw.ip_flow_verify(VM1, "Outbound", "TCP", 80, "121.10.1.1", 80),
        "next_hop": lambda: nw.next_hop(VM1, "10.0.0.10", source_ip="10.0.0.5", nic=NIC1),
        "nsg_diagnostic": lambda: nw.nsg_diagnostic(VM1, direction="Inbound", protocol="TCP",
                                                    source="10.1.0.4", destination="12.11.12.14",
                                                    destination_port=12100),
        "effective_routes": lambda: nw.effective_routes(NIC1),
        "effective_security_rules": lambda: nw.effective_security_rules(NIC1),
        # The example's question (VM to www.bing.com, connectivity check), asked of vm1.
        "connection_analyzer": lambda: nw.analyze_connection(VM1, "www.bing.com", 443,
                                                             operations=["ConnectivityCheck"]),
    }


def main(shapes_path: str, out_dir: str) -> int:
    shapes = json.loads(Path(shapes_path).read_text(encoding="utf-8"))
    out = Path(out_dir)
    stand_in = DiagnosticStandIn()
    stand_in.thread.start()
    arm = ArmClient(subscription_id=SUB, credential=StaticTokenCredential("recording"),
                    cloud=resolve_cloud("AzureCloud", stand_in.endpoint), sleep=None)
    nw = NetworkWatcher(arm, poll_interval=0.0, backend="recording")
    run = calls(nw)
    try:
        for name, action, kind, example in RUNS:
            stand_in.action = action
            stand_in.result = shapes[kind][example]
            stand_in.op_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nwlab/{name}"))
            nw._watchers = None  # every cassette carries its own discovery reads
            path = out / f"{name}.json"
            note = (f"{kind} as documented (reference diagnostics-and-estate-api.md, example "
                    f"{example}, ids zeroed)")
            with recording(arm.session, path, name=name, note=note,
                           rewrite_endpoint=(stand_in.endpoint, ARM)):
                result = run[kind]()
            assert result.to_dict() == shapes[kind][example], name
            tidy(path, None)
            print(f"recorded {path} ({type(result).__name__})")
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]) if len(sys.argv) >= 3 else
             main("tests/data/diagnostics/shapes.json", "toolkit/nwlab/cassettes"))
