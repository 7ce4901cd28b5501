"""Plotly figures built from the model alone: the hop graph and the probe Sankey.

Both are plain `go.Figure`s (no FigureWidget, no uids, no random ids), so `fig.to_json()` is the
same every time. Backgrounds are transparent and text is mid-grey, readable in light and dark
themes; the "none" template keeps the JSON independent of plotly's default theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from nwlab.explain import (
    Finding,
    blocking_cause,
    blocking_issue,
    destination_name,
    drops_traffic,
    explain_issue,
    requested_host,
    short_cause,
    verdict_sentence,
)
from nwlab.verdict import status_verdict
from nwlab.viz._graph import Layout, layout
from nwlab.viz.palette import ISSUE, LOST, NEUTRAL, hop_colour, rgba
from nwlab.viz.text import plotly_text, wrapped

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import ConnectivityResult, Hop, HopLink, Issue

__all__ = ["path_figure", "rtt_label", "sankey_figure"]

_FONT = {"color": NEUTRAL, "family": "Helvetica, Arial, sans-serif", "size": 12}
_TRANSPARENT = "rgba(0,0,0,0)"


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


def _link(hops: tuple[Hop, ...], a: int, b: int) -> HopLink | None:
    """The measured link a->b: from a's links, else from b's previousLinks (which point back)."""
    link = hops[a].link_to(hops[b].id)
    if link is None:
        link = next((x for x in hops[b].previous_links if x.next_hop_id == hops[a].id), None)
    return link


def _short_label(hop: Hop) -> str:
    """One word for a hop where space is short (Sankey nodes, edge hover): address, else name."""
    return hop.address or hop.name or hop.type


def _node_label(hop: Hop, name: str | None) -> str:
    """Name over address (escaped), so a hop is known by what it is, not only by its IP. The
    service's placeholders ("Unknown", "Internet") are not names: such a hop shows its address."""
    lines = [x for x in (name or (hop.name if hop.resource_id else None), hop.address) if x]
    if len(lines) == 2 and lines[0] == lines[1]:
        lines = lines[:1]
    return "<br>".join(plotly_text(x) for x in lines or [hop.type])


def _hover(hop: Hop, findings: list[Finding], reached: bool) -> str:
    lines = [f"<b>{plotly_text(hop.type)}</b>", f"Address: {plotly_text(hop.address or '-')}"]
    if hop.name:
        lines.append(f"Resource: {plotly_text(hop.name)}")
    if not reached:
        lines.append("Not reached: the traffic stops before this hop")
    for finding in findings:
        issue = finding.issue
        lines.append(f"<b>{plotly_text(finding.severity)}: {wrapped(finding.title)}</b>")
        if issue is not None:
            for key, value in issue.context.items():
                lines.append(f"{plotly_text(key)}: {wrapped(value)}")
        lines.append(wrapped(finding.meaning))
        lines.append(f"Likely cause: {wrapped(finding.cause)}")
        lines.append(f"Fix: {wrapped(finding.fix)}")
    return "<br>".join(lines)


def _reached_hops(result: ConnectivityResult, lay: Layout) -> list[bool]:
    """Whether traffic got to each hop. All of them when the check succeeded (or was degraded:
    some probes arrived). Otherwise the hops that drop it (an Error issue, else the hop of the
    first issue) are reached but what lies only beyond them is not; with no issue at all the
    destination is the one not reached (it never answered)."""
    n = len(result.hops)
    if status_verdict(result.reachable, result.status) in ("reachable", "degraded") or n == 0:
        return [True] * n
    blocks = {i for i, hop in enumerate(result.hops) if any(map(drops_traffic, hop.all_issues))}
    if not blocks:
        first = blocking_issue(result)
        blocks = {i for i, hop in enumerate(result.hops)
                  if any(x is first for x in hop.all_issues)}
    if not blocks:
        reached = [True] * n
        reached[n - 1] = False
        return reached
    out: list[list[int]] = [[] for _ in range(n)]
    for a, b in lay.edges:
        out[a].append(b)

    def walk(starts: list[int], through_blocks: bool) -> set[int]:
        seen = set(starts)
        todo = list(starts)
        while todo:
            node = todo.pop()
            if node in blocks and not through_blocks:
                continue
            for child in out[node]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    before = walk([0], through_blocks=False)
    beyond = walk(sorted(blocks), through_blocks=True) - blocks
    return [not (i in beyond and i not in before) for i in range(n)]


