"""The batch runner: `run_batch` is what `NetworkWatcher.check_many` calls. A batch

- validates every entry before any request (errors name the entry: ``checks[3]: port: ...``);
- runs each distinct check once (identical entries share the result, as reference §6.1 asks:
  never start a second identical check while one is in flight);
- runs up to `concurrency` checks at a time on threads (a check spends its life waiting, so a
  thread per check in flight costs little);
- shares one client-side write budget (arm.throttle) between all its POSTs: by default the
  client's own adaptive budget (the one its single checks and other writes spend too); a
  numeric `write_rate` installs a fixed one for the batch's life (ArmClient.write_budget_scope);
  and the client's shared back-off after any 429;
- resolves the source VM pre-flight (and through it the region's watcher) once per source;
- ends every entry as a result or a recorded error, also when cancelled half way.

It needs a client only through the small BatchClient protocol below, so it does not import the
watcher module (which imports it).
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from nwlab.arm.errors import CheckCancelled
from nwlab.arm.session import CancelScope
from nwlab.arm.throttle import (
    AdaptiveBudget,
    FairTokenBucket,
    TokenBucket,
)
from nwlab.batch.estimate import Estimate, estimate_batch
from nwlab.batch.inputs import BatchInputError, normalize_checks, validate_checks
from nwlab.batch.result import (
    CANCELLED_BEFORE_START,
    VERDICTS,
    BatchEntry,
    BatchError,
    BatchProgress,
    BatchResult,
    ProgressCallback,
)
from nwlab.checkspec import CheckSpec
from nwlab.model import ConnectivityResult

# Why 256: a check is a POST followed by sleeping between polls, so a thread per check in flight
# costs a sleeping thread, not a CPU. The limit should therefore be set by how many checks may be
# in flight, not by cores: 256 lets a 200-check mesh run all at once (finishing in about one
# check's time), and it is about what Azure's write budget sustains anyway (3.3 writes/s x
# 30-120 s per check = 100-400 checks in flight). Larger batches queue behind it.
DEFAULT_CONCURRENCY = 256
MAX_CONCURRENCY = 4096

log = logging.getLogger("nwlab.batch")


class BatchArm(Protocol):
    """What the runner needs of the ARM client: its 429 count, its own write budget (the
    default) and a scope for another."""

    throttled_responses: int
    write_budget: TokenBucket | None

    def write_budget_scope(self, budget: TokenBucket | None
                           ) -> AbstractContextManager[TokenBucket | None]: ...


class BatchClient(Protocol):
    """What the runner needs of a client (NetworkWatcher is one): validate against its
    subscription, pre-flight a source, run one validated check."""

    @property
    def subscription_id(self) -> str: ...

    @property
    def arm(self) -> BatchArm: ...

    def preflight(self, spec: CheckSpec) -> str: ...

    def run_spec(self, spec: CheckSpec, *, cancel: Any = None,
                 watcher_for: Callable[[CheckSpec], str] | None = None) -> ConnectivityResult: ...


def _concurrency(value: Any, distinct: int) -> int:
    if value is None:
        return max(1, min(DEFAULT_CONCURRENCY, distinct))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= int(value) <= MAX_CONCURRENCY:
        raise BatchInputError(f"concurrency: expected an integer 1-{MAX_CONCURRENCY}, got "
                              f"{value!r}; e.g. concurrency=64 (default {DEFAULT_CONCURRENCY})")
    return max(1, min(int(value), distinct))


def make_budget(write_rate: Any) -> TokenBucket | None:
    """A write budget: None gives the default, Azure Network's documented 1,000 writes per 5
    minutes adapted to the service (arm.throttle.AdaptiveBudget: it reads the remaining-writes
    header and backs off once per 429 storm, so a real budget smaller than the model costs a
    pause, not a storm of retries); a number, a fixed `write_rate` per second (FairTokenBucket,
    not adapted); math.inf, none."""
    if write_rate is None:
        return AdaptiveBudget.azure_default()
    if isinstance(write_rate, bool) or not isinstance(write_rate, numbers.Real) \
            or math.isnan(write_rate) or write_rate <= 0:
        raise BatchInputError(f"write_rate: expected a positive number of writes per second, got "
                              f"{write_rate!r}; e.g. write_rate=3.3 (Azure Network allows 1,000 "
                              "per 5 minutes), None for the default (that limit adapted to what ARM "
                              "answers), or math.inf for no client-side budget")
    if math.isinf(write_rate):
        return None
    return FairTokenBucket(float(write_rate))


def _budget_for(nw: BatchClient, write_rate: Any) -> TokenBucket | None:
    """The budget a batch spends: by default the client's own, so a batch and the client's
    other writes spend (and learn) one budget; a number is a fixed budget for this batch."""
    return nw.arm.write_budget if write_rate is None else make_budget(write_rate)


def estimate_checks(nw: BatchClient, checks: Any, *, concurrency: int | None = None,
                    write_rate: Any = None) -> Estimate:
    """How long `nw.check_many(checks, ...)` will take at least, before running it (batch.estimate):
    the same validation, de-duplication, concurrency and write budget as run_batch."""
    specs = validate_checks(nw.subscription_id, normalize_checks(checks))
    tasks = _distinct_tasks(specs)
    return estimate_batch(len(specs), len(tasks), _budget_for(nw, write_rate),
                          check_s=_min_check_s(nw),
                          concurrency=_concurrency(concurrency, len(tasks)))


def _min_check_s(nw: Any) -> float:
    """The least time one check takes on the client's backend (NetworkWatcher.min_check_s);
    0 for a client that does not say, so the estimate stays a lower bound."""
    value = getattr(nw, "min_check_s", 0.0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


# -- running --------------------------------------------------------------------------------


class _Slot:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: str | None = None
        self.error: Exception | None = None


class WatcherCache:
    """`watcher_for` for run_spec: pre-flight once per source VM, result or error shared.

    The region's watcher comes from NetworkWatcher.find_watcher, itself one cached list call.
    """

    def __init__(self, nw: BatchClient) -> None:
        self._nw = nw
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self.preflights = 0

    def __call__(self, spec: CheckSpec) -> str:
        key = spec.source_id.lower()
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot()
        if owner:
            try:
                self.preflights += 1
                slot.value = self._nw.preflight(spec)
            except Exception as exc:
                slot.error = exc
            finally:
                slot.ready.set()
        else:
            slot.ready.wait()
        if slot.error is not None:
            # Re-raising one object from many threads would grow its traceback without end.
            raise slot.error.with_traceback(None)
        assert slot.value is not None
        return slot.value


@dataclass
class _Task:
    spec: CheckSpec
    indices: list[int]


def _distinct_tasks(specs: list[CheckSpec]) -> list[_Task]:
    """One task per distinct check (CheckSpec.key), holding the indices of its entries."""
    groups: dict[tuple[Any, ...], _Task] = {}
    for index, spec in enumerate(specs):
        key = spec.key()
        if key in groups:
            groups[key].indices.append(index)
        else:
            groups[key] = _Task(spec, [index])
    return list(groups.values())


def run_batch(nw: BatchClient, checks: Any, *, concurrency: int | None = None,
              write_rate: float | None = None,
              on_progress: ProgressCallback | bool | None = None,
              cancel: Any = None) -> BatchResult:
    """Validate every check, then run the distinct ones concurrently; see the module docstring.

    `write_rate`: None (the default) spends the client's own write budget, Azure Network's
    1,000 writes per 5 minutes adapted to what ARM answers (arm.throttle.AdaptiveBudget); a
    number is a fixed budget of that many writes per second for this batch; math.inf, none.
    `on_progress`: a callable gets a BatchProgress after each check (from worker threads, one
    call at a time); None shows a progress bar (a widget in a notebook, tqdm in a terminal);
    False shows nothing. `cancel`: a threading.Event; setting it stops running checks (they
    end as CheckCancelled) and records the unstarted ones as cancelled. Ctrl-C / a notebook
    interrupt does the same and returns what was done, with `stats['interrupted']` set.
    """
    inputs = normalize_checks(checks)
    specs = validate_checks(nw.subscription_id, inputs)
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise BatchInputError("cancel: expected a threading.Event (anything with is_set()); e.g. "
                              "stop = threading.Event(); nw.check_many(checks, cancel=stop)")
    if on_progress is not None and not isinstance(on_progress, bool) and not callable(on_progress):
        raise BatchInputError("on_progress: expected a function taking a BatchProgress, "
                              "True/None for the default display, or False for none, got "
                              f"{type(on_progress).__name__}; e.g. nw.check_many(checks, "
                              "on_progress=lambda p: print(p.done, p.total))")
    budget = _budget_for(nw, write_rate)
    tasks = _distinct_tasks(specs)
    workers = _concurrency(concurrency, len(tasks))
    entries = [BatchEntry(i, entry) for i, entry in enumerate(inputs)]
    total = len(entries)

    display: Any = None
    callback: ProgressCallback | None
    # Said before the first check: the least time the write budget and concurrency allow.
    estimate = estimate_batch(total, len(tasks), budget, check_s=_min_check_s(nw),
                              concurrency=workers)
    log.info("check_many: %s", estimate.text)
    if on_progress is None or on_progress is True:
        from nwlab.progress import auto_progress

        display = auto_progress(total, estimate=estimate)
        callback = display
    elif on_progress is False:
        callback = None
    else:
        callback = on_progress
    # A display with tick() refreshes its ETA while no check finishes (the first checks of a
    # batch all finish together, a check's duration after the start).
    tick = getattr(callback, "tick", None)

    # One scope wakes every running check at once; the user's `cancel` is forwarded to it by the
    # loop below, so hundreds of waiting checks never poll an Event each.
    stop = CancelScope()
    watcher_for = WatcherCache(nw)
    lock = threading.Lock()
    pending = iter(tasks)
    counts = dict.fromkeys(VERDICTS, 0)
    done = [0]
    finished = threading.Event()
    callback_failed = [False]
    started = time.monotonic()
    throttled_before = getattr(nw.arm, "throttled_responses", 0)

    def record(task: _Task, result: ConnectivityResult | None, error: BatchError | None,
               elapsed: float | None) -> None:
        with lock:
            for index in task.indices:
                entry = entries[index]
                entry.result, entry.error, entry.elapsed_s = result, error, elapsed
                counts[entry.verdict] += 1
                done[0] += 1
                if callback is not None and not callback_failed[0]:
                    try:
                        callback(BatchProgress(done[0], total, entry, dict(counts),
                                               time.monotonic() - started))
                    except Exception as exc:  # a broken display must not lose results
                        callback_failed[0] = True
                        warnings.warn(f"check_many: on_progress failed and is ignored from now "
                                      f"on: {exc!r}", RuntimeWarning, stacklevel=1)
            if done[0] >= total:
                finished.set()

    go = threading.Event()

    def work() -> None:
        # Wait until every worker exists: starting threads while others already run would
        # make each start() wait for the GIL behind busy workers (5 ms each, 1 s for 200).
        go.wait()
        while True:
            with lock:
                task = next(pending, None)
            if task is None:
                return
            if cancel is not None and cancel.is_set():
                stop.set()  # the monitor loop forwards it too; a worker must not start first
            if stop.is_set():
                record(task, None, BatchError(CheckCancelled.__name__, CANCELLED_BEFORE_START),
                       None)
                continue
            t0 = time.monotonic()
            try:
                result = nw.run_spec(task.spec, cancel=stop, watcher_for=watcher_for)
            except Exception as exc:  # every check ends as a result or a recorded error
                record(task, None, BatchError.from_exception(exc),
                       round(time.monotonic() - t0, 3))
            else:
                record(task, result, None, round(time.monotonic() - t0, 3))

    interrupted = False
    threads: list[threading.Thread] = []
    with nw.arm.write_budget_scope(budget) as installed:
        try:
            if total == 0:
                finished.set()
            for n in range(workers):
                thread = threading.Thread(target=work, name=f"nwlab-batch-{n}", daemon=True)
                thread.start()
                threads.append(thread)
            go.set()
            while not finished.wait(0.05 if cancel is not None else 0.2):
                if cancel is not None and cancel.is_set():
                    stop.set()
                if callable(tick) and not callback_failed[0]:
                    _tick(tick, callback_failed)
                if not any(t.is_alive() for t in threads):
                    break
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
        finally:
            # On an interrupt (or any failure here) stop the rest and let running checks end.
            if not finished.is_set():
                stop.set()
            go.set()
            while True:
                try:
                    for thread in threads:
                        thread.join()
                    break
                except KeyboardInterrupt:  # a second Ctrl-C while draining: keep draining
                    interrupted = True
                    stop.set()
            if display is not None:
                display.close()
    for task in tasks:  # a worker that died unexpectedly must not leave holes
        for index in task.indices:
            if not entries[index].done:
                entries[index].error = BatchError(CheckCancelled.__name__, CANCELLED_BEFORE_START)
    wall = time.monotonic() - started
    stats = {
        "wall_s": round(wall, 3), "checks": total, "distinct": len(tasks),
        "deduplicated": total - len(tasks), "concurrency": workers,
        "write_rate": installed.rate if installed is not None else None,
        "preflights": watcher_for.preflights,
        "throttled_responses": getattr(nw.arm, "throttled_responses", 0) - throttled_before,
        # Back-offs the adaptive budget made (one per 429 storm); None without a budget.
        "backoffs": getattr(installed, "backoffs", None),
        "estimate": estimate.text, "estimate_s": round(estimate.seconds, 3),
        "cancelled": sum(1 for e in entries if e.verdict == "cancelled"),
        "interrupted": interrupted,
    }
    batch = BatchResult(entries, stats)
    if interrupted:
        warnings.warn(f"check_many was interrupted: {batch.summary()}; the result holds every "
                      "check, the unfinished ones as cancelled.", RuntimeWarning, stacklevel=2)
    return batch


def _tick(tick: Callable[[], None], failed: list[bool]) -> None:
    try:
        tick()
    except Exception as exc:  # a broken display must not stop the batch
        failed[0] = True
        warnings.warn(f"check_many: the progress display failed and is ignored from now on: "
                      f"{exc!r}", RuntimeWarning, stacklevel=1)


__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "BatchClient", "FairTokenBucket", "WatcherCache",
           "estimate_checks", "make_budget", "run_batch"]
