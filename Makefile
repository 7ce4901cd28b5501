# Every target bootstraps .venv from pyproject.toml + constraints.txt, so a fresh clone needs only
# python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PYTHONDONTWRITEBYTECODE := 1
# Figures render as the plotly mimetype everywhere, so stored notebook outputs match CI (nbval).
export PLOTLY_RENDERER := plotly_mimetype

.PHONY: venv demo test lint typecheck pytest cassettes notebooks benchmark clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/python scripts/lab.py

test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check toolkit tests scripts benchmarks

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest -q

# Regenerate the bundled cassettes from the documented exchanges (needs ../shared/reference).
cassettes: venv
	$(BIN)/python scripts/make_seed_cassettes.py ../shared/reference/seed-scenarios.json toolkit/nwlab/cassettes

# Rebuild the notebooks from scripts/build_notebooks.py and store their outputs (validated by nbval).
notebooks: venv
	$(BIN)/python scripts/build_notebooks.py

# Both goals of issue 5: without a client budget, and with one that binds (ideal 2.25 s).
benchmark: venv
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/batch.py --big-n 0 --write-rate 100
	$(BIN)/python benchmarks/twin.py

clean:
	rm -rf $(VENV) build *.egg-info toolkit/*.egg-info
