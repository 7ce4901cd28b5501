"""Plotly figures built from the model alone: the hop graph and the probe Sankey.

Both are plain `go.Figure`s (no FigureWidget, no uids, no random ids), so `fig.to_json()` is the
same every time. Backgrounds are transparent and text is mid-grey, readable in light and dark
themes; the "none" template keeps the JSON independent of plotly's default theme.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from nwlab.explain import Finding, blocking_cause, explain_issue, short_cause, verdict_sentence
from nwlab.viz._graph import forward_edges, layers, positions
from nwlab.viz.palette import ISSUE, LOST, NEUTRAL, hop_colour, rgba

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import ConnectivityResult, Hop, HopLink, Issue

__all__ = ["path_figure", "rtt_label", "sankey_figure"]

_FONT = {"color": NEUTRAL, "family": "Helvetica, Arial, sans-serif", "size": 12}
_TRANSPARENT = "rgba(0,0,0,0)"


def _wrap(text: str, width: int = 72) -> str:
    """Escape for Plotly's pseudo-HTML and break long lines with <br>."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width) or [""])


def rtt_label(link: HopLink | None) -> str | None:
    """`2 ms` when one figure is known (or all equal), `avg 2 ms` when min/max differ, else None."""
    if link is None:
        return None
    values = [v for v in (link.rtt_min_ms, link.rtt_avg_ms, link.rtt_max_ms) if v is not None]
    if not values:
        return None
    if link.rtt_avg_ms is not None:
        if len(set(values)) == 1:
            return f"{link.rtt_avg_ms} ms"
        return f"avg {link.rtt_avg_ms} ms"
    if len(set(values)) == 1:
        return f"{values[0]} ms"
    return f"{min(values)}-{max(values)} ms"


def _link(result: ConnectivityResult, a: str, b: str) -> HopLink | None:
    """The measured link a->b: from a's links, else from b's previousLinks (which point back)."""
    hop_a, hop_b = result.hop(a), result.hop(b)
    link = hop_a.link_to(b) if hop_a else None
    if link is None and hop_b is not None:
        link = next((x for x in hop_b.previous_links if x.next_hop_id == a), None)
    return link


def _label(hop: Hop) -> str:
    return hop.address or hop.name or hop.type


def _hover(hop: Hop, findings: list[Finding]) -> str:
    lines = [f"<b>{html.escape(hop.type)}</b>", f"Address: {html.escape(hop.address or '-')}"]
    if hop.name:
        lines.append(f"Resource: {html.escape(hop.name)}")
    for finding in findings:
        issue = finding.issue
        lines.append(f"<b>{html.escape(finding.severity)}: {_wrap(finding.title)}</b>")
        if issue is not None:
            for key, value in issue.context.items():
                lines.append(f"{html.escape(key)}: {_wrap(value)}")
        lines.append(_wrap(finding.meaning))
        lines.append(f"Likely cause: {_wrap(finding.cause)}")
        lines.append(f"Fix: {_wrap(finding.fix)}")
    return "<br>".join(lines)


