"""What nw.monitor() was asked, validated before any request: checks, name, workspace, frequency,
thresholds. The checks are the dicts check()/check_many() take, validated by nwlab.checkspec."""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nwlab.arm.ids import GUID_RE, parse_resource_id
from nwlab.checkspec import CheckSpec, build_check
from nwlab.monitor.limits import check_frequency

# The keywords a check dict may carry: exactly check()'s, read from the validator itself.
CHECK_KEYWORDS = tuple(p for p in inspect.signature(build_check).parameters
                       if p != "subscription_id")
# Azure documents no pattern for connectionMonitors names; the sibling connectionAnalyzers
# resource documents this one (spec 2026-01-01), and it excludes the parentheses users saw
# rejected (MicrosoftDocs/azure-docs#54993). Assumption: the same rule is safe here.
NAME_RE = re.compile(r"^[0-9a-zA-Z]([0-9a-zA-Z_.-]{0,62}[0-9a-zA-Z_])?$")
WORKSPACE_EXAMPLE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/monitor-rg"
                     "/providers/Microsoft.OperationalInsights/workspaces/nwlab-law")
THRESHOLD_KEYS = {"checks_failed_percent": "checksFailedPercent",
                  "round_trip_time_ms": "roundTripTimeMs"}
_THRESHOLD_EXAMPLE = "e.g. thresholds={'checks_failed_percent': 10, 'round_trip_time_ms': 100}"


@dataclass(frozen=True)
class Thresholds:
    """A test's success threshold: at most this share of checks failed, at most this RTT."""

    checks_failed_percent: int | None = None
    round_trip_time_ms: float | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.checks_failed_percent is not None:
            body["checksFailedPercent"] = self.checks_failed_percent
        if self.round_trip_time_ms is not None:
            body["roundTripTimeMs"] = self.round_trip_time_ms
        return body


@dataclass(frozen=True)
class MonitorRequest:
    """A validated nw.monitor() call: nothing here needed a request."""

    name: str
    checks: tuple[CheckSpec, ...]
    workspace: str | None
    frequency_s: int
    thresholds: Thresholds | None


def validate_request(subscription_id: str, checks_or_batch: Any, name: Any, *, workspace: Any,
                     frequency_s: Any, thresholds: Any) -> MonitorRequest:
    """Every argument of nw.monitor(); ValueError/TypeError naming the argument and an example."""
    return MonitorRequest(name=check_name(name), checks=tuple(_checks(subscription_id,
                                                                      checks_or_batch)),
                          workspace=_workspace(workspace), frequency_s=check_frequency(frequency_s),
                          thresholds=_thresholds(thresholds))


def check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"name: expected the monitor's name, got {type(value).__name__}; "
                        "e.g. name='web-mesh'")
    if not NAME_RE.match(value):
        raise ValueError(f"name: {value!r} is not a valid connection monitor name (1-64 letters, "
                         "digits, '-', '_' or '.', starting with a letter or digit, not ending in "
                         "'-' or '.'); e.g. name='web-mesh'")
    return value


def check_dicts(checks_or_batch: Any) -> list[Mapping[str, Any]]:
    """The check dicts of a list, of a DataFrame (a row per check, empty cells left out), or of
    a BatchResult (its entries' inputs)."""
    entries = getattr(checks_or_batch, "entries", None)
    if entries is not None and not isinstance(checks_or_batch, Mapping):
        return [dict(e.inputs) for e in entries]
    if type(checks_or_batch).__name__ == "DataFrame" and hasattr(checks_or_batch, "to_dict"):
        import pandas as pd

        return [{k: v for k, v in row.items() if not (pd.api.types.is_scalar(v) and pd.isna(v))}
                for row in checks_or_batch.to_dict("records")]
    if isinstance(checks_or_batch, Mapping | str | bytes) or not isinstance(checks_or_batch,
                                                                            Iterable):
        raise TypeError(f"checks_or_batch: expected a list of check dicts or a BatchResult, got "
                        f"{type(checks_or_batch).__name__}; e.g. [{{'source': 'MultiTierApp0', "
                        "'destination': 'Database0', 'port': 80, 'resource_group': 'ContosoRG'}] "
                        "or the result of nw.check_many(...)")
    out = []
    for index, item in enumerate(checks_or_batch):
        if not isinstance(item, Mapping):
            raise TypeError(f"checks[{index}]: expected a dict of check() keywords, got "
                            f"{type(item).__name__}; e.g. {{'source': 'MultiTierApp0', "
                            "'destination': '10.1.4.4', 'port': 80, 'resource_group': 'ContosoRG'}")
        out.append(item)
    return out


