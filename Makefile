# Everything runs from .venv, created and filled on first use. `make test` and `make demo`
# are all a newcomer needs; see README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lsh-installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_VALIDATION := false

.PHONY: test unit integration e2e e2e-containers consumer docker demo up bench venv clean

$(STAMP): requirements-dev.txt pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/lsh prepare
	touch $(STAMP)

venv: $(STAMP)

# Everything on the embedded backend, then the e2e suite again on LocalStack in Docker
# (backend testcontainers, image built locally on first use), then: no container of ours left.
test: venv docker
	$(BIN)/python -m pytest tests
	$(MAKE) --no-print-directory consumer
	$(MAKE) --no-print-directory e2e-containers

# The harness as a user installs it: its wheel with [cdk] only in a fresh venv, running a CDK
# project of its own from outside the clone (tests/consumer_project; docs/install.md)
consumer: venv
	.ci/consumer.sh

# Docker from Debian's packages if missing, dockerd started if not running (.ci/docker.sh)
docker:
	.ci/docker.sh

e2e-containers: venv docker
	LSH_BACKEND=testcontainers $(BIN)/python -m pytest tests/e2e
	@left=$$(docker ps -aq --filter label=lsh.managed=true); \
	 if [ -n "$$left" ]; then echo "containers left behind: $$left" >&2; exit 1; fi; \
	 echo "no LocalStack container of ours left"

unit: venv
	$(BIN)/python -m pytest tests/unit

integration: venv
	$(BIN)/python -m pytest tests/integration

e2e: venv
	$(BIN)/python -m pytest tests/e2e

demo: venv
	$(BIN)/python -m tests.e2e.demo

up: venv
	$(BIN)/lsh up

bench: venv docker
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/eventually.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/saga.py
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/rerun.py

clean:
	rm -rf $(VENV) .pytest_cache node_modules
