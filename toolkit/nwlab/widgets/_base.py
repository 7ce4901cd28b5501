"""What every nwlab form shares: display, inline errors, a background run with Stop, and the mime
bundles written into an Output widget's state (never `with out:`, which nbval cannot capture, and
never `append_display_data(fig)`, which stores an empty bundle for Plotly figures)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as w

from nwlab.explain import error_html

T = TypeVar("T")


def plotly_bundle(fig: Any, text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": json.loads(fig.to_json()),
                     "text/plain": text}}


def html_bundle(markup: str, text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": markup, "text/plain": text}}


class FormBase:
    """A form whose work runs in a thread: `run`/`stop` buttons, `status` for errors,
    `progress` for the progress line, `wait()` to join, `result`/`error` for the outcome."""

    widget: w.VBox
    run: w.Button
    stop: w.Button
    status: w.HTML
    progress: w.HTML

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _show_error(self, exc: BaseException) -> None:
        self.error = exc
        self.status.value = error_html(exc)

    def _prepare(self, build: Callable[[], T]) -> T | None:
        """Clear the last outcome and build the run's inputs; bad input is shown, not raised.
        None means: do not start (already running, or the input was refused)."""
        if self.running:
            return None
        self.error = None
        self.result = None
        self.status.value = ""
        try:
            return build()
        except (ValueError, TypeError) as exc:
            self._show_error(exc)
            return None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self, target: Any, *args: Any, name: str) -> threading.Event:
        """Run `target(*args, cancel)` in the background with Run disabled and Stop enabled."""
        cancel = threading.Event()
        self._cancel = cancel
        self.run.disabled = True
        self.stop.disabled = False
        self._thread = threading.Thread(target=target, args=(*args, cancel), name=name,
                                        daemon=True)
        self._thread.start()
        return cancel

    def _finished(self) -> None:
        self.run.disabled = False
        self.stop.disabled = True

    def _on_stop(self, _button: Any = None) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.progress.value = "Stopping…"
            self.stop.disabled = True

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the running work (if any) ends; returns the last result (None on error)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result
