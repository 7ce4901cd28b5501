"""A client-side write budget: a token bucket shared by every check of a client or a batch."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

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
