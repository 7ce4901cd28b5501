"""How long a batch takes: the up-front estimate (words, a lower bound, said before the first
check), the running ETA (blended, honest at the start), and the displays that show them (log
lines, tqdm, widget) driven by a fake clock."""

from __future__ import annotations

import io
import logging
import math
from typing import Any

import pytest

import nwlab
from nwlab.batch import (
    BatchEntry,
    BatchProgress,
    estimate_batch,
    estimate_checks,
    eta_seconds,
    human_duration,
    make_budget,
    mesh,
)
from nwlab.progress import LogProgress, TqdmProgress, WidgetProgress, log_interval

RG = "ContosoRG"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress(done: int, total: int, counts: dict[str, int] | None = None) -> BatchProgress:
    return BatchProgress(done, total, BatchEntry(0, {}), counts or {"reachable": done}, 0.0)


# -- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds, at_least, text", [
    (0, False, "0 s"), (14.4, False, "14 s"), (119.6, True, "119 s"), (119.6, False, "2 minutes"),
    (899, True, "14 minutes"), (900, True, "15 minutes"), (7199, True, "119 minutes"),
    (7500, True, "2 hours 5 minutes"), (7260, True, "2 hours 1 minute"), (36000, True, "10 hours"),
    (4.5e6, True, "1,250 hours"), (-3, False, "0 s"),
])
def test_human_duration(seconds: float, at_least: bool, text: str) -> None:
    assert human_duration(seconds, at_least=at_least) == text


@pytest.mark.parametrize("total, distinct, rate, check_s, concurrency, text", [
    # The budget binds: Azure's 1,000 at once, then 1,000 per 5 minutes.
    (3000, 3000, None, 30, 256, "3,000 checks: at least 10 minutes at Azure's write budget "
                                "(1,000 writes per 5 minutes)"),
    (12000, 12000, None, 30, 256, "12,000 checks: at least 55 minutes at Azure's write budget "
                                  "(1,000 writes per 5 minutes)"),
    # A user's rate has no burst beyond one second's worth.
    (400, 400, 2.0, 0, 256, "400 checks: at least 3 minutes at a write budget of 2 writes a "
                            "second"),
    # Concurrency binds.
    (3000, 2900, 2.0, 30, 4, "3,000 checks (2,900 distinct): at least 6 hours 2 minutes, 4 at "
                             "a time, each at least 30 s"),
    (10, 10, None, 30, 10, "10 checks: at least 30 s, 10 at a time, each at least 30 s"),
    (1, 1, math.inf, 2, 1, "1 check: at least 2 s, 1 at a time, each at least 2 s"),
    # The twin's quick checks: a bound under a second is no wait, not "at least 0 s".
    (9, 9, math.inf, 0.05, 9, "9 checks: no wait to expect, 9 at a time"),
    # Nothing to wait for.
    (2, 2, None, 0, 2, "2 checks: within the burst of Azure's write budget (1,000 writes per 5 "
                       "minutes), no wait for it"),
    (5, 5, math.inf, 0, 5, "5 checks: no client-side write budget, no wait for it"),
    (0, 0, None, 30, 1, "0 checks: nothing to run"),
])
def test_the_estimate_in_words(total: int, distinct: int, rate: float | None, check_s: float,
                               concurrency: int, text: str) -> None:
    estimate = estimate_batch(total, distinct, make_budget(rate), check_s=check_s,
                              concurrency=concurrency)
    assert estimate.text == text == str(estimate)


@pytest.mark.parametrize("distinct, rate, check_s, concurrency", [
    (1, None, 30, 1), (999, None, 30, 256), (1001, None, 30, 256), (5000, None, 90, 64),
    (400, 20.0, 1, 256), (400, 20.0, 5, 8), (7, 0.5, 0, 7), (50, math.inf, 10, 3),
])
def test_the_estimate_is_the_larger_of_the_two_lower_bounds(distinct: int, rate: float | None,
                                                            check_s: float,
                                                            concurrency: int) -> None:
    budget = make_budget(rate)
    estimate = estimate_batch(distinct, distinct, budget, check_s=check_s,
                              concurrency=concurrency)
    # Concurrency: `concurrency` at a time, each at least check_s.
    waves = math.ceil(distinct / concurrency) * check_s
    # The budget: the last write goes no sooner than the writes past the burst at its rate.
    writes = (max(0.0, distinct - budget.capacity) / budget.rate if budget is not None else 0.0)
    assert estimate.seconds == pytest.approx(max(waves, writes + check_s))
    assert "at least" in estimate.text or "no wait" in estimate.text


