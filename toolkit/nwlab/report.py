"""Safe sharing: redaction with stable pseudonyms, and one self-contained HTML file per report.

A diagnosis is often handed to a colleague or pasted into a ticket. Redaction replaces subscription
and tenant ids (always) and, when asked, resource names and IP addresses with pseudonyms that are
stable within a Redactor, so the same VM keeps the same pseudonym across every result of a report,
and the verdict, the hops and the issues keep their shape.
"""

from __future__ import annotations

import html
import ipaddress
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwlab.model import ConnectivityResult

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.batch import BatchResult

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SUBSCRIPTION = re.compile(rf"(/subscriptions/)({_GUID})", re.IGNORECASE)
_TENANT_FIELD = re.compile(rf'("(?:tenantId|homeTenantId|subscriptionId)"\s*:\s*")({_GUID})"')
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
# ARM path segments whose following segment is a user-chosen name.
_NAMED = re.compile(
    r"(/(?:resourceGroups|virtualMachines|networkInterfaces|ipConfigurations|virtualNetworks|subnets|"
    r"networkSecurityGroups|securityRules|routeTables|routes|publicIPAddresses|networkWatchers|"
    r"extensions)/)([^/\"\s?]+)", re.IGNORECASE)
_SHORT_KIND = {"resourcegroups": "rg", "virtualmachines": "vm", "networkinterfaces": "nic",
               "ipconfigurations": "ipconfig", "virtualnetworks": "vnet", "subnets": "subnet",
               "networksecuritygroups": "nsg", "securityrules": "rule", "routetables": "rt",
               "routes": "route", "publicipaddresses": "pip", "networkwatchers": "watcher",
               "extensions": "ext"}
# Names the service uses itself; they carry no information about the user.
_PUBLIC_NAMES = frozenset({"ipconfig1", "networkwatcherrg"})
_PUBLIC_IPS = frozenset({"168.63.129.16", "169.254.169.254", "0.0.0.0"})


