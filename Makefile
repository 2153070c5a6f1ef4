# localrag — `make demo` (install, fetch models, index docs/, open the chat) and `make test`.
# Both bootstrap .venv themselves. llama-cpp-python compiles from source on the first install.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# Extra pip flags, e.g. PIP_EXTRA='--extra-index-url https://download.pytorch.org/whl/cpu' for CPU-only torch.
PIP_EXTRA ?=
DEMO_INDEX := indexes/docs
NPROC := $(shell nproc 2>/dev/null || echo 2)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export CMAKE_BUILD_PARALLEL_LEVEL := $(NPROC)

.PHONY: demo test test-slow test-all lint bench install models test-models clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

# Re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing localrag and its dependencies (first run compiles llama-cpp-python: ~10-25 min)..."
	$(PIP) install $(PIP_EXTRA) -e '.[test]'
	touch $@

install: $(VENV)/.installed

models: install
	$(BIN)/python scripts/fetch_models.py

test-models: install
	$(BIN)/python scripts/fetch_models.py --test

demo: models
	$(BIN)/localrag index docs --index $(DEMO_INDEX)
	$(BIN)/localrag chat --index $(DEMO_INDEX) --folder docs

# ruff (lint and formatting, configured in pyproject.toml) and mypy (localrag/)
lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

# `make test`: lint and every test not marked slow (about 5 minutes on 2 cores). The slow ones
# (real server processes, kill and air-gap runs, benchmark smoke runs; about 11 minutes) run in
# `make test-slow`; CI (.ci/run) runs both.
test: lint test-models
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: test-models
	$(BIN)/python -m pytest -q -m slow

test-all: test test-slow

bench: models
	$(BIN)/python scripts/bench_ingest.py docs
	$(BIN)/python scripts/bench_scale.py --sizes 100000

clean:
	rm -rf $(VENV) $(DEMO_INDEX) .pytest_cache
