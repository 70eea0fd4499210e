# basis-execution developer commands. Quick start (fresh clone):
#   make backtest   -> set up .venv (core + every plugin) and run the default backtest
#   make test       -> set up the test environment (+ npm ci for anvil and contract artifacts) and run all tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

.PHONY: install install-test backtest test lint typecheck docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The core's distribution was called basis-core before 0.2.0: a venv from then still has that name installed.
install: $(BIN)/python
	$(BIN)/python -m pip uninstall -y -q basis-core 2>/dev/null || true
	$(PIP) -e '.[report]' $(foreach p,$(PLUGIN_DIRS),-e $(p))

install-test: $(BIN)/python
	$(BIN)/python -m pip uninstall -y -q basis-core 2>/dev/null || true
	$(PIP) -e '.[test,report]' $(foreach p,$(PLUGIN_DIRS),-e $(p)) -e tests/plugins/basis-venue-paper -e tests/plugins/basis-venue-okx
	npm ci --no-audit --no-fund --loglevel=error

backtest: install
	$(BIN)/basis backtest

test: install-test
	$(BIN)/python -m pytest -q -n 2

lint:
	$(BIN)/ruff check basis_core plugins tests bench examples

typecheck:
	$(BIN)/mypy

docs: $(BIN)/python
	$(PIP) -e '.[docs]'
	$(BIN)/mkdocs build --strict -q

bench: install-test
	for f in bench/bench_*.py; do $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) node_modules
