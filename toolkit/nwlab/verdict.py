"""Verdicts: the one home of how a check's outcome is classified and marked.

A batch row, the progress line, the batch figures and the result card all say "reachable",
"unreachable", ... with the same mark; they read it here. This module imports nothing of nwlab, so
the model, the batch result types, viz and the progress display can all use it without a circle.
"""

from __future__ import annotations

from typing import Any

# The verdicts, in the order every count, legend and colour scale lists them.
VERDICTS = ("reachable", "degraded", "unreachable", "unknown", "error", "cancelled")

# A text mark per verdict, so a verdict never rests on colour alone.
MARKS = {"reachable": "\u2714", "degraded": "\u25d1", "unreachable": "\u2716", "unknown": "?",
         "error": "!", "cancelled": "\u2013"}

# Service statuses (any API version: Reachable/Unreachable or Connected/Disconnected/Degraded)
# that say the destination was not reached.
UNREACHABLE_STATUSES = ("unreachable", "disconnected")


def status_verdict(reachable: bool, status: str | None) -> str:
    """reachable, degraded, unreachable or unknown (a status the service added later)."""
    if reachable:
        return "reachable"
    text = (status or "").lower()
    if text in UNREACHABLE_STATUSES:
        return "unreachable"
    if text == "degraded":
        return "degraded"
    return "unknown"


def verdict_of(result: Any, error: Any) -> str:
    """A batch entry's verdict from its result (a ConnectivityResult) or error (a BatchError)."""
    if error is not None:
        return "cancelled" if getattr(error, "cancelled", False) else "error"
    if result is None:
        return "cancelled"
    return status_verdict(bool(result.reachable), result.status)


def count_text(verdict: str, n: int) -> str:
    """`3 unreachable`, `1 error`, `4 errors` (the other verdicts are adjectives)."""
    return f"{n} {verdict}{'s' if verdict == 'error' and n != 1 else ''}"


__all__ = ["MARKS", "UNREACHABLE_STATUSES", "VERDICTS", "count_text", "status_verdict",
           "verdict_of"]
