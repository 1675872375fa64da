# Two commands: `make demo` and `make test`. Both bootstrap .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins urllib3 1.x, which Locust cannot run with: it lives in a virtualenv of its own.
TOOLS := .tools
CHECKOV_VERSION := 3.2.459

.PHONY: demo test unit lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/invoke demo

# Five pytest workers on two cores, one per e2e group: those mostly wait on the local stacks' clocks (tests/conftest.py).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 5 --dist loadgroup --durations=10

# The inner loop: everything but the end-to-end tests (no local stack is started).
unit: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 4 -m "not e2e" --durations=5

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(TOOLS) build reports .local .pytest_cache
