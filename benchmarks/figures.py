"""Path figure time against path length: is `path_figure()` linear in hops?

    .venv/bin/python benchmarks/figures.py                 # 125 ... 1,000 hops, 3 shapes
    .venv/bin/python benchmarks/figures.py --hops 4000     # a longer top size

Three synthetic shapes of each size, built in memory (no network): a chain, a chain blocked
half way by an NSG rule (half the path then draws as not reached), and a path that fans out to
four ECMP appliances at every other step. Each figure is built and serialised (`to_json`, what a
notebook stores), best of --repeat runs; the last column is time per hop, flat when linear.
The Sankey figure is timed on the same results.

Goal (issue 9, item 13): 1,000 hops draw in under 2 s here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from nwlab.model import ConnectivityResult

GOAL_S = 2.0


def _hop(i: int, kind: str, next_ids: list[str], issues: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"type": kind, "id": f"h{i}", "address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/"
                          f"providers/Microsoft.Network/networkInterfaces/nic{i}",
            "nextHopIds": next_ids,
            "links": [{"nextHopId": n, "linkType": "VirtualNetwork",
                       "properties": {"roundTripTimeAvg": 1 + i % 3}, "issues": []}
                      for n in next_ids],
            "issues": issues or []}


def chain(n: int, blocked_at: int | None = None) -> ConnectivityResult:
    deny = [{"origin": "Outbound", "severity": "Error", "type": "NetworkSecurityRule",
             "context": [{"key": "RuleName", "value": "UserRule_DenyAll"}]}]
    hops = [_hop(i, "Source" if i == 0 else "VirtualAppliance" if i < n - 1 else "VirtualMachine",
                 [f"h{i + 1}"] if i < n - 1 else [], deny if i == blocked_at else None)
            for i in range(n)]
    status = "Unreachable" if blocked_at is not None else "Reachable"
    return ConnectivityResult.from_dict({"connectionStatus": status, "probesSent": 100,
                                         "probesFailed": 100 if blocked_at is not None else 0,
                                         "hops": hops})


def fan(n: int) -> ConnectivityResult:
    """Every other step splits into four appliances that meet again at the next hub."""
    hops: list[dict[str, Any]] = []
    i = 0
    while len(hops) < n - 1:
        hub = i
        branches = [f"h{hub + k}" for k in range(1, 5)]
        after = f"h{hub + 5}"
        hops.append(_hop(hub, "Source" if hub == 0 else "VirtualAppliance", branches))
        hops.extend(_hop(hub + k, "VirtualAppliance", [after]) for k in range(1, 5))
        i = hub + 5
    hops = hops[: n - 1]
    hops.append(_hop(i, "VirtualMachine", []))
    return ConnectivityResult.from_dict({"connectionStatus": "Reachable", "probesSent": 100,
                                         "probesFailed": 0, "hops": hops})


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=1000, help="largest path (default 1000)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = sorted({max(args.hops // 8, 2), max(args.hops // 4, 2), max(args.hops // 2, 2),
                    args.hops})
    shapes: dict[str, Callable[[int], ConnectivityResult]] = {
        "chain": chain, "blocked chain": lambda n: chain(n, blocked_at=n // 2), "ECMP fan": fan}
    print(f"{'shape':<14} {'hops':>6} {'edges':>6} {'path s':>8} {'sankey s':>9} {'path us/hop':>12}")
    verdicts = []
    for name, build in shapes.items():
        for n in sizes:
            result = build(n)
            path = best(lambda r=result: r.path_figure().to_json(), args.repeat)
            sankey = best(lambda r=result: r.sankey_figure().to_json(), args.repeat)
            print(f"{name:<14} {len(result.hops):>6} {len(result.edges()):>6} {path:>8.3f} "
                  f"{sankey:>9.3f} {path / len(result.hops) * 1e6:>12.0f}")
            if n == args.hops:
                verdicts.append((name, path))
    for name, seconds in verdicts:
        mark = "ok" if seconds < GOAL_S else "OVER GOAL"
        print(f"goal: {name}, {args.hops} hops: {seconds:.3f} s (< {GOAL_S} s) {mark}")


if __name__ == "__main__":
    main()
