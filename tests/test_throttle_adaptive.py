"""The adaptive write budget (arm.throttle.AdaptiveBudget) on a fake clock: probe first, the
remaining-writes header caps what is sent, one back-off per 429 storm, retries spread."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from nwlab.arm.throttle import REPLAN_S, AdaptiveBudget


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

    def wait(self, seconds: float, cancel: Any = None) -> None:
        self.waits.append(seconds)
        self.clock.t += seconds


def budget(clock: Clock, rate: float = 1000 / 300, capacity: float | None = 1000) -> AdaptiveBudget:
    return AdaptiveBudget(rate, capacity, clock=clock)


def test_the_first_write_goes_alone_until_answered() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    b.acquire(waiter)
    assert waiter.waits == [] and b.inflight == 1
    assert b._gate() == REPLAN_S  # a second write waits for the probe's answer
    b.answered(None)  # no header: the model (1,000 burst) alone gates from now on
    for _ in range(50):
        b.acquire(waiter)
    assert waiter.waits == [] and b.inflight == 50


def test_the_remaining_header_caps_what_is_in_flight() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    b.acquire(waiter)
    b.answered(5)  # the service has 5 writes left; one is kept in reserve
    for _ in range(4):
        b.acquire(waiter)
    assert waiter.waits == []
    assert b._gate() > 0  # the fifth must wait although the model's burst has 995 left


def test_a_429_storm_backs_off_once_and_retries_are_spread() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    b.acquire(waiter)
    b.answered(None)
    sent = []
    for _ in range(40):  # a herd: 40 writes out at once
        b.acquire(waiter)
        sent.append(b.now())
    clock.t += 0.01
    started = [b.throttled(1.0, at) for at in sent[:30]]  # 30 of them answered 429
    assert started.count(True) == 1 and b.backoffs == 1 and b.throttles == 30
    for _ in range(10):
        b.answered(None)  # the other 10 were accepted
    # The 30 retries: none goes during the pause, then one per token (the burst was dropped).
    waiter.waits.clear()
    grants = []
    for _ in range(30):
        b.acquire(waiter)
        grants.append(clock.t)
        b.answered(None)  # after a back-off one write goes first; each answer lets the next go
    assert grants[0] >= sent[-1] + 1.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(grants)]
    # What the model saved up during the pause (at most its shrunk capacity) may go together;
    # the rest are spread at the rate, never all at once.
    together = math.ceil(b.capacity)
    assert sum(gap < 1e-9 for gap in gaps) <= together
    assert min(gaps[together:]) >= 1 / b.rate - 1e-9
    # A 429 for a write sent after the back-off began is a new storm: the rate halves.
    rate = b.rate
    assert b.throttled(1.0, b.now()) is True
    assert b.backoffs == 2 and b.rate == pytest.approx(rate / 2)


def test_the_service_refill_is_measured_from_the_answers() -> None:
    clock = Clock()
    b = budget(clock)
    waiter = Waiter(clock)
    b.acquire(waiter)
    b.answered(0)
    # 20 writes a second accepted, the count staying at 0: the service refills 20 per second.
    for _ in range(40):
        clock.t += 0.05
        b.answered(0)
        b.inflight += 1  # the next write out (the service answers faster than the gate asks)
    assert b.service_rate == pytest.approx(0.92 * 20, rel=0.1)
    b.acquire(waiter)  # a count of 0 never stops the writes for good: it refills
    assert sum(waiter.waits) == pytest.approx(2 / b.service_rate, rel=0.01)
    assert b.backoffs == 0 and b.throttles == 0


def test_the_session_feeds_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_many against an emulator throttling at 20 writes/s, write_rate="adapt": the client
    reads the header (the budget saw it) and counts one back-off per storm, not per 429."""
    import nwlab

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05, write_rate=20)
    try:
        checks = [{"source": "MultiTierApp0", "destination": "10.1.2.4", "port": 2000 + i,
                   "resource_group": "ContosoRG"} for i in range(30)]
        seen: list[AdaptiveBudget] = []
        real = nw.arm.write_budget_scope

        def spy(bucket: Any) -> Any:
            seen.append(bucket)
            return real(bucket)

        monkeypatch.setattr(nw.arm, "write_budget_scope", spy)
        batch = nw.check_many(checks, write_rate="adapt", on_progress=False)
        assert batch.ok
        used = seen[0]
        assert isinstance(used, AdaptiveBudget) and used.header_seen
        assert used.backoffs <= used.throttles
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
