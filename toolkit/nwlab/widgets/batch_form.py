"""`BatchForm(nw)`: pick sources, destinations and ports, run the mesh in the background, see the
table, the Sankey and the heatmap.

Same manners as CheckForm: results are written into the Output widget's state (`out.outputs`),
never with `with out:`; errors are shown inline with their fix; Stop cancels the batch, which
still ends with every check recorded. While the mesh is being built, a line under the fields says
how long it will take at least (batch.estimate_checks: the write budget and concurrency), and the
progress line shows an ETA while it runs.
"""

from __future__ import annotations

import html
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import ipywidgets as w

from nwlab.batch import TABLE_COLUMNS, frame_html
from nwlab.widgets._base import OUT_OF_RECORDINGS, FormBase, html_bundle, plotly_bundle
from nwlab.widgets._replay import RecordedScope

__all__ = ["BatchForm"]

PROTOCOLS = ["Auto", "Tcp", "Http", "Https", "Icmp"]
_SPLIT = re.compile(r"[,\s]+")
PAGE_ROWS = 20  # rows per page of the results table: a 200-check mesh stays readable


class BatchForm(FormBase):
    """Mesh checks from a notebook: sources x destinations x ports, Run/Stop, results inline.

    `runner`, when given, is called instead of `nw.check_many(checks, on_progress=, cancel=)`
    (tests and demos). `form.result` / `form.error` hold the last outcome; `form.wait()` joins.
    The results table shows PAGE_ROWS checks at a time, with Previous/Next under it.
    """

    title: ClassVar[str] = "Mesh of connection checks"
    labels: ClassVar[Mapping[str, str]] = {
        "source": "Sources", "sources": "Sources", "destination": "Destinations",
        "destinations": "Destinations", "port": "Ports", "ports": "Ports",
        "protocol": "Protocol", "resource_group": "Resource group"}

    def __init__(self, nw: Any, *, runner: Callable[..., Any] | None = None) -> None:
        super().__init__()
        self.nw = nw
        self.runner = runner
        self.figures: list[Any] = []
        self.last_checks: list[dict[str, Any]] | None = None
        self.page = 0
        self.scope = RecordedScope.of(nw)

        label = {"description_width": "120px"}
        wide = w.Layout(width="520px")
        self.resource_group = w.Text(description="Resource group", placeholder="e.g. ContosoRG",
                                     style=label, layout=w.Layout(width="420px"))
        self.sources = w.SelectMultiple(description="Sources", options=[], rows=6, style=label,
                                        layout=wide)
        self.destinations = w.Textarea(
            description="Destinations", style=label, layout=w.Layout(width="520px", height="80px"),
            placeholder="one per line or comma: VM names, IPs, host names or URLs")
        self.ports = w.Text(description="Ports", placeholder="e.g. 80, 443, 1433", style=label,
                            layout=w.Layout(width="420px"))
        self.protocol = w.Dropdown(description="Protocol", options=PROTOCOLS, value="Auto",
                                   style=label, layout=w.Layout(width="320px"))
        self.estimate = w.HTML()
        self.estimate_s: float | None = None
        self.run = w.Button(description="Run mesh", button_style="primary", icon="play")
        self.stop = w.Button(description="Stop", icon="stop", disabled=True)
        self.bar = w.IntProgress(value=0, min=0, max=1, description="Progress", style=label)
        self.progress = w.HTML()
        self.status = w.HTML()
        self.out = w.Output(layout=w.Layout(width="auto"))
        self.previous = w.Button(description="Previous", icon="arrow-left", disabled=True)
        self.next = w.Button(description="Next", icon="arrow-right", disabled=True)
        self.page_info = w.HTML()
        self.pager = w.HBox([self.previous, self.page_info, self.next],
                            layout=w.Layout(display="none"))
        self.widget = w.VBox([
            w.HTML(f"<b>{self.title}</b>"),
            self.resource_group, self.sources, self.destinations,
            w.HBox([self.ports, self.protocol]),
            self.estimate,
            w.HBox([self.run, self.stop]),
            w.HBox([self.bar, self.progress]), self.status, self.pager, self.out,
        ])
        self.previous.on_click(lambda _b: self.show_page(self.page - 1))
        self.next.on_click(lambda _b: self.show_page(self.page + 1))
        self._load_vms()
        for field in (self.resource_group, self.sources, self.destinations, self.ports,
                      self.protocol):
            field.observe(lambda _change: self.update_estimate(), names="value")
        self.update_estimate()
        self.run.on_click(self._on_run)
        self.stop.on_click(self._on_stop)

    # -- inventory -----------------------------------------------------------------------

    def _load_vms(self) -> None:
        """Offer the VMs that can be sources (running, with the agent) first, the others after."""
        try:
            frame = self.nw.list_vms()
        except Exception as exc:  # the form stays usable: sources can be typed as ids elsewhere
            self._show_error(exc)
            return
        rows = frame.to_dict("records") if hasattr(frame, "to_dict") else list(frame)
        if self.scope is not None:  # replay: only the sources of recorded checks
            recorded = self.scope.sources(None)
            rows = [r for r in rows if str(r.get("name", "")).lower() in recorded]
        ready = [r for r in rows if r.get("agent") and r.get("power_state") in (None, "running")]
        others = [r for r in rows if r not in ready]
        self.sources.options = [(f"{r['name']} ({r['resource_group']})"
                                 + ("" if r in ready else " - not ready"), r["id"])
                                for r in ready + others]
        groups = sorted({str(r.get("resource_group")) for r in rows if r.get("resource_group")})
        if len(groups) == 1 and not self.resource_group.value:
            self.resource_group.value = groups[0]

    # -- inputs --------------------------------------------------------------------------

    def fill(self, *, sources: list[str] | None = None, destinations: Any = None,
             ports: Any = None, protocol: str | None = None,
             resource_group: str | None = None) -> BatchForm:
        """Set fields from code (sources as VM ids or names known to the form)."""
        if resource_group is not None:
            self.resource_group.value = resource_group
        if sources is not None:
            known = {value.lower(): value for _, value in self.sources.options}
            known.update({label.split(" ")[0].lower(): value
                          for label, value in self.sources.options})
            missing = [s for s in sources if s.lower() not in known]
            if missing:
                raise ValueError(f"Sources: {', '.join(map(repr, missing))} not among the VMs "
                                 "listed; pick from form.sources.options")
            self.sources.value = tuple(known[s.lower()] for s in sources)
        if destinations is not None:
            self.destinations.value = destinations if isinstance(destinations, str) \
                else "\n".join(destinations)
        if ports is not None:
            self.ports.value = ports if isinstance(ports, str) else ", ".join(map(str, ports))
        if protocol is not None:
            self.protocol.value = protocol
        return self

    def checks(self) -> list[dict[str, Any]]:
        """The mesh the fields describe; ValueError naming the field when one is unusable."""
        from nwlab.batch import mesh

        sources = list(self.sources.value)
        if not sources:
            raise ValueError("Sources: pick at least one source VM (Ctrl/Shift-click for more)")
        destinations = [d for d in _SPLIT.split(self.destinations.value.strip()) if d]
        if not destinations:
            raise ValueError("Destinations: give at least one, e.g. Database0, 10.1.4.4 or "
                             "https://bing.com")
        ports: list[int] | None = None
        text = self.ports.value.strip()
        if text:
            ports = []
            for item in (p for p in _SPLIT.split(text) if p):
                if not item.isdigit() or not 0 <= int(item) <= 65535:
                    raise ValueError(f"Ports: {item!r} is not a port 0-65535; e.g. 80, 443")
                ports.append(int(item))
        common: dict[str, Any] = {}
        if self.resource_group.value.strip():
            common["resource_group"] = self.resource_group.value.strip()
        if self.protocol.value != "Auto":
            common["protocol"] = self.protocol.value
        checks = mesh(sources, destinations, ports, **common)
        if self.scope is not None and not all(self.scope.covers(c) for c in checks):
            raise ValueError(OUT_OF_RECORDINGS)
        return checks

    def update_estimate(self) -> None:
        """Say how long the mesh the fields describe takes at least, or what is missing; called
        whenever a field changes, so it is shown before Run is pressed."""
        from nwlab.batch import estimate_checks

        try:
            estimate = estimate_checks(self.nw, self.checks())
        except (ValueError, TypeError) as exc:  # incomplete fields: Run shows the full error
            self.estimate_s = None
            hint = html.escape(str(exc), quote=False)
            self.estimate.value = f'<span style="color:#555">{hint}</span>'
            return
        self.estimate_s = estimate.seconds
        self.estimate.value = f"<b>Estimate:</b> {html.escape(estimate.text, quote=False)}"

    # -- running -------------------------------------------------------------------------

    def fields(self) -> list[tuple[str, str]]:
        return [("Resource group", self.resource_group.value),
                ("Sources", ", ".join(label.split(" ")[0] for label, value in self.sources.options
                                      if value in self.sources.value)),
                ("Destinations", ", ".join(_SPLIT.split(self.destinations.value.strip()))),
                ("Ports", self.ports.value), ("Protocol", self.protocol.value)]

    def _on_run(self, _button: Any = None) -> None:
        checks = self._prepare(self.checks)
        self.pager.layout.display = "none"
        if checks is None:
            return
        self.last_checks = checks
        self.bar.max = max(len(checks), 1)
        self.bar.value = 0
        self.bar.bar_style = "info"
        self.progress.value = f"Running {len(checks)} checks …"
        self._start(self._work, checks, time.monotonic(), name="nwlab-batch-form")

    def _work(self, checks: list[dict[str, Any]], started: float, cancel: threading.Event) -> None:
        try:
            if self.runner is not None:
                batch = self.runner(checks, on_progress=self._on_progress, cancel=cancel)
            else:
                batch = self.nw.check_many(checks, on_progress=self._on_progress, cancel=cancel)
            self.result = batch
            self._render(batch)
            self.bar.value = self.bar.max
            self.bar.bar_style = "success" if batch.ok else "warning"
            self.progress.value = html.escape(
                f"{batch.summary()} in {time.monotonic() - started:.1f} s")
        except BaseException as exc:  # shown in the form, never raised into the kernel
            self._show_error(exc)
            self.bar.bar_style = "danger"
            self.progress.value = ""
        finally:
            self._finished()

    def _render(self, batch: Any) -> None:
        sankey, heatmap = batch.sankey_figure(), batch.heatmap_figure()
        self.figures = [sankey, heatmap]
        self._frame = batch.frame()[TABLE_COLUMNS]
        self.out.outputs = (
            html_bundle("", batch.summary()),  # the table's page, filled by show_page
            plotly_bundle(heatmap, f"<heatmap: {batch.summary()}>"),
            plotly_bundle(sankey, f"<Sankey: {batch.summary()}>"),
        )
        self.show_page(0)

    @property
    def pages(self) -> int:
        frame = getattr(self, "_frame", None)
        return max(1, math.ceil(len(frame) / PAGE_ROWS)) if frame is not None else 0

    def show_page(self, page: int) -> None:
        """Show the results table's page `page` (0-based, clamped) in place of the shown one."""
        if not self.pages or not self.out.outputs:
            return
        self.page = min(max(page, 0), self.pages - 1)
        rows = self._frame.iloc[self.page * PAGE_ROWS:(self.page + 1) * PAGE_ROWS].copy()
        table = frame_html(rows)
        first, last = self.page * PAGE_ROWS + 1, self.page * PAGE_ROWS + len(rows)
        caption = f"checks {first}-{last} of {len(self._frame)}"
        markup = (f'<div class="nwlab-batch-table" style="overflow-x:auto">'
                  f'<div style="margin:4px 0">{html.escape(caption)}</div>{table}</div>')
        self.out.outputs = (html_bundle(markup, caption), *self.out.outputs[1:])
        self.page_info.value = html.escape(f"page {self.page + 1} of {self.pages}")
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.pager.layout.display = "flex" if self.pages > 1 else "none"

    def _on_progress(self, p: Any) -> None:
        from nwlab.batch import eta_seconds, human_duration
        from nwlab.progress import counts_text

        self.bar.value = int(getattr(p, "done", 0))
        counts = counts_text(dict(getattr(p, "counts", {}) or {}))
        eta = eta_seconds(self.estimate_s, p.done, p.total, p.elapsed_s)
        parts = [f"{p.done} / {p.total}", counts,
                 f"ETA {human_duration(eta)}" if eta is not None and p.done < p.total else ""]
        self.progress.value = html.escape("  ".join(part for part in parts if part))
