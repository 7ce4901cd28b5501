"""One self-contained HTML file per report: results and their figures, readable offline.

A diagnosis is often handed to a colleague or pasted into a ticket, so the report is redacted by
default (nwlab.redact: one redactor for the whole report, so the same VM keeps one pseudonym in
every section). Each section is headed by what was checked (source, destination, port) and says
when the check ran; the page says when it was written.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwlab.arm.ids import parse_resource_id
from nwlab.files import write_text
from nwlab.model import ConnectivityResult
from nwlab.redact import Redactor, cut_tokens

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.batch.result import BatchResult


def export_html(results: ConnectivityResult | Iterable[ConnectivityResult] | BatchResult,
                path: str | os.PathLike[str], *, redact: bool = True, names: bool = False,
                addresses: bool = False, keep_rule_names: bool = False,
                title: str = "nwlab connection troubleshoot report") -> Path:
    """Write one HTML file that shows the results and their figures offline (plotly.js inlined).

    `redact=True` (the default) hides ids, GUIDs, people and tags; `names`, `addresses` and
    `keep_rule_names` widen or narrow it as in ConnectivityResult.redact().
    """
    import plotly.offline

    from nwlab.viz import path_figure, sankey_figure
    from nwlab.viz.html import result_html

    redactor = Redactor(names=names, addresses=addresses, keep_rule_names=keep_rule_names) \
        if redact else None
    items = _as_results(results, redactor)
    sections = []
    times = []
    for index, (fields, result) in enumerate(items, start=1):
        figures = [fig.to_html(full_html=False, include_plotlyjs=False,
                               div_id=f"nwlab-{index}-{kind}", config={"displaylogo": False})
                   for kind, fig in (("path", path_figure(result)), ("sankey", sankey_figure(result)))]
        ran = _checked_at(result)
        if ran is not None:
            times.append(ran)
        when = f"Checked {_stamp(ran)}." if ran is not None else "When this check ran was not recorded."
        sections.append(f"<section><h2>{html.escape(_heading(fields) or f'Check {index}')}</h2>"
                        f"<p class='when'>{html.escape(when)}</p>{result_html(result)}"
                        f"{''.join(figures)}</section>")
    document = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "section{margin-bottom:3em}.note,.when{color:#666}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='note'>{html.escape(_written_line(times))}</p>"
        f"{_redaction_note(redactor)}{''.join(sections) or '<p>No results.</p>'}"
        "</body></html>")
    return write_text(path, document)


def _as_results(results: Any, redactor: Redactor | None
                ) -> list[tuple[Mapping[str, Any], ConnectivityResult]]:
    """(what was checked, result) per section, redacted with the report's one redactor."""
    if isinstance(results, ConnectivityResult):
        items = [results]
    elif hasattr(results, "entries"):  # a BatchResult: the checks that produced a result
        batch = results.redact(redactor=redactor) if redactor is not None else results
        return [({**e.result.meta, **e.inputs}, e.result) for e in batch.entries
                if e.result is not None]
    elif isinstance(results, Iterable) and not isinstance(results, str | bytes | Mapping):
        items = list(results)
        if not all(isinstance(r, ConnectivityResult) for r in items):
            raise TypeError("results: expected ConnectivityResult objects, e.g. "
                            "export_html([r1, r2], 'report.html')")
    else:
        raise TypeError(f"results: expected a ConnectivityResult, a list of them or a BatchResult, "
                        f"got {type(results).__name__}; e.g. export_html(r, 'report.html')")
    if redactor is not None:
        # Learn every result first, so a name one result reveals is hidden in all of them.
        redactor.learn([{"result": r.to_dict(), "meta": r.meta} for r in items])
        items = [r.redact(redactor=redactor) for r in items]
    else:
        items = [ConnectivityResult.from_dict(cut_tokens(r.to_dict()), meta=cut_tokens(r.meta))
                 for r in items]
    return [(r.meta, r) for r in items]


def _heading(fields: Mapping[str, Any]) -> str:
    """`MultiTierApp0 → Database0, port 80`: names, not resource ids."""
    source, destination = fields.get("source"), fields.get("destination")
    if not source and not destination:
        return ""
    port = fields.get("port")
    return (f"{_short(source)} → {_short(destination)}"
            + (f", port {port}" if port not in (None, 0, "") else ""))


def _short(value: Any) -> str:
    """A resource id shows as the resource's name; anything else (IP, host, URL) as given."""
    text = "" if value is None else str(value)
    rid = parse_resource_id(text) if "/" in text and "://" not in text else None
    return rid.name if rid is not None else text


def _checked_at(result: ConnectivityResult) -> datetime | None:
    raw = result.meta.get("checked_at")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _written_line(times: list[datetime]) -> str:
    written = f"Written {_stamp(datetime.now(UTC))}."
    if not times:
        return written + " Check times were not recorded."
    first, last = min(times), max(times)
    ran = _stamp(first) if first == last else f"between {_stamp(first)} and {_stamp(last)}"
    return f"{written} Checks ran {ran}."


def _redaction_note(redactor: Redactor | None) -> str:
    if redactor is None:
        return "<p class='note'>Not redacted: ids, names and addresses are shown as they are.</p>"
    hidden = ["subscription, tenant and other ids", "e-mail addresses and user names", "tags"]
    if redactor.names:
        hidden.append("resource names" + ("" if not redactor.keep_rule_names else
                                          " (rule names kept)"))
        if not redactor.keep_rule_names:
            hidden.append("rule names")
    if redactor.addresses:
        hidden.append("IP addresses")
    return (f"<p class='note'>Replaced by pseudonyms: {html.escape(', '.join(hidden))}; the same "
            "value has the same pseudonym throughout this report.</p>")
