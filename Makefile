# The two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed
DEMO   := data/demo
PARAMS ?= params.yaml

.PHONY: demo test install install-dev browser clean benchmarks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the declared or pinned dependencies change. The demo needs only the
# package; the tests add the dev extra (pytest, Playwright, PySpark, ...).
$(RUN_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP) $(RUN_STAMP)

install-dev: $(STAMP)
install: $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/healthscore --params $(PARAMS) demo --data $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/partitioned.py --accounts 100000

clean:
	rm -rf data/demo outputs mlruns.db mlartifacts models/healthscore reports
