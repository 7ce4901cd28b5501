"""Make the bundled cassettes from the documented exchanges (shared/reference/seed-scenarios.json).

Nobody here can reach Azure, so the real nwlab client is recorded against a loopback stand-in that
answers exactly what the documents show (202 + null + the documented headers, one 202 poll, then the
documented result), plus the pre-flight reads a check makes. The recording is rewritten to
https://management.azure.com. Run with `make cassettes`; the output is committed.

    python scripts/make_seed_cassettes.py path/to/seed-scenarios.json toolkit/nwlab/cassettes
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.session import ArmClient
from nwlab.recording import Cassette, recording
from nwlab.watcher import NetworkWatcher

ARM = "https://management.azure.com"
SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"
NET = f"{RG}/providers/Microsoft.Network"
WATCHER = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network"
           "/networkWatchers/NetworkWatcher_westcentralus")
LOCATION = "westcentralus"
VMS = {"MultiTierApp0": "appNic0", "Database0": "dbNic0"}
RUNNING = [{"code": "ProvisioningState/succeeded", "level": "Info"},
           {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}]
# Headers a stdlib server adds on its own; they are not part of what Azure sent.
LOCAL_HEADERS = {"server", "date", "content-length"}


def vm_json(name: str, rg_path: str = RG) -> dict[str, Any]:
    nic = VMS.get(name, f"{name}Nic")
    return {"name": name, "id": f"{rg_path}/providers/Microsoft.Compute/virtualMachines/{name}",
            "type": "Microsoft.Compute/virtualMachines", "location": LOCATION,
            "properties": {"provisioningState": "Succeeded",
                           "storageProfile": {"osDisk": {"osType": "Windows"}},
                           "networkProfile": {"networkInterfaces": [
                               {"id": f"{NET}/networkInterfaces/{nic}",
                                "properties": {"primary": True}}]}}}


def agent_json(vm_id: str) -> dict[str, Any]:
    return {"name": "AzureNetworkWatcherExtension", "id": f"{vm_id}/extensions/AzureNetworkWatcherExtension",
            "type": "Microsoft.Compute/virtualMachines/extensions", "location": LOCATION,
            "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                           "type": "NetworkWatcherAgentWindows", "typeHandlerVersion": "1.4",
                           "autoUpgradeMinorVersion": True, "provisioningState": "Succeeded"}}


class StandIn:
    """The loopback ARM stand-in: inventory reads plus one scripted connectivityCheck at a time."""

    def __init__(self) -> None:
        self.scenario: dict[str, Any] = {}
        self.op_id = ""
        self.polls = 0
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, query: str = "") -> tuple[int, dict[str, str], Any]:
        lower = path.lower()
        vm_prefix = f"{RG}/providers/Microsoft.Compute/virtualMachines/".lower()
        if method == "POST" and lower.endswith("/connectivitycheck"):
            self.polls = 0
            headers = dict(self.scenario["accepted"]["headers"])
            headers["Location"] = headers["Location"].replace(ARM, self.endpoint).replace(
                headers["x-ms-request-id"], self.op_id)
            headers["x-ms-request-id"] = self.op_id
            return 202, headers, None
        if "/operationresults/" in lower:
            self.polls += 1
            accepted = self.scenario["accepted"]["headers"]
            base = {"x-ms-request-id": self.op_id,
                    "x-ms-correlation-request-id": accepted["x-ms-correlation-request-id"],
                    "Location": f"{self.endpoint}/subscriptions/{SUB}/providers/Microsoft.Network/"
                                f"locations/{LOCATION}/operationResults/{self.op_id}"
                                "?api-version=2017-03-01"}
            if self.polls == 1:  # one intermediate poll, as the service answers while it runs
                return 202, {**base, "Retry-After": "10"}, None
            return 200, base, self.scenario["result"]
        if lower == f"/subscriptions/{SUB}/resourcegroups":
            return 200, {}, {"value": [{"id": f"/subscriptions/{SUB}/resourceGroups/{n}", "name": n,
                                        "location": LOCATION} for n in
                                       ("ContosoExampleRG", "ContosoRG", "NetworkWatcherRG")]}
        if lower == f"/subscriptions/{SUB}/providers/microsoft.network/networkwatchers":
            return 200, {}, {"value": [{"id": WATCHER, "name": "NetworkWatcher_westcentralus",
                                        "type": "Microsoft.Network/networkWatchers",
                                        "location": LOCATION,
                                        "properties": {"provisioningState": "Succeeded"}}]}
        example_rg = f"/subscriptions/{SUB}/resourceGroups/ContosoExampleRG"
        if lower == vm_prefix.rstrip("/"):
            return 200, {}, {"value": [vm_json(n) for n in VMS]}
        if lower == f"/subscriptions/{SUB}/providers/microsoft.compute/virtualmachines":
            return 200, {}, {"value": [vm_json("ContosoVM", example_rg),
                                       *(vm_json(n) for n in VMS)]}
        if lower == f"{example_rg}/providers/Microsoft.Compute/virtualMachines".lower():
            return 200, {}, {"value": [vm_json("ContosoVM", example_rg)]}
        for rg_path in (RG, example_rg):
            prefix = f"{rg_path}/providers/Microsoft.Compute/virtualMachines/".lower()
            if lower.startswith(prefix):
                name, _, rest = path[len(prefix):].partition("/")
                vm_id = f"{rg_path}/providers/Microsoft.Compute/virtualMachines/{name}"
                if rest == "":
                    vm = vm_json(name, rg_path)
                    if "instanceview" in query.lower():
                        vm["properties"]["instanceView"] = {"statuses": RUNNING}
                    return 200, {}, vm
                if rest.lower() == "instanceview":
                    return 200, {}, {"statuses": RUNNING}
                if rest.lower() == "extensions":
                    return 200, {}, {"value": [agent_json(vm_id)]}
        return 404, {}, {"error": {"code": "ResourceNotFound", "message": f"{path} not found"}}

    def respond(self, method: str, path: str, query: str, sent: bytes
                ) -> tuple[int, dict[str, str], Any]:
        """One request's answer; the request body is for stand-ins that pass requests on."""
        return self.answer(method, path, query)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                status, headers, body = stand_in.respond(self.command, url.path, url.query, sent)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in LOCAL_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def tidy(path: Path, scenario: dict[str, Any] | None) -> None:
    """Drop the stand-in's own headers; give the check's POST exactly the documented 202
    headers."""
    cassette = Cassette.load(path)
    for item in cassette.interactions:
        item.headers = {k: v for k, v in item.headers.items() if k.lower() not in LOCAL_HEADERS}
        if scenario is not None and item.method == "POST" and \
                urlsplit(item.url).path.lower().endswith("/connectivitycheck"):
            # The documented headers in their order, with the values the recording scrubbed
            # (request, correlation and operation ids as pseudonyms shared with the polls).
            recorded = {k.lower(): v for k, v in item.headers.items()}
            documented = {k: recorded.get(k.lower(), v)
                          for k, v in scenario["accepted"]["headers"].items()}
            item.headers = {**documented, "Content-Type": "application/json; charset=utf-8"}
    cassette.save(path)


