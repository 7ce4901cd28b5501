"""`CheckForm(nw)`: pick a source VM and a destination, run a check in the background, see why.

Notebook manners (after msticpy's widgets): the values survive re-running the cell (a registry
keyed by the client), errors are shown inline with their fix instead of a traceback, and the
form displays itself. Results are written into the Output widget's state (`out.outputs`), never
with `with out:` (a frontend feature nbval and nbclient do not have) and never through
`append_display_data(fig)` (which stores an empty bundle for Plotly figures).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import ipywidgets as w

from nwlab.widgets._base import OUT_OF_RECORDINGS, FormBase, html_bundle, plotly_bundle
from nwlab.widgets._replay import DEST_KINDS, RecordedScope, destination_kind

__all__ = ["CheckForm"]

PROTOCOLS = ["Auto", "Tcp", "Http", "Https", "Icmp"]
IP_VERSIONS = ["Any", "IPv4", "IPv6"]
_PLACEHOLDERS = {"VM": "VM name or resource id, e.g. Database0", "IP": "e.g. 10.1.4.4",
                 "Host": "e.g. bing.com", "URL": "e.g. https://bing.com"}

# Values typed into forms, by client identity, so that re-running a cell restores them.
_REGISTRY: dict[Any, dict[str, Any]] = {}
_SAVED = ("resource_group", "vm", "dest_kind", "destination", "port", "protocol", "source_port",
          "http_method", "headers", "valid_status_codes", "ip_version")


def _client_key(nw: Any) -> Any:
    """Who the form talks to: backend, endpoint and subscription when known, else the object."""
    try:
        sub = getattr(nw, "subscription_id", None)
        arm = getattr(nw, "arm", None)
        endpoint = getattr(arm, "endpoint", None) if arm is not None else None
    except Exception:  # a half-built client must not break the form
        sub = endpoint = None
    if isinstance(sub, str) and sub:
        return (type(nw).__name__, getattr(nw, "backend", None), endpoint, sub)
    return (type(nw).__name__, id(nw))


class CheckForm(FormBase):
    """The interactive connection check: source, destination, options, Run/Stop, result inline.

    `runner`, when given, is called instead of `nw.check` with the same keyword arguments (tests
    and demos). `form.result` / `form.error` hold the last outcome; `form.wait()` joins the run.
    Against a replay client the lists offer only what the recordings hold, and any other check
    is refused with one line before a request is sent.
    """

    title: ClassVar[str] = "Connection troubleshoot"
    # check()'s arguments as the form labels them, so that an error names the field shown.
    labels: ClassVar[Mapping[str, str]] = {
        "source": "Source VM", "resource_group": "Resource group", "destination": "Destination",
        "port": "Port", "protocol": "Protocol", "source_port": "Source port",
        "http": "Headers / Valid codes", "headers": "Headers", "valid_status_codes": "Valid codes",
        "ip_version": "IP version", "timeout": "Timeout"}

    def __init__(self, nw: Any, *, runner: Callable[..., Any] | None = None,
                 timeout: float = 600, twin: Any = None) -> None:
        super().__init__()
        self.nw = nw
        # Where fixes are proven: the twin given, or the client itself when it is an emulator.
        self.twin = twin if twin is not None else (
            nw if getattr(nw, "backend", None) == "emulator" else None)
        self.diagnosis: Any = None
        self.runner = runner
        self.timeout = timeout
        self.figures: list[Any] = []
        self.last_kwargs: dict[str, Any] | None = None
        self._key = _client_key(nw)
        self._vm_rows: dict[str, dict[str, Any]] = {}
        self._restoring = False
        self.scope = RecordedScope.of(nw)

        full = w.Layout(width="auto")
        label = {"description_width": "120px"}
        self.resource_group = w.Dropdown(description="Resource group", options=[], style=label,
                                         layout=w.Layout(width="420px"))
        self.vm = w.Dropdown(description="Source VM", options=[], style=label,
                             layout=w.Layout(width="520px"))
        self.source_info = w.HTML()
        self.dest_kind = w.ToggleButtons(description="Destination", options=DEST_KINDS,
                                         value="VM", style={**label, "button_width": "70px"})
        self.destination = w.Combobox(description="Value", placeholder=_PLACEHOLDERS["VM"],
                                      options=[], ensure_option=False, style=label,
                                      layout=w.Layout(width="520px"))
        # A combobox: free text, with the recorded ports offered in replay.
        self.port = w.Combobox(description="Port", placeholder="e.g. 80, or blank",
                               options=[], ensure_option=False, style=label,
                               layout=w.Layout(width="320px"))
        self.protocol = w.Dropdown(description="Protocol", options=PROTOCOLS, value="Auto",
                                   style=label, layout=w.Layout(width="320px"))
        self.source_port = w.Text(description="Source port", placeholder="blank: any",
                                  style=label)
        self.http_method = w.Dropdown(description="HTTP method", options=["Get"], value="Get",
                                      style=label)
        self.headers = w.Textarea(description="Headers", placeholder="accept: application/json",
                                  style=label, layout=w.Layout(width="520px", height="70px"))
        self.valid_status_codes = w.Text(description="Valid codes", placeholder="e.g. 200, 204",
                                         style=label)
        self.ip_version = w.Dropdown(description="IP version", options=IP_VERSIONS, value="Any",
                                     style=label)
        self.advanced = w.Accordion(children=[w.VBox([
            self.source_port, self.http_method, self.headers, self.valid_status_codes,
            self.ip_version])], selected_index=None)
        self.advanced.set_title(0, "Advanced")
        self.run = w.Button(description="Run check", button_style="primary", icon="play",
                            tooltip="Run the connection check")
        self.stop = w.Button(description="Stop", icon="stop", disabled=True,
                             tooltip="Stop waiting for the check")
        # ipywidgets' default button width (148px) clips this label ("Verify fix on th...").
        self.verify = w.Button(description="Verify fix on the twin", icon="check",
                               disabled=self.twin is None, layout=w.Layout(width="auto"),
                               tooltip="Diagnose the check, apply each fix to a fork of the twin "
                                       "and re-run it" if self.twin is not None else
                                       "No twin: pass CheckForm(nw, twin=nwlab.emulate(...))")
        self.progress = w.HTML()
        self.status = w.HTML()
        self.out = w.Output(layout=full)
        self.widget = w.VBox([
            w.HTML("<b>Connection troubleshoot</b>"),
            self.resource_group, self.vm, self.source_info,
            self.dest_kind, self.destination,
            w.HBox([self.port, self.protocol]),
            self.advanced,
            w.HBox([self.run, self.stop, self.verify]),
            self.progress, self.status, self.out,
        ])

        self._load_groups()
        self.resource_group.observe(self._on_group, names="value")
        self.vm.observe(self._on_vm, names="value")
        self.dest_kind.observe(self._on_kind, names="value")
        self.destination.observe(self._on_destination, names="value")
        self._restore()
        self._fill_vms()
        for name in _SAVED:
            getattr(self, name).observe(self._save, names="value")
        self.run.on_click(self._on_run)
        self.stop.on_click(self._on_stop)
        self.verify.on_click(self._on_verify)

    # -- inventory -----------------------------------------------------------------------

    def _load_groups(self) -> None:
        try:
            groups = [str(g) for g in self.nw.list_resource_groups()]
        except Exception as exc:  # shown inline: the form stays usable with typed values
            self._show_error(exc)
            groups = []
        if self.scope is not None:
            groups = [g for g in groups if g.lower() in self.scope.groups()]
        self.resource_group.options = groups
        self.resource_group.value = groups[0] if groups else None

    def _fill_vms(self) -> None:
        """Fill the source and VM-destination lists from the chosen resource group."""
        rg = self.resource_group.value
        keep = self.vm.value
        rows: dict[str, dict[str, Any]] = {}
        if rg:
            try:
                frame = self.nw.list_vms(resource_group=rg)
                rows = {str(r["name"]): dict(r) for r in frame.to_dict("records")}
                if self.scope is not None:
                    recorded = self.scope.sources(rg)
                    rows = {n: r for n, r in rows.items() if n.lower() in recorded}
            except Exception as exc:
                self._show_error(exc)
        self._vm_rows = rows
        options = [(self._vm_label(row), name) for name, row in rows.items()]
        self.vm.options = options
        names = list(rows)
        ready = [n for n, r in rows.items() if r.get("agent") is True
                 and str(r.get("power_state") or "").lower() == "running"]
        choices: list[str | None] = [*ready, *names, None]
        self.vm.value = keep if keep in rows else choices[0]
        self._on_vm()

    @staticmethod
    def _vm_label(row: dict[str, Any]) -> str:
        state = row.get("power_state")
        state = state if isinstance(state, str) and state else "state unknown"
        agent = row.get("agent")
        agent_text = "agent ✓" if agent is True else ("no agent" if agent is False else "agent ?")
        return f"{row.get('name')} · {state} · {agent_text}"

    def _on_group(self, _change: Any = None) -> None:
        if not self._restoring:
            self._fill_vms()

    def _on_vm(self, _change: Any = None) -> None:
        if self.scope is not None:
            kinds = self.scope.kinds(self.vm.value) or list(DEST_KINDS)
            if list(self.dest_kind.options) != kinds:
                keep = self.dest_kind.value
                self.dest_kind.options = kinds
                self.dest_kind.value = keep if keep in kinds else kinds[0]
        self._on_kind()
        row = self._vm_rows.get(self.vm.value or "")
        if row is None:
            self.source_info.value = ""
            return
        notes = []
        state = row.get("power_state")
        if isinstance(state, str) and state and state.lower() != "running":
            notes.append(f"{row.get('name')} is {state}: start it, a check needs a running VM.")
        if row.get("agent") is False:
            notes.append("The Network Watcher agent is not installed on it: the check will fail "
                         "until the NetworkWatcherAgent extension is added.")
        self.source_info.value = "".join(
            f'<div style="color:#B36B00">&#x26A0; {html.escape(n)}</div>' for n in notes)

    def _on_kind(self, _change: Any = None) -> None:
        kind = self.dest_kind.value
        if self.scope is not None:
            self.destination.options = self.scope.destinations(self.vm.value, kind)
            shown = ", ".join(self.destination.options[:2])
            self.destination.placeholder = f"recorded: {shown}" if shown else \
                _PLACEHOLDERS.get(kind, "")
        else:
            self.destination.placeholder = _PLACEHOLDERS.get(kind, "")
            self.destination.options = list(self._vm_rows) if kind == "VM" else []
        self._on_destination()

    def _on_destination(self, _change: Any = None) -> None:
        """In replay, offer the ports recorded for this source and destination."""
        if self.scope is not None:
            self.port.options = self.scope.ports(self.vm.value, self.destination.value or "")

    # -- remembered values ---------------------------------------------------------------

    def _save(self, _change: Any = None) -> None:
        if not self._restoring:
            _REGISTRY[self._key] = {name: getattr(self, name).value for name in _SAVED}

    def _restore(self) -> None:
        saved = _REGISTRY.get(self._key)
        if not saved:
            return
        self._restoring = True
        try:
            if saved.get("resource_group") in self.resource_group.options:
                self.resource_group.value = saved["resource_group"]
            for name in _SAVED:
                if name in ("resource_group", "vm") or name not in saved:
                    continue
                widget = getattr(self, name)
                options = getattr(widget, "options", None)
                if isinstance(widget, w.Combobox) or options is None \
                        or saved[name] in options:
                    widget.value = saved[name]
        finally:
            self._restoring = False
        self._fill_vms()
        vm = saved.get("vm")
        if vm in self._vm_rows:
            self.vm.value = vm
        self._on_kind()

    # -- filling from code ---------------------------------------------------------------

    def fill(self, **values: Any) -> CheckForm:
        """Set fields from code, as a user would type them: resource_group, vm, destination
        (its kind inferred unless dest_kind is given), port, protocol, source_port, ip_version,
        headers, valid_status_codes. Returns the form, so `form.fill(...).run.click()` reads well."""
        unknown = sorted(set(values) - set(_SAVED))
        if unknown:
            raise TypeError(f"fill(): unknown field(s) {', '.join(unknown)}; the fields are "
                            f"{', '.join(_SAVED)}, e.g. form.fill(destination='10.1.4.4', port=80)")
        if "resource_group" in values:
            self.resource_group.value = values["resource_group"]
        if "vm" in values:
            self.vm.value = values["vm"]
        if "destination" in values and "dest_kind" not in values:
            values["dest_kind"] = self._kind_of(str(values["destination"]))
            if values["dest_kind"] not in self.dest_kind.options:
                values.pop("dest_kind")  # replay offers only recorded kinds; the run refuses
        for name in ("dest_kind", "destination", "port", "protocol", "source_port", "ip_version",
                     "headers", "valid_status_codes", "http_method"):
            if name in values:
                value = values[name]
                getattr(self, name).value = "" if value is None else (
                    str(value) if name in ("port", "source_port") else value)
        return self

    def _kind_of(self, destination: str) -> str:
        text = destination.strip()
        if text in self._vm_rows:
            return "VM"
        kind = destination_kind(text)
        # A mistyped address (10.1.1.300) is still meant as an IP: checkspec says what is wrong.
        return "IP" if kind == "Host" and text.replace(".", "").isdigit() else kind

    # -- building the call ---------------------------------------------------------------

    @staticmethod
    def _int_or_none(field: str, text: str, example: str) -> int | None:
        text = (text or "").strip()
        if not text:
            return None
        if not text.isdigit():
            raise ValueError(f"{field}: {text!r} is not a port number; type a number from 0 to "
                             f"65535, e.g. {example}, or leave it blank")
        return int(text)

    def _http(self, protocol: str | None) -> dict[str, Any] | None:
        """HTTP options only when the user set some: GET is the service's only method and its
        default, and an unasked-for protocolConfiguration would change the request sent."""
        if not (self.headers.value.strip() or self.valid_status_codes.value.strip()):
            return None
        kind = self.dest_kind.value
        effective = protocol or ("Https" if kind == "URL"
                                 and self.destination.value.strip().lower().startswith("https")
                                 else ("Http" if kind == "URL" else None))
        if effective not in ("Http", "Https"):
            raise ValueError("Headers / Valid codes: HTTP options need protocol Http or "
                             "Https (or a URL destination); choose the protocol, e.g. Https")
        http: dict[str, Any] = {"method": self.http_method.value}
        headers: dict[str, str] = {}
        for number, line in enumerate(self.headers.value.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"Headers: line {number} ({line.strip()!r}) is not "
                                 "'Name: value'; write one header per line, e.g. "
                                 "'accept: application/json'")
            headers[name.strip()] = value.strip()
        if headers:
            http["headers"] = headers
        codes_text = self.valid_status_codes.value.strip()
        if codes_text:
            codes = []
            for part in codes_text.replace(";", ",").split(","):
                part = part.strip()
                if not part:
                    continue
                if not part.isdigit():
                    raise ValueError(f"Valid codes: {part!r} is not a number; type HTTP "
                                     "codes separated by commas, e.g. 200, 204")
                codes.append(int(part))
            http["valid_status_codes"] = codes
        return http

    def check_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `nw.check` from the current field values (ValueError if bad)."""
        source = self.vm.value
        if not source:
            raise ValueError("Source VM: choose a resource group and a source VM; the list is "
                             "filled from nw.list_vms(), e.g. ContosoRG / MultiTierApp0")
        row = self._vm_rows.get(source, {})
        destination = self.destination.value.strip()
        if not destination:
            raise ValueError(f"Destination: type a {self.dest_kind.value} value, "
                             f"{_PLACEHOLDERS[self.dest_kind.value]}")
        protocol = None if self.protocol.value == "Auto" else self.protocol.value
        rg = row.get("resource_group") or self.resource_group.value
        return {
            "source": source,
            "destination": destination,
            "port": self._int_or_none("Port", self.port.value, "443"),
            "protocol": protocol,
            "resource_group": rg if isinstance(rg, str) and rg else None,
            "source_port": self._int_or_none("Source port", self.source_port.value, "50000"),
            "http": self._http(protocol),
            "ip_version": None if self.ip_version.value == "Any" else self.ip_version.value,
            "timeout": self.timeout,
        }

    # -- running -------------------------------------------------------------------------

    def _answerable_kwargs(self) -> dict[str, Any]:
        """check_kwargs(), validated as check() validates them (so a mistake is named at once,
        without starting a run), then refused in one line when a replay client holds no
        recording of it."""
        from nwlab.arm.ids import ZERO_SUBSCRIPTION
        from nwlab.checkspec import build_check

        kwargs = self.check_kwargs()
        subscription = getattr(self.nw, "subscription_id", None)
        build_check(subscription if isinstance(subscription, str) else ZERO_SUBSCRIPTION,
                    **kwargs)
        if self.scope is not None and not self.scope.covers(kwargs):
            raise ValueError(OUT_OF_RECORDINGS)
        return kwargs

    def fields(self) -> list[tuple[str, str]]:
        return [("Resource group", str(self.resource_group.value or "")),
                ("Source VM", str(self.vm.value or "")),
                (f"Destination ({self.dest_kind.value})", self.destination.value),
                ("Port", self.port.value), ("Protocol", self.protocol.value)]

    def _on_run(self, _button: Any = None) -> None:
        kwargs = self._prepare(self._answerable_kwargs)
        if kwargs is None:
            return
        self.last_kwargs = dict(kwargs)
        self._save()
        self.out.outputs = ()
        self.progress.value = f"Running: {html.escape(kwargs['source'])} → " \
                              f"{html.escape(kwargs['destination'])} …"
        self._start(self._work, kwargs, time.monotonic(), name="nwlab-check")

    def _work(self, kwargs: dict[str, Any], started: float, cancel: threading.Event) -> None:
        """The background part: run the check, then render the result or the error inline."""
        try:
            fn = self.runner if self.runner is not None else self.nw.check
            result = fn(**kwargs, on_progress=self._on_progress, cancel=cancel)
            self.result = result
            self._render(result)
            self.progress.value = (f"Done in {time.monotonic() - started:.1f} s: "
                                   f"{html.escape(str(getattr(result, 'status', '')))}")
        except BaseException as exc:  # shown in the form, never raised into the kernel
            self._show_error(exc)
            self.progress.value = ""
        finally:
            self._finished()

    def _on_verify(self, _button: Any = None) -> None:
        kwargs = self._prepare(self._answerable_kwargs)
        if kwargs is None or self.twin is None:
            return
        self.out.outputs = ()
        self.progress.value = "Diagnosing, then proving each fix on a fork of the twin …"
        self._start(self._verify_work, kwargs, time.monotonic(), name="nwlab-verify")

    def _verify_work(self, kwargs: dict[str, Any], started: float,
                     cancel: threading.Event) -> None:
        """diagnose() with the form's check, verify_fixes() on the twin, the answer inline."""
        try:
            d = self.nw.diagnose(kwargs["source"], kwargs["destination"], kwargs["port"],
                                 protocol=kwargs["protocol"],
                                 resource_group=kwargs["resource_group"], timeout=self.timeout)
            if not cancel.is_set():
                d.verify_fixes(self.twin)
            self.diagnosis = self.result = d
            self.out.outputs = (html_bundle(d._repr_html_(), str(d)),)
            proven = sum(1 for f in d.fixes if f.proven)
            self.progress.value = (f"Done in {time.monotonic() - started:.1f} s: {proven} of "
                                   f"{len(d.fixes)} fixes proven on the twin")
        except BaseException as exc:  # shown in the form, never raised into the kernel
            self._show_error(exc)
            self.progress.value = ""
        finally:
            self._finished()

    def _render(self, result: Any) -> None:
        from nwlab.viz import path_figure, sankey_figure
        from nwlab.viz.html import result_html

        path, sankey = path_figure(result), sankey_figure(result)
        self.figures = [path, sankey]
        hops = len(getattr(result, "hops", ()))
        self.out.outputs = (
            html_bundle(result_html(result), str(result)),
            plotly_bundle(path, f"<path figure: {hops} hops>"),
            plotly_bundle(sankey, f"<probe Sankey: {hops} hops>"),
        )

    def _on_progress(self, p: Any) -> None:
        parts = [f"{getattr(p, 'state', 'running')}",
                 f"{float(getattr(p, 'elapsed_s', 0.0)):.0f} s elapsed",
                 f"{int(getattr(p, 'polls', 0))} poll{'s' if getattr(p, 'polls', 0) != 1 else ''}"]
        last = getattr(p, "last_status", None)
        if last is not None:
            parts.append(f"last HTTP {last}")
        nxt = getattr(p, "next_poll_s", None)
        if nxt is not None:
            parts.append(f"next poll in {float(nxt):.0f} s")
        self.progress.value = "&#x23F3; " + html.escape(" · ".join(parts))
