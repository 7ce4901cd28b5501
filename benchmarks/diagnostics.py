"""The other diagnostics: how long a call takes on replay and on the emulator (client work: reads,
POST, polls, parsing), and how fast a large effective-rules answer parses and goes back to JSON.

    .venv/bin/python benchmarks/diagnostics.py             # 50 calls each, 2,000 rules
    .venv/bin/python benchmarks/diagnostics.py --calls 200 --rules 10000

Figures only: nothing is asserted here (the machine may be busy); each line names what it measured.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nwlab
from nwlab.diagnostics import EffectiveSecurityRules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_diagnostic_cassettes as cassettes


def timed(label: str, call: Callable[[], Any], n: int) -> None:
    laps = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        laps.append(time.perf_counter() - started)
    print(f"{label:<48} median {statistics.median(laps) * 1000:7.2f} ms   "
          f"p90 {sorted(laps)[int(0.9 * (n - 1))] * 1000:7.2f} ms   (n={n})")


def big_rules(count: int) -> dict[str, Any]:
    rule = {"name": "securityRules/r", "protocol": "Tcp", "sourcePortRange": "0-65535",
            "destinationPortRange": "443-443", "sourceAddressPrefix": "VirtualNetwork",
            "destinationAddressPrefix": "0.0.0.0/0",
            "expandedSourceAddressPrefix": [f"10.{i}.0.0/16" for i in range(8)],
            "access": "Allow", "priority": 100, "direction": "Inbound"}
    rules = []
    for i in range(count):
        item = copy.deepcopy(rule)
        item["name"], item["priority"] = f"securityRules/r{i}", 100 + i % 3900
        rules.append(item)
    return {"value": [{"networkSecurityGroup": {"id": "/subscriptions/0/nsg"},
                       "association": {"subnet": {"id": "/subscriptions/0/subnet"}},
                       "effectiveSecurityRules": rules}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rules", type=int, default=2000)
    args = parser.parse_args()

    replay = nwlab.replay()
    for kind, call in cassettes.calls(replay).items():
        timed(f"replay   {kind}", call, args.calls)
    replay.close()

    twin = nwlab.emulate(check_seconds=0.0, retry_after=0.0)
    timed("emulator ip_flow_verify (reads, POST, poll)",
          lambda: twin.ip_flow_verify("Database0", "Inbound", "TCP", 80, "10.1.1.4", 60000,
                                      resource_group="ContosoRG"), args.calls)
    timed("emulator next_hop (reads, POST, poll)",
          lambda: twin.next_hop("MultiTierApp0", "10.1.4.4", resource_group="ContosoRG"),
          args.calls)
    twin.close()

    data = big_rules(args.rules)
    timed(f"parse {args.rules} effective rules", lambda: EffectiveSecurityRules.from_dict(data), 5)
    parsed = EffectiveSecurityRules.from_dict(data)
    timed(f"to_dict {args.rules} effective rules", parsed.to_dict, 5)
    timed(f"frame() {args.rules} effective rules", parsed.frame, 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
