"""Azure Monitor metrics of a connection monitor: the request and the parsing of its answer.

`GET {monitor id}/providers/Microsoft.Insights/metrics` (api-version 2024-02-01, reference
diagnostics-and-estate-api.md §7.1) on the ARM endpoint with the ARM token. Every test is its own
series when the four test dimensions are split with `eq '*'`; `top` defaults to 10 series when a
$filter is given, so it is always sent, sized to the monitor's tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nwlab.arm.errors import ArmError
from nwlab.monitor.client import ArmLike
from nwlab.monitor.window import is_iso_time

API_VERSION = "2024-02-01"
NAMESPACE = "Microsoft.Network/networkWatchers/connectionMonitors"
METRICS = ("ChecksFailedPercent", "RoundTripTimeMs", "TestResult")
# Dimension names come back lower-cased in metadatavalues (the spec's example): match that way.
DIMENSIONS = {"testgroupname": "group", "sourcename": "source", "destinationname": "destination",
              "testconfigurationname": "configuration"}
_FILTER = " and ".join(f"{d} eq '*'" for d in ("TestGroupName", "SourceName", "DestinationName",
                                                "TestConfigurationName"))


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric for one test at one time bucket."""

    time: str
    group: str
    source: str
    destination: str
    configuration: str
    metric: str
    value: float


def metrics_params(timespan: str, tests: int) -> dict[str, str]:
    return {"metricnamespace": NAMESPACE, "metricnames": ",".join(METRICS),
            "timespan": timespan, "interval": "PT1M", "aggregation": "Average",
            "$filter": _FILTER, "top": str(max(100, 2 * tests))}


def read_metrics(arm: ArmLike, monitor_id: str, timespan: str,
                 tests: int) -> tuple[list[MetricPoint], list[str]]:
    """The monitor's metric points and any per-metric problems the service reported."""
    path = f"{monitor_id}/providers/Microsoft.Insights/metrics"
    body = arm.get_json(path, params=metrics_params(timespan, tests), api_version=API_VERSION)
    return parse_metrics(body, url=path)


def parse_metrics(body: Any, *, url: str = "") -> tuple[list[MetricPoint], list[str]]:
    """Lenient on what may be missing (no timeseries, no data, unrequested aggregations), strict on
    what is the wrong type: that is an ArmError, never a silently empty answer."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise _shape("the answer has no `value` list of metrics", url)
    points: list[MetricPoint] = []
    notes: list[str] = []
    for metric in body["value"]:
        if not isinstance(metric, dict):
            raise _shape("a metric is not an object", url)
        name = metric.get("name")
        name = name.get("value") if isinstance(name, dict) else name
        if not isinstance(name, str):
            raise _shape("a metric has no name", url)
        code = metric.get("errorCode")
        if code not in (None, "", "Success"):
            notes.append(f"{name}: {code} {metric.get('errorMessage') or ''}".strip())
        series_list = _list_or_empty(metric.get("timeseries"))
        if not isinstance(series_list, list):
            raise _shape(f"{name}: `timeseries` is not a list", url)
        for series in series_list:
            if not isinstance(series, dict):
                raise _shape(f"{name}: a time series is not an object", url)
            dims = _dimensions(_list_or_empty(series.get("metadatavalues")), name, url)
            data = _list_or_empty(series.get("data"))
            if not isinstance(data, list):
                raise _shape(f"{name}: `data` is not a list", url)
            for item in data:
                if not isinstance(item, dict) or not is_iso_time(item.get("timeStamp")):
                    raise _shape(f"{name}: a data point has no ISO 8601 timeStamp", url)
                value = item.get("average")
                if value is None:
                    continue  # no sample in this bucket
                if isinstance(value, bool) or not isinstance(value, int | float) \
                        or not math.isfinite(value):
                    raise _shape(f"{name}: average {value!r} is not a number", url)
                points.append(MetricPoint(item["timeStamp"], dims.get("group", ""),
                                          dims.get("source", ""), dims.get("destination", ""),
                                          dims.get("configuration", ""), name, float(value)))
    return points, notes


def _list_or_empty(value: Any) -> Any:
    """Absent (or null) lists are empty; any other value is returned to be type-checked."""
    return [] if value is None else value


def _dimensions(values: Any, metric: str, url: str) -> dict[str, str]:
    if not isinstance(values, list):
        raise _shape(f"{metric}: `metadatavalues` is not a list", url)
    dims: dict[str, str] = {}
    for item in values:
        if not isinstance(item, dict):
            raise _shape(f"{metric}: a dimension is not an object", url)
        name = item.get("name")
        name = name.get("value") if isinstance(name, dict) else name
        field = DIMENSIONS.get(str(name or "").lower())
        if field is not None:
            dims[field] = str(item.get("value") or "")
    return dims


def _shape(what: str, url: str) -> ArmError:
    return ArmError(f"The metrics answer is not what Azure Monitor documents: {what}.", status=200,
                    code="UnexpectedResponseShape", method="GET", url=url,
                    fix="Check that the ARM endpoint is Azure's (or the emulator's); report the "
                        "answer if it is.")
