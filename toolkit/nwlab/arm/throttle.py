"""A client-side write budget: a token bucket shared by every write of a client or a batch.

The ARM layer owns it: every ArmClient starts with an AdaptiveBudget (the default), and
ArmClient.write_budget_scope() installs another for a batch's life (see BudgetScope); nothing
outside nwlab.arm sets the client's budget attribute."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, ClassVar, Protocol, Self

from nwlab.arm.errors import NwlabError, OperationTimeout, ThrottledError
from nwlab.arm.headers import MAX_RETRY_AFTER_S

# Microsoft.Network documents 1,000 writes (PUT/DELETE/POST) per 5 minutes per subscription and
# region (reference §6.3); a connectivityCheck POST is a write.
AZURE_NETWORK_WRITES = 1000
AZURE_NETWORK_WINDOW_S = 300.0
_BUDGET_FIX = ("Pass a larger timeout=, run fewer checks at once (concurrency=), or try again "
               "later; check_many(write_rate=...) sets a fixed budget instead of the adaptive one.")


class _Waiter(Protocol):
    def wait(self, seconds: float, cancel: Any = None) -> None: ...


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up; acquire() waits for one.

    acquire(waiter, cancel, within) waits through `waiter` (ArmClient.wait: cancel-aware; a
    waiter with sleeps=False never waits) and raises before any wait that would end more than
    `within` seconds from now: nothing is sent after its caller's deadline."""

    def __init__(self, rate: float, capacity: float | None = None, *,
                 clock: Any = time.monotonic) -> None:
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            raise ValueError(f"write_rate: expected a positive number of writes per second, got "
                             f"{rate!r}; e.g. write_rate=3.3 (Azure Network allows 1,000 per 5 min)")
        self.rate = float(rate)
        # A user-given rate binds from the first second; Azure's own window allows a burst.
        self.capacity = float(capacity) if capacity is not None else max(1.0, self.rate)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock = threading.Lock()
        self.acquired = 0

    @classmethod
    def azure_default(cls) -> Self:
        return cls(AZURE_NETWORK_WRITES / AZURE_NETWORK_WINDOW_S, capacity=AZURE_NETWORK_WRITES)

    def _refill(self) -> None:
        now = self._clock()
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

    def _adapted(self) -> bool:
        """True when the rate is the service's doing (a 429 lowered it), not the model's."""
        return False

    def _too_late(self, wait: float, by_service: bool) -> NwlabError:
        """The error for a write that cannot go before its caller's deadline."""
        if by_service:
            return ThrottledError(
                f"ARM throttled this client's writes (HTTP 429, or its remaining-writes count "
                f"is spent): the next write may go in {wait:.1f} s, past this request's "
                "deadline; nothing was sent.", status=429, code="TooManyRequests",
                retry_after=wait, fix=_BUDGET_FIX)
        return OperationTimeout(
            f"The client's write budget ({self.rate * 60:,.0f} writes a minute) has no write "
            f"for this request before its deadline (the next in {wait:.1f} s); nothing was "
            "sent.", fix=_BUDGET_FIX)

    def acquire(self, waiter: _Waiter, cancel: Any = None,
                within: float | None = None) -> WriteTicket | None:
        limit = None if within is None else self._clock() + within
        while True:
            delay = self.try_acquire()
            if delay <= 0:
                return None
            if not getattr(waiter, "sleeps", True):
                return None  # replay never sleeps, so it never waits for budget either
            if limit is not None and self._clock() + delay > limit:
                raise self._too_late(delay, self._adapted())
            waiter.wait(delay, cancel)


class FairTokenBucket(TokenBucket):
    """A token bucket that hands out tokens in arrival order, each waiter sleeping just once.

    TokenBucket.acquire makes every waiter wake when the next token is due and race for it (a
    thundering herd of all waiting threads per token); here a waiter reserves the next token
    (the balance may go negative) and sleeps until it is due. A waiter that gives up (cancelled,
    or its deadline comes first) gives its token back.
    """

    def acquire(self, waiter: Any, cancel: Any = None,
                within: float | None = None) -> WriteTicket | None:
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            self.acquired += 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay <= 0 or not getattr(waiter, "sleeps", True):
            return None
        if within is not None and delay > within:
            self._give_back()
            raise self._too_late(delay, self._adapted())
        try:
            waiter.wait(delay, cancel)
        except BaseException:
            self._give_back()
            raise
        return None

    def _give_back(self) -> None:
        with self._lock:
            self._tokens += 1.0
            self.acquired -= 1


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

