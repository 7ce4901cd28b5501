"""Redaction is linear in what it redacts: a batch of 10,000 checks with 30,000 distinct names.

    .venv/bin/python benchmarks/redact.py              # N=10,000 checks (goal: under 3 s)
    .venv/bin/python benchmarks/redact.py --checks 2000

Each check has its own source VM, destination VM and blocking rule (3 names a check), its own
NICs (named like their VMs), four hop ids, a request id and addresses; every tenth check is an
error whose message names its VM. The batch is redacted with names=True and addresses=True (all
that redaction does), then at a quarter and half the size, so the time per check can be compared:
linear means the same time per check at every size.

Goal (issue 9, item 6): under 3 s for 10,000 checks on the project machine.
"""

from __future__ import annotations

import argparse
import time
import uuid

from nwlab.batch import BatchEntry, BatchError, BatchResult
from nwlab.model import ConnectivityResult

SUB = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"  # not a real subscription; redaction must hide it
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"


def _guid(i: int, n: int) -> str:
    return str(uuid.UUID(int=(i * 8 + n) * 0x9E3779B97F4A7C15 % (1 << 122) | (4 << 76)))


def _check(i: int) -> BatchEntry:
    src, dst, rule = f"src{i}", f"dst{i}", f"allow{i}"
    inputs = {"source": src, "destination": dst, "port": 80, "resource_group": "ContosoRG"}
    if i % 10 == 9:
        error = BatchError("PreflightError", f"Source VM {src} has no Network Watcher agent.",
                           f"Install the agent on {src}.")
        return BatchEntry(i, inputs, error=error, elapsed_s=0.1)
    ids = [_guid(i, n) for n in range(4)]
    address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    nic = f"{RG}/providers/Microsoft.Network/networkInterfaces/{{}}/ipConfigurations/ipconfig1"
    hops = [
        {"type": "Source", "id": ids[0], "address": address, "resourceId": nic.format(src),
         "nextHopIds": [ids[1]], "issues": []},
        {"type": "VirtualAppliance", "id": ids[1], "address": "10.250.0.4",
         "resourceId": nic.format("fwNic"), "nextHopIds": [ids[2]],
         "issues": [{"origin": "Outbound", "severity": "Error", "type": "NetworkSecurityRule",
                     "context": [{"key": "RuleName", "value": f"UserRule_{rule}"}]}]},
        {"type": "VnetLocal", "id": ids[2], "address": f"172.16.{i // 256 % 256}.{i % 256}",
         "resourceId": nic.format(dst).lstrip("/"), "nextHopIds": [ids[3]], "issues": []},
        {"type": "Internet", "id": ids[3], "address": "13.107.21.200", "resourceId": "Internet",
         "nextHopIds": [], "issues": []},
    ]
    meta = {"source": f"{RG}/providers/Microsoft.Compute/virtualMachines/{src}",
            "destination": dst, "port": 80, "request_id": _guid(i, 7), "polls": 2}
    result = ConnectivityResult.from_dict({"hops": hops, "connectionStatus": "Unreachable",
                                           "probesSent": 100, "probesFailed": 100}, meta=meta)
    return BatchEntry(i, inputs, result=result, elapsed_s=1.0)


def measure(checks: int) -> tuple[float, float, BatchResult]:
    """Wall and CPU seconds of BatchResult.redact (the CPU time shows the work when the machine
    is shared: wall time then also counts other processes)."""
    batch = BatchResult([_check(i) for i in range(checks)])
    wall, cpu = time.perf_counter(), time.process_time()
    shared = batch.redact(names=True, addresses=True)
    return time.perf_counter() - wall, time.process_time() - cpu, shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    args = parser.parse_args()
    n = args.checks
    for size in (n // 4, n // 2, n):
        seconds, cpu, shared = measure(size)
        print(f"redact {size:>6} checks ({3 * size:>6} distinct names): {seconds:6.2f} s wall, "
              f"{cpu:6.2f} s CPU, {cpu / size * 1e6:6.1f} us CPU per check")
    text = "\n".join(str(e.to_dict()) for e in shared)
    leaked = [word for i in (0, 1, n - 2) for word in (f"src{i}", f"dst{i}", f"allow{i}")
              if word in text] + ([SUB] if SUB in text else [])
    print(f"goal: under 3 s for {n} checks; names left in the redacted batch: {leaked or 'none'}")


if __name__ == "__main__":
    main()
