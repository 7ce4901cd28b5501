"""Notebook hygiene: nbval only compares cells that were run, so every stored cell must have been.

pybatfish's notebook test checks the same: execution counts run 1..n in order. Each notebook opens
by saying what it teaches, holds no error output and no machine-specific path.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from nwlab.leaks import scan_text

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# Home and work directories as the leak scan knows them, and this machine's temporary folder.
TEMP_DIR = tempfile.gettempdir().rstrip("/") + "/"


def test_the_expected_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01-quickstart", "02-troubleshoot-with-the-form", "03-teaching-nsg-and-routes"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_ran_in_order(path):
    nb = nbformat.read(path, as_version=4)
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert counts, f"{path.name} has no code cells"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_by_saying_what_it_teaches(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert "What this teaches" in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_errors_and_no_machine_paths_in_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{path.name}: {output.get('ename')}"
            text = str(output.get("text", "")) + str(output.get("data", ""))
            assert not scan_text(text) and TEMP_DIR not in text, \
                f"{path.name}: machine path in an output"
            if output.output_type == "stream":
                assert output.name != "stderr", f"{path.name}: stderr output {output.text[:200]}"


# -- what a reader sees (issue 12, the face) ---------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
FORMS = ("CheckForm", "BatchForm")


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _closed_after_a_form(sources: list[str]) -> list[str]:
    """`client.close()` (or `with client:` ending) in a cell after a form was built on `client`."""
    import ast

    form_clients: set[str] = set()
    problems = []
    for number, source in enumerate(sources, start=1):
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "close" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id in form_clients:
                problems.append(f"cell {number} closes {node.func.value.id}, which a form uses")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in FORMS:
                form_clients.update(a.id for a in node.args if isinstance(a, ast.Name))
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_closes_a_backend_a_live_form_needs(path):
    """Run All must leave every form usable (notebook 04 closed the emulator its BatchForm used)."""
    assert _closed_after_a_form(_code(nbformat.read(path, as_version=4))) == []


def test_the_close_rule_sees_a_close_after_a_form():
    assert _closed_after_a_form(["nw = nwlab.emulate()\nform = BatchForm(nw)", "nw.close()"])
    assert not _closed_after_a_form(["nw.close()", "nw = nwlab.emulate()\nCheckForm(nw)"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tables_show_cells_whole(path):
    """pandas cuts a displayed cell at 50 characters ("UserRu..."); no stored table may."""
    cut = re.compile(r"<td>[^<]*\.\.\.</td>")
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            page = str(output.get("data", {}).get("text/html", ""))
            assert not cut.search(page), f"{path.name} {cell.id}: {cut.search(page).group(0)}"
            assert "<td>None</td>" not in page and "<td>&lt;NA&gt;</td>" not in page, \
                f"{path.name} {cell.id}: a placeholder where a cell should be blank"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_forms_are_stored_so_an_unrun_notebook_shows_them(path):
    """Each form's output carries the widget view, its state in the notebook metadata (every model
    it refers to), and an HTML view for pages without widgets (GitHub), never a bare repr."""
    nb = nbformat.read(path, as_version=4)
    views = [o for c in nb.cells for o in c.get("outputs", [])
             if WIDGET_VIEW in o.get("data", {})]
    if not views:
        return
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    assert state.get("version_major") == 2, f"{path.name}: no widget state stored"
    models = state.get("state", {})

    def missing(model_id: str, seen: set[str]) -> list[str]:
        if model_id in seen:
            return []
        seen.add(model_id)
        if model_id not in models:
            return [model_id]
        refs = []
        for value in models[model_id]["state"].values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                    refs.append(item[len("IPY_MODEL_"):])
        return [m for ref in refs for m in missing(ref, seen)]

    forms = 0
    for view in views:
        data = view["data"]
        assert missing(data[WIDGET_VIEW]["model_id"], set()) == [], f"{path.name}: state incomplete"
        shown = str(data.get("text/plain", ""))
        assert not re.match(r"\w+\((children|value|layout)=", shown), \
            f"{path.name}: a widget falls back to its raw repr {shown[:60]!r}"
        if "run the notebook" in str(data.get("text/plain", "")):
            forms += 1
            assert "<table" in str(data.get("text/html", "")), f"{path.name}: no HTML view"
    sources = "\n".join(_code(nb))
    assert forms == sum(sources.count(f"{name}(nw") for name in FORMS), \
        f"{path.name}: a form shows as a bare widget repr"