# Edge styles: (colour, width, dash); one trace each, so the figure grows linearly with the path.
_EDGE_STYLES = {
    "ok": (NEUTRAL, 1.5, "solid"),
    "issue": (ISSUE, 2.5, "solid"),
    "not reached": (LOST, 1.5, "dot"),
}


def _edge_traces(result: ConnectivityResult, lay: Layout, reached: list[bool]
                 ) -> tuple[list[go.Scatter], list[dict[str, Any]]]:
    """Edge lines with arrowheads grouped by style, one invisible hover point per edge, and the
    RTT labels (as annotations, built in one list: adding them one by one is quadratic)."""
    hops = result.hops
    lines: dict[str, tuple[list[float | None], list[float | None]]] = {k: ([], []) for k in _EDGE_STYLES}
    mid_x: list[float] = []
    mid_y: list[float] = []
    mid_text: list[str] = []
    labels: list[dict[str, Any]] = []
    for a, b in lay.edges:
        (x0, y0), (x1, y1) = lay.point(a), lay.point(b)
        link = _link(hops, a, b)
        bad = link is not None and bool(link.issues)
        # What leaves a hop that drops the traffic, or a hop never reached, carries nothing.
        dropped_here = not reached[b] or not reached[a]
        style = "issue" if bad else "not reached" if dropped_here else "ok"
        xs, ys = lines[style]
        xs.extend((x0, x1, None))
        ys.extend((y0, y1, None))
        label = rtt_label(link)
        if bad:
            label = f"✖ {label}" if label else "✖ issue"
        if label:
            colour = ISSUE if bad else NEUTRAL
            labels.append({"x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "xref": "x", "yref": "y",
                           "text": label, "showarrow": False, "yshift": 10,
                           "font": {"color": colour, "size": 11}})
        hover = f"{plotly_text(_short_label(hops[a]))} → {plotly_text(_short_label(hops[b]))}"
        if style == "not reached":
            hover += "<br>not reached"
        if link is not None and rtt_label(link):
            hover += (f"<br>RTT min/avg/max: {_ms(link.rtt_min_ms)} / {_ms(link.rtt_avg_ms)} / "
                      f"{_ms(link.rtt_max_ms)}")
        if link is not None:
            for issue in link.issues:
                hover += f"<br>{plotly_text(short_cause(issue))}"
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        mid_text.append(hover)
    traces = []
    for style, (xs, ys) in lines.items():
        if not xs:
            continue
        colour, width, dash = _EDGE_STYLES[style]
        count = len(xs) // 3
        traces.append(go.Scatter(
            name=f"edges: {style}", x=xs, y=ys, mode="lines+markers", hoverinfo="skip",
            showlegend=False, line={"color": colour, "width": width, "dash": dash},
            # An arrowhead at each edge's end, turned along the edge and stopped at the node.
            marker={"symbol": "arrow", "angleref": "previous", "standoff": 13,
                    "size": [0, 11, 0] * count, "color": colour},
        ))
    if mid_x:
        traces.append(go.Scatter(
            name="links", x=mid_x, y=mid_y, mode="markers", hovertext=mid_text,
            hoverinfo="text", showlegend=False,
            marker={"size": 12, "color": NEUTRAL, "opacity": 0},
        ))
    return traces, labels


