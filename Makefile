# bitrix-omni task runner. `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR ?= $(CURDIR)
# pytest processes for `make test` (one per core by default; TEST_WORKERS=0 runs serially).
# A test file runs whole in one process: its module fixtures build its warehouses once.
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help

.PHONY: help setup deps demo build test lint format docs bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed deps ## create .venv, install the package, dbt and tools

deps: $(VENV)/.installed ## install dbt packages (hub, else the offline copies)
	$(BIN)/python scripts/dbt_deps.py

demo: setup ## dbt build on DuckDB with the bundled demo data, then show the results
	$(DBT) build
	$(BIN)/bitrix-omni summary

build: setup ## dbt build on the current target (BITRIX_DATA_DIR for your own export)
	$(DBT) build

test: setup lint ## all tests: lint, unit tests, dbt build + assertions on generated data
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup ## ruff + sqlfluff
	$(BIN)/ruff check src tests scripts bench python_models
	$(BIN)/ruff format --check src tests scripts bench python_models
	$(BIN)/sqlfluff lint models tests/dbt analyses --processes 2

format: setup ## apply ruff format and sqlfluff fix
	$(BIN)/ruff format src tests scripts bench python_models
	$(BIN)/sqlfluff fix models --processes 2

docs: setup ## build the dbt docs site into target/
	$(DBT) docs generate

bench: setup ## run the benchmarks (prints figures; see docs/performance.md)
	$(BIN)/python bench/bench_normalize.py
	$(BIN)/python bench/bench_identity.py
	$(BIN)/python bench/bench_dbt_build.py --customers 100000
	$(BIN)/python bench/accuracy.py

clean: ## remove build outputs (keeps .venv)
	rm -rf target logs dbt_packages