# -- the ETA -------------------------------------------------------------------------------


def budget_bound_finish_times(n: int, capacity: int, rate: float, check_s: float) -> list[float]:
    """When each check of a budget-bound batch ends: the burst goes at once, the rest at `rate`."""
    return sorted(check_s + max(0, i + 1 - capacity) / rate for i in range(n))


@pytest.mark.parametrize("real_check_s", [30.0, 90.0])  # as estimated, and three times slower
def test_the_eta_is_closer_to_the_truth_than_elapsed_over_done(real_check_s: float) -> None:
    n, capacity, rate = 3000, 1000, 1000 / 300
    estimate = estimate_batch(n, n, make_budget(None), check_s=30, concurrency=n).seconds
    finish = budget_bound_finish_times(n, capacity, rate, real_check_s)
    end = finish[-1]
    blended_errors, naive_errors = [], []
    for t in [real_check_s + 1, real_check_s + 60, 200, 400, 600, end - 10]:
        done = sum(1 for f in finish if f <= t)
        truth = end - t
        eta = eta_seconds(estimate, done, n, t)
        assert eta is not None
        blended_errors.append(abs(eta - truth))
        naive_errors.append(abs((n - done) * t / done - truth))
    # Right after the first burst elapsed/done promises the end in a fraction of the real time.
    assert blended_errors[0] < naive_errors[0] / 2
    assert sum(blended_errors) < sum(naive_errors)
    # And it converges: near the end it is within 15 s.
    assert blended_errors[-1] < 15


def test_the_eta_before_anything_finished_is_the_estimate_and_never_zero_while_work_is_left(
        ) -> None:
    assert eta_seconds(600, 0, 3000, 0) == 600
    assert eta_seconds(600, 0, 3000, 100) == 500
    # Overran the estimate with nothing done: all of it left, taking as long again.
    assert eta_seconds(600, 0, 3000, 900) == pytest.approx(900)
    assert eta_seconds(600, 1500, 3000, 900) > 0
    assert eta_seconds(None, 0, 10, 5) is None  # nothing to go on
    assert eta_seconds(None, 5, 10, 5) == pytest.approx(5)  # the observed rate alone
    assert eta_seconds(600, 10, 10, 5) == 0


# -- check_many says it before the first check --------------------------------------------


@pytest.fixture(scope="module")
def nw() -> Any:
    client = nwlab.emulate(check_seconds=0.0, retry_after=0.01)
    yield client
    client.close()


def test_check_many_logs_the_estimate_before_the_first_check_and_keeps_it(
        nw: Any, caplog: pytest.LogCaptureFixture) -> None:
    checks = mesh(["MultiTierApp0", "WebVM0"], ["10.1.4.4", "bing.com"], [80, 80, 443],
                  resource_group=RG)
    logged_first: list[bool] = []

    def on_progress(p: BatchProgress) -> None:
        if not logged_first:
            logged_first.append(any("check_many:" in r.getMessage() for r in caplog.records))

    with caplog.at_level(logging.INFO, logger="nwlab.batch"):
        batch = nw.check_many(checks, write_rate=2.0, on_progress=on_progress)
    assert logged_first == [True]
    up_front = estimate_checks(nw, checks, write_rate=2.0)
    # 12 entries, 8 distinct (port 80 twice), 2 a second: 2 saved up, 6 more at 0.5 s each.
    assert up_front.text == ("12 checks (8 distinct): at least 3 s at a write budget of 2 "
                             "writes a second")
    assert batch.estimate == up_front.text == batch.stats["estimate"]
    assert batch.stats["estimate_s"] == pytest.approx(3.0)
    assert [r.getMessage() for r in caplog.records if "check_many" in r.getMessage()] == [
        f"check_many: {up_front.text}"]
    assert batch.stats["wall_s"] >= batch.stats["estimate_s"]  # a lower bound holds


def test_the_emulator_says_its_own_check_time_and_replay_none() -> None:
    emulated = nwlab.emulate(check_seconds=0.5, retry_after=0.01)
    replayed = nwlab.replay()
    try:
        assert emulated.min_check_s == 0.5 and replayed.min_check_s == 0.0
        checks = mesh(["MultiTierApp0"], ["10.1.4.4"], [80], resource_group=RG)
        assert estimate_checks(emulated, checks).seconds == 0.5
    finally:
        emulated.close()
        replayed.close()