# How often a waiter held back by the service's count looks again: the count changes with every
# answer, so a waiter must not sleep through a change (4 looks a second costs little per thread).
REPLAN_S = 0.25
# The longest a write waits for the probe's answer before looking again when it has no deadline:
# the probe's own request ends by its read timeout, which releases it (WriteTicket.released).
PROBE_WAIT_S = 5.0
# ARM's documented header on every write's answer: the writes left in the caller's bucket
# (request-limits-and-throttling, "Remaining requests").
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-writes"
SERVICE_MARGIN = 0.95
# The refill is the slope of (writes accepted + remaining count) over the answers of the last
# REFILL_WINDOW_S (at most REFILL_SAMPLES), once they span REFILL_SPAN_S: the count is whole
# and answers overtake each other, so over a shorter span a write more or less skews it.
REFILL_SPAN_S = 0.5
REFILL_WINDOW_S = 3.0
REFILL_SAMPLES = 64
_EPSILON = 1e-9


class WriteTicket:
    """One write the adaptive budget let through, settled exactly once by what became of it:
    answered (the service counted it), throttled (429), or released (never sent, no answer, or
    refused before ARM counts writes, such as a 401). A ticket the request loop leaves unsettled
    is released, so no write stays "in flight" in the budget's books."""

    __slots__ = ("before", "budget", "probe", "sent_at", "seq", "settled")

    def __init__(self, budget: AdaptiveBudget, sent_at: float, probe: bool, seq: int,
                 before: int) -> None:
        self.budget = budget
        self.sent_at = sent_at
        self.probe = probe
        self.seq = seq  # the order the budget let writes go: answers may come back in another
        # Writes out when this one went: the service may count them after this one.
        self.before = before
        self.settled = False

    def _settle(self) -> bool:
        first = not self.settled
        self.settled = True
        return first

    def answered(self, remaining: int | None) -> None:
        if self._settle():
            self.budget._answered(self, remaining)

    def throttled(self, retry_after: float | None) -> bool:
        """True when this 429 starts a back-off (the first of its storm)."""
        return self._settle() and self.budget._throttled(self, retry_after)

    def released(self) -> None:
        if self._settle():
            self.budget._released(self)


