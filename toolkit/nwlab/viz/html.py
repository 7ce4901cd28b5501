"""`result_html(result)`: the rich repr of a ConnectivityResult (used by `_repr_html_`).

No Plotly here: this is what a notebook shows for a bare `result`. Inline styles only (no <style>
block, no ids), inherited text colour and translucent fills, so it reads in light and dark themes
and is byte-identical run to run. Everything from the service is escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from nwlab.explain import explain_result, findings_html, verdict_sentence
from nwlab.verdict import status_verdict
from nwlab.viz.palette import BADGE, ISSUE, NEUTRAL

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import ConnectivityResult

__all__ = ["badge_html", "findings_html", "hops_table_html", "result_html"]

_esc = html.escape

_CELL = f"padding:3px 8px;border-bottom:1px solid {NEUTRAL}55;text-align:left;vertical-align:top"


def badge_html(result: ConnectivityResult) -> str:
    """The status as a pill with an icon and the raw status word (never colour alone)."""
    verdict = status_verdict(result.reachable, result.status)  # nwlab.verdict: one classification
    if verdict == "reachable":
        icon, colour = "&#x2714;", BADGE["reachable"]
    elif verdict == "unreachable":
        icon, colour = "&#x2716;", BADGE["unreachable"]
    else:
        icon, colour = "?", BADGE["other"]
    return (f'<span class="nwlab-badge" style="display:inline-block;padding:2px 10px;'
            f'border-radius:10px;background:{colour};color:#fff;font-weight:600">'
            f"{icon} {_esc(result.status)}</span>")


def _figures(result: ConnectivityResult) -> str:
    parts = []
    if result.avg_latency_ms is not None:
        text = f"latency avg {result.avg_latency_ms} ms"
        if result.min_latency_ms is not None and result.max_latency_ms is not None:
            text += f" (min {result.min_latency_ms} ms, max {result.max_latency_ms} ms)"
        parts.append(text)
    else:
        parts.append("latency not reported")
    if result.probes_sent is not None:
        parts.append(f"{result.probes_failed or 0} of {result.probes_sent} probes failed")
    else:
        parts.append("no probe figures")
    parts.append(f"{len(result.hops)} hop{'s' if len(result.hops) != 1 else ''}")
    return " &middot; ".join(_esc(p) for p in parts)


def _rtt(result: ConnectivityResult, index: int) -> str:
    hop = result.hops[index]
    values = [f"{link.rtt_avg_ms} ms" for link in hop.links if link.rtt_avg_ms is not None]
    return ", ".join(values) if values else "-"


def hops_table_html(result: ConnectivityResult) -> str:
    """The hop table from the model: position, type, address, resource, next hops, RTT, issues."""
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in
                   ("#", "Type", "Address", "Resource", "Next hop #", "RTT to next", "Issues"))
    index_of = {hop.id: str(n) for n, hop in enumerate(result.hops, start=1)}
    rows = []
    for n, hop in enumerate(result.hops):
        issues = hop.all_issues
        issue_text = "<br>".join(f"&#x2716; {_esc(i.severity)} {_esc(i.describe())}"
                                 for i in issues) or "-"
        nexts = ", ".join(index_of.get(x, x[:8]) for x in hop.next_hop_ids) or "-"
        style = _CELL + (f";color:{ISSUE};font-weight:600" if issues else "")
        cells = [str(n + 1), hop.type, hop.address or "-", hop.name or "-", nexts, _rtt(result, n)]
        rows.append("<tr>" + "".join(f'<td style="{_CELL}">{_esc(c)}</td>' for c in cells)
                    + f'<td style="{style}">{issue_text}</td></tr>')
    return (f'<table class="nwlab-hops" style="border-collapse:collapse;margin-top:6px;'
            f'font-size:0.92em;color:inherit;background:transparent">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def result_html(result: ConnectivityResult) -> str:
    """Badge, figures, the verdict sentence, the findings with fixes, and the hop table."""
    return (
        f'<div class="nwlab-result" style="font-family:inherit;color:inherit;line-height:1.45;'
        f"border:1px solid {NEUTRAL}88;border-radius:6px;padding:8px 12px;margin:4px 0;"
        f'max-width:1100px">'
        f'<div style="display:flex;gap:10px;align-items:center;flex-wrap:wrap">'
        f"{badge_html(result)}<span>{_figures(result)}</span></div>"
        f'<p class="nwlab-verdict" style="margin:8px 0;font-weight:600">'
        f"{_esc(verdict_sentence(result))}</p>"
        f"{findings_html(explain_result(result))}"
        f"{hops_table_html(result)}"
        "</div>"
    )
