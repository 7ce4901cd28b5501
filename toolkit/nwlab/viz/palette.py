"""Colours shared by the figures and the HTML repr: Okabe-Ito, safe for colour-blind readers.

Colour is never the only signal: issues also get an X marker, badges carry an icon and a word.
Mid-grey text and lines read on both light and dark JupyterLab themes.
"""

from __future__ import annotations

NEUTRAL = "#888888"  # text, axes and edges: readable on white and on near-black
ISSUE = "#D55E00"  # Okabe-Ito vermillion: hops and links with an issue, dropped probes
OK = "#009E73"  # Okabe-Ito bluish green
WARN = "#E69F00"  # Okabe-Ito orange: warnings
LOST = "#999999"

HOP_COLOURS: dict[str, str] = {
    "Source": "#0072B2",  # blue
    "VirtualAppliance": "#E69F00",  # orange
    "VnetLocal": "#56B4E9",  # sky blue
    "VirtualNetwork": "#56B4E9",
    "VirtualMachine": "#009E73",  # bluish green
    "Destination": "#009E73",
    "Internet": "#CC79A7",  # reddish purple
}
OTHER = "#999999"

# Badge backgrounds dark enough for white text (contrast >= 4.5:1).
BADGE = {"reachable": "#00704F", "unreachable": "#A63F00", "other": "#5F5F5F"}


def hop_colour(hop_type: str) -> str:
    return HOP_COLOURS.get(hop_type, OTHER)


def rgba(hex_colour: str, alpha: float) -> str:
    """`#RRGGBB` -> `rgba(r,g,b,a)` for translucent Sankey links."""
    h = hex_colour.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return f"rgba({r},{g},{b},{alpha})"
