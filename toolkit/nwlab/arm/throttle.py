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


# How often a waiter held back by the service's budget looks again: the budget changes with every
# answer, so a waiter must not sleep through a change (4 looks a second costs little per thread).
REPLAN_S = 0.25
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-writes"
SERVICE_MARGIN = 0.92


class AdaptiveBudget(FairTokenBucket):
    """The client's write budget (FairTokenBucket: Azure Network's documented 1,000 per 5 min)
    adapted to what the service says, for when the real budget is smaller (another tool spends
    the same subscription's writes, or a limit the model does not know).

    - Probe first: until the first write is answered, one write is in flight, so a batch never
      opens with a burst the service may refuse.
    - The remaining-writes header (x-ms-ratelimit-remaining-subscription-writes) caps what is
      sent: `remaining` minus the writes still in flight, refilled between answers at the rate
      the answers show (refill = writes accepted + change of `remaining`, over at least 1 s).
    - One back-off per 429 storm: a 429 for a write sent before the current back-off began
      belongs to the same storm and is only counted; the first of a new storm pauses every
      write for its Retry-After and, from the second storm on, halves the refill the client
      assumes (the service's, when it reports its count; else the model's, whose saved-up
      burst is then dropped too). The refused writes then queue for tokens one by one, so their retries
      are spread at the adapted rate instead of all firing when the back-off ends.
    """

    def __init__(self, rate: float, capacity: float | None = None, *,
                 clock: Any = time.monotonic) -> None:
        super().__init__(rate, capacity)
        self._clock = clock
        self._stamp = clock()
        self.floor = self.rate / 64  # halving stops here: a budget never reaches zero
        self.service_rate = self.rate  # refill of the service's budget, as the answers show it
        self.inflight = 0
        self.informed = False       # an answer to a write has arrived
        self.header_seen = False    # the service reports its remaining writes
        self._probing = False       # after a back-off: one write until an answer arrives
        self._service_left = 0.0
        self._service_stamp = self._stamp
        self._samples: list[tuple[float, int, int]] = []  # (time, remaining, accepted so far)
        self._accepted = 0
        self._storm_started = -float("inf")
        self._paused_until = -float("inf")
        self.throttles = 0  # 429s seen
        self.backoffs = 0   # storms backed off from (one per storm, however many 429s)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def now(self) -> float:
        return float(self._clock())

    def _service_refill(self, now: float) -> None:
        # Up to the most the service ever reported left, and at least one write: a count of 0
        # must not stop every write for good.
        ceiling = max(1, max((s[1] for s in self._samples), default=0))
        if self._service_left < ceiling:
            self._service_left = min(float(ceiling), self._service_left
                                     + (now - self._service_stamp) * self.service_rate)
        self._service_stamp = now

    def _gate(self) -> float:
        """0 and one write counted in flight, or how long to wait before looking again."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            if (not self.informed or self._probing) and self.inflight > 0:
                return REPLAN_S  # the probe is out (first write, or after a back-off): its answer
            if self.header_seen:
                self._service_refill(now)
                if self._service_left < 1.0:
                    return (1.0 - self._service_left) / self.service_rate
                self._service_left -= 1.0
            self.inflight += 1
            return 0.0

    def acquire(self, waiter: Any, cancel: Any = None) -> None:
        super().acquire(waiter, cancel)  # the model's token, in arrival order
        while True:
            delay = self._gate()
            if delay <= 0:
                return
            waiter.wait(min(delay, REPLAN_S), cancel)
            if not getattr(waiter, "sleeps", True):
                with self._lock:
                    self.inflight += 1
                return

    def answered(self, remaining: int | None) -> None:
        """A write was answered (not with 429); `remaining` is the header's value, if sent."""
        with self._lock:
            now = self._clock()
            self.inflight = max(0, self.inflight - 1)
            self.informed = True
            self._probing = False
            self._accepted += 1
            if remaining is None:
                return
            self.header_seen = True
            self._samples.append((now, remaining, self._accepted))
            # The refill the answers show, over at least a second of the last five.
            self._samples = [s for s in self._samples if now - s[0] <= 5.0]
            old = next((s for s in self._samples if now - s[0] >= 1.0), None)
            if old is not None:
                refill = (self._accepted - old[2] + remaining - old[1]) / (now - old[0])
                # A little under the measured refill: at exactly the service's rate, a write
                # lands as often just before its token as just after it (a 429 each time).
                self.service_rate = max(self.floor, SERVICE_MARGIN * refill)
            # One write held in reserve: the count is whole while the service's tokens are
            # not, and a write sent on the last fraction costs a whole Retry-After.
            self._service_left = float(remaining - self.inflight - 1)
            self._service_stamp = now

    def unanswered(self) -> None:
        """A write got no answer (a connection failure): no longer in flight, nothing learnt."""
        with self._lock:
            self.inflight = max(0, self.inflight - 1)

    def throttled(self, retry_after: float | None, sent_at: float) -> bool:
        """A write sent at `sent_at` (this budget's clock) got 429; True when it starts a back-off."""
        with self._lock:
            now = self._clock()
            self.inflight = max(0, self.inflight - 1)
            self.informed = True
            self.throttles += 1
            if sent_at < self._storm_started:
                return False  # part of the storm already backed off from
            self.backoffs += 1
            self._storm_started = now
            self._paused_until = now + (retry_after if retry_after and retry_after > 0 else 1.0)
            self._probing = True  # after the pause, one write first: its answer says what is left
            if self.header_seen:
                # The service's own count gates the writes: adapt that, leave the model be.
                if self.backoffs > 1:  # refused again after adapting: the refill is slower
                    self.service_rate = max(self.floor, self.service_rate / 2)
            else:
                # No count from the service: the model alone gates, so it adapts.
                self._refill()
                self._tokens = min(self._tokens, 0.0)  # the saved-up burst was not the service's
                self.capacity = max(1.0, min(self.capacity, self.rate))
                if self.backoffs > 1:
                    self.rate = max(self.floor, self.rate / 2)
            self._service_left = min(self._service_left, 0.0)
            self._service_stamp = now
            return True
