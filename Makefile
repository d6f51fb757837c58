# The two commands: `make run` serves the API on a local AWS stand-in; `make test` runs the suite.
# Both set up the virtualenv from the pinned requirements on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
PORT ?= 8000
MOTO_PORT ?= 5005
PYTEST_WORKERS ?= 2

.PHONY: run test lint unit e2e openapi bench demo clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) MOTO_PORT=$(MOTO_PORT) $(BIN)/python -m infra.local_stack

test: $(STAMP) lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint infra/*.yaml

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/property

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

openapi: $(STAMP)
	$(BIN)/python -c "import app; from chalicelib.api.openapi import spec_yaml; open('openapi.yaml', 'w').write(spec_yaml())"

bench: $(STAMP)  # quick mode, one summary table at the end; BENCH_FLAGS=--full for the long runs
	$(BIN)/python bench/summary.py $(BENCH_FLAGS)

LOANS ?= 1000
WORKERS ?= 8

demo: $(STAMP)
	LOANS=$(LOANS) WORKERS=$(WORKERS) $(BIN)/python -m demo

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache build/package build/test-artifact

# ---- Deployment (README, "Deploying"): build/package/<stage>/ holds the artifact. ----
STAGE ?= dev

.PHONY: package deploy

package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE)

deploy: package
	STAGE=$(STAGE) PYTHON=$(BIN)/python bash infra/deploy.sh
