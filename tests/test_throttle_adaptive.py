"""The adaptive write budget (arm.throttle.AdaptiveBudget) on a fake clock: probe first, the
remaining-writes header caps what is sent, one back-off per 429 storm, retries spread."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from nwlab.arm.errors import CheckCancelled, OperationTimeout, ThrottledError
from nwlab.arm.throttle import SERVICE_MARGIN, AdaptiveBudget, FairTokenBucket, WriteTicket


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Waiter:
    """Sleeps by moving the fake clock; records every wait."""

    sleeps = True

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, seconds: float, cancel: Any = None, wake: Any = None) -> None:
        self.waits.append(seconds)
        self.clock.t += seconds


def budget(clock: Clock, rate: float = 1000 / 300, capacity: float | None = 1000) -> AdaptiveBudget:
    return AdaptiveBudget(rate, capacity, clock=clock)


def take(b: AdaptiveBudget, waiter: Waiter, within: float | None = None) -> WriteTicket:
    ticket = b.acquire(waiter, within=within)
    assert isinstance(ticket, WriteTicket)
    return ticket


def test_the_first_write_goes_alone_until_answered() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    probe = take(b, waiter)
    assert waiter.waits == [] and b.inflight == 1 and probe.probe
    delay, wake = b._gate()  # type: ignore[misc]
    assert delay == math.inf and wake is not None and not wake.is_set()  # waits for the answer
    probe.answered(None)  # no header: the model (1,000 burst) alone gates from now on
    assert wake.is_set()  # the waiters wake at once, not at their next look
    for _ in range(50):
        take(b, waiter)
    assert waiter.waits == [] and b.inflight == 50


def test_the_remaining_header_caps_what_is_in_flight() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(5)  # the service has 5 writes left; one is kept in reserve
    for _ in range(4):
        take(b, waiter)
    assert waiter.waits == []
    gate = b._gate()
    assert isinstance(gate, tuple) and gate[0] > 0  # the fifth waits; the model has 995 left


def test_a_429_storm_backs_off_once_and_retries_are_spread() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(None)
    herd = [take(b, waiter) for _ in range(40)]  # a herd: 40 writes out at once
    sent = clock.t
    clock.t += 0.01
    started = [t.throttled(1.0) for t in herd[:30]]  # 30 of them answered 429
    assert started.count(True) == 1 and b.backoffs == 1 and b.throttles == 30
    for ticket in herd[30:]:
        ticket.answered(None)  # the other 10 were accepted
    # The 30 retries: none goes during the pause, then one per token (the burst was dropped).
    waiter.waits.clear()
    grants = []
    for _ in range(30):
        ticket = take(b, waiter)
        grants.append(clock.t)
        ticket.answered(None)  # after a back-off one write goes first; its answer frees the rest
    assert grants[0] >= sent + 1.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(grants)]
    # What the model saved up during the pause (at most its shrunk capacity) may go together;
    # the rest are spread at the rate, never all at once.
    together = math.ceil(b.capacity)
    assert sum(gap < 1e-9 for gap in gaps) <= together
    assert min(gaps[together:]) >= 1 / b.rate - 1e-9
    # A 429 for a write sent after the back-off began is a new storm, backed off from again.
    assert take(b, waiter).throttled(1.0) is True
    assert b.backoffs == 2


def test_after_a_second_storm_the_rate_is_the_refill_observed_since_the_first() -> None:
    """No count from the service: the writes it accepted between two back-offs are its refill."""
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(None)
    assert take(b, waiter).throttled(1.0)
    storm = clock.t
    for _ in range(12):  # the service accepts one write a second
        ticket = take(b, waiter)
        clock.t = max(clock.t, storm + 1.0) + 1.0
        ticket.answered(None)
    assert take(b, waiter).throttled(1.0)
    observed = 12 / (clock.t - storm)
    assert b.rate == pytest.approx(SERVICE_MARGIN * observed) and b.rate < 1.0


def test_a_lone_write_refused_again_keeps_the_rate_retry_after_governs() -> None:
    """No write got through since the last back-off: there is no refill to measure, so the rate
    is not guessed down; the service's Retry-After alone spaces the retries."""
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    for _ in range(5):
        assert take(b, waiter).throttled(0.2) is True
    assert b.backoffs == 5 and b.rate == pytest.approx(1000 / 300)


