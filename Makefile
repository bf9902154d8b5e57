# framescope: two commands do all the set-up on a fresh machine.
#   make demo   train the default model if missing, score the sample feed, write the report
#   make test   lint, run the test suite, check the wheel installs and runs (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE_OUT ?= reports/sample
# add --evidence for evidence spans (occlusion: up to 32 extra forward passes per labelled passage)
SCORE_FLAGS ?= --level both --overwrite

.PHONY: setup demo test lint wheel-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	test -f models/default/framescope.json || $(BIN)/framescope train --out models/default
	$(BIN)/framescope score --model models/default data/samples/feed.xml data/samples/articles.jsonl \
		--out $(SAMPLE_OUT)/scores.jsonl $(SCORE_FLAGS)
	$(BIN)/framescope report $(SAMPLE_OUT)/scores.jsonl $(SAMPLE_OUT)/scores.articles.jsonl \
		--out $(SAMPLE_OUT) --period quarter --min-articles 3
	@echo "report: $(SAMPLE_OUT)/report.html"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools train.py evaluate.py setup.py

test: $(STAMP) lint
	$(BIN)/python -m pytest
	$(MAKE) wheel-check

# build the wheel, install it (not editable) into a fresh venv and run the CLI from there
wheel-check: $(STAMP)
	PYTHON=$(BIN)/python bash tools/wheel_check.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
