"""Batch progress where the user is looking: an ipywidgets bar in a notebook, tqdm in a terminal.

`auto_progress(total)` picks by whether the code runs inside a Jupyter kernel. Both displays are
callables taking a BatchProgress (what check_many's on_progress receives) plus `close()`, and
both are safe to call from worker threads (check_many calls them one at a time).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from nwlab.verdict import MARKS

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.batch.result import BatchProgress

# Verdicts shown next to the bar, with the text mark the figures use (never colour alone).
_SHOWN = tuple((name, MARKS[name]) for name in ("reachable", "unreachable", "error", "cancelled"))


class ProgressDisplay(Protocol):
    def __call__(self, progress: BatchProgress) -> None: ...

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


class TqdmProgress:
    """A tqdm bar on stderr; silent when stderr is not a terminal (tqdm's disable=None)."""

    def __init__(self, total: int, desc: str = "checks", *, file: Any = None,
                 disable: bool | None = None) -> None:
        from tqdm.std import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="check", file=file or sys.stderr,
                         disable=disable, dynamic_ncols=True, leave=True)
        self._lock = threading.Lock()
        self._shown = 0

    def __call__(self, progress: BatchProgress) -> None:
        with self._lock:
            step = progress.done - self._shown
            self._shown = progress.done
            self._bar.set_postfix_str(counts_text(progress.counts), refresh=False)
            if step:
                self._bar.update(step)

    def close(self) -> None:
        with self._lock:
            self._bar.close()


class WidgetProgress:
    """An ipywidgets progress bar with a counts label, updated at most ten times a second."""

    def __init__(self, total: int, desc: str = "checks", *, display: bool = True,
                 min_interval: float = 0.1) -> None:
        import ipywidgets as widgets

        self.total = total
        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description=desc,
                                       bar_style="info")
        self.label = widgets.Label(value=f"0 / {total}")
        self.box = widgets.HBox([self.bar, self.label])
        self._lock = threading.Lock()
        self._last = 0.0
        self._min_interval = min_interval
        self._latest: BatchProgress | None = None
        if display:
            from IPython.display import display as show

            # A page that cannot render widgets (GitHub, an untrusted notebook) shows the text,
            # not `HBox(children=(IntProgress(...`.
            show({**self.box._repr_mimebundle_(), "text/plain": f"progress bar: {total} {desc}"},
                 raw=True)

    def __call__(self, progress: BatchProgress) -> None:
        with self._lock:
            self._latest = progress
            now = time.monotonic()
            if progress.done < progress.total and now - self._last < self._min_interval:
                return
            self._last = now
            self._render(progress)

    def _render(self, progress: BatchProgress) -> None:
        self.bar.value = progress.done
        text = f"{progress.done} / {progress.total}"
        counts = counts_text(progress.counts)
        self.label.value = f"{text}  {counts}" if counts else text

    def close(self) -> None:
        with self._lock:
            if self._latest is not None:
                self._render(self._latest)
            done = self._latest.done if self._latest is not None else 0
            failed = self._latest is not None and any(
                self._latest.counts.get(k, 0) for k in ("error", "cancelled"))
            self.bar.bar_style = "warning" if failed or done < self.total else "success"


def auto_progress(total: int, desc: str = "checks") -> ProgressDisplay:
    """A widget in a notebook kernel (falling back to tqdm without ipywidgets), tqdm elsewhere."""
    if in_kernel():
        try:
            return WidgetProgress(total, desc)
        except ImportError:
            pass
    return TqdmProgress(total, desc)


__all__ = ["ProgressDisplay", "TqdmProgress", "WidgetProgress", "auto_progress", "counts_text",
           "in_kernel"]
