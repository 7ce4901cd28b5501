"""A client-side write budget: a token bucket shared by every check of a client or a batch.

The ARM layer owns it: ArmClient.write_budget_scope() installs a budget for a batch's life (see
BudgetScope); nothing outside nwlab.arm sets the client's budget attribute."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar, Protocol

# Microsoft.Network documents 1,000 writes (PUT/DELETE/POST) per 5 minutes per subscription and
# region (reference §6.3); a connectivityCheck POST is a write.
AZURE_NETWORK_WRITES = 1000
AZURE_NETWORK_WINDOW_S = 300.0


class _Waiter(Protocol):
    def wait(self, seconds: float, cancel: Any = None) -> None: ...


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; acquire() waits for one."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            raise ValueError(f"write_rate: expected a positive number of writes per second, got "
                             f"{rate!r}; e.g. write_rate=3.3 (Azure Network allows 1,000 per 5 min)")
        self.rate = float(rate)
        # A user-given rate binds from the first second; Azure's own window allows a burst.
        self.capacity = float(capacity) if capacity is not None else max(1.0, self.rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.acquired = 0

    @classmethod
    def azure_default(cls) -> TokenBucket:
        return cls(AZURE_NETWORK_WRITES / AZURE_NETWORK_WINDOW_S, capacity=AZURE_NETWORK_WRITES)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> float:
        """Take a token and return 0, or return how long to wait for the next one."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.acquired += 1
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, waiter: _Waiter, cancel: Any = None) -> None:
        while True:
            delay = self.try_acquire()
            if delay <= 0:
                return
            waiter.wait(delay, cancel)
            if not getattr(waiter, "sleeps", True):
                return  # replay never sleeps, so it never waits for budget either


class FairTokenBucket(TokenBucket):
    """A token bucket that hands out tokens in arrival order, each waiter sleeping just once.

    TokenBucket.acquire makes every waiter wake when the next token is due and race for it (a
    thundering herd of all waiting threads per token); here a waiter reserves the next token
    (the balance may go negative) and sleeps until it is due. A cancelled waiter gives its
    token back.
    """

    def acquire(self, waiter: Any, cancel: Any = None) -> None:
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            self.acquired += 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay <= 0:
            return
        try:
            waiter.wait(delay, cancel)
        except BaseException:
            with self._lock:
                self._tokens += 1.0
                self.acquired -= 1
            raise


class BudgetScope:
    """Put a write budget on an ARM client for a `with` block, restoring the previous one after.

    Batches running at the same time on one client share the first one's budget (they spend
    the same subscription's writes); the last to finish restores what was there before.
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _active: ClassVar[dict[int, tuple[int, Any]]] = {}

    def __init__(self, arm: Any, budget: TokenBucket | None) -> None:
        self.arm = arm
        self.budget = budget

    def __enter__(self) -> TokenBucket | None:
        with self._lock:
            count, previous = self._active.get(id(self.arm), (0, None))
            if count == 0:
                previous = self.arm.write_budget
                self.arm.write_budget = self.budget
            self._active[id(self.arm)] = (count + 1, previous)
            installed: TokenBucket | None = self.arm.write_budget
            return installed

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            count, previous = self._active[id(self.arm)]
            if count == 1:
                self.arm.write_budget = previous
                del self._active[id(self.arm)]
            else:
                self._active[id(self.arm)] = (count - 1, previous)
