"""Figures drawn by a real browser: the mesh heatmap's labels are whole, inside the figure and clear
of the title (issue 12, face item 2).

Plotly lays text out in the browser, so the figure is rendered by Debian's chromium (driven by
Playwright, never a downloaded browser) and the drawn label boxes are measured; a screenshot is
saved under test-output/figures/. Where chromium is missing the module is skipped locally and
fails under CI, as tests/test_browser.py does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_support import launched_chromium, require_chromium
from nwlab.batch import BatchEntry, BatchResult
from nwlab.model import ConnectivityResult

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "figures"
RESULTS = Path(__file__).parent / "data" / "results"
require_chromium()

SOURCES = ["ContosoWebFrontEndScaleSetInstance0", "MultiTierApplicationVm0", "p0"]
DESTINATIONS = ["Database0", "sqlserver-prod-westeurope.database.windows.net"]
PORTS = [3389, 80, 1433]


def mesh_batch() -> BatchResult:
    reachable = json.loads((RESULTS / "vm-to-website-reachable.json").read_text())
    blocked = json.loads((RESULTS / "vm-to-vm-nsg-blocked.json").read_text())
    entries = []
    for s in SOURCES:
        for d in DESTINATIONS:
            for p in PORTS:
                body = blocked if p == 3389 else reachable
                entries.append(BatchEntry(len(entries), {"source": s, "destination": d, "port": p},
                                          ConnectivityResult.from_dict(body)))
    return BatchResult(entries)


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser.new_page(viewport={"width": 900, "height": 700})


MEASURE = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {l: r.left, t: r.top, r: r.right, b: r.bottom}; };
  const svg = document.querySelector('.main-svg');
  return {svg: box(svg),
          title: box(document.querySelector('.gtitle')),
          x: [...document.querySelectorAll('.xtick text')].map(e => ({text: e.textContent, ...box(e)})),
          y: [...document.querySelectorAll('.ytick text')].map(e => ({text: e.textContent, ...box(e)}))};
}"""


def test_heatmap_labels_are_whole_inside_the_figure_and_clear_of_the_title(page: Any) -> None:
    fig = mesh_batch().heatmap_figure()
    fig.update_layout(width=900)
    page.set_content(fig.to_html(include_plotlyjs=True, full_html=True))
    page.wait_for_selector(".ytick text", state="attached")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "heatmap.png"), full_page=True)
    drawn = page.evaluate(MEASURE)
    svg, title = drawn["svg"], drawn["title"]
    assert sorted(y["text"] for y in drawn["y"]) == sorted(SOURCES)  # drawn bottom up
    assert [x["text"] for x in drawn["x"]] == [f"{d}:{p}" for d in DESTINATIONS for p in (80, 1433, 3389)]
    for label in drawn["x"] + drawn["y"]:  # every label drawn whole, inside the figure
        assert label["l"] >= svg["l"] - 0.5 and label["r"] <= svg["r"] + 0.5, label
        assert label["t"] >= svg["t"] - 0.5 and label["b"] <= svg["b"] + 0.5, label
    for label in drawn["x"]:  # the slanted column labels stay below the title
        assert label["t"] >= title["b"], (label, title)