class Redactor:
    """Maps real identifiers to pseudonyms, the same pseudonym every time within one redactor."""

    def __init__(self, *, names: bool = False, addresses: bool = False) -> None:
        self.names = names
        self.addresses = addresses
        self._guids: dict[str, str] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._ips: dict[str, str] = {}

    def _guid(self, value: str) -> str:
        key = value.lower()
        if key == "00000000-0000-0000-0000-000000000000":
            return value
        if key not in self._guids:
            self._guids[key] = f"00000000-0000-0000-0000-{len(self._guids) + 1:012d}"
        return self._guids[key]

    def _name(self, kind: str, value: str) -> str:
        short = _SHORT_KIND.get(kind.strip("/").lower(), "res")
        if value.lower() in _PUBLIC_NAMES:
            return value
        key = (short, value.lower())
        if key not in self._names:
            count = sum(1 for k in self._names if k[0] == short) + 1
            self._names[key] = f"{short}{count}"
        return self._names[key]

    def _ip(self, value: str) -> str:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return value
        if value in _PUBLIC_IPS or address.is_loopback:
            return value
        if value not in self._ips:
            # Documentation ranges (RFC 5737): private addresses stay private-looking in 10/8.
            n = len(self._ips) + 1
            self._ips[value] = (f"10.255.{n // 250}.{n % 250 + 1}" if address.is_private
                                else f"203.0.113.{n % 250 + 1}")
        return self._ips[value]

    def text(self, value: str) -> str:
        value = _SUBSCRIPTION.sub(lambda m: m.group(1) + self._guid(m.group(2)), value)
        value = _TENANT_FIELD.sub(lambda m: f'{m.group(1)}{self._guid(m.group(2))}"', value)
        if self.names:
            value = _NAMED.sub(lambda m: m.group(1) + self._name(m.group(1), m.group(2)), value)
            # Names already seen in ids also hide where they appear bare (messages, inputs).
            for (_, real), pseudonym in self._names.items():
                value = re.sub(rf"(?<![\w.-]){re.escape(real)}(?![\w-])", pseudonym, value,
                               flags=re.IGNORECASE)
        if self.addresses:
            value = _IPV4.sub(lambda m: self._ip(m.group(1)), value)
        return value

    def inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """A check's keyword arguments: bare VM and resource group names are names too."""
        out: dict[str, Any] = {}
        for key, value in inputs.items():
            if self.names and isinstance(value, str) and "/" not in value:
                if key == "resource_group":
                    value = self._name("resourcegroups", value)
                elif key in ("source", "destination") and "." not in value \
                        and ":" not in value:
                    value = self._name("virtualmachines", value)
            out[key] = self.value(value)
        return out

    def value(self, data: Any) -> Any:
        """Redact every string inside a JSON-like value (keys included)."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {self.text(str(k)): self.value(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def result(self, result: ConnectivityResult) -> ConnectivityResult:
        redacted = ConnectivityResult.from_dict(self.value(result.to_dict()))
        return redacted.with_meta(**self.value(dict(result.meta)))


_DEFAULT = Redactor()


def redact_result(result: ConnectivityResult, *, names: bool = False, addresses: bool = False,
                  redactor: Redactor | None = None) -> ConnectivityResult:
    if redactor is None:
        redactor = _DEFAULT if not (names or addresses) else Redactor(names=names,
                                                                       addresses=addresses)
    return redactor.result(result)


def _as_results(results: Any) -> list[tuple[str, ConnectivityResult]]:
    if isinstance(results, ConnectivityResult):
        return [("", results)]
    entries = getattr(results, "entries", None)
    if entries is not None:  # a BatchResult: keep the checks that produced a result
        out = []
        for entry in entries:
            result = getattr(entry, "result", None)
            if result is not None:
                port = entry.inputs.get("port")
                label = f"{entry.source_label} → {entry.destination_label}" + \
                    (f" port {port}" if port is not None else "")
                out.append((label, result))
        return out
    if isinstance(results, Iterable):
        items = list(results)
        if not all(isinstance(r, ConnectivityResult) for r in items):
            raise TypeError("results: expected ConnectivityResult objects, e.g. "
                            "export_html([r1, r2], 'report.html')")
        return [("", r) for r in items]
    raise TypeError(f"results: expected a ConnectivityResult, a list of them or a BatchResult, got "
                    f"{type(results).__name__}; e.g. export_html(r, 'report.html')")


def export_html(results: ConnectivityResult | Iterable[ConnectivityResult] | BatchResult,
                path: str | os.PathLike[str], *, redact: bool = True, names: bool = False,
                addresses: bool = False, title: str = "nwlab connection troubleshoot report") -> Path:
    """Write one HTML file that shows the results and their figures offline (plotly.js inlined)."""
    import plotly.offline

    from nwlab.viz import path_figure, sankey_figure
    from nwlab.viz.html import result_html

    items = _as_results(results)
    redactor = Redactor(names=names, addresses=addresses) if redact else None
    sections = []
    for index, (label, result) in enumerate(items, start=1):
        shown = redactor.result(result) if redactor else result
        figures = [fig.to_html(full_html=False, include_plotlyjs=False,
                               div_id=f"nwlab-{index}-{kind}", config={"displaylogo": False})
                   for kind, fig in (("path", path_figure(shown)), ("sankey", sankey_figure(shown)))]
        heading = html.escape(redactor.text(label) if redactor and label else label or
                              f"Check {index}")
        inputs = _inputs_line(shown)
        sections.append(f"<section><h2>{heading}</h2>{inputs}{result_html(shown)}"
                        f"{''.join(figures)}</section>")
    note = ("<p class='note'>Subscription and tenant ids are replaced by pseudonyms"
            + (", resource names too" if names else "") + (", IP addresses too" if addresses else "")
            + ".</p>") if redact else ""
    document = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "section{margin-bottom:3em}.note{color:#666}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>{note}{''.join(sections) or '<p>No results.</p>'}"
        "</body></html>")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(document)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _inputs_line(result: ConnectivityResult) -> str:
    meta = result.meta
    if not meta.get("source"):
        return ""
    port = f":{meta['port']}" if meta.get("port") is not None else ""
    text = f"{meta['source']} → {meta.get('destination', '')}{port}"
    return f"<p><code>{html.escape(text)}</code></p>"

