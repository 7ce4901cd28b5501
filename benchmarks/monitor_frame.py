"""MonitorResults.frame() on a large monitor: how long it takes to turn an hour of metrics (and
as many Log Analytics rows) into one row per test and bucket. Prints its figures; no goal is
asserted here.

    .venv/bin/python benchmarks/monitor_frame.py                  # 400 tests x 60 one-minute buckets
    .venv/bin/python benchmarks/monitor_frame.py --tests 2000 --buckets 60
"""

from __future__ import annotations

import argparse
import time

from nwlab.monitor.build import MonitorTest
from nwlab.monitor.metrics import METRICS, MetricPoint
from nwlab.monitor.results import MonitorResults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=400)
    parser.add_argument("--buckets", type=int, default=60)
    args = parser.parse_args()
    tests = [MonitorTest("m", "westcentralus", "group-1", f"src{i % 20}", f"dst{i // 20}",
                         "tcp-80", protocol="Tcp", port=80) for i in range(args.tests)]
    stamps = [f"2026-12-01T{9 + b // 60:02d}:{b % 60:02d}:00Z" for b in range(args.buckets)]
    points = [MetricPoint(s, t.group, t.source, t.destination, t.configuration, m, 1.0)
              for t in tests for s in stamps for m in METRICS]
    logs = [{"TimeGenerated": s.replace(":00Z", ":20Z"), "TestGroupName": t.group,
             "SourceName": t.source, "DestinationName": t.destination,
             "TestConfigurationName": t.configuration, "TestResult": "Pass", "ChecksTotal": 10,
             "ChecksFailed": 0, "AvgRoundTripTimeMs": 2.0} for t in tests for s in stamps]
    for label, rows in (("metrics only", []), ("metrics + logs", logs)):
        results = MonitorResults("m", "PT1H", "0", tests, metrics={"westcentralus": points},
                                 test_rows=rows, regions_by_id={"m": "westcentralus"})
        started = time.perf_counter()
        frame = results.frame()
        elapsed = time.perf_counter() - started
        print(f"{label}: {len(points)} metric points + {len(rows)} log rows -> {len(frame)} rows "
              f"in {elapsed:.2f} s ({1e6 * elapsed / (len(points) + len(rows)):.1f} us per input)")


if __name__ == "__main__":
    main()
