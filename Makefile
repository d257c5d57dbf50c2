# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench bench-full bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,s3]"
	touch $(STAMP)

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[dev,s3,bench]"
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/python -m tsstore notebook notebooks/02_industrial_iot_monitoring.ipynb \
		--path tsstore-data --html tsstore-data/02_industrial_iot_monitoring.html

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests --ignore=tests/integration

lint: $(STAMP)
	$(BIN)/ruff check tsstore tests bench
	$(BIN)/ruff format --check tsstore tests bench
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format tsstore tests bench
	$(BIN)/ruff check --fix tsstore tests bench

# The benchmark suite against the peers (bench/suite.py): runs every benchmark, writes JSON to
# bench/results/ and regenerates docs/performance.md. Server peers are installed with apt-get.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/suite.py --size default

bench-full: $(BENCH_STAMP)
	$(BIN)/python bench/suite.py --size full

bench-quick: $(BENCH_STAMP)
	$(BIN)/python bench/suite.py --size quick

clean:
	rm -rf $(VENV) tsstore-data .pytest_cache
