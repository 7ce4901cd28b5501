"""Connection Monitor on the twin: how long `m.results()` takes for the mesh of notebook 04
(9 tests) over an hour of twin time, first read (every run evaluated) and again (cached), and with
a what-if in the middle. Prints its figures; no goal is asserted here.

    .venv/bin/python benchmarks/monitor_twin.py                 # 60 twin minutes
    .venv/bin/python benchmarks/monitor_twin.py --minutes 600
"""

from __future__ import annotations

import argparse
import time

import nwlab
from nwlab.batch import mesh

DB_NSG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
          "/providers/Microsoft.Network/networkSecurityGroups/DbNsg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    try:
        checks = mesh(["MultiTierApp0", "WebVM0"], ["Database0", "WebVM0"], [80, 1433, 3389],
                      resource_group="ContosoRG")
        started = time.perf_counter()
        m = nw.monitor(checks, "bench", workspace="/subscriptions/00000000-0000-0000-0000-"
                       "000000000000/resourceGroups/monitor-rg/providers/"
                       "Microsoft.OperationalInsights/workspaces/nwlab-law")
        print(f"create: {len(m.tests)} tests in {time.perf_counter() - started:.2f} s")
        clock = nw.emulator.clock
        clock.advance(args.minutes * 30)
        nw.set_security_rule(DB_NSG, "AllowSqlFromWeb", priority=100, direction="Inbound",
                             access="Deny", protocol="Tcp", sourceAddressPrefix="10.1.5.0/24",
                             sourcePortRange="*", destinationAddressPrefix="*",
                             destinationPortRange="1433")
        clock.advance(args.minutes * 30)
        since = f"{args.minutes + 1}m"
        for label in ("first read", "second read"):
            started = time.perf_counter()
            res = m.results(since=since)
            frame = res.frame()
            print(f"{label}: {len(res.test_rows)} log rows, {len(frame)} frame rows over "
                  f"{args.minutes} twin minutes in {time.perf_counter() - started:.2f} s")
    finally:
        nw.close()


if __name__ == "__main__":
    main()
