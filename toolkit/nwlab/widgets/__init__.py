"""ipywidgets forms that call nwlab's public API: `CheckForm(nw)` runs and shows one check."""

from __future__ import annotations

from nwlab.widgets.check_form import CheckForm

__all__ = ["CheckForm"]
