# Two commands a newcomer needs: `make run` and `make test`. Both install into .venv first,
# exactly the versions uv.lock pins (see README "Installation").
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv lives in a folder of its own inside the venv: syncing the venv exactly (removing
# whatever uv.lock does not list) must not remove the tool doing the syncing.
UV_HOME := $(VENV)/uv
UV := $(UV_HOME)/bin/uv
# uv reads none of pip's settings (PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf): it installs
# the files uv.lock names, checked against their hashes. It uses the venv's Python and
# never downloads one.
UV_RUN := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(UV)
# A venv that has the dev tools keeps them when `make run` re-syncs after a lock change.
SYNC_EXTRAS = $(if $(wildcard $(VENV)/.dev-deps),--extra dev)

.PHONY: run test lint unit bench lock upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv itself comes from PyPI at the version and hashes in uv-requirements.txt, fetched with
# the venv's pip in isolated mode so no local pip configuration or find-links changes it.
$(UV): uv-requirements.txt | $(BIN)/python
	@# A venv made without pip (or stripped of it) gets it back from the standard library.
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
	rm -rf $(UV_HOME)
	PIP_CONFIG_FILE=/dev/null $(BIN)/python -m pip install --isolated --quiet \
		--disable-pip-version-check --no-deps --require-hashes \
		--index-url https://pypi.org/simple --target $(UV_HOME) -r uv-requirements.txt
	touch $@

$(VENV)/.run-deps: pyproject.toml uv.lock | $(UV)
	$(UV_RUN) sync --locked --quiet $(SYNC_EXTRAS)
	touch $@

$(VENV)/.dev-deps: pyproject.toml uv.lock | $(UV)
	$(UV_RUN) sync --locked --quiet --extra dev
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

## lock: after editing dependencies in pyproject.toml, update uv.lock (other pins stay)
lock: | $(UV)
	$(UV_RUN) lock

## upgrade: move every pin in uv.lock, and uv itself, to the newest allowed release
upgrade: | $(UV)
	$(UV_RUN) lock --upgrade
	echo uv | $(UV) pip compile --quiet --upgrade --generate-hashes --no-header \
		--index-url https://pypi.org/simple - -o uv-requirements.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
