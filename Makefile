# The two commands: `make run` serves the API on a local AWS stand-in; `make test` runs the suite.
# Both set up the virtualenv from the pinned requirements on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
PORT ?= 8000
# make run FAKE_BANK=1: also the fake bank (docs/bank-protocol.md)
FAKE_BANK ?= 0
MOTO_PORT ?= 5005
PYTEST_WORKERS ?= 3

.PHONY: run test suite lint unit e2e openapi bench demo docs clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) MOTO_PORT=$(MOTO_PORT) FAKE_BANK=$(FAKE_BANK) $(BIN)/python -m infra.local_stack

# The suites that must hold on real DynamoDB's eventually consistent reads (issue 24), run
# again with index and non-consistent base reads 200 ms and 2 s behind (infra/moto_lag.py).
LAGGED_SUITES = tests/e2e/test_concurrency.py tests/integration/disbursement \
	tests/integration/servicing_core/test_cob.py tests/integration/servicing_core/test_cob_lag.py \
	tests/integration/servicing_core/test_cob_fanout.py \
	tests/integration/servicing_core/test_cob_isolation.py \
	tests/integration/servicing_core/test_cob_catch_up.py tests/integration/ledger \
	tests/integration/test_ledger_api.py tests/integration/test_audit_chain.py \
	tests/integration/servicing/test_webhooks.py tests/integration/servicing/test_webhooks_under_lag.py \
	tests/integration/servicing/test_lifecycle_events.py tests/property/lifecycle \
	tests/integration/servicing/test_webhook_order.py

LAG_LEVELS_MS = 200 2000
LAG_WORKERS ?= 3

# The whole suite and each lagged run at once (`make -j`): the lagged runs spend most of their
# time waiting the lag out, so they fill the cores the whole run leaves idle instead of queueing
# behind it. `-O` prints each run's output in one piece when it ends; each keeps its own cache
# (`--lf` per run). `make suite` or `make lagged-200` runs one of them alone. Three workers each
# on two cores: every run also waits (lag, HTTP, subprocesses, pip). The 9 workers peak at
# 5.9 GB in use; `make test PYTEST_WORKERS=2 LAG_WORKERS=2` for a smaller machine.
test: $(STAMP) lint
	@$(MAKE) --no-print-directory -j -O suite $(addprefix lagged-,$(LAG_LEVELS_MS))

suite: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

lagged-%: $(STAMP)
	$(BIN)/pytest -n $(LAG_WORKERS) --dist loadgroup -q -o cache_dir=.pytest_cache/lag-$* \
		-p tests.lag --lag-ms=$* $(LAGGED_SUITES)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint infra/*.yaml

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/property

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

openapi: $(STAMP)
	$(BIN)/python -c "import app; from chalicelib.api.openapi import spec_yaml; open('openapi.yaml', 'w').write(spec_yaml())"

docs: $(STAMP)  # docs/ as a site in build/docs/; strict: a broken link or anchor fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)  # quick mode, one summary table at the end; BENCH_FLAGS=--full for the long runs
	$(BIN)/python bench/summary.py $(BENCH_FLAGS)

LOANS ?= 1000
WORKERS ?= 8

demo: $(STAMP)
	LOANS=$(LOANS) WORKERS=$(WORKERS) $(BIN)/python -m demo

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache build/package build/test-artifact build/docs

# ---- Deployment (docs/deploying.md): build/package/<stage>/ holds the artifact. ----
STAGE ?= dev

.PHONY: package deploy

package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE)

deploy: package
	STAGE=$(STAGE) PYTHON=$(BIN)/python bash infra/deploy.sh