def _block_mark(result: ConnectivityResult, lay: Layout) -> dict[str, Any] | None:
    """The rule or route that stops the traffic, written on the figure above the hop it is on."""
    if result.reachable:
        return None
    issue = blocking_issue(result)
    if issue is None:
        return None
    at = next((i for i, hop in enumerate(result.hops) if any(x is issue for x in hop.all_issues)),
              None)
    if at is None:
        return None
    x, y = lay.point(at)
    return {"x": x, "y": y, "xref": "x", "yref": "y", "showarrow": False, "yshift": 30,
            "text": f"<b>✖ {plotly_text(short_cause(issue))}</b>", "name": "blocked here",
            "font": {"color": ISSUE, "size": 12}, "bgcolor": "rgba(213,94,0,0.08)"}


def path_figure(result: ConnectivityResult) -> go.Figure:
    """The hop graph left to right: one column per layer, hops labelled by name and address,
    arrows labelled with RTT, issues as X with the blocking rule written beside it, and what lies
    beyond a block (or a destination that never answered) drawn as not reached."""
    hops = result.hops
    lay = layout(result)
    reached = _reached_hops(result, lay)
    findings: dict[int, list[Finding]] = {}
    for i, hop in enumerate(hops):
        for issue in hop.all_issues:
            findings.setdefault(i, []).append(explain_issue(issue, hop))
    host = requested_host(result)

    traces, annotations = _edge_traces(result, lay, reached)
    groups: dict[str, list[int]] = {}
    for i, hop in enumerate(hops):
        group = "Issue found here" if i in findings else "Not reached" if not reached[i] else hop.type
        groups.setdefault(group, []).append(i)
    for name, members in groups.items():
        flagged, unreached = name == "Issue found here", name == "Not reached"
        colour = ISSUE if flagged else LOST if unreached else hop_colour(name)
        traces.append(go.Scatter(
            name=plotly_text(name),
            x=[lay.column[i] for i in members], y=[lay.y[i] for i in members],
            mode="markers+text",
            text=[_node_label(hops[i], host if i == len(hops) - 1 else None) for i in members],
            textposition="bottom center",
            textfont={"color": NEUTRAL, "size": 12},
            hovertext=[_hover(hops[i], findings.get(i, []), reached[i]) for i in members],
            hoverinfo="text",
            marker={
                "size": 26 if flagged else 22,
                "color": colour,  # an open circle is drawn in this colour: grey, never green
                "symbol": "x" if flagged else "circle-open" if unreached else "circle",
                "line": {"color": LOST if unreached else NEUTRAL, "width": 2 if unreached else 1},
            },
            customdata=[hops[i].id for i in members],
        ))
    mark = _block_mark(result, lay)
    if mark is not None:
        annotations.append(mark)

    fig = go.Figure(traces)
    xs = [float(c) for c in lay.column] or [0.0]
    ys = lay.y or [0.0]
    per_column: dict[int, int] = {}
    for c in lay.column:
        per_column[c] = per_column.get(c, 0) + 1
    tallest = max(per_column.values(), default=1)
    fig.update_layout(
        title={"text": wrapped(verdict_sentence(result), 110), "x": 0.01, "xanchor": "left",
               "font": {"size": 14, "color": NEUTRAL}},
        template="none",
        paper_bgcolor=_TRANSPARENT, plot_bgcolor=_TRANSPARENT, font=_FONT,
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": -0.05, "yanchor": "top",
                "bgcolor": _TRANSPARENT, "font": {"color": NEUTRAL}},
        xaxis={"visible": False, "range": [min(xs) - 0.5, max(xs) + 0.5], "fixedrange": True},
        yaxis={"visible": False, "range": [min(ys) - 0.8, max(ys) + 0.7], "fixedrange": True},
        height=240 + 90 * tallest,
        margin={"l": 20, "r": 20, "t": 70, "b": 40},
        hoverlabel={"align": "left"},
        annotations=annotations,
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


