# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,s3,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tsstore demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests --ignore=tests/integration

lint: $(STAMP)
	$(BIN)/ruff check tsstore tests bench
	$(BIN)/ruff format --check tsstore tests bench

format: $(STAMP)
	$(BIN)/ruff format tsstore tests bench
	$(BIN)/ruff check --fix tsstore tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_core.py --scale 100 --days 1

bench-quick: $(STAMP)
	$(BIN)/python bench/bench_core.py --scale 20 --days 1 --quick

clean:
	rm -rf $(VENV) tsstore-data .pytest_cache
