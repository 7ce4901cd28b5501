"""Time series of a connection monitor's results: one line per test, the threshold as a line.

Built from MonitorResults.frame() only (plain columns), with tests in sorted order and no random
ids, so `fig.to_json()` is the same every run. Each test is a line with its own marker symbol and
a legend entry in words, so a test never rests on colour alone; the threshold is a dashed line
named in the legend (with "Azure's default" when the monitor sets none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from nwlab.viz.palette import ISSUE, NEUTRAL

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["monitor_series_figure", "test_label"]

_FONT = {"color": NEUTRAL, "family": "Helvetica, Arial, sans-serif", "size": 12}
_TRANSPARENT = "rgba(0,0,0,0)"
# Okabe-Ito, then repeats with another marker symbol.
_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down"]


def test_label(source: str, destination: str, configuration: str, region: str = "") -> str:
    """`web-1 → sql-1 (tcp-1433)`, with the region when a monitor spans several."""
    text = f"{source} \u2192 {destination} ({configuration})"
    return f"{text} [{region}]" if region else text


def monitor_series_figure(frame: pd.DataFrame, column: str, axis_title: str, *, title: str,
                          threshold: float | None = None,
                          threshold_is_default: bool = False) -> go.Figure:
    """`column` of `frame` over `time`, one line per test; `threshold` as a dashed line."""
    fig = go.Figure()
    several_regions = frame["region"].nunique() > 1
    keys = sorted({(str(r.region), str(r.group), str(r.source), str(r.destination),
                    str(r.configuration)) for r in frame.itertuples(index=False)})
    for number, (region, group, source, destination, configuration) in enumerate(keys):
        rows = frame[(frame["region"] == region) & (frame["group"] == group)
                     & (frame["source"] == source) & (frame["destination"] == destination)
                     & (frame["configuration"] == configuration)].sort_values("time")
        values = rows[column].astype("float64")
        label = test_label(source, destination, configuration, region if several_regions else "")
        fig.add_trace(go.Scatter(
            x=[t.isoformat() for t in rows["time"]], y=[None if v != v else v for v in values],
            mode="lines+markers", name=label,
            line={"color": _COLOURS[number % len(_COLOURS)], "width": 2},
            marker={"symbol": _SYMBOLS[(number // len(_COLOURS)) % len(_SYMBOLS)], "size": 6},
            customdata=[[r] for r in rows["test_result"].astype(object).where(
                rows["test_result"].notna(), "no result")],
            hovertemplate=f"{label}<br>%{{x}}<br>{axis_title}: %{{y:.1f}}<br>"
                          "result: %{customdata[0]}<extra></extra>"))
    if threshold is not None:
        times = sorted(t.isoformat() for t in frame["time"].dropna())
        words = "Azure's default warning" if threshold_is_default else "threshold"
        fig.add_trace(go.Scatter(
            x=[times[0], times[-1]] if times else [], y=[threshold, threshold] if times else [],
            mode="lines", name=f"{words}: {threshold:g}",
            line={"color": ISSUE, "width": 1.5, "dash": "dash"}, hoverinfo="skip"))
    if not keys:
        fig.add_annotation(text="No data in this window", showarrow=False, xref="paper",
                           yref="paper", x=0.5, y=0.5, font={"size": 14, "color": NEUTRAL})
    fig.update_layout(title={"text": title, "font": {"size": 14}}, template="none", font=_FONT,
                      paper_bgcolor=_TRANSPARENT, plot_bgcolor=_TRANSPARENT, height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      xaxis={"title": {"text": "time (UTC)"}, "gridcolor": f"{NEUTRAL}44"},
                      yaxis={"title": {"text": axis_title}, "gridcolor": f"{NEUTRAL}44",
                             "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.2})
    return fig
