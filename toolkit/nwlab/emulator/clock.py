"""The twin's clock: UTC time that can run faster than real time (``time_scale``), so a
Connection Monitor run of an hour can be watched in seconds. Tests and notebooks may also step
it (``advance``) to put an event at an exact twin minute."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta


class TwinClock:
    """twin now = start + (real seconds since start) x time_scale + seconds advanced."""

    def __init__(self, time_scale: float = 1.0, *, start: datetime | None = None) -> None:
        if isinstance(time_scale, bool) or not isinstance(time_scale, int | float) \
                or not math.isfinite(time_scale) or time_scale <= 0:
            raise ValueError(f"time_scale: {time_scale!r} is not a positive number; e.g. "
                             "time_scale=60 (one twin minute per real second), or 1.0 for real "
                             "time")
        if start is not None and start.tzinfo is None:
            raise ValueError("start: give a time zone, e.g. datetime(2026, 12, 1, tzinfo=UTC)")
        self.time_scale = float(time_scale)
        # Whole seconds: evaluation times and metric buckets then fall on round times.
        self._start = (start or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self._real = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._real) * self.time_scale + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Move twin time forward by `seconds` at once; returns the new now."""
        if not seconds >= 0:
            raise ValueError(f"seconds: {seconds!r}; the twin's clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def real_seconds(self, twin_seconds: float) -> float:
        """How long, in real seconds, `twin_seconds` of twin time take at this scale."""
        return twin_seconds / self.time_scale


def iso(value: datetime) -> str:
    """ISO 8601 UTC with a Z, as ARM and Log Analytics write times."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