def path_figure(result: ConnectivityResult) -> go.Figure:
    """The hop graph left to right: one column per layer, arrows labelled with RTT, issues in X."""
    pos = positions(result)
    hop_findings: dict[str, list[Finding]] = {}
    for hop in result.hops:
        for issue in hop.all_issues:
            hop_findings.setdefault(hop.id, []).append(explain_issue(issue, hop))

    fig = go.Figure()
    groups: dict[str, list[Hop]] = {}
    for hop in result.hops:
        groups.setdefault("Issue" if hop.id in hop_findings else hop.type, []).append(hop)
    for name, hops in groups.items():
        flagged = name == "Issue"
        fig.add_trace(go.Scatter(
            name="Issue found here" if flagged else name,
            x=[pos[h.id][0] for h in hops], y=[pos[h.id][1] for h in hops],
            mode="markers+text",
            text=[html.escape(_label(h)) for h in hops],
            textposition="bottom center",
            textfont={"color": NEUTRAL, "size": 12},
            hovertext=[_hover(h, hop_findings.get(h.id, [])) for h in hops],
            hoverinfo="text",
            marker={
                "size": 26 if flagged else 22,
                "color": ISSUE if flagged else hop_colour(name),
                "symbol": "x" if flagged else "circle",
                "line": {"color": NEUTRAL, "width": 1},
            },
            customdata=[h.id for h in hops],
        ))

    mid_x: list[float] = []
    mid_y: list[float] = []
    mid_text: list[str] = []
    for a, b in forward_edges(result):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        link = _link(result, a, b)
        bad = link is not None and bool(link.issues)
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
            showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=2 if bad else 1.5,
            arrowcolor=ISSUE if bad else NEUTRAL, standoff=15, startstandoff=15,
        )
        label = rtt_label(link)
        if bad and link is not None:
            label = f"✖ {label}" if label else "✖ issue"
        if label:
            fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, xref="x", yref="y", text=label,
                               showarrow=False, yshift=10,
                               font={"color": ISSUE if bad else NEUTRAL, "size": 11})
        hop_a, hop_b = result.hop(a), result.hop(b)
        hover = f"{html.escape(_label(hop_a) if hop_a else a)} → " \
                f"{html.escape(_label(hop_b) if hop_b else b)}"
        if link is not None and rtt_label(link):
            hover += (f"<br>RTT min/avg/max: {_ms(link.rtt_min_ms)} / {_ms(link.rtt_avg_ms)} / "
                      f"{_ms(link.rtt_max_ms)}")
        if link is not None:
            for issue in link.issues:
                hover += f"<br>{html.escape(short_cause(issue))}"
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        mid_text.append(hover)
    if mid_x:
        fig.add_trace(go.Scatter(
            name="links", x=mid_x, y=mid_y, mode="markers", hovertext=mid_text,
            hoverinfo="text", showlegend=False,
            marker={"size": 12, "color": NEUTRAL, "opacity": 0},
        ))

    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    per_column: dict[float, int] = {}
    for x, _ in pos.values():
        per_column[x] = per_column.get(x, 0) + 1
    tallest = max(per_column.values(), default=1)
    fig.update_layout(
        title={"text": _wrap(verdict_sentence(result), 110), "x": 0.01, "xanchor": "left",
               "font": {"size": 14, "color": NEUTRAL}},
        template="none",
        paper_bgcolor=_TRANSPARENT, plot_bgcolor=_TRANSPARENT, font=_FONT,
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.05, "yanchor": "top",
                "bgcolor": _TRANSPARENT, "font": {"color": NEUTRAL}},
        xaxis={"visible": False, "range": [min(xs) - 0.5, max(xs) + 0.5], "fixedrange": True},
        yaxis={"visible": False, "range": [min(ys) - 0.8, max(ys) + 0.6], "fixedrange": True},
        height=240 + 90 * tallest,
        margin={"l": 20, "r": 20, "t": 70, "b": 40},
        hoverlabel={"align": "left"},
    )
    return fig


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


@dataclass
class _Flow:
    labels: list[str]
    colours: list[str]
    source: list[int]
    target: list[int]
    value: list[float]
    link_colours: list[str]
    x: list[float] | None = None
    y: list[float] | None = None


def _place(result: ConnectivityResult, flow: _Flow, hop_index: dict[str, int]) -> None:
    """Fix node positions when probes leave the path: hops by layer, drop/lost nodes in a last
    column of their own, so a long cause label never overlaps the label of the hop before it."""
    ends = [i for i in range(len(flow.labels)) if i not in hop_index.values()]
    if not ends:
        return
    pos = positions(result)
    columns = max((x for x, _ in pos.values()), default=0.0) + 1
    ys = [y for _, y in pos.values()] or [0.0]
    top, bottom = max(ys), min(ys)
    span = (top - bottom) or 1.0
    x = [0.0] * len(flow.labels)
    y = [0.0] * len(flow.labels)
    for hop_id, i in hop_index.items():
        px, py = pos.get(hop_id, (0.0, 0.0))
        x[i] = max(px / columns, 0.001)
        y[i] = 0.1 + 0.4 * ((top - py) / span if top != bottom else 0.5)
    for k, i in enumerate(ends):
        x[i] = 0.999
        y[i] = 0.55 + 0.35 * (k / max(len(ends) - 1, 1))
    flow.x, flow.y = [round(v, 4) for v in x], [round(v, 4) for v in y]


def _drop_issue(hop: Hop, reachable: bool, any_errors: bool) -> Issue | None:
    """The issue that drops probes at this hop: an Error one, or any one if nothing is an Error."""
    for issue in hop.all_issues:
        if issue.severity.lower() in ("error", ""):
            return issue
    if not any_errors and not reachable and hop.all_issues:
        return hop.all_issues[0]
    return None


