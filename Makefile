# The README's commands. `make run` and `make test` bootstrap everything on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint bench samples clean-warehouse serve browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Ingest the bundled samples into ./warehouse with the daily-ingest flow and show what was loaded.
run: $(STAMP)
	$(BIN)/newsetl run

## Debian's Chromium for the UI test (installed with apt-get when missing, as CI does).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	    echo "installing Debian's chromium for the Prefect UI test"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and no apt-get here: install Chromium or the UI test fails"; fi; }

## The whole test suite (pytest's "no tests collected", exit 5, counts as a failure).
test: $(STAMP) browser
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## Tests without the ones marked slow (Prefect harness, subprocess runs).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src flows tests benchmarks samples
	$(BIN)/ruff format --check src flows tests benchmarks samples
	$(BIN)/mypy

## Throughput and peak memory on a generated corpus: make bench N=20000
N ?= 20000
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --articles $(N)

samples: $(STAMP)
	$(BIN)/python samples/build_samples.py

clean-warehouse:
	rm -rf warehouse/*/ warehouse/newsetl.duckdb warehouse/.newsetl.lock

## Start (or reuse) the local Prefect server and serve daily-ingest on its cron schedule (Ctrl-C stops).
serve: $(STAMP)
	$(BIN)/newsetl serve