class AdaptiveBudget(FairTokenBucket):
    """The client's default write budget: the model (FairTokenBucket at Microsoft.Network's
    documented 1,000 writes per 5 minutes) adapted to what the service says, for when the real
    budget is smaller (another tool spends the same writes, or a limit the model does not know:
    since 2024 ARM itself is a token bucket per region and principal, 200 writes refilled at 10 a
    second, https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).

    - Probe first: until a write is answered, one write (the probe) is out and the others wait
      for its answer; an unanswered, cancelled or failed probe frees the next write to probe.
    - The remaining-writes header (x-ms-ratelimit-remaining-subscription-writes) caps what is
      sent: `remaining` minus the writes still in flight, refilled between answers at the rate
      the answers show (writes accepted + change of `remaining`, over half a second or more).
    - One back-off per 429 storm (ARM's guidance: wait Retry-After before the next request): a
      429 for a write sent before the current back-off began belongs to the same storm and is
      only counted; the first of a new storm pauses every write for its Retry-After, then one
      write probes again. From the second storm on, the refill the client assumes is set from
      the refill observed since the previous back-off (the service's, measured from its count
      when it sends one; else the writes it accepted), never raised by a 429 and never a guess.
      The refused writes queue for tokens one by one, so their retries are spread.
    - Every wait honours the caller's time (`within`) and cancel: a write that cannot go in
      time raises ThrottledError (the service's 429s or count hold it back) or OperationTimeout
      (the client's own model does), before anything is sent.
    """

    def __init__(self, rate: float, capacity: float | None = None, *,
                 clock: Any = time.monotonic) -> None:
        super().__init__(rate, capacity, clock=clock)
        self.model_rate = self.rate
        self.model_capacity = self.capacity
        self.floor = self.rate / 64  # adapting stops here: a budget never reaches zero
        self.service_rate = self.rate  # refill of the service's budget, as the answers show it
        self._outstanding: set[int] = set()  # seqs of the writes in flight
        self._seq = 0
        self.informed = False       # an answer to a write has arrived
        self.header_seen = False    # the service reports its remaining writes
        self._probing = False       # after a back-off: one write until an answer arrives
        self._probe: WriteTicket | None = None
        self._probe_done = threading.Event()
        self._service_left = 0.0
        self._service_stamp = self._stamp
        # (time, writes accepted + remaining count): its slope is the service's refill.
        self._samples: deque[tuple[float, int]] = deque(maxlen=REFILL_SAMPLES)
        self._ceiling = 1  # the most the service reported left
        self._accepted = 0
        self._storm_started = -float("inf")
        self._storm_accepted = 0  # writes accepted when the current back-off began
        self._paused_until = -float("inf")
        self.throttles = 0  # 429s seen
        self.backoffs = 0   # storms backed off from (one per storm, however many 429s)

    def now(self) -> float:
        return float(self._clock())

    @property
    def inflight(self) -> int:
        return len(self._outstanding)

    def _grant(self, probe: bool) -> WriteTicket:
        """A ticket for the next write (the lock held)."""
        self._seq += 1
        ticket = WriteTicket(self, self._clock(), probe, self._seq, len(self._outstanding))
        self._outstanding.add(self._seq)
        if probe:
            self._probe = ticket
            self._probe_done = threading.Event()
        return ticket

    def _settled(self, ticket: WriteTicket) -> None:
        """Out of flight (the lock held); a probe's waiters wake."""
        self._outstanding.discard(ticket.seq)
        if ticket is self._probe:
            self._probe = None
            self._probe_done.set()

    def _adapted(self) -> bool:
        # A 429 without the service's count dropped the model's burst (and may have lowered
        # its rate): a wait for the model is then the service's doing.
        return self.rate < self.model_rate or self.capacity < self.model_capacity

    def _service_refill(self, now: float) -> None:
        # Up to the most the service ever reported left, and at least one write: a count of 0
        # must not stop every write for good.
        ceiling = self._ceiling
        if self._service_left < ceiling:
            self._service_left = min(float(ceiling), self._service_left
                                     + (now - self._service_stamp) * self.service_rate)
        self._service_stamp = now

    def _gate(self) -> WriteTicket | tuple[float, threading.Event | None]:
        """A ticket (the write counted in flight), or how long to wait and what ends it sooner."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now, None
            probe = not self.informed or self._probing
            if probe and self._probe is not None:
                return math.inf, self._probe_done  # the probe is out: its answer decides
            if self.header_seen:
                self._service_refill(now)
                if self._service_left < 1.0 - _EPSILON:  # (a float's last bit is no wait)
                    return (1.0 - self._service_left) / self.service_rate, None
                self._service_left -= 1.0
            return self._grant(probe)

    def acquire(self, waiter: Any, cancel: Any = None,
                within: float | None = None) -> WriteTicket:
        limit = None if within is None else self._clock() + within
        pause = self._paused_until - self._clock()
        if within is not None and pause > within and getattr(waiter, "sleeps", True):
            raise self._too_late(pause, True)  # before taking a model token it cannot use
        super().acquire(waiter, cancel, within)  # the model's token, in arrival order
        try:
            while True:
                gate = self._gate()
                if isinstance(gate, WriteTicket):
                    return gate
                delay, wake = gate
                if not getattr(waiter, "sleeps", True):
                    # Replay never sleeps, so it never waits for budget either.
                    with self._lock:
                        return self._grant(False)
                left = None if limit is None else limit - self._clock()
                if wake is not None:  # the probe is out: wait for its answer, in time
                    if left is not None and left <= 0:
                        raise OperationTimeout(
                            "The budget's first write (its probe) got no answer before this "
                            "request's deadline, so this one was not sent.", fix=_BUDGET_FIX)
                    waiter.wait(PROBE_WAIT_S if left is None else min(PROBE_WAIT_S, left),
                                cancel, wake=wake)
                    continue
                # A pause after a 429, or the service's count spent: the service holds it.
                if left is not None and delay > left:
                    raise self._too_late(delay, True)
                # A pause is waited out whole; the count changes with every answer, so a wait
                # for it looks again every REPLAN_S.
                paused = self._clock() < self._paused_until
                waiter.wait(delay if paused else min(delay, REPLAN_S), cancel)
        except BaseException:
            self._give_back()  # nothing was sent: the model's token was not spent
            raise

    def _answered(self, ticket: WriteTicket, remaining: int | None) -> None:
        with self._lock:
            now = self._clock()
            self._settled(ticket)
            self.informed = True
            if ticket.sent_at >= self._storm_started:
                self._probing = False  # a write sent since the back-off got through
            self._accepted += 1
            if remaining is None:
                return
            self.header_seen = True
            self._ceiling = max(self._ceiling, remaining)
            samples = self._samples
            samples.append((now, self._accepted + remaining))
            while samples and now - samples[0][0] > REFILL_WINDOW_S:
                samples.popleft()
            refill = _slope(samples)
            if refill is not None:
                # A little under the measured refill: at exactly the service's rate, a write
                # lands as often just before its token as just after it (a 429 each time).
                self.service_rate = max(self.floor, SERVICE_MARGIN * refill)
            # What the service has left now. Answers overtake each other, so the count may be
            # stale; the writes it may not reflect are those out when this one went and those
            # let go since: the count less those is a floor the service has for sure, and
            # raises the client's belief. The count less the writes still out caps it (the
            # refill may have run ahead). One write is held in reserve: the count is whole
            # while the service's tokens are not, and a write sent on the last fraction costs
            # a whole Retry-After.
            self._service_refill(now)
            floor = remaining - ticket.before - (self._seq - ticket.seq) - 1
            cap = remaining - self.inflight - 1
            self._service_left = float(max(floor, min(self._service_left, cap)))
            self._service_stamp = now

    def _released(self, ticket: WriteTicket) -> None:
        with self._lock:
            self._settled(ticket)

    def _throttled(self, ticket: WriteTicket, retry_after: float | None) -> bool:
        with self._lock:
            now = self._clock()
            self._settled(ticket)
            self.informed = True
            self.throttles += 1
            if ticket.sent_at < self._storm_started:
                return False  # part of the storm already backed off from
            self.backoffs += 1
            observed = None
            if self.backoffs > 1 and now > self._storm_started:
                # What the service let through since the last back-off: the rate it sustains.
                observed = (self._accepted - self._storm_accepted) / (now - self._storm_started)
            self._storm_started = now
            self._storm_accepted = self._accepted
            pause = retry_after if retry_after is not None and retry_after > 0 else 1.0
            self._paused_until = now + min(pause, MAX_RETRY_AFTER_S)
            self._probing = True  # after the pause, one write first: its answer says what is left
            if self.header_seen:
                # The service's own count gates the writes: adapt that, leave the model be.
                if observed:
                    self.service_rate = max(self.floor, min(self.service_rate,
                                                            SERVICE_MARGIN * observed))
            else:
                # No count from the service: the model alone gates, so it adapts.
                self._refill()
                self._tokens = min(self._tokens, 0.0)  # the saved-up burst was not the service's
                self.capacity = max(1.0, min(self.capacity, self.rate))
                if observed:
                    self.rate = max(self.floor, min(self.rate, SERVICE_MARGIN * observed))
            self._service_left = min(self._service_left, 0.0)
            self._service_stamp = now
            self._samples.clear()  # the refill is measured afresh: 429s were not counted
            return True


def _slope(samples: deque[tuple[float, int]]) -> float | None:
    """Least-squares slope of the samples (per second); None before they span REFILL_SPAN_S."""
    if len(samples) < 4 or samples[-1][0] - samples[0][0] < REFILL_SPAN_S:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_q = sum(q for _, q in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (q - mean_q) for t, q in samples) / spread
