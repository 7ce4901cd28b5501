"""Reading ARM's response headers."""

from __future__ import annotations

import email.utils
import math
import time


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (the header may also be an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf" or "nan" would wait forever (or not at all); treat them as no hint.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# A Retry-After beyond this is not waited out (a request with no deadline would hang, and
# Event.wait overflows on huge values): the request ends as ThrottledError carrying the hint.
MAX_RETRY_AFTER_S = 900.0
