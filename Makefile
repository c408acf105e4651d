# Quick start: `make demo` then `make test`.  Everything lives in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test test-all lint format bench-ml100k clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "latentrec needs Python 3.10 or newer; run: make PYTHON=python3.x ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Stamps are refreshed whenever pyproject.toml changes, so `make` re-installs then.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[plot]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev,plot]'
	@touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/latentrec demo

# The import contracts in pyproject.toml (layers run one way, no cycles), then the tests.
test: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Everything, the slow real-data checks included.
test-all: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "slow or not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

# 5-fold cross-validation on MovieLens-100K (the figures in docs/benchmarks.md).
bench-ml100k: $(VENV)/.installed-demo
	$(BIN)/python benchmarks/cv_ml100k.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache out src/*.egg-info
