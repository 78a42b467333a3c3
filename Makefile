# Everything runs from .venv, created and filled on first use. `make test` and `make demo`
# are all a newcomer needs; see README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lsh-installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_VALIDATION := false

.PHONY: test unit integration e2e demo up bench venv clean

$(STAMP): requirements-dev.txt pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/lsh prepare
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(BIN)/python -m pytest tests

unit: venv
	$(BIN)/python -m pytest tests/unit

integration: venv
	$(BIN)/python -m pytest tests/integration

e2e: venv
	$(BIN)/python -m pytest tests/e2e

demo: venv
	$(BIN)/lsh demo

up: venv
	$(BIN)/lsh up

bench: venv
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/eventually.py
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache node_modules
