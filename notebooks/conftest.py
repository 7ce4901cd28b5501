"""nbval: figures are compared as objects in tests/test_viz.py, not as stored JSON here.

The stored Plotly JSON carries the whole layout template, so any plotly release changes it; the
figures themselves are asserted in unit tests.
"""

SKIP_MIME = ("application/vnd.plotly.v1+json",)


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = (*tuple(collector.skip_compare), *SKIP_MIME)
