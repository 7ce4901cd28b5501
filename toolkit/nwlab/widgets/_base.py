"""What every nwlab form shares: display, inline errors, a background run with Stop, and the mime
bundles written into an Output widget's state (never `with out:`, which nbval cannot capture, and
never `append_display_data(fig)`, which stores an empty bundle for Plotly figures)."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import ipywidgets as w

from nwlab.arm.errors import ReplayMismatch
from nwlab.explain import error_html

T = TypeVar("T")

# What replay says when asked for a check it holds no recording of: one line, not the request.
OUT_OF_RECORDINGS = ("Replay answers only the recorded checks (the four documented ones, unless "
                     "you gave other cassettes): pick the source, destination and port from the "
                     "lists, or use nwlab.emulate() to check anything.")
# `checks[3]: port: ...`, `http.headers: ...`: the batch entry and the argument an error names.
_ARGUMENT = re.compile(r"^(?:checks\[\d+\]:\s*)?([A-Za-z_]+)(?:[.\[][^:\s]*)?:\s*")


def plotly_bundle(fig: Any, text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.plotly.v1+json": json.loads(fig.to_json()),
                     "text/plain": text}}


def html_bundle(markup: str, text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": markup, "text/plain": text}}


def as_field_error(exc: BaseException, labels: Mapping[str, str]) -> BaseException:
    """An input error worded for the form: the argument (and batch entry) it names becomes the
    field as the form labels it (`checks[0]: resource_group: ...` -> `Resource group: ...`)."""
    if not isinstance(exc, ValueError | TypeError):
        return exc
    message = str(exc)
    match = _ARGUMENT.match(message)
    if match is None or match.group(1) not in labels:
        return exc
    worded = f"{labels[match.group(1)]}: {message[match.end():]}"
    return ValueError(worded) if isinstance(exc, ValueError) else TypeError(worded)


class FormBase:
    """A form whose work runs in a thread: `run`/`stop` buttons, `status` for errors,
    `progress` for the progress line, `wait()` to join, `result`/`error` for the outcome.

    `labels` maps the API's argument names to the form's field labels, so that an error names
    the field a user sees. `out` holds the last result: whatever starts a run clears it first.
    """

    widget: w.VBox
    run: w.Button
    stop: w.Button
    status: w.HTML
    progress: w.HTML
    out: w.Output
    title: ClassVar[str] = "nwlab form"
    labels: ClassVar[Mapping[str, str]] = {}

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._shown_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The live widget, plus what a page without widgets shows (GitHub, a notebook whose
        widget state is missing): the form's fields as HTML, not `VBox(children=...)`."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = f"{self.title} (run the notebook to use it)"
        bundle["text/html"] = self.static_html()
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def fields(self) -> list[tuple[str, str]]:
        """(label, value shown) of each field, for the static view."""
        return []

    def static_html(self) -> str:
        """The form as plain HTML: title, fields and their values, the run button, greyed."""
        esc = html.escape
        rows = "".join(f'<tr><th style="text-align:right;padding-right:8px">{esc(label)}</th>'
                       f"<td>{esc(value) if value else '&#x2013;'}</td></tr>"
                       for label, value in self.fields())
        return (f'<div class="nwlab-form-static"><strong>{esc(self.title)}</strong>'
                f"<table>{rows}</table><div><em>Run the notebook to use the form "
                f"({esc(self.run.description)}).</em></div></div>")

    def _show_error(self, exc: BaseException) -> None:
        self.error = exc
        if isinstance(exc, ReplayMismatch):
            shown: BaseException = ValueError(OUT_OF_RECORDINGS)
        else:
            shown = as_field_error(exc, self.labels)
        self._shown_error = shown
        # A long word (an id, a URL) wraps inside the form instead of widening it.
        self.status.value = f'<div style="overflow-wrap:anywhere">{error_html(shown)}</div>'

    def _prepare(self, build: Callable[[], T]) -> T | None:
        """Clear the last outcome and build the run's inputs; bad input is shown, not raised.
        None means: do not start (already running, or the input was refused)."""
        if self.running:
            return None
        self.error = self._shown_error = None
        self.result = None
        self.status.value = self.progress.value = ""
        self.out.outputs = ()  # a refusal never sits beside the previous result
        try:
            return build()
        except (ValueError, TypeError) as exc:
            self._show_error(exc)
            return None

    @property
    def status_text(self) -> str:
        """The message the form shows (an error with its fix), as plain text."""
        from nwlab.explain import error_text

        return error_text(self._shown_error) if self._shown_error is not None else ""

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
