# Quick start: `make serve` (run the service with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# pytest-xdist workers of `make test`; each test file runs whole on one worker (its module fixtures once).
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: serve test test-fast test-postgres bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $@

install: $(STAMP)

## Run the service on http://127.0.0.1:8000 (creates the database, loads demo data, trains).
serve: $(STAMP)
	$(BIN)/recommender setup
	$(BIN)/recommender serve

## Run the whole test suite (set RECOMMENDER_TEST_POSTGRES_URL to include PostgreSQL).
test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PARALLEL)

## Everything except the browser and end-to-end tests.
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not browser and not e2e and not slow"

## The suite against the local PostgreSQL server as well (what CI runs).
test-postgres: $(TEST_STAMP)
	RECOMMENDER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/python -m pytest $(PARALLEL)

bench: $(TEST_STAMP)
	$(BIN)/python bench/quality.py ../shared/data/smp2017_ecdt_task1/data.csv

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
