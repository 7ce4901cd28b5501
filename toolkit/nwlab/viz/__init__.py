"""Plotly figures of a ConnectivityResult: `path_figure` (hop graph) and `sankey_figure` (probes).

Plotly is imported on first use of a figure function, so `nwlab.viz.html` (the rich repr, which
runs this package's __init__) stays free of Plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.viz.figures import path_figure, rtt_label, sankey_figure

__all__ = ["path_figure", "rtt_label", "sankey_figure"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from nwlab.viz import figures

        return getattr(figures, name)
    raise AttributeError(f"module 'nwlab.viz' has no attribute {name!r}")
