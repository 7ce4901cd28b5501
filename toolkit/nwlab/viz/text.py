"""Service strings made safe for Plotly's text (labels, legend, hover, titles, tick labels).

Plotly renders a subset of HTML in every text it draws (`<b>`, `<br>`, `<a href>`, entities), so a
hop type or rule name with markup would be drawn as markup. Only `&`, `<` and `>` are escaped:
Plotly decodes `&amp;`, `&lt;`, `&gt;` and numeric entities but shows `&quot;` literally, and a
quote outside a tag is harmless.
"""

from __future__ import annotations

import textwrap

__all__ = ["plotly_text", "wrapped"]


def plotly_text(value: object) -> str:
    """Any value as Plotly text that shows exactly these characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def wrapped(text: str, width: int = 72) -> str:
    """Escaped, with long lines broken by <br> (Plotly does not wrap text itself)."""
    return "<br>".join(plotly_text(line) for line in textwrap.wrap(text, width) or [""])
