"""What a connection monitor found: metrics and Log Analytics rows, as frames, figures and HTML.

`MonitorResults` only holds data (it makes no request); `frame()` has one row per test and time
bucket (the metrics' one-minute grain; Log Analytics rows join the bucket they fall in).
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from nwlab.checkspec import build_check
from nwlab.monitor.build import MonitorTest, check_identity
from nwlab.monitor.metrics import MetricPoint
from nwlab.monitor.spec import Thresholds, check_dicts

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

# The TestResult metric's values (reference connection-monitor.md §4.1).
TEST_RESULTS = {0: "Indeterminate", 1: "Pass", 2: "Warning", 3: "Fail"}
# The service's automatic Warning thresholds when none are set (§2.3): 10 % failed, 750 ms.
DEFAULT_WARNING = Thresholds(checks_failed_percent=10, round_trip_time_ms=750.0)
FRAME_COLUMNS = ["time", "monitor", "region", "group", "source", "destination", "configuration",
                 "protocol", "port", "test_result", "checks_failed_percent", "round_trip_time_ms",
                 "checks_total", "checks_failed", "min_round_trip_time_ms",
                 "max_round_trip_time_ms", "jitter_ms"]
PATH_COLUMNS = ["time", "monitor", "region", "group", "source", "destination", "configuration",
                "path_result", "path_result_criterion", "hop_addresses", "hop_types", "hops",
                "issues"]
COMPARE_COLUMNS = ["source", "destination", "port", "protocol", "adhoc_verdict", "adhoc_cause",
                   "monitor_result", "checks_failed_percent", "failed_buckets", "agree"]
EMPTY_REASON = ("No data in this window: a new monitor reports after about 5 minutes; otherwise "
                "check that the source VMs run with the Network Watcher agent, the workspace is "
                "the monitor's, and you may read its metrics and logs (an empty answer is also "
                "what missing permission looks like).")
_METRIC_FIELDS = {"ChecksFailedPercent": "checks_failed_percent",
                  "RoundTripTimeMs": "round_trip_time_ms", "TestResult": "test_result_code"}
_LA_FIELDS = {"ChecksTotal": "checks_total", "ChecksFailed": "checks_failed",
              "AvgRoundTripTimeMs": "avg_round_trip_time_ms",
              "MinRoundTripTimeMs": "min_round_trip_time_ms",
              "MaxRoundTripTimeMs": "max_round_trip_time_ms", "JitterMs": "jitter_ms"}

_Key = tuple[str, str, str, str, str]  # region, group, source, destination, configuration


@dataclass
class MonitorResults:
    """A window of a monitor's results. `metrics` by region; `test_rows`/`path_rows` are the
    NWConnectionMonitorTestResult / PathResult records (empty without a workspace)."""

    name: str
    timespan: str
    subscription_id: str
    tests: list[MonitorTest]
    metrics: dict[str, list[MetricPoint]] = field(default_factory=dict)
    test_rows: list[dict[str, Any]] = field(default_factory=list)
    path_rows: list[dict[str, Any]] = field(default_factory=list)
    regions_by_id: dict[str, str] = field(default_factory=dict)  # monitor id (lower) -> region
    thresholds: Thresholds | None = None
    workspace: str | None = None
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"<MonitorResults {self.name} {self.timespan}: {len(self.tests)} tests, "
                f"{len(self.frame())} rows>")

    @property
    def empty(self) -> bool:
        return not any(self.metrics.values()) and not self.test_rows

    # -- tables ---------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """One row per test and time bucket: result, checks failed %, RTT (metrics), and checks,
        jitter and RTT range from Log Analytics when a workspace is set.

        A bucket is the test's frequency (at least the metrics' one minute), aligned to the
        clock, so a log row written a little after its evaluation joins that evaluation's
        metrics. Within a bucket, percentages and times are averaged, counts summed, the
        worst result kept.
        """
        import pandas as pd

        acc: dict[tuple[_Key, Any], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        seen: dict[tuple[int, str], Any] = {}  # tests share their time stamps: parse each once
        for region, points in self.metrics.items():
            for point in points:
                key = (region, point.group, point.source, point.destination, point.configuration)
                field_name = _METRIC_FIELDS.get(point.metric)
                if field_name is not None:  # a metric nwlab did not ask for is left out
                    acc[(key, self._bucket(key, point.time, seen))][field_name].append(
                        point.value)
        for record in self.test_rows:
            if not record.get("TimeGenerated"):
                continue  # a row that says not when is no point of a series
            key = self._record_key(record)
            values = acc[(key, self._bucket(key, record["TimeGenerated"], seen))]
            for column, name in _LA_FIELDS.items():
                if record.get(column) is not None:
                    values[name].append(record[column])
            if record.get("TestResult"):
                values["log_result"].append(str(record["TestResult"]))
        rows = [self._summarise(key, bucket, values) for (key, bucket), values in acc.items()]
        rows.sort(key=lambda r: (r["time"], r["region"], r["group"], r["source"],
                                 r["destination"], r["configuration"]))
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        for column in ("port", "checks_total", "checks_failed"):
            frame[column] = frame[column].astype("Int64")
        for column in ("checks_failed_percent", "round_trip_time_ms", "min_round_trip_time_ms",
                       "max_round_trip_time_ms", "jitter_ms"):
            frame[column] = frame[column].astype("Float64")
        return _text_as_objects(frame)

    def _bucket(self, key: _Key, stamp: Any, seen: dict[tuple[int, str], Any]) -> Any:
        test = self._tests_by_key.get(key)
        seconds = max(60, test.frequency_s if test is not None else 60)
        found = seen.get((seconds, str(stamp)))
        if found is None:
            import pandas as pd

            when = pd.Timestamp(str(stamp))
            when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
            found = seen[(seconds, str(stamp))] = when.floor(f"{seconds}s")
        return found

    def _summarise(self, key: _Key, bucket: Any, values: dict[str, list[Any]]) -> dict[str, Any]:
        row = self._row(key, bucket)
        codes = values.get("test_result_code")
        if codes:
            row["test_result"] = TEST_RESULTS.get(round(max(codes)), "Indeterminate")
        elif values.get("log_result"):
            row["test_result"] = max(values["log_result"], key=_severity)
        for name in ("checks_total", "checks_failed"):
            if values.get(name):
                row[name] = sum(values[name])
        for name, pick in (("checks_failed_percent", _mean), ("round_trip_time_ms", _mean),
                           ("min_round_trip_time_ms", min), ("max_round_trip_time_ms", max),
                           ("jitter_ms", _mean)):
            found = values.get(name) or (values.get("avg_round_trip_time_ms")
                                         if name == "round_trip_time_ms" else None)
            if found:
                row[name] = pick(found)
        if row.get("checks_failed_percent") is None and row.get("checks_total"):
            row["checks_failed_percent"] = 100.0 * (row.get("checks_failed") or 0) \
                / row["checks_total"]
        return row

    def paths_frame(self) -> pd.DataFrame:
        """NWConnectionMonitorPathResult rows (written when loss or RTT change): hops and issues
        as the service sent them (parsed when the column is typed `dynamic`, text otherwise)."""
        import pandas as pd

        rows = []
        for record in self.path_rows:
            key = self._record_key(record)
            rows.append({"time": record.get("TimeGenerated"), "monitor": self.name,
                         "region": key[0], "group": key[1], "source": key[2],
                         "destination": key[3], "configuration": key[4],
                         "path_result": record.get("PathTestResult"),
                         "path_result_criterion": record.get("PathTestResultCriterion"),
                         "hop_addresses": record.get("HopAddresses"),
                         "hop_types": record.get("HopTypes"), "hops": record.get("Hops"),
                         "issues": record.get("Issues")})
        frame = pd.DataFrame(rows, columns=PATH_COLUMNS)
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def latest(self) -> pd.DataFrame:
        """The last bucket of every test (tests with no data yet included, result None)."""
        import pandas as pd

        frame = self.frame()
        last = frame.groupby(["region", "group", "source", "destination", "configuration"],
                             sort=False).tail(1)
        seen = {tuple(r) for r in last[["region", "group", "source", "destination",
                                        "configuration"]].itertuples(index=False)}
        missing = [self._row((t.region, *t.key), None) for t in self.tests
                   if (t.region, *t.key) not in seen]
        if missing:
            extra = pd.DataFrame(missing, columns=FRAME_COLUMNS).astype(frame.dtypes.to_dict())
            last = pd.concat([last, extra], ignore_index=True) if len(last) else extra
        return _text_as_objects(last.sort_values(
            ["region", "group", "source", "destination", "configuration"], ignore_index=True))

    def compare(self, batch: Any) -> pd.DataFrame:
        """Each check of an ad-hoc mesh (a BatchResult) beside what the monitor saw of it: the
        batch's verdict, the monitor's latest result, its mean checks-failed % over the window
        and how many buckets failed; `agree` is None where either side has no answer."""
        import pandas as pd

        if getattr(batch, "entries", None) is None:
            raise TypeError(f"compare: expected a BatchResult (nw.check_many(...)), got "
                            f"{type(batch).__name__}; e.g. res.compare(nw.check_many(checks))")
        frame = self.frame()
        by_identity = {t.identity: t for t in self.tests}
        rows = []
        for entry, inputs in zip(batch.entries, check_dicts(batch), strict=True):
            try:
                spec = build_check(self.subscription_id,
                                   **{k: v for k, v in inputs.items() if v is not None})
            except (TypeError, ValueError):
                test = None
            else:
                test = by_identity.get(check_identity(spec))
            seen = frame.iloc[0:0] if test is None else frame[
                (frame["region"] == test.region) & (frame["group"] == test.group)
                & (frame["source"] == test.source) & (frame["destination"] == test.destination)
                & (frame["configuration"] == test.configuration)]
            results = [r for r in seen["test_result"] if isinstance(r, str)]
            latest = results[-1] if results else None
            percent = seen["checks_failed_percent"].dropna()
            verdict = getattr(entry, "verdict", None)
            rows.append({"source": entry.source_label, "destination": entry.destination_label,
                         "port": inputs.get("port"), "protocol": inputs.get("protocol"),
                         "adhoc_verdict": verdict, "adhoc_cause": getattr(entry, "cause", None),
                         "monitor_result": latest if test is not None else "not monitored",
                         "checks_failed_percent": float(percent.mean()) if len(percent) else None,
                         "failed_buckets": int(sum(r == "Fail" for r in results)),
                         "agree": _agree(verdict, latest)})
        out = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
        out["port"] = out["port"].astype("Int64")
        out["checks_failed_percent"] = out["checks_failed_percent"].astype("Float64")
        out["agree"] = out["agree"].astype("boolean")
        return _text_as_objects(out, ("source", "destination", "protocol", "adhoc_verdict",
                                      "adhoc_cause", "monitor_result"))

    # -- figures and display --------------------------------------------------------------

    def rtt_figure(self) -> go.Figure:
        """Round-trip time per test over the window, with the RTT threshold as a line."""
        from nwlab.viz.monitor import monitor_series_figure

        limit, default = self._threshold("round_trip_time_ms")
        return monitor_series_figure(self.frame(), "round_trip_time_ms", "Round-trip time (ms)",
                                     title=f"{self.name}: round-trip time ({self.timespan})",
                                     threshold=limit, threshold_is_default=default)

    def failures_figure(self) -> go.Figure:
        """Checks failed (%) per test over the window, with the failure threshold as a line."""
        from nwlab.viz.monitor import monitor_series_figure

        limit, default = self._threshold("checks_failed_percent")
        return monitor_series_figure(self.frame(), "checks_failed_percent", "Checks failed (%)",
                                     title=f"{self.name}: checks failed ({self.timespan})",
                                     threshold=limit, threshold_is_default=default)

    def _repr_html_(self) -> str:
        latest = self.latest()
        table = latest[["region", "group", "source", "destination", "configuration",
                        "test_result", "checks_failed_percent", "round_trip_time_ms"]]
        counts: dict[str, int] = defaultdict(int)
        for result in latest["test_result"]:
            counts[result if isinstance(result, str) else "no data"] += 1
        summary = ", ".join(f"{n} {html.escape(k)}" for k, n in sorted(counts.items()))
        notes = [EMPTY_REASON] if self.empty else []
        notes += self.warnings
        note_html = "".join(f'<div style="margin:2px 0">&#x26A0; {html.escape(n)}</div>'
                            for n in notes)
        source = "metrics + Log Analytics" if self.workspace else "metrics"
        return (f'<div class="nwlab-monitor-results"><div style="margin:4px 0"><strong>'
                f"{html.escape(self.name)}</strong> ({html.escape(self.timespan)}, "
                f"{html.escape(source)}): {len(self.tests)} tests; latest: {summary}</div>"
                f"{note_html}{table.to_html(index=False, na_rep='', border=0, escape=True)}</div>")

    # -- helpers --------------------------------------------------------------------------

    def _threshold(self, name: str) -> tuple[float | None, bool]:
        value = getattr(self.thresholds, name, None) if self.thresholds else None
        if value is not None:
            return float(value), False
        default = getattr(DEFAULT_WARNING, name)
        return (float(default) if default is not None else None), True

    @cached_property
    def _tests_by_key(self) -> dict[_Key, MonitorTest]:
        return {(t.region, *t.key): t for t in self.tests}

    def _row(self, key: _Key, bucket: Any) -> dict[str, Any]:
        test = self._tests_by_key.get(key)
        return {"time": bucket, "monitor": self.name, "region": key[0], "group": key[1],
                "source": key[2], "destination": key[3], "configuration": key[4],
                "protocol": test.protocol if test else None, "port": test.port if test else None,
                "test_result": None}

    def _record_key(self, record: dict[str, Any]) -> _Key:
        monitor_id = str(record.get("ConnectionMonitorResourceId") or "").lower()
        region = self.regions_by_id.get(monitor_id) or (
            next(iter(self.regions_by_id.values())) if len(self.regions_by_id) == 1 else "")
        return (region, str(record.get("TestGroupName") or ""), str(record.get("SourceName") or ""),
                str(record.get("DestinationName") or ""),
                str(record.get("TestConfigurationName") or ""))


def _text_as_objects(frame: pd.DataFrame, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Text columns hold None for missing, not NaN (as BatchResult.frame() does)."""
    for column in columns or _TEXT_COLUMNS:
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame


_TEXT_COLUMNS = ("monitor", "region", "group", "source", "destination", "configuration",
                 "protocol", "test_result")


def _mean(values: list[float]) -> float:
    return float(sum(values)) / len(values)


def _severity(result: str) -> int:
    """Log Analytics' TestResult words, least to most severe (only "Fail" is verified)."""
    order = ["Indeterminate", "Pass", "Warning", "Fail"]
    return order.index(result) if result in order else 0


def _agree(verdict: str | None, result: str | None) -> bool | None:
    if result in (None, "Indeterminate") or verdict not in ("reachable", "unreachable"):
        return None
    return (verdict == "reachable") == (result in ("Pass", "Warning"))