def main(seed_path: str, out_dir: str) -> int:
    seed = json.loads(Path(seed_path).read_text(encoding="utf-8"))
    out = Path(out_dir)
    stand_in = StandIn()
    stand_in.thread.start()
    arm = ArmClient(subscription_id=SUB, credential=StaticTokenCredential("recording"),
                    cloud=resolve_cloud("AzureCloud", stand_in.endpoint), sleep=None)
    nw = NetworkWatcher(arm, poll_interval=0.0, backend="recording")
    rewrite = (stand_in.endpoint, ARM)
    try:
        runs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for scenario in seed["scenarios"]:
            body = scenario["request"]["body"]
            dest = body["destination"]
            destination = dest.get("address") or dest["resourceId"]
            runs.append((scenario["name"], scenario, {"destination": destination,
                                                      "port": dest.get("port")}))
            if scenario["name"] == "vm-to-vm-nsg-blocked":
                # The document sends port 0 but says port 80 is checked: record both requests.
                runs.append((f"{scenario['name']}-port80", scenario,
                             {"destination": destination, "port": 80}))
        for name, scenario, args in runs:
            stand_in.scenario = scenario
            documented = scenario["accepted"]["headers"]["x-ms-request-id"]
            stand_in.op_id = documented if not name.endswith("port80") else \
                str(uuid.uuid5(uuid.UUID(documented), "port80"))
            nw._watchers = None  # every cassette carries its own discovery reads
            path = out / f"{name}.json"
            with recording(arm.session, path, name=name, note=scenario["title"],
                           rewrite_endpoint=rewrite):
                result = nw.check("MultiTierApp0", args["destination"], args["port"],
                                  resource_group="ContosoRG")
            assert result.to_dict() == scenario["result"], name
            tidy(path, scenario)
            print(f"recorded {path} ({result.status})")
        path = out / "inventory.json"
        with recording(arm.session, path, name="inventory", rewrite_endpoint=rewrite,
                       note="Resource groups and VMs of the documented Contoso network"):
            nw.list_resource_groups()
            nw.list_vms()
            for group in ("ContosoRG", "ContosoExampleRG"):
                nw.list_vms(group)
        tidy(path, None)
        print(f"recorded {path}")
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]) if len(sys.argv) >= 3 else
             main("../shared/reference/seed-scenarios.json", "toolkit/nwlab/cassettes"))
