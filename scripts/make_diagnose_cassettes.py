"""Make the bundled diagnose() cassettes: for each documented connectivity check, every request
`nw.diagnose()` makes for it, so a replay session answers the whole diagnosis offline.

The same mechanism as make_seed_cassettes.py: the real nwlab client, recorded against a loopback
stand-in. The stand-in answers the connectivity check and the reads the seed cassettes hold
exactly as the documents show (seed-scenarios.json). Azure documents no answer for the tests
that explain each check (NSG diagnostic and IP flow verify at both ends, next hop and effective
routes at the source, the second round at the dropping hop, the NICs and NSGs they read): the
stand-in passes those to the twin of the same documented estate (nwlab's emulator over the
bundled Contoso topology, whose checks give the documented verdicts), so the supporting answers
are the twin's, consistent with the documented check; each cassette's note says so. The
connectionAnalyzers probe is answered as by a watcher that does not offer the 2026-01-01 bundle
(the documented checks predate it), so diagnose() falls back to the separate calls, as recorded.

    python scripts/make_diagnose_cassettes.py path/to/seed-scenarios.json toolkit/nwlab/cassettes
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
from make_seed_cassettes import ARM, RG, SUB, VMS, StandIn, tidy

from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.session import ArmClient
from nwlab.emulator import EmulatorServer
from nwlab.recording import recording
from nwlab.watcher import NetworkWatcher

# The check each documented cassette holds, asked of diagnose() as the document asks it (port 0:
# no port given, sent as the document sends it).
CHECKS: dict[str, tuple[str, int]] = {
    "vm-to-vm-nsg-blocked": ("Database0", 0),
    "vm-to-vm-nsg-blocked-port80": ("Database0", 80),
    "vm-to-ip-udr-blocked": ("13.107.21.200", 80),
    "vm-to-website-reachable": ("https://bing.com", 0),
    "vm-to-storage-reachable": ("https://build2017nwdiag360.blob.core.windows.net/", 0),
}
SOURCE = "MultiTierApp0"
# What a watcher without the connectionAnalyzers resource type answers its List (ARM's answer for
# a type or api-version the region does not register); diagnose() then runs the separate calls.
NOT_OFFERED = (400, {"error": {
    "code": "NoRegisteredProviderFound",
    "message": "No registered resource provider found for location 'westcentralus' and API "
               "version '2026-01-01' for type 'networkWatchers/connectionAnalyzers'."}})
NOTE = ("{title}: nw.diagnose() of the documented check, every request it makes. The "
        "connectivity check and the VM and watcher reads are the documented exchange "
        "(seed-scenarios.json); Azure documents no answer for the supporting tests of this check "
        "(NSG diagnostic, IP flow verify, next hop, effective routes, the NIC and NSG reads), so "
        "those answers are the twin's (nwlab's emulator over the same documented Contoso "
        "estate), consistent with the documented check. The watcher answers the "
        "connectionAnalyzers probe 400 NoRegisteredProviderFound (the documents predate it): "
        "the tests ran as separate calls.")


class DiagnoseStandIn(StandIn):
    """The seed stand-in for the documented check and reads; the twin for everything else."""

    def __init__(self, twin: EmulatorServer) -> None:
        super().__init__()
        self.twin = twin
        self.upstream = requests.Session()
        self.upstream.headers["Authorization"] = f"Bearer {twin.token}"
        self.passed: list[str] = []  # "METHOD path" of what the twin answered

    def _handler(self) -> type[Any]:
        handler = super()._handler()
        handler.do_PUT = handler.do_DELETE = handler._serve
        return handler

    def documented(self, method: str, path: str) -> bool:
        """Whether the seed stand-in answers this request as the documents show."""
        lower = path.lower()
        if lower.endswith("/connectivitycheck") or (self.op_id and self.op_id in lower):
            return True
        if method != "GET":
            return False
        vm_prefix = f"{RG}/providers/Microsoft.Compute/virtualMachines/".lower()
        if lower.startswith(vm_prefix):  # the documented VMs; any other VM is the twin's
            return path[len(vm_prefix):].split("/", 1)[0] in VMS
        return lower in {f"/subscriptions/{SUB}/resourcegroups",
                         f"/subscriptions/{SUB}/providers/microsoft.network/networkwatchers",
                         vm_prefix.rstrip("/")}

    def respond(self, method: str, path: str, query: str, sent: bytes
                ) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path.lower().endswith("/connectionanalyzers"):
            return NOT_OFFERED[0], {}, NOT_OFFERED[1]
        if self.documented(method, path):
            return self.answer(method, path, query)
        url = f"{self.twin.endpoint}{path}" + (f"?{query}" if query else "")
        reply = self.upstream.request(method, url, data=sent or None, timeout=30,
                                      headers={"Content-Type": "application/json"} if sent else {})
        self.passed.append(f"{method} {path}")
        # The twin's operation URLs are polled through this stand-in, as the rest is.
        headers = {k: v.replace(self.twin.endpoint, self.endpoint) for k, v in reply.headers.items()
                   if k.lower() in ("location", "azure-asyncoperation", "retry-after", "etag")}
        body = json.loads(reply.text.replace(self.twin.endpoint, self.endpoint)) \
            if reply.text.strip() else None
        return reply.status_code, headers, body


def main(seed_path: str, out_dir: str) -> int:
    seed = {s["name"]: s for s in
            json.loads(Path(seed_path).read_text(encoding="utf-8"))["scenarios"]}
    out = Path(out_dir)
    # The twin of the documented estate, its operations answered on the first poll.
    twin = EmulatorServer(None, check_seconds=0.0, retry_after=0.0).start()
    stand_in = DiagnoseStandIn(twin)
    stand_in.thread.start()
    arm = ArmClient(subscription_id=SUB, credential=StaticTokenCredential("recording"),
                    cloud=resolve_cloud("AzureCloud", stand_in.endpoint), sleep=None)
    rewrite = (stand_in.endpoint, ARM)
    try:
        for name, (destination, port) in CHECKS.items():
            scenario = seed[name.removesuffix("-port80")]
            stand_in.scenario = scenario
            documented = scenario["accepted"]["headers"]["x-ms-request-id"]
            stand_in.op_id = documented if not name.endswith("port80") else \
                str(uuid.uuid5(uuid.UUID(documented), "port80"))
            # A client per cassette: each carries its own discovery reads and analyzer probe.
            nw = NetworkWatcher(arm, poll_interval=0.0, backend="recording")
            stand_in.passed.clear()
            path = out / f"diagnose-{name}.json"
            with recording(arm.session, path, name=f"diagnose-{name}",
                           note=NOTE.format(title=scenario["title"]), rewrite_endpoint=rewrite):
                d = nw.diagnose(SOURCE, destination, port, resource_group="ContosoRG")
            assert d.connectivity.to_dict() == scenario["result"], name
            failed = {k: str(v) for k, v in d.tests.items() if isinstance(v, Exception)}
            assert not failed, (name, failed)
            tidy(path, scenario)
            print(f"recorded {path} ({d.verdict}; {len(d.tests)} tests, "
                  f"{len(stand_in.passed)} answers from the twin)")
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
        twin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]) if len(sys.argv) >= 3 else
             main("../shared/reference/seed-scenarios.json", "toolkit/nwlab/cassettes"))
