"""Batch progress where the user is looking: an ipywidgets bar in a notebook, tqdm in a terminal,
a plain line every few seconds in a log (stderr neither a terminal nor a notebook: CI, cron, a
file).

`auto_progress(total, estimate=)` picks one. Every display is a callable taking a BatchProgress
(what check_many's on_progress receives) plus `tick()` (check_many calls it a few times a
second, so the ETA moves while no check finishes) and `close()`, safe to call from worker threads
(check_many calls them one at a time). Each shows the batch's up-front estimate first, then an
ETA from batch.estimate.eta_seconds (the observed rate blended with the estimate). `clock` is
injectable so tests drive time.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Protocol

from nwlab.verdict import MARKS, count_text

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.batch.estimate import Estimate
    from nwlab.batch.result import BatchProgress

Clock = Callable[[], float]
# How often a log (no terminal, no notebook) gets a progress line; NWLAB_PROGRESS_INTERVAL_S
# changes it where code cannot (a CI job's environment).
LOG_INTERVAL_S = 5.0
INTERVAL_ENV = "NWLAB_PROGRESS_INTERVAL_S"

# Verdicts shown next to the bar, with the text mark the figures use (never colour alone).
_SHOWN = tuple((name, MARKS[name]) for name in ("reachable", "unreachable", "error", "cancelled"))


class ProgressDisplay(Protocol):
    def __call__(self, progress: BatchProgress) -> None: ...

    def tick(self) -> None: ...

    def close(self) -> None: ...


def in_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel, False in a plain interpreter or terminal IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def counts_text(counts: dict[str, int]) -> str:
    """E.g. `✔ 150  ✖ 40  ! 2` (zero counts left out)."""
    return "  ".join(f"{mark} {counts.get(name, 0)}" for name, mark in _SHOWN
                     if counts.get(name, 0))


def counts_words(counts: dict[str, int]) -> str:
    """E.g. `3 unreachable, 1 error` (zero counts and reachable left out: the log's words); a
    count that is no verdict (a snapshot's rows) after them, e.g. `1,204 rows`."""
    verdicts = {name for name, _ in _SHOWN}
    return ", ".join([*(count_text(name, counts[name]) for name, _ in _SHOWN
                        if name != "reachable" and counts.get(name, 0)),
                      *(f"{n:,} {name}" for name, n in counts.items() if name not in verdicts)])


class _Eta:
    """The ETA of one display: the estimate, the display's own clock since it opened, the latest
    progress. Thread-safe through the display's lock."""

    def __init__(self, total: int, estimate: Estimate | None, clock: Clock) -> None:
        self.total = total
        self.estimate = estimate
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.counts: dict[str, int] = {}

    def update(self, progress: BatchProgress) -> None:
        self.done, self.counts = progress.done, dict(progress.counts)

    @property
    def elapsed_s(self) -> float:
        return max(0.0, self.clock() - self.started)

    def text(self) -> str:
        """`ETA 14 s`, or the estimate's lower bound before anything finished, or ''."""
        from nwlab.batch.estimate import eta_seconds, human_duration

        seconds = eta_seconds(self.estimate.seconds if self.estimate is not None else None,
                              self.done, self.total, self.elapsed_s)
        if seconds is None or math.isnan(seconds):
            return ""
        return f"ETA {human_duration(seconds)}"


class TqdmProgress:
    """A tqdm bar on stderr; silent when stderr is not a terminal (tqdm's disable=None). tqdm's own
    remaining time (elapsed / done) is replaced by the blended ETA."""

    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"

    def __init__(self, total: int, desc: str = "checks", *, file: Any = None,
                 disable: bool | None = None, estimate: Estimate | None = None,
                 clock: Clock = time.monotonic) -> None:
        from tqdm.std import tqdm

        self._eta = _Eta(total, estimate, clock)
        self._bar = tqdm(total=total, desc=desc, unit="check", file=file or sys.stderr,
                         disable=disable, dynamic_ncols=True, leave=True,
                         bar_format=self.BAR_FORMAT)
        self._lock = threading.Lock()
        self._shown = 0
        if estimate is not None:  # said before any check ends: a line above the bar, and its
            if not self._bar.disable:  # first frame
                self._bar.write(f"nwlab: {estimate.text}", file=file or sys.stderr)
            self._bar.set_postfix_str(estimate.text, refresh=True)

    @property
    def postfix(self) -> str:
        return str(self._bar.postfix or "")

    def _postfix(self) -> str:
        return "  ".join(part for part in (counts_text(self._eta.counts), self._eta.text())
                         if part)

    def __call__(self, progress: BatchProgress) -> None:
        with self._lock:
            self._eta.update(progress)
            step = progress.done - self._shown
            self._shown = progress.done
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            if step:
                self._bar.update(step)

    def tick(self) -> None:
        with self._lock:
            if self._eta.done:  # before the first result the estimate stays on show
                self._bar.set_postfix_str(self._postfix(), refresh=True)

    def close(self) -> None:
        with self._lock:
            self._bar.close()


class LogProgress:
    """Plain lines for a log: the estimate first, then `120/400 checks, 3 unreachable, ETA 14 s`
    at most every `interval_s` seconds (never more often), and a final line on close()."""

    def __init__(self, total: int, desc: str = "checks", *, file: IO[str] | None = None,
                 interval_s: float = LOG_INTERVAL_S, estimate: Estimate | None = None,
                 clock: Clock = time.monotonic) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, int | float) \
                or not interval_s > 0:
            raise ValueError(f"interval_s: expected seconds > 0 between progress lines, got "
                             f"{interval_s!r}; e.g. interval_s=5")
        self.total = total
        self.desc = desc
        self.interval_s = float(interval_s)
        self._file = file
        self._eta = _Eta(total, estimate, clock)
        self._lock = threading.Lock()
        self._last = self._eta.started
        self._closed = False
        self._write(estimate.text if estimate is not None else f"{total:,} {desc}: starting")

    def _write(self, line: str) -> None:
        stream = self._file or sys.stderr  # looked up late: pytest and notebooks swap stderr
        stream.write(f"nwlab: {line}\n")
        stream.flush()

    def line(self) -> str:
        parts = [f"{self._eta.done:,}/{self.total:,} {self.desc}",
                 counts_words(self._eta.counts), self._eta.text()]
        return ", ".join(part for part in parts if part)

    def _maybe_write(self) -> None:
        now = self._eta.clock()
        if now - self._last >= self.interval_s:
            self._last = now
            self._write(self.line())

    def __call__(self, progress: BatchProgress) -> None:
        with self._lock:
            self._eta.update(progress)
            if not self._closed:
                self._maybe_write()

    def tick(self) -> None:
        with self._lock:
            if not self._closed:
                self._maybe_write()

    def close(self) -> None:
        from nwlab.batch.estimate import human_duration

        with self._lock:
            if self._closed:
                return
            self._closed = True
            parts = [f"{self._eta.done:,}/{self.total:,} {self.desc}",
                     counts_words(self._eta.counts),
                     f"took {human_duration(self._eta.elapsed_s)}"]
            self._write(", ".join(part for part in parts if part))


class WidgetProgress:
    """An ipywidgets progress bar with a counts-and-ETA label, updated at most ten times a
    second; the label opens with the up-front estimate."""

    def __init__(self, total: int, desc: str = "checks", *, display: bool = True,
                 min_interval: float = 0.1, estimate: Estimate | None = None,
                 clock: Clock = time.monotonic) -> None:
        import ipywidgets as widgets

        self.total = total
        self._eta = _Eta(total, estimate, clock)
        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description=desc,
                                       bar_style="info")
        first = f"0 / {total}" + (f"  {estimate.text}" if estimate is not None else "")
        self.label = widgets.Label(value=first)
        self.box = widgets.HBox([self.bar, self.label])
        self._lock = threading.Lock()
        self._last = self._eta.started
        self._min_interval = min_interval
        self._latest: BatchProgress | None = None
        if display:
            from IPython.display import display as show

            # A page that cannot render widgets (GitHub, an untrusted notebook) shows the text,
            # not `HBox(children=(IntProgress(...`.
            show({**self.box._repr_mimebundle_(), "text/plain": f"progress bar: {first}"},
                 raw=True)

    def __call__(self, progress: BatchProgress) -> None:
        with self._lock:
            self._latest = progress
            self._eta.update(progress)
            now = self._eta.clock()
            if progress.done < progress.total and now - self._last < self._min_interval:
                return
            self._last = now
            self._render(progress)

    def tick(self) -> None:
        with self._lock:
            now = self._eta.clock()
            if self._latest is None or now - self._last < self._min_interval:
                return
            self._last = now
            self._render(self._latest)

    def _render(self, progress: BatchProgress, *, final: bool = False) -> None:
        self.bar.value = progress.done
        parts = [f"{progress.done} / {progress.total}", counts_text(progress.counts)]
        if not final:
            parts.append(self._eta.text())
        self.label.value = "  ".join(part for part in parts if part)

    def close(self) -> None:
        with self._lock:
            if self._latest is not None:
                self._render(self._latest, final=True)
            done = self._latest.done if self._latest is not None else 0
            failed = self._latest is not None and any(
                self._latest.counts.get(k, 0) for k in ("error", "cancelled"))
            self.bar.bar_style = "warning" if failed or done < self.total else "success"