def test_the_service_refill_is_measured_from_the_answers() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(0)
    # 20 writes a second accepted, the count staying at 0: the service refills 20 per second.
    for _ in range(40):
        clock.t += 0.05
        with b._lock:
            ticket = b._grant(False)  # a write out (the service answers faster than the gate asks)
        ticket.answered(0)
    assert b.service_rate == pytest.approx(SERVICE_MARGIN * 20, rel=0.1)
    take(b, waiter)  # a count of 0 never stops the writes for good: it refills
    assert sum(waiter.waits) == pytest.approx(2 / b.service_rate, rel=0.01)
    assert b.backoffs == 0 and b.throttles == 0


# -- a probe never waits forever -----------------------------------------------------------------


@pytest.mark.parametrize("end", ["released", "throttled", "answered"])
def test_whatever_ends_the_probe_frees_the_next_write(end: str) -> None:
    """The probe's answer never came (its request timed out), it was cancelled or unsendable
    (released), refused (429) or answered: the next write is let through (after a 429, after
    the pause), as the next probe when nothing was learnt."""
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    probe = take(b, waiter)
    gate = b._gate()
    assert isinstance(gate, tuple)
    wake = gate[1]
    assert wake is not None
    getattr(probe, end)(*([] if end == "released" else [None]))
    assert wake.is_set() and b.inflight == 0
    nxt = take(b, waiter)
    assert nxt.probe == (end != "answered")


def test_a_probe_after_a_back_off_does_not_wait_for_the_storm_still_in_flight() -> None:
    """Writes sent before a back-off may be out for a long time (a stalled request); the probe
    after the pause is one write of its own, not "when nothing is in flight"."""
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(None)
    stalled = [take(b, waiter) for _ in range(5)]
    assert take(b, waiter).throttled(1.0)
    probe = take(b, waiter)  # waits out the pause only
    assert probe.probe and sum(waiter.waits) == pytest.approx(1.0)
    assert b.inflight == 6 and not any(t.settled for t in stalled)


def test_a_write_waiting_for_an_unanswered_probe_ends_at_its_deadline() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter)  # the probe's answer never comes
    with pytest.raises(OperationTimeout, match="probe"):
        take(b, waiter, within=3.0)
    assert sum(waiter.waits) == pytest.approx(3.0)
    assert b._tokens == pytest.approx(999, abs=0.1)  # the waiter's model token was given back


# -- every budget wait honours the deadline and cancel -----------------------------------------


def test_a_pause_past_the_deadline_raises_throttled_at_once() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(None)
    assert take(b, waiter).throttled(30.0)
    with pytest.raises(ThrottledError) as caught:
        take(b, waiter, within=3.0)
    assert waiter.waits == [] and caught.value.retry_after == pytest.approx(30.0)
    assert "nothing was sent" in str(caught.value)
    take(b, waiter, within=31.0)  # a deadline after the pause waits it out
    assert sum(waiter.waits) == pytest.approx(30.0)


@pytest.mark.parametrize("make", ["fair", "adaptive"])
def test_a_model_token_past_the_deadline_raises_before_any_wait(make: str) -> None:
    clock = Clock()
    b: FairTokenBucket = FairTokenBucket(2.0, capacity=1, clock=clock) if make == "fair" \
        else AdaptiveBudget(2.0, capacity=1, clock=clock)
    waiter = Waiter(clock)
    first = b.acquire(waiter)
    if first is not None:
        first.answered(None)
    for _ in range(3):  # the next tokens are due at 0.5, 1.0, 1.5 s
        with pytest.raises(OperationTimeout):
            b.acquire(waiter, within=0.4)
    assert waiter.waits == [] and b.acquired == 1  # tokens given back
    b.acquire(waiter, within=0.6)
    assert waiter.waits == [pytest.approx(0.5)]


