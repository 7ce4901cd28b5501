"""How long a batch takes: the up-front estimate (`Estimate`) and the running ETA (`eta_seconds`).

The estimate is a lower bound from two limits that no client can beat:
- the write budget: every check is one write (the connectivityCheck POST); past the budget's
  saved-up burst the writes go at its rate, and the last check still runs after its POST;
- concurrency: at most `concurrency` checks are in flight, each taking at least `check_s`.

The ETA while running blends that estimate with the completion rate observed so far, trusting the
observation more as more checks finish: a concurrent batch finishes its first checks in a burst
(all started together), so elapsed/done alone is far too hopeful at the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nwlab.arm.throttle import AZURE_NETWORK_WINDOW_S, AZURE_NETWORK_WRITES, TokenBucket


def human_duration(seconds: float, *, at_least: bool = False) -> str:
    """`14 s`, `15 minutes`, `2 hours 5 minutes`, `1,250 hours`; rounded down for a lower bound
    (`at_least`), to the nearest unit otherwise."""
    cut = math.floor if at_least else round
    seconds = float(cut(max(0.0, float(seconds))))
    if seconds < 120:
        return f"{int(seconds):,} s"
    minutes = int(cut(seconds / 60))
    if minutes < 120:
        return f"{minutes:,} minutes"
    hours, rest = divmod(minutes, 60)
    return f"{hours:,} hours" + (f" {rest} minute{'s' if rest != 1 else ''}" if rest else "")


def _is_azure_default(budget: TokenBucket) -> bool:
    return math.isclose(budget.rate, AZURE_NETWORK_WRITES / AZURE_NETWORK_WINDOW_S) \
        and math.isclose(budget.capacity, AZURE_NETWORK_WRITES)


@dataclass(frozen=True)
class Estimate:
    """The least time a batch of `total` checks (`distinct` after de-duplication) takes."""

    total: int
    distinct: int
    seconds: float
    write_s: float  # what the write budget alone makes it take
    concurrency_s: float  # what `concurrency` checks of `check_s` at a time make it take
    budget_text: str | None  # "Azure's write budget (...)" or "a write budget of ..."; None: none
    concurrency: int
    check_s: float

    @property
    def budget_waits(self) -> bool:
        """True when the write budget, not concurrency, sets the bound (the writes outrun the
        budget's burst)."""
        return self.write_s > self.check_s and self.write_s >= self.concurrency_s

    @property
    def text(self) -> str:
        """E.g. `3,000 checks: at least 10 minutes at Azure's write budget (1,000 writes per
        5 minutes)`."""
        noun = "check" if self.total == 1 else "checks"
        head = f"{self.total:,} {noun}"
        if self.distinct != self.total:
            head += f" ({self.distinct:,} distinct)"
        if self.distinct == 0:
            return f"{head}: nothing to run"
        if self.check_s > 0 and self.seconds < 1:
            # A bound under a second ("at least 0 s") says nothing: say there is no wait.
            return f"{head}: no wait to expect, {self.concurrency:,} at a time"
        took = f"at least {human_duration(self.seconds, at_least=True)}"
        if self.budget_text is not None and self.budget_waits:
            return f"{head}: {took} at {self.budget_text}"
        if self.check_s > 0:
            return (f"{head}: {took}, {self.concurrency:,} at a time, each at least "
                    f"{human_duration(self.check_s, at_least=True)}")
        if self.budget_text is not None:
            return f"{head}: within the burst of {self.budget_text}, no wait for it"
        return f"{head}: no client-side write budget, no wait for it"

    def __str__(self) -> str:
        return self.text


def estimate_batch(total: int, distinct: int, budget: TokenBucket | None, *,
                   check_s: float, concurrency: int = 1) -> Estimate:
    """The lower bound described in the module docstring; `check_s` is the least time one check
    takes on the client's backend (NetworkWatcher.min_check_s)."""
    concurrency = max(1, concurrency)
    if distinct <= 0:
        write_s = concurrency_s = 0.0
    else:
        write_s = (max(0.0, distinct - budget.capacity) / budget.rate + check_s
                   if budget is not None else check_s)
        concurrency_s = math.ceil(distinct / concurrency) * check_s
    budget_text = None
    if budget is not None:
        writes = "write" if budget.rate == 1 else "writes"
        budget_text = ("Azure's write budget (1,000 writes per 5 minutes)"
                       if _is_azure_default(budget)
                       else f"a write budget of {budget.rate:,.3g} {writes} a second")
    return Estimate(total, distinct, max(write_s, concurrency_s), write_s, concurrency_s,
                    budget_text, concurrency, check_s)


def eta_seconds(estimate_s: float | None, done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left: the estimate's view blended with the observed rate, weighted by the share
    done. None when there is nothing to go on yet (no estimate, nothing finished).

    The estimate's view is what is left of it, but never less than the share of checks left
    times the time so far: a batch that overran its estimate still has its work left, not zero
    (and both terms grow or shrink smoothly, so the ETA does not jump when it overruns)."""
    left = max(0, total - done)
    if left == 0:
        return 0.0
    prior = None
    if estimate_s is not None and estimate_s > 0 and total > 0:
        prior = max(estimate_s - elapsed_s, left * elapsed_s / total)
    if done <= 0 or elapsed_s <= 0:
        return prior
    observed = left * elapsed_s / done
    if prior is None:
        return observed
    weight = done / total
    return weight * observed + (1 - weight) * prior


__all__ = ["Estimate", "estimate_batch", "eta_seconds", "human_duration"]