def _checks(subscription_id: str, checks_or_batch: Any) -> list[CheckSpec]:
    specs: list[CheckSpec] = []
    seen: set[tuple[Any, ...]] = set()
    for index, item in enumerate(check_dicts(checks_or_batch)):
        unknown = sorted(str(k) for k in item if k not in CHECK_KEYWORDS)
        if unknown:
            raise ValueError(f"checks[{index}]: unknown key(s) {', '.join(map(repr, unknown))}; the "
                             f"keys are the keywords of check(): {', '.join(CHECK_KEYWORDS)}")
        values = {k: v for k, v in item.items() if v is not None}
        try:
            spec = build_check(subscription_id, **values)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"checks[{index}]: {exc}") from exc
        if spec.source_port is not None:
            raise ValueError(f"checks[{index}]: source_port: Connection Monitor tests have no "
                             "source port (the agent picks one); drop source_port")
        if spec.key() not in seen:  # identical checks are one test
            seen.add(spec.key())
            specs.append(spec)
    if not specs:
        raise ValueError("checks_or_batch: no checks; give at least one, e.g. "
                         "[{'source': 'MultiTierApp0', 'destination': 'Database0', 'port': 80, "
                         "'resource_group': 'ContosoRG'}]")
    return specs


def _workspace(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"workspace: expected a Log Analytics workspace resource id, got "
                        f"{type(value).__name__}; e.g. workspace='{WORKSPACE_EXAMPLE}'")
    rid = parse_resource_id(value)
    if rid is None or rid.type.lower() != "microsoft.operationalinsights/workspaces" \
            or len(rid.names) != 1:
        hint = " (the workspace's resource id, not its workspace/customer id GUID)" \
            if GUID_RE.match(value.strip()) else ""
        raise ValueError(f"workspace: {value!r} is not a Log Analytics workspace resource id"
                         f"{hint}; e.g. workspace='{WORKSPACE_EXAMPLE}'")
    if not GUID_RE.match(rid.subscription):
        raise ValueError(f"workspace: {value!r} has {rid.subscription!r} where the subscription id "
                         f"(a GUID) belongs; e.g. workspace='{WORKSPACE_EXAMPLE}'")
    return str(rid)


def _thresholds(value: Any) -> Thresholds | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"thresholds: expected a dict, got {type(value).__name__}; "
                        f"{_THRESHOLD_EXAMPLE}")
    unknown = sorted(str(k) for k in value if k not in THRESHOLD_KEYS)
    if unknown:
        raise ValueError(f"thresholds: unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                         f"{', '.join(THRESHOLD_KEYS)}; {_THRESHOLD_EXAMPLE}")
    percent = value.get("checks_failed_percent")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, numbers.Integral):
            raise TypeError(f"thresholds: checks_failed_percent must be a whole percentage 0-100, "
                            f"got {percent!r}; {_THRESHOLD_EXAMPLE}")
        if not 0 <= int(percent) <= 100:
            raise ValueError(f"thresholds: checks_failed_percent {percent} is not a percentage "
                             f"0-100; {_THRESHOLD_EXAMPLE}")
        percent = int(percent)
    rtt = value.get("round_trip_time_ms")
    if rtt is not None:
        if isinstance(rtt, bool) or not isinstance(rtt, numbers.Real):
            raise TypeError(f"thresholds: round_trip_time_ms must be milliseconds (a number), got "
                            f"{rtt!r}; {_THRESHOLD_EXAMPLE}")
        if not float(rtt) > 0:
            raise ValueError(f"thresholds: round_trip_time_ms {rtt} must be more than 0; "
                             f"{_THRESHOLD_EXAMPLE}")
        rtt = float(rtt)
    if percent is None and rtt is None:
        return None
    return Thresholds(percent, rtt)