def _place(lay: Layout, flow: _Flow, hop_count: int) -> None:
    """Fix node positions when probes leave the path: hops by layer, drop/lost nodes in a last
    column of their own, so a long cause label never overlaps the label of the hop before it.
    Hops are the first `hop_count` nodes, in hop order."""
    ends = range(hop_count, len(flow.labels))
    if not ends:
        return
    columns = max(lay.column, default=0) + 1
    top, bottom = max(lay.y, default=0.0), min(lay.y, default=0.0)
    span = (top - bottom) or 1.0
    x = [0.0] * len(flow.labels)
    y = [0.0] * len(flow.labels)
    for i in range(hop_count):
        x[i] = max(lay.column[i] / columns, 0.001)
        y[i] = 0.1 + 0.4 * ((top - lay.y[i]) / span if top != bottom else 0.5)
    for k, i in enumerate(ends):
        x[i] = 0.999
        y[i] = 0.55 + 0.35 * (k / max(len(ends) - 1, 1))
    flow.x, flow.y = [round(v, 4) for v in x], [round(v, 4) for v in y]


def _drop_issue(hop: Hop, reachable: bool, any_errors: bool) -> Issue | None:
    """The issue that drops probes at this hop: an Error one, or any one if nothing is an Error."""
    for issue in hop.all_issues:
        if drops_traffic(issue):
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
    node: dict[str, int] = {}  # drop and lost nodes by label; hop i is node i

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

    hops = result.hops
    if not hops:
        return flow, total, failed, known
    for hop in hops:
        flow.labels.append(f"{hop.type} {_short_label(hop)}")
        flow.colours.append(hop_colour(hop.type))
    lay = layout(result)
    children: list[list[int]] = [[] for _ in hops]
    for a, b in lay.edges:
        if lay.column[b] > lay.column[a]:
            children[a].append(b)
    any_errors = any(drops_traffic(i) for i in result.issues)
    dest = len(hops) - 1
    inflow = [0.0] * len(hops)
    inflow[0] = total
    remaining = failed
    into_dest: list[tuple[int, float]] = []  # (link index, value) of links entering the destination
    for i in sorted(range(len(hops)), key=lambda k: (lay.column[k], k)):
        amount = inflow[i]
        if amount <= 0:
            continue
        issue = _drop_issue(hops[i], result.reachable, any_errors)
        if issue is not None and remaining > 0:
            dropped = min(amount, remaining)
            remaining -= dropped
            amount -= dropped
            label = f"Dropped: {short_cause(issue)}"
            add(i, node_of("drop:" + label, label, ISSUE), dropped, rgba(ISSUE, 0.55))
        kids = children[i]
        if not kids or amount <= 0:
            continue
        share = amount / len(kids)
        for kid in kids:
            inflow[kid] += share
            if kid == dest:
                into_dest.append((len(flow.value), share))
            add(i, kid, share, rgba(hop_colour(hops[i].type), 0.35))
    if remaining > 1e-9:
        lost_label = f"Lost: no answer from {_short_label(hops[dest])}"
        lost = node_of("lost", lost_label, LOST)
        arriving = sum(v for _, v in into_dest)
        if arriving > 0:
            for index, value in into_dest:
                take = min(value, remaining * value / arriving)
                flow.value[index] = round(flow.value[index] - take, 6)
                add(flow.source[index], lost, take, rgba(LOST, 0.5))
        else:
            add(0, lost, remaining, rgba(LOST, 0.5))
    _place(lay, flow, len(hops))
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
    src_name = plotly_text(_short_label(src)) if src else "the source"
    dest_name = plotly_text(destination_name(result))
    if known:
        title = (f"{total:.0f} probes from {src_name}: {total - failed:.0f} delivered to "
                 f"{dest_name}, {failed:.0f} failed")
    else:
        title = (f"Probe counts not reported: 1 unit shown from {src_name} "
                 f"({'delivered' if result.reachable else 'not delivered'})")
    cause = blocking_cause(result)
    if cause:
        title += f"<br>{plotly_text(cause)}"
    unit = "probes" if known else "unit"
    node: dict[str, Any] = {
        "label": [plotly_text(x) for x in flow.labels], "color": flow.colours,
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