def test_a_model_wait_a_429_caused_is_named_throttled() -> None:
    """A 429 without the service's count drops the model's saved-up burst: the wait for the
    model's next token is then the service's doing, and says so."""
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(None)
    assert take(b, waiter).throttled(0.1)
    take(b, waiter).answered(None)  # after the pause: the model has 0 tokens saved up
    with pytest.raises(ThrottledError):
        take(b, waiter, within=0.05)


def test_a_service_count_spent_past_the_deadline_raises_throttled() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    take(b, waiter).answered(1)  # 1 left, kept in reserve; refill unknown: the model's rate
    with pytest.raises(ThrottledError):
        take(b, waiter, within=0.1)
    assert waiter.waits == [] and b.inflight == 0


def test_cancel_during_a_budget_wait_gives_the_token_back() -> None:
    clock = Clock()
    b = budget(clock)

    class Cancelling(Waiter):
        def wait(self, seconds: float, cancel: Any = None, wake: Any = None) -> None:
            raise CheckCancelled("stopped")

    take(b, Waiter(clock))  # the probe is out
    with pytest.raises(CheckCancelled):
        b.acquire(Cancelling(clock))
    assert b.inflight == 1 and b.acquired == 1


def test_the_session_feeds_the_budget() -> None:
    """check_many with default settings against an emulator throttling at 20 writes/s: the
    batch spends the client's own adaptive budget, which read the header, counted one back-off
    per storm (not per 429) and holds no write in flight once the batch is done."""
    import nwlab

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05, write_rate=20)
    try:
        checks = [{"source": "MultiTierApp0", "destination": "10.1.2.4", "port": 2000 + i,
                   "resource_group": "ContosoRG"} for i in range(30)]
        used = nw.arm.write_budget
        batch = nw.check_many(checks, on_progress=False)
        assert batch.ok
        assert isinstance(used, AdaptiveBudget) and used.header_seen
        assert nw.arm.write_budget is used
        assert used.backoffs <= used.throttles
        assert used.inflight == 0
        assert batch.stats["backoffs"] == used.backoffs
        assert batch.stats["throttled_responses"] == nw.emulator.stats.get("throttled", 0)
    finally:
        nw.close()


def test_check_many_with_plain_dicts_imports_no_pandas_until_a_frame() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nwlab\n"
        "nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05)\n"
        "b = nw.check_many([{'source': 'MultiTierApp0', 'destination': '10.1.2.4', 'port': 80,"
        " 'resource_group': 'ContosoRG'}, {'source': 'WebVM0', 'destination': '10.1.2.4',"
        " 'port': float('nan'), 'protocol': 'Icmp', 'resource_group': 'ContosoRG'}],"
        " on_progress=False)\n"
        "assert b[1].inputs['port'] is None, b[1].inputs\n"
        "print('before', 'pandas' in sys.modules)\n"
        "b.frame()\n"
        "print('after', 'pandas' in sys.modules)\n"
        "nw.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "before False" in out.stdout and "after True" in out.stdout


def test_the_duration_is_estimated_up_front_from_the_write_budget() -> None:
    from nwlab.batch import estimate_batch, make_budget

    azure = make_budget(None)
    # 3,000 checks: 1,000 go in the first window, the other 2,000 at 1,000 per 5 minutes, and
    # the last one still takes a check's time after its POST.
    big = estimate_batch(3000, 3000, azure, check_s=30, concurrency=256)
    assert big.seconds == pytest.approx(630)
    assert big.text == ("3,000 checks: at least 10 minutes at Azure's write budget (1,000 "
                        "writes per 5 minutes)")
    # Within the burst the budget does not make the batch wait: concurrency sets the bound.
    assert estimate_batch(200, 200, azure, check_s=30, concurrency=200).text == (
        "200 checks: at least 30 s, 200 at a time, each at least 30 s")
    assert estimate_batch(10, 10, None, check_s=30, concurrency=10).seconds == 30



