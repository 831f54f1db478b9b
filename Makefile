# Two commands for a fresh clone: `make demo` and `make test`. Every target reuses .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The Label Studio server lives in its own venv: it pins openai<2, litellm needs openai>=2 (see docs/annotation.md).
LABEL_STUDIO_VERSION := 1.23.2
LS_VENV := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION)

.PHONY: help venv labelstudio test lint format demo clean-demo bench

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: it gets the CPU build here and the CUDA build on a user's GPU machine.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)  ## create or update .venv (idempotent)

$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install -q label-studio==$(LABEL_STUDIO_VERSION)
	rm -f $(LS_VENV)/.installed-*
	touch $(LS_STAMP)

labelstudio: $(LS_STAMP)  ## create .venv-labelstudio with the Label Studio server (idempotent, ~2 min)

test: $(STAMP) $(LS_STAMP)  ## run the full test suite (starts a Label Studio server for tests/labelstudio)
	$(BIN)/pytest $(PYTEST_ARGS)
	MINIVESS_TRACING=off $(BIN)/minivess evals run planner planner_holdout planner_holdout2 planner_holdout3 planner_holdout4 planner_holdout5 planner_holdout6 planner_holdout7 planner_holdout8 planner_holdout9 planner_holdout10 planner_holdout11 planner_holdout12 planner_holdout13 planner_holdout14 --gate --offline

lint: $(STAMP)  ## ruff + mypy + import-linter layer contracts
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)  ## auto-format
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

demo: $(STAMP)  ## the main job end to end on embedded defaults
	bash scripts/demo.sh

bench: $(STAMP)  ## run every benchmark (prints one JSON line each)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done
