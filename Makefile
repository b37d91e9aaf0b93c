# Two commands a newcomer needs: `make run` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint unit bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-deps

## run: install and start the whole monitor in one process (SQLite, in-process queue)
run: $(VENV)/.run-deps
	$(BIN)/betteruptime serve

## lint: ruff and mypy
lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: lint, type-check and every test
test: lint
	$(BIN)/pytest

## bench: the benchmarks in bench/ (not part of `make test`); e.g. BENCH_ARGS="--only worker --quick"
bench: $(VENV)/.dev-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
