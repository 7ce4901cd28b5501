"""ipywidgets forms that call nwlab's public API: `CheckForm(nw)` runs and shows one check,
`BatchForm(nw)` a mesh of them."""

from __future__ import annotations

from nwlab.widgets.batch_form import BatchForm
from nwlab.widgets.check_form import CheckForm

__all__ = ["BatchForm", "CheckForm"]
