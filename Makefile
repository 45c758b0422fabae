# One command for the main job, one for the tests; each sets itself up on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## The HPO lab, offline, on the embedded digits dataset (a few minutes on a laptop CPU).
run: $(STAMP)
	$(BIN)/python main.py --offline --dataset digits --rounds 3 --epochs 4 --width 16 --augment none --draw-graph

## The whole test suite (offline, CPU).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/trainer_throughput.py
	$(BIN)/python bench/hpo_efficiency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
