"""Figures of a batch of checks: a Sankey of sources -> verdict and cause -> destinations, and a
heatmap of sources x destinations coloured by verdict.

Built from the batch's frame only, with sorted labels and no random ids, so `fig.to_json()` is
the same every run. Colours are Okabe-Ito (colour-blind safe) and never the only signal: every
verdict carries its word (Sankey) or a text mark in the cell (heatmap).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import plotly.graph_objects as go

from nwlab.verdict import MARKS
from nwlab.viz.palette import ISSUE, LOST, NEUTRAL, OK, rgba
from nwlab.viz.text import plotly_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class _Batch(Protocol):
    """What the figures need of a batch (a BatchResult): its frame and its counts. A protocol,
    so viz never imports the batch package (which imports viz lazily for its figure methods)."""

    def frame(self) -> pd.DataFrame: ...

    def counts(self) -> dict[str, int]: ...


# The frame columns the figures read.
_COLUMNS = ["source", "destination", "port", "protocol", "verdict", "status", "avg_latency_ms",
            "cause", "error"]

__all__ = ["VERDICT_STYLE", "batch_heatmap_figure", "batch_sankey_figure"]

_FONT = {"color": NEUTRAL, "family": "Helvetica, Arial, sans-serif", "size": 12}
_TRANSPARENT = "rgba(0,0,0,0)"

# verdict -> (colour, text mark, words); order is the legend's and the colour scale's.
VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "reachable": (OK, MARKS["reachable"], "Reachable"),
    "degraded": ("#E69F00", MARKS["degraded"], "Degraded"),
    "unreachable": (ISSUE, MARKS["unreachable"], "Unreachable"),
    "unknown": ("#CC79A7", MARKS["unknown"], "Other status"),
    "error": ("#0072B2", MARKS["error"], "Error (check did not run)"),
    "cancelled": (LOST, MARKS["cancelled"], "Cancelled"),
}
_ORDER = list(VERDICT_STYLE)


def _layout(fig: go.Figure, title: str, height: int) -> None:
    fig.update_layout(title={"text": title, "font": {"size": 14}}, template="none", font=_FONT,
                      paper_bgcolor=_TRANSPARENT, plot_bgcolor=_TRANSPARENT, height=height,
                      margin={"l": 20, "r": 20, "t": 50, "b": 20})


def _rows(batch: _Batch) -> list[dict[str, Any]]:
    """What the figures need of each check, as plain values: BatchResult.frame()'s rows, with
    None for every missing value (the figures never re-derive a verdict or a cause)."""
    frame = batch.frame()[_COLUMNS]
    shown = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in shown.to_dict("records")]


def _reason(row: dict[str, Any]) -> str:
    """The cause in words, or the error, or the plain verdict."""
    if row.get("error"):
        return str(row["error"])
    if row.get("cause"):
        return str(row["cause"])
    return VERDICT_STYLE[row["verdict"]][2]


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _middle_label(row: dict[str, Any]) -> str:
    """`✔ Reachable`, `✖ Unreachable: NSG rule ... at ...`, `! PreflightError`."""
    _, mark, words = VERDICT_STYLE[row["verdict"]]
    if row["verdict"] in ("error", "cancelled") and row.get("error"):
        kind = str(row["error"]).split(":", 1)[0]
        return f"{mark} {words}: {kind}"
    if row.get("cause"):
        return f"{mark} {words}: {_short(str(row['cause']))}"
    return f"{mark} {words}"


def _dest_label(row: dict[str, Any]) -> str:
    label = str(row["destination"])
    if row.get("port") is not None:
        label += f":{row['port']}"
    if row.get("protocol"):
        label += f" {row['protocol']}"
    return label


def _dest_order(row: dict[str, Any]) -> tuple[str, int, str, str]:
    """Columns by destination, then port as a number (80 before 1433), then protocol."""
    port = row.get("port")
    try:
        number = int(port) if port is not None else -1
    except (TypeError, ValueError):
        number = 1 << 20  # not a number: after every real port
    return (str(row["destination"]).lower(), number, str(row.get("protocol") or ""),
            _dest_label(row))


# Label geometry for margins: Plotly grows margins to fit labels only where the renderer runs
# its auto-margin pass, so the margins are also computed up front from the longest label
# (about 0.62 em per character in Helvetica/Arial: a wide estimate, so labels are never cut).
_CHAR_EM = 0.62
_TICK_FONT = 12
_TICK_ANGLE = 30
_TITLE_SIZE = 14


def _text_px(text: str, size: int = _TICK_FONT) -> float:
    return len(text) * size * _CHAR_EM


def _heatmap_margins(xs: list[str], ys: list[str]) -> dict[str, int]:
    """Left margin for the row labels, top margin for the title plus the slanted column labels."""
    longest_y = max((_text_px(y) for y in ys), default=0.0)
    longest_x = max((_text_px(x) for x in xs), default=0.0)
    slant = math.radians(_TICK_ANGLE)
    column_labels = longest_x * math.sin(slant) + _TICK_FONT * math.cos(slant)
    title = _TITLE_SIZE * 1.2 + 16  # one line plus padding above and below
    return {"l": int(20 + longest_y), "r": 20, "t": int(title + column_labels + 12), "b": 20,
            "pad": 4}


def batch_sankey_figure(batch: _Batch) -> go.Figure:
    """Sources (left) -> verdict and cause (middle) -> destinations (right); widths count checks."""
    rows = _rows(batch)
    sources = sorted({str(r["source"]) for r in rows}, key=str.lower)
    middles = sorted({(_ORDER.index(r["verdict"]), _middle_label(r)) for r in rows})
    dests = sorted({str(r["destination"]) for r in rows}, key=str.lower)
    verdict_of_middle = {label: _ORDER[i] for i, label in middles}
    labels = [*sources, *(m for _, m in middles), *dests]
    index = {("s", s): i for i, s in enumerate(sources)}
    index.update({("m", m): len(sources) + i for i, (_, m) in enumerate(middles)})
    index.update({("d", d): len(sources) + len(middles) + i for i, d in enumerate(dests)})
    colours = ([NEUTRAL] * len(sources)
               + [VERDICT_STYLE[verdict_of_middle[m]][0] for _, m in middles]
               + [NEUTRAL] * len(dests))
    links: dict[tuple[int, int], int] = {}
    for r in rows:
        mid = index[("m", _middle_label(r))]
        for key in ((index[("s", str(r["source"]))], mid), (mid, index[("d", str(r["destination"]))])):
            links[key] = links.get(key, 0) + 1
    ordered = sorted(links.items())
    link_colours = []
    for (a, b), _ in ordered:
        middle = labels[b] if a < len(sources) else labels[a]
        link_colours.append(rgba(VERDICT_STYLE[verdict_of_middle[middle]][0], 0.4))

    def column(count: int, x: float) -> tuple[list[float], list[float]]:
        ys = [round(0.05 + 0.9 * (i + 0.5) / max(count, 1), 4) for i in range(count)]
        return [x] * count, ys

    sx, sy = column(len(sources), 0.001)
    mx, my = column(len(middles), 0.5)
    dx, dy = column(len(dests), 0.999)
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        node={"label": [plotly_text(label) for label in labels], "color": colours,
              "pad": 12, "thickness": 14, "line": {"color": NEUTRAL, "width": 0.5},
              "x": sx + mx + dx, "y": sy + my + dy,
              "hovertemplate": "%{label}<br>%{value} check(s)<extra></extra>"},
        link={"source": [a for (a, _), _ in ordered], "target": [b for (_, b), _ in ordered],
              "value": [n for _, n in ordered], "color": link_colours,
              "hovertemplate": "%{source.label} \u2192 %{target.label}<br>%{value} check(s)"
                               "<extra></extra>"},
    ))
    counts = batch.counts()
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    _layout(fig, f"{len(rows)} checks: {summary}" if rows else "No checks",
            max(300, 40 + 28 * max(len(sources), len(middles), len(dests))))
    return fig


def batch_heatmap_figure(batch: _Batch) -> go.Figure:
    """Sources (rows) x destination:port (columns); colour and a text mark by verdict, the cause
    (or error) on hover. A cell with several checks (e.g. protocols) shows the worst verdict."""
    rows = _rows(batch)
    ys = sorted({str(r["source"]) for r in rows}, key=str.lower)
    order = {_dest_label(r): _dest_order(r) for r in rows}
    xs = sorted(order, key=order.__getitem__)
    cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        cell.setdefault((str(r["source"]), _dest_label(r)), []).append(r)
    rank = {"unreachable": 0, "error": 1, "degraded": 2, "unknown": 3, "cancelled": 4,
            "reachable": 5}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    for y in ys:
        z_row: list[float | None] = []
        t_row: list[str] = []
        h_row: list[str] = []
        for x in xs:
            found = cell.get((y, x))
            if not found:
                z_row.append(None)
                t_row.append("")
                h_row.append(f"{plotly_text(y)} \u2192 {plotly_text(x)}<br>not checked")
                continue
            worst = min(found, key=lambda r: rank[r["verdict"]])
            z_row.append(float(_ORDER.index(worst["verdict"])))
            t_row.append(VERDICT_STYLE[worst["verdict"]][1])
            lines = [f"<b>{plotly_text(y)} \u2192 {plotly_text(x)}</b>"]
            for r in found:
                _, mark, words = VERDICT_STYLE[r["verdict"]]
                line = f"{mark} {words}"
                if r.get("status") and r["verdict"] != "reachable":
                    line += f" ({plotly_text(str(r['status']))})"
                lines.append(line)
                if r["verdict"] != "reachable":
                    lines.append(plotly_text(_short(_reason(r), 120)))
                elif r.get("avg_latency_ms") is not None:
                    lines.append(f"latency avg {int(r['avg_latency_ms'])} ms")
            h_row.append("<br>".join(lines))
        z.append(z_row)
        text.append(t_row)
        hover.append(h_row)
    n = len(_ORDER)
    scale: list[list[Any]] = []
    for i, verdict in enumerate(_ORDER):  # discrete bands: one solid colour per verdict
        colour = VERDICT_STYLE[verdict][0]
        scale.append([round(i / n, 6), colour])
        scale.append([round((i + 1) / n, 6), colour])
    fig = go.Figure(go.Heatmap(
        z=z, x=[plotly_text(x) for x in xs], y=[plotly_text(y) for y in ys], text=text,
        texttemplate="%{text}",
        textfont={"size": 16, "color": "#FFFFFF"}, hovertext=hover, hoverinfo="text",
        colorscale=scale, zmin=-0.5, zmax=n - 0.5, xgap=2, ygap=2,
        colorbar={"tickvals": list(range(n)),
                  "ticktext": [f"{m} {w}" for _, m, w in VERDICT_STYLE.values()],
                  "title": {"text": "verdict"}, "outlinewidth": 0},
    ))
    tick = {"size": _TICK_FONT, "color": NEUTRAL}
    fig.update_xaxes(side="top", tickangle=-_TICK_ANGLE, showgrid=False, type="category",
                     automargin=True, tickfont=tick)
    fig.update_yaxes(autorange="reversed", showgrid=False, type="category", automargin=True,
                     tickfont=tick)
    margin = _heatmap_margins(xs, ys)
    _layout(fig, "Reachability by source and destination",
            max(260, 100 + 34 * len(ys)) + margin["t"])
    # The title sits at the very top of the figure, above the margin that holds the slanted
    # column labels, so the two never overlap.
    fig.update_layout(margin=margin,
                      title={"y": 1, "yref": "container", "yanchor": "top", "x": 0.01,
                             "xanchor": "left", "pad": {"t": 10, "l": 0},
                             "font": {"size": _TITLE_SIZE}})
    return fig

