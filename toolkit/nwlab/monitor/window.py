"""Time windows: what `results(since=...)` accepts, and the ISO 8601 times the services send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_METRICS_WINDOW = timedelta(days=30)  # metrics are kept 30 days (connection-monitor.md §3.1)
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day)s?\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "h": "hours",
          "hr": "hours", "d": "days", "day": "days"}
_SINCE_EXAMPLE = "e.g. since='1h', '30m', '2d', a timedelta, or (start, end) datetimes"


def is_iso_time(value: Any) -> bool:
    """True for an ISO 8601 time as the services write it (fractions of any length, `Z`)."""
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def timespan_of(since: Any) -> str:
    """`since` as the ISO 8601 timespan both APIs take: a duration back from now ("PT1H"), or
    "start/end". A bare duration is what Azure's own query SDKs send for "the last hour"."""
    if isinstance(since, tuple) and len(since) == 2:
        start, end = (_instant(v) for v in since)
        if not start < end:
            raise ValueError(f"since: the start {start.isoformat()} is not before the end "
                             f"{end.isoformat()}; {_SINCE_EXAMPLE}")
        _window(end - start)
        return f"{_iso(start)}/{_iso(end)}"
    if isinstance(since, timedelta):
        return _duration(_window(since))
    if isinstance(since, str):
        match = _SINCE.match(since)
        if match:
            number, unit = float(match.group(1)), _UNITS[match.group(2).lower()]
            return _duration(_window(timedelta(**{unit: number})))
    raise ValueError(f"since: {since!r} is not a time window; {_SINCE_EXAMPLE}")


def _window(span: timedelta) -> timedelta:
    if span <= timedelta(0):
        raise ValueError(f"since: the window must be longer than 0; {_SINCE_EXAMPLE}")
    if span > MAX_METRICS_WINDOW:
        raise ValueError("since: Azure Monitor keeps connection monitor metrics for 30 days; ask "
                         "for 30 days or less, e.g. since='30d'")
    return span


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"since: {value!r} is not an ISO time; {_SINCE_EXAMPLE}") from None
    if not isinstance(value, datetime):
        raise TypeError(f"since: expected datetimes, got {type(value).__name__}; {_SINCE_EXAMPLE}")
    if value.tzinfo is None:
        raise ValueError(f"since: {value.isoformat()} has no time zone; e.g. "
                         "datetime(2026, 12, 1, 9, tzinfo=timezone.utc)")
    return value


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


