# One command for the main job, one for the tests; each sets itself up on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER := $(VENV)/.browser

.PHONY: run test lint bench setup clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV): installing trainlab with PyTorch; the first time this takes" \
	  "several minutes and prints nothing until it is done."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## The HPO lab, offline, on the embedded digits dataset (a few minutes on a laptop CPU).
run: $(STAMP)
	$(BIN)/python main.py --offline --dataset digits --rounds 3 --epochs 4 --width 16 --augment none --draw-graph

## A headless browser for the report.html test: Debian's chromium, installed once where
## apt-get runs as root; elsewhere that one test is skipped (with a message saying why).
$(BROWSER): | $(STAMP)
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing chromium (apt-get) for the report.html browser test..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	    >/dev/null || echo "chromium could not be installed: the browser test will be skipped."; \
	else \
	  echo "No chromium and no root apt-get: the report.html browser test will be skipped."; \
	fi
	@touch $@

## The whole test suite (offline, CPU).
test: $(STAMP) $(BROWSER)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/trainer_throughput.py
	$(BIN)/python bench/hpo_efficiency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