# -- the session settles every write it let through -----------------------------------------------


def test_a_post_re_sent_after_a_401_is_counted_once_per_attempt() -> None:
    """A 401 (token rotated) refuses the POST before ARM counts writes: the attempt spent a
    model token (the service saw it) but is released, not counted as accepted; the re-sent POST
    is answered; nothing stays in flight."""
    import nwlab
    from nwlab.emulator.chaos import CHECK, Chaos, ExpireToken

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05)
    try:
        nw.emulator.chaos = Chaos().on("POST", CHECK, ExpireToken(), nth=1)
        b = nw.arm.write_budget
        assert isinstance(b, AdaptiveBudget)
        assert nw.check("MultiTierApp0", "10.1.2.4", 80, resource_group="ContosoRG",
                        timeout=30).reachable
        assert nw.emulator.stats["POST"] == 2 and nw.emulator.stats["checks"] == 1
        assert b.acquired == 2 and b._accepted == 1 and b.inflight == 0 and b._probe is None
    finally:
        nw.close()


@pytest.mark.parametrize("failure", ["credential", "unsendable"])
def test_a_write_never_sent_is_released_and_frees_the_next(failure: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import nwlab
    from nwlab.arm.errors import CredentialError, MalformedResponse

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05)
    try:
        b = nw.arm.write_budget
        assert isinstance(b, AdaptiveBudget)
        path = f"/subscriptions/{nw.subscription_id}/resourceGroups/ContosoRG/providers/" \
               "Microsoft.Network/networkSecurityGroups/x/securityRules/y"
        if failure == "credential":
            def no_token() -> str:
                raise CredentialError("no token")
            monkeypatch.setattr(nw.arm.tokens, "get", no_token)
            expected: type[Exception] = CredentialError
        else:
            path = nw.arm.endpoint + path + "\n"  # a control character: refused unsent
            expected = MalformedResponse
        with pytest.raises(expected):
            nw.arm.request("PUT", path, json={})
        assert b.inflight == 0 and b._probe is None  # the probe it was is freed
    finally:
        nw.close()


# -- answers that overtake each other ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_answers_out_of_order_never_overspend_the_service_count(seed: int) -> None:
    """A service with 20 writes saved up, refilled at 20 a second, counts writes in an order of
    its own and answers them in yet another (some a step late). The client, going by the counts
    it gets, is never refused after its first answer, and still sends at least 85 % of what the
    service allows."""
    import random

    rng = random.Random(seed)
    clock = Clock()
    b = budget(clock)
    tokens, rate, burst = 20.0, 20.0, 20.0
    late: list[tuple[WriteTicket, int | None]] = []
    sent = throttled = 0
    seconds = 3.0
    for _ in range(int(seconds / 0.01)):
        clock.t += 0.01
        tokens = min(burst, tokens + rate * 0.01)
        out = []
        while isinstance(gate := b._gate(), WriteTicket):  # every write the client may send now
            out.append(gate)
        sent += len(out)
        rng.shuffle(out)  # the service counts them in its own order
        answers: list[tuple[WriteTicket, int | None]] = []
        for ticket in out:
            if tokens >= 1.0:
                tokens -= 1.0
                answers.append((ticket, int(tokens)))
            else:
                answers.append((ticket, None))
        answers += late
        rng.shuffle(answers)  # and its answers overtake each other
        cut = rng.randrange(len(answers) + 1)
        late = answers[cut:]
        for ticket, remaining in answers[:cut]:
            if remaining is None:
                throttled += 1
                ticket.throttled(1.0)
            else:
                ticket.answered(remaining)
    assert throttled == 0
    assert sent >= 0.85 * (burst + rate * seconds)