def test_estimate_checks_refuses_bad_input_before_any_request(nw: Any) -> None:
    with pytest.raises(ValueError, match=r"checks\[0\]: port"):
        estimate_checks(nw, [{"source": "MultiTierApp0", "destination": "10.1.4.4",
                              "port": 70000, "resource_group": RG}])
    with pytest.raises(ValueError, match="write_rate"):
        estimate_checks(nw, [], write_rate=-1)


# -- displays ------------------------------------------------------------------------------


def test_log_lines_come_every_interval_never_more_often_and_end_with_a_final_line() -> None:
    clock, out = FakeClock(), io.StringIO()
    estimate = estimate_batch(400, 400, make_budget(20.0), check_s=1, concurrency=256)
    display = LogProgress(400, file=out, interval_s=5, estimate=estimate, clock=clock)
    assert out.getvalue() == f"nwlab: {estimate.text}\n"  # the first line, before any check
    clock.now += 4.9
    display.tick()
    display(progress(10, 400))
    assert out.getvalue().count("\n") == 1  # not yet 5 s
    clock.now += 0.1
    display.tick()  # a heartbeat, also while nothing finishes
    clock.now += 2
    for done in range(11, 120):
        display(progress(done, 400, {"reachable": done - 3, "unreachable": 3}))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("nwlab: 10/400 checks, ETA ")
    clock.now += 3
    display(progress(120, 400, {"reachable": 117, "unreachable": 3}))
    line = out.getvalue().splitlines()[-1]
    eta = eta_seconds(estimate.seconds, 120, 400, 10)
    assert eta is not None
    assert line == f"nwlab: 120/400 checks, 3 unreachable, ETA {human_duration(eta)}"
    clock.now += 10
    display.close()
    display.close()  # once only
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and lines[-1] == "nwlab: 120/400 checks, 3 unreachable, took 20 s"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "5"])
def test_log_interval_must_be_positive_seconds(bad: Any) -> None:
    with pytest.raises(ValueError, match="interval_s: expected seconds > 0"):
        LogProgress(1, file=io.StringIO(), interval_s=bad)


def test_the_log_interval_is_configurable_from_the_environment() -> None:
    assert log_interval({}) == 5.0
    assert log_interval({"NWLAB_PROGRESS_INTERVAL_S": "30"}) == 30.0
    for bad in ("0", "soon", "inf", "-2"):
        with pytest.raises(ValueError, match="NWLAB_PROGRESS_INTERVAL_S=5"):
            log_interval({"NWLAB_PROGRESS_INTERVAL_S": bad})


def test_tqdm_says_the_estimate_first_then_a_blended_eta_not_its_own() -> None:
    clock, out = FakeClock(), io.StringIO()
    estimate = estimate_batch(3000, 3000, make_budget(None), check_s=30, concurrency=256)
    display = TqdmProgress(3000, file=out, disable=False, estimate=estimate, clock=clock)
    first = out.getvalue()
    assert f"nwlab: {estimate.text}\n" in first and display.postfix == estimate.text
    clock.now += 31
    display(progress(256, 3000))
    eta = eta_seconds(estimate.seconds, 256, 3000, 31)
    assert eta is not None and eta > 500  # elapsed/done would say 5 minutes
    assert display.postfix == f"\u2714 256  ETA {human_duration(eta)}"
    clock.now += 60
    display.tick()
    later = eta_seconds(estimate.seconds, 256, 3000, 91)
    assert later is not None and display.postfix.endswith(f"ETA {human_duration(later)}")
    display.close()


def test_the_widget_opens_with_the_estimate_and_its_eta_moves_on_ticks() -> None:
    clock = FakeClock()
    estimate = estimate_batch(3000, 3000, make_budget(None), check_s=30, concurrency=256)
    display = WidgetProgress(3000, display=False, estimate=estimate, clock=clock)
    assert display.label.value == f"0 / 3000  {estimate.text}"
    clock.now += 31
    display(progress(256, 3000))
    first = display.label.value
    assert first.startswith("256 / 3000  \u2714 256  ETA ")
    clock.now += 0.05
    display.tick()
    assert display.label.value == first  # at most ten times a second
    clock.now += 120
    display.tick()
    eta = eta_seconds(estimate.seconds, 256, 3000, 151.05)
    assert eta is not None and display.label.value == f"256 / 3000  \u2714 256  ETA " \
                                                      f"{human_duration(eta)}"
    display(progress(3000, 3000))
    display.close()
    assert display.label.value == "3000 / 3000  \u2714 3000" and display.bar.bar_style == "success"