def log_interval(environ: Any = None) -> float:
    """LOG_INTERVAL_S, or NWLAB_PROGRESS_INTERVAL_S when set to a number of seconds > 0."""
    text = (environ if environ is not None else os.environ).get(INTERVAL_ENV)
    if not text:
        return LOG_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{INTERVAL_ENV}: expected seconds > 0 between progress lines, got "
                         f"{text!r}; e.g. {INTERVAL_ENV}=5")
    return value


def auto_progress(total: int, desc: str = "checks", *, estimate: Estimate | None = None,
                  interval_s: float | None = None, stream: Any = None,
                  clock: Clock = time.monotonic) -> ProgressDisplay:
    """A widget in a notebook kernel (falling back to tqdm without ipywidgets), tqdm on a terminal,
    plain lines every `interval_s` (default log_interval()) when stderr is neither."""
    if in_kernel():
        try:
            return WidgetProgress(total, desc, estimate=estimate, clock=clock)
        except ImportError:
            pass
        return TqdmProgress(total, desc, estimate=estimate, clock=clock)
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return TqdmProgress(total, desc, file=stream, estimate=estimate, clock=clock)
    return LogProgress(total, desc, file=stream if stream is not sys.stderr else None,
                       interval_s=interval_s if interval_s is not None else log_interval(),
                       estimate=estimate, clock=clock)


__all__ = ["INTERVAL_ENV", "LOG_INTERVAL_S", "LogProgress", "ProgressDisplay", "TqdmProgress",
           "WidgetProgress", "auto_progress", "counts_text", "counts_words", "in_kernel",
           "log_interval"]
