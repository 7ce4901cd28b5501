"""Azure Monitor metrics of the twin's connection monitors: `GET {monitor id}/providers/
Microsoft.Insights/metrics` (Metrics_List, api-version 2024-02-01; reference
diagnostics-and-estate-api.md §7.1, connection-monitor.md §4.1), answered from the monitor's
evaluations, for the subset of parameters nwlab sends (docs/monitoring.md):
metricnames among ChecksFailedPercent, RoundTripTimeMs, TestResult; aggregation Average;
interval PT1M or PT1H; `$filter` of `<dimension> eq '*'` terms joined by `and`; `top`; timespan a
duration back from now or `start/end`. Anything else is a 400 naming the parameter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from .clock import iso
from .connection_monitor import RESULT_CODES, Evaluation, Monitor
from .errors import ArmError

NAMESPACE = "Microsoft.Network/networkWatchers/connectionMonitors"
UNITS = {"ChecksFailedPercent": "Percent", "RoundTripTimeMs": "MilliSeconds",
         "TestResult": "Count"}
INTERVALS = {"pt1m": timedelta(minutes=1), "pt1h": timedelta(hours=1)}
# The test dimensions and how they come back in metadatavalues (lower case, as the spec's
# example shows them).
DIMENSIONS = {"testgroupname": "group", "sourcename": "source", "destinationname": "destination",
              "testconfigurationname": "configuration"}
DEFAULT_TOP = 10  # the service's default number of series when $filter is given
_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'\*'\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
                       re.IGNORECASE)


def window(timespan: str | None, now: datetime, *, default: timedelta = timedelta(hours=1),
           what: str = "timespan") -> tuple[datetime, datetime]:
    """An ISO 8601 duration back from `now`, or `start/end`; absent: the last `default`."""
    if not timespan:
        return now - default, now
    if "/" in timespan:
        first, _, last = timespan.partition("/")
        try:
            start, end = (_instant(t) for t in (first, last))
        except ValueError:
            raise ArmError(400, "BadRequest", f"{what} {timespan!r} is not 'start/end' in ISO "
                           "8601, e.g. 2026-12-01T09:00:00Z/2026-12-01T10:00:00Z.") from None
        if not start < end:
            raise ArmError(400, "BadRequest", f"{what} {timespan!r}: the start is not before "
                           "the end.")
        return start, end
    match = _DURATION.match(timespan.strip())
    if not match or not any(match.groups()):
        raise ArmError(400, "BadRequest", f"{what} {timespan!r} is not an ISO 8601 duration "
                       "(e.g. PT1H) or 'start/end'.")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return now - span, now


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def answer(monitor: Monitor, evaluations_of: Any, query: dict[str, str], now: datetime,
           region: str) -> dict[str, Any]:
    """The Metrics_List body; `evaluations_of(start, end)` gives the monitor's evaluations."""
    names = [n.strip() for n in (query.get("metricnames") or "").split(",") if n.strip()]
    if not names:
        raise ArmError(400, "BadRequest", "metricnames is required, e.g. "
                       "metricnames=ChecksFailedPercent,RoundTripTimeMs,TestResult.")
    known = {n.lower(): n for n in UNITS}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise ArmError(400, "BadRequest", f"Failed to find metric configuration for provider: "
                       f"Microsoft.Network, resource Type: {NAMESPACE}, metric: {unknown[0]}, "
                       f"Valid metrics: {', '.join(UNITS)}")
    namespace = query.get("metricnamespace")
    if namespace and namespace.lower() != NAMESPACE.lower():
        raise ArmError(400, "BadRequest", f"metricnamespace {namespace!r}: this resource's "
                       f"namespace is {NAMESPACE}.")
    aggregation = (query.get("aggregation") or "Average").split(",")
    if any(a.strip().lower() != "average" for a in aggregation):
        raise ArmError(400, "BadRequest", "aggregation: the twin serves Average only (the "
                       "aggregation these metrics document).")
    step = INTERVALS.get((query.get("interval") or "PT1M").lower())
    if step is None:
        raise ArmError(400, "BadRequest", f"interval {query.get('interval')!r}: these metrics "
                       "have the time grains PT1M and PT1H.")
    split = _split(query.get("$filter"))
    try:
        top = int(query.get("top") or DEFAULT_TOP)
    except ValueError:
        raise ArmError(400, "BadRequest", "top must be a whole number.") from None
    start, end = window(query.get("timespan"), now)
    evaluations: list[Evaluation] = evaluations_of(start, end)
    buckets = _bucket_times(start, end, step)
    value = []
    for name in (known[n.lower()] for n in names):
        series: dict[tuple[str, ...], dict[datetime, list[float]]] = defaultdict(
            lambda: defaultdict(list))
        for item in evaluations:
            sample = _sample(name, item)
            if sample is None:
                continue
            dims = tuple(getattr(item.test, DIMENSIONS[d]) for d in split)
            series[dims][_floor(item.time, start, step)].append(sample)
        timeseries = []
        for dims in sorted(series)[:max(1, top)]:
            data = []
            for stamp in buckets:
                point: dict[str, Any] = {"timeStamp": iso(stamp).replace(".000Z", "Z")}
                samples = series[dims].get(stamp)
                if samples:
                    point["average"] = sum(samples) / len(samples)
                data.append(point)
            timeseries.append({"metadatavalues": [
                {"name": {"value": d, "localizedValue": d}, "value": v}
                for d, v in zip(split, dims, strict=True)], "data": data})
        value.append({"id": f"{monitor.id}/providers/Microsoft.Insights/metrics/{name}",
                      "type": "Microsoft.Insights/metrics",
                      "name": {"value": name, "localizedValue": name}, "unit": UNITS[name],
                      "timeseries": timeseries, "errorCode": "Success"})
    return {"cost": 0, "timespan": f"{iso(start)}/{iso(end)}",
            "interval": "PT1M" if step == INTERVALS["pt1m"] else "PT1H",
            "namespace": NAMESPACE, "resourceregion": region, "value": value}


def _split(text: str | None) -> list[str]:
    """The dimensions split by `$filter` (only `<dimension> eq '*'` terms are served)."""
    if not text:
        return []
    out = []
    for term in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _TERM.match(term)
        if not match:
            raise ArmError(400, "BadRequest", f"$filter term {term.strip()!r}: the twin serves "
                           "\"<dimension> eq '*'\" terms joined by 'and', e.g. "
                           "\"SourceName eq '*' and DestinationName eq '*'\".")
        name = match.group(1).lower()
        if name not in DIMENSIONS:
            raise ArmError(400, "BadRequest", f"$filter: the twin serves the dimensions "
                           f"TestGroupName, SourceName, DestinationName and "
                           f"TestConfigurationName, not {match.group(1)!r}.")
        out.append(name)
    return out


def _sample(name: str, item: Evaluation) -> float | None:
    if name == "TestResult":
        return float(RESULT_CODES[item.result])
    if not item.checks_total:
        return None  # Indeterminate: no checks, so no percentage and no time
    if name == "ChecksFailedPercent":
        return item.checks_failed_percent
    return item.rtt_avg


def _floor(when: datetime, start: datetime, step: timedelta) -> datetime:
    base = start.replace(second=0, microsecond=0) if step < timedelta(hours=1) \
        else start.replace(minute=0, second=0, microsecond=0)
    return base + step * ((when - base) // step)


def _bucket_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    stamp = _floor(start, start, step)
    out = []
    while stamp <= end:
        out.append(stamp)
        stamp += step
    return out