def _flows(result: ConnectivityResult) -> tuple[_Flow, float, float, bool]:
    """Probe flow along the path: (figure data, probes in, probes failed, counts known)."""
    known = result.probes_sent is not None
    total = float(result.probes_sent) if known and result.probes_sent is not None else 1.0
    if known:
        failed = float(min(max(result.probes_failed or 0, 0), result.probes_sent or 0))
    else:
        failed = 0.0 if result.reachable else 1.0
    flow = _Flow([], [], [], [], [], [])
    node: dict[str, int] = {}

    def node_of(key: str, label: str, colour: str) -> int:
        if key not in node:
            node[key] = len(flow.labels)
            flow.labels.append(label)
            flow.colours.append(colour)
        return node[key]

    def add(a: int, b: int, value: float, colour: str) -> None:
        if value > 1e-9:
            flow.source.append(a)
            flow.target.append(b)
            flow.value.append(round(value, 6))
            flow.link_colours.append(colour)

    if not result.hops:
        return flow, total, failed, known
    for hop in result.hops:
        node_of(hop.id, f"{hop.type} {_label(hop)}", hop_colour(hop.type))
    layer = layers(result)
    order = {hop.id: i for i, hop in enumerate(result.hops)}
    children: dict[str, list[str]] = {}
    for a, b in forward_edges(result):
        if layer[b] > layer[a]:
            children.setdefault(a, []).append(b)
    any_errors = any(i.severity.lower() in ("error", "") for i in result.issues)
    source = result.hops[0]
    dest = result.hops[-1]
    inflow: dict[str, float] = {source.id: total}
    remaining = failed
    into_dest: list[tuple[int, float]] = []  # (link index, value) of links entering the destination
    for hop in sorted(result.hops, key=lambda h: (layer[h.id], order[h.id])):
        amount = inflow.get(hop.id, 0.0)
        if amount <= 0:
            continue
        issue = _drop_issue(hop, result.reachable, any_errors)
        if issue is not None and remaining > 0:
            dropped = min(amount, remaining)
            remaining -= dropped
            amount -= dropped
            label = f"Dropped: {short_cause(issue)}"
            add(node[hop.id], node_of("drop:" + label, label, ISSUE), dropped, rgba(ISSUE, 0.55))
        kids = children.get(hop.id, [])
        if not kids or amount <= 0:
            continue
        share = amount / len(kids)
        for kid in kids:
            inflow[kid] = inflow.get(kid, 0.0) + share
            if kid == dest.id:
                into_dest.append((len(flow.value), share))
            add(node[hop.id], node[kid], share, rgba(hop_colour(hop.type), 0.35))
    if remaining > 1e-9:
        dest_name = dest.address or dest.name or "the destination"
        lost_label = f"Lost: no answer from {dest_name}"
        lost = node_of("lost", lost_label, LOST)
        arriving = sum(v for _, v in into_dest)
        if arriving > 0:
            for index, value in into_dest:
                take = min(value, remaining * value / arriving)
                flow.value[index] = round(flow.value[index] - take, 6)
                add(flow.source[index], lost, take, rgba(LOST, 0.5))
        else:
            add(node[source.id], lost, remaining, rgba(LOST, 0.5))
    _place(result, flow, {hop.id: node[hop.id] for hop in result.hops})
    keep = [i for i, v in enumerate(flow.value) if v > 1e-9]
    flow.source = [flow.source[i] for i in keep]
    flow.target = [flow.target[i] for i in keep]
    flow.value = [flow.value[i] for i in keep]
    flow.link_colours = [flow.link_colours[i] for i in keep]
    # Plotly misplaces fixed x/y when some nodes have no link: keep only linked nodes.
    used = sorted(set(flow.source) | set(flow.target))
    if used and len(used) < len(flow.labels):
        remap = {old: new for new, old in enumerate(used)}
        flow.labels = [flow.labels[i] for i in used]
        flow.colours = [flow.colours[i] for i in used]
        if flow.x is not None and flow.y is not None:
            flow.x, flow.y = [flow.x[i] for i in used], [flow.y[i] for i in used]
        flow.source = [remap[i] for i in flow.source]
        flow.target = [remap[i] for i in flow.target]
    return flow, total, failed, known


def sankey_figure(result: ConnectivityResult) -> go.Figure:
    """Probes entering at the source, flowing along the path; drops leave to a node saying why."""
    flow, total, failed, known = _flows(result)
    src = result.source
    dest = result.destination
    src_name = (src.address or src.name) if src else "the source"
    dest_name = (dest.address or dest.name) if dest else "the destination"
    if known:
        title = (f"{total:.0f} probes from {src_name}: {total - failed:.0f} delivered to "
                 f"{dest_name}, {failed:.0f} failed")
    else:
        title = (f"Probe counts not reported: 1 unit shown from {src_name} "
                 f"({'delivered' if result.reachable else 'not delivered'})")
    cause = blocking_cause(result)
    if cause:
        title += f"<br>{html.escape(cause)}"
    unit = "probes" if known else "unit"
    node: dict[str, Any] = {
        "label": [html.escape(x) for x in flow.labels], "color": flow.colours,
        "pad": 24, "thickness": 18, "line": {"color": NEUTRAL, "width": 0.5},
        "hovertemplate": "%{label}: %{value}<extra></extra>"}
    if flow.x is not None and flow.y is not None:
        node["x"], node["y"] = flow.x, flow.y
    fig = go.Figure(go.Sankey(
        orientation="h",
        arrangement="snap",
        valueformat=".4~g",
        valuesuffix=f" {unit}",
        node=node,
        link={"source": flow.source, "target": flow.target, "value": flow.value,
              "color": flow.link_colours,
              "hovertemplate": "%{source.label} → %{target.label}: %{value}<extra></extra>"},
        textfont={"color": NEUTRAL, "size": 12},
    ))
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left",
               "font": {"size": 14, "color": NEUTRAL}},
        template="none",
        paper_bgcolor=_TRANSPARENT, plot_bgcolor=_TRANSPARENT, font=_FONT,
        height=360, margin={"l": 20, "r": 20, "t": 70, "b": 20},
    )
    return fig
