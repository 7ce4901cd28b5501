# Every target bootstraps .venv from pyproject.toml + constraints.txt, so a fresh clone needs only
# python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1
# Figures render as the plotly mimetype everywhere, so stored notebook outputs match CI (nbval).
export PLOTLY_RENDERER := plotly_mimetype

.PHONY: venv demo app test lint typecheck pytest cassettes diagnostic-cassettes monitor-cassettes notebooks screenshot dist benchmark clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# JupyterLab on 127.0.0.1 over a working copy of the notebooks (the tracked ones stay clean).
demo: venv
	$(BIN)/python scripts/lab.py

# The form notebook as a Voilà app, code hidden, offline: for someone who does not code.
app: venv
	$(BIN)/python scripts/lab.py --app

test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check toolkit tests scripts benchmarks

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest -q

# Regenerate the bundled cassettes from the documented exchanges (needs ../shared/reference).
cassettes: venv diagnostic-cassettes monitor-cassettes
	$(BIN)/python scripts/make_seed_cassettes.py ../shared/reference/seed-scenarios.json toolkit/nwlab/cassettes
	$(BIN)/python scripts/make_diagnose_cassettes.py ../shared/reference/seed-scenarios.json toolkit/nwlab/cassettes

# The other diagnostics' cassettes, from the documented shapes copied into tests/data/diagnostics.
diagnostic-cassettes: venv
	$(BIN)/python scripts/make_diagnostic_cassettes.py tests/data/diagnostics/shapes.json toolkit/nwlab/cassettes

# The Connection Monitor cassettes (create, list, results, stop/start, delete) from documented shapes.
monitor-cassettes: venv
	$(BIN)/python scripts/make_monitor_cassettes.py toolkit/nwlab/cassettes

# Rebuild the notebooks from scripts/build_notebooks.py and store their outputs (validated by nbval).
notebooks: venv
	$(BIN)/python scripts/build_notebooks.py

# The README's screenshot: the browser test drives the form and saves it; docs/ keeps a copy.
screenshot: venv
	$(BIN)/python -m pytest -q tests/test_browser.py -k demo
	mkdir -p docs
	cp test-output/browser/form-with-result.png docs/form-with-result.png

# Wheel and sdist in dist/ (an isolated build, as pip does), checked by twine.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python scripts/check_dist.py dist
	$(BIN)/twine check --strict dist/*

# Both goals of issue 5: without a client budget, and with one that binds (ideal 2.25 s).
benchmark: venv
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/batch.py --big-n 0 --write-rate 100
	$(BIN)/python benchmarks/diagnostics.py
	$(BIN)/python benchmarks/twin.py
	$(BIN)/python benchmarks/twin_scale.py

clean:
	rm -rf $(VENV) build dist *.egg-info toolkit/*.egg-info
