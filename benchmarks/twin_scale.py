"""The twin over HTTP at 100 and 20,000 NICs (issue 14 item 3): load, checks/s, a rule PUT, memory.

    .venv/bin/python benchmarks/twin_scale.py                      # 100 and 20,000 NICs
    .venv/bin/python benchmarks/twin_scale.py --nics 100 5000 --checks 200
    .venv/bin/python benchmarks/twin_scale.py --nics 20000 --profile load,checks,put

The estate is benchmarks/twin.py's hub and spoke (tags, ASGs and admin rules). Figures:
load = nwlab.emulate(path) until it answers (file read, validated Topology, server start);
memory = tracemalloc peak and retained of load_topology(path) alone, and this process's RSS;
checks/s = nw.check() over HTTP (202, then the result), one after another, the engine mix of
twin.py; rule PUT = one securityRules PUT through ARM, then the first check after it.
Goals (issue 14): load < 3 s at 20,000 NICs; checks/s at 20,000 >= 0.8 x at 100; PUT < 50 ms.
--profile prints cProfile's top functions (cumulative) of the phases named (`server`: the
emulator's own threads, where the time of a check over HTTP goes).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # twin.py, the estate generator
import twin

import nwlab
from nwlab.emulator.topology import load_topology


@contextmanager
def profiled(name: str, wanted: set[str]) -> Iterator[None]:
    if name not in wanted:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(18)
        print(f"--- profile: {name} ---")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def profile_server(nw: Any) -> cProfile.Profile:
    """The emulator answers on its own threads, which the client's profile does not see: one
    profile collects every request's dispatch (the requests here come one after another)."""
    prof = cProfile.Profile()
    server = nw.emulator
    dispatch = server._dispatch

    def profiled_dispatch(*args: Any, **kwargs: Any) -> Any:
        prof.enable()
        try:
            return dispatch(*args, **kwargs)
        finally:
            prof.disable()

    server._dispatch = profiled_dispatch
    return prof


def print_profile(name: str, prof: cProfile.Profile) -> None:
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(22)
    print(f"--- profile: {name} ---")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _calls(bodies: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    out = []
    for body in bodies:
        dest = body["destination"]
        out.append((body["source"]["resourceId"], dest.get("resourceId") or dest["address"],
                    int(dest["port"])))
    return out


def measure(nics: int, checks: int, wanted: set[str]) -> dict[str, float]:
    doc = twin.estate(nics, plain=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        gc.collect()
        tracemalloc.start()
        topo = load_topology(path)
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.perf_counter()
        with profiled("load", wanted):
            nw = nwlab.emulate(str(path), check_seconds=0, retry_after=0)
        load_s = time.perf_counter() - started
    try:
        calls = _calls(twin.check_mix(topo, checks))
        del topo
        nw.check(*calls[0])  # warm: discovery of the watcher, first indexes
        server_prof = profile_server(nw) if "server" in wanted else None
        started = time.perf_counter()
        with profiled("checks", wanted):
            for source, dest, port in calls:
                nw.check(source, dest, port)
        check_rate = len(calls) / (time.perf_counter() - started)
        if server_prof is not None:
            print_profile(f"server, {len(calls)} checks at {nics} NICs", server_prof)
            server_prof = profile_server(nw)
        nsg = next(r["id"] for r in doc["resources"]
                   if r["type"] == "Microsoft.Network/networkSecurityGroups")
        rule = {"properties": {"priority": 4000, "direction": "Inbound", "access": "Deny",
                               "protocol": "Tcp", "sourceAddressPrefix": "*",
                               "sourcePortRange": "*", "destinationAddressPrefix": "*",
                               "destinationPortRange": "4444"}}
        started = time.perf_counter()
        with profiled("put", wanted):
            nw.arm.request("PUT", f"{nsg}/securityRules/bench-write", json=rule,
                           api_version="2024-05-01")
        put_s = time.perf_counter() - started
        if server_prof is not None:
            print_profile(f"server, one rule PUT at {nics} NICs", server_prof)
        started = time.perf_counter()
        nw.check(*calls[0])
        after_s = time.perf_counter() - started
    finally:
        nw.close()
    print(f"{nics:>6} NICs ({len(doc['resources'])} resources, {size_mb:.1f} MB): "
          f"load {load_s:.2f} s | {check_rate:.1f} checks/s over HTTP ({len(calls)} checks) | "
          f"rule PUT {put_s * 1000:.0f} ms, first check after {after_s * 1000:.0f} ms | "
          f"topology memory {retained / 1e6:.0f} MB retained, {peak / 1e6:.0f} MB peak "
          f"(tracemalloc), process max RSS {_rss_mb():.0f} MB", flush=True)
    return {"nics": nics, "load_s": load_s, "checks_per_s": check_rate, "put_s": put_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nics", type=int, nargs="+", default=[100, 20000])
    parser.add_argument("--checks", type=int, default=60, help="HTTP checks per estate")
    parser.add_argument("--profile", default="",
                        help="phases to profile: load, checks, put (client side), server (the "
                             "emulator's handling of the checks and the PUT)")
    args = parser.parse_args()
    wanted = {p.strip() for p in args.profile.split(",") if p.strip()}
    figures = [measure(n, args.checks, wanted) for n in args.nics]
    small, large = figures[0], figures[-1]
    if len(figures) > 1:
        ratio = large["checks_per_s"] / small["checks_per_s"]
        print(f"goals at {large['nics']} NICs: load {large['load_s']:.2f} s (goal < 3 s: "
              f"{'met' if large['load_s'] < 3 else 'NOT met'}); checks/s {ratio:.2f} x that at "
              f"{small['nics']} (goal >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}); rule PUT "
              f"{large['put_s'] * 1000:.0f} ms (goal < 50 ms: "
              f"{'met' if large['put_s'] < 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
