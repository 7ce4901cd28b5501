"""One table, three faces: every diagnostic result gives rows once; text, HTML and DataFrame come
from them. HTML uses inline styles and inherited colours (light and dark themes), and every string
that came from the service is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["cell_text", "table_frame", "table_html", "table_text"]

_CELL = "padding:3px 8px;border-bottom:1px solid rgba(128,128,128,0.35);text-align:left;" \
        "vertical-align:top"
_BOX = ("font-family:inherit;color:inherit;line-height:1.45;border:1px solid rgba(128,128,128,0.5);"
        "border-radius:6px;padding:8px 12px;margin:4px 0;max-width:1100px")

Row = Mapping[str, Any]


def cell_text(value: Any) -> str:
    """How a cell reads: lists joined, booleans as yes/no, absent as '-'."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value) or "-"
    return str(value)


def table_text(summary: str, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """The summary line, then an aligned plain-text table (no table when there are no rows)."""
    if not rows:
        return summary
    cells = [[cell_text(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [summary, "  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.extend("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(line.rstrip() for line in lines)


def table_html(kind: str, summary: str, columns: Sequence[str], rows: Sequence[Row], *,
               marked: Sequence[bool] = ()) -> str:
    """A box with the summary and the table; rows flagged in `marked` are shown in bold."""
    esc = html.escape
    head = "".join(f'<th style="{_CELL}">{esc(c)}</th>' for c in columns)
    body = []
    for n, row in enumerate(rows):
        bold = ";font-weight:600" if n < len(marked) and marked[n] else ""
        body.append("<tr>" + "".join(f'<td style="{_CELL}{bold}">{esc(cell_text(row.get(c)))}</td>'
                                     for c in columns) + "</tr>")
    table = (f'<table style="border-collapse:collapse;margin-top:6px;font-size:0.92em;'
             f'color:inherit;background:transparent"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table>") if rows else ""
    return (f'<div class="nwlab-{esc(kind, quote=True)}" style="{_BOX}">'
            f'<p style="margin:4px 0;font-weight:600">{esc(summary)}</p>{table}</div>')


def table_frame(columns: Sequence[str], rows: Sequence[Row]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{c: _frame_value(row.get(c)) for c in columns} for row in rows],
                        columns=list(columns))


def _frame_value(value: Any) -> Any:
    # Lists stay lists in frames (filterable with .explode()); tuples are an implementation detail.
    return list(value) if isinstance(value, tuple) else value
