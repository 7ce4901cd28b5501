"""Notebook hygiene: nbval only compares cells that were run, so every stored cell must have been.

pybatfish's notebook test checks the same: execution counts run 1..n in order. Each notebook opens
by saying what it teaches, holds no error output and no machine-specific path.
"""

from __future__ import annotations

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
