# Two commands do everything: `make serve` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck layers unit integration clean lock

## The service's own dependencies only (what `make serve` needs).
$(RUNTIME): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $(RUNTIME)

## Plus the development tools and test servers (what `make test` needs).
$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

## Start the service on the embedded default (SQLite, local files, local identity), on
## loopback only and in development mode (AUTH=1: sign-up grants the groups asked for).
serve: $(RUNTIME)
	AUTH=1 $(BIN)/decode-userapi serve --host 127.0.0.1

## Every check and every test; test files run in TEST_WORKERS processes (pytest-xdist).
TEST_WORKERS ?= 2
test: lint typecheck layers
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

## Re-resolve the pinned versions after changing dependency ranges.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
