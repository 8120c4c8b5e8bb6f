# 3AM Drill Lab. Every target runs from a fresh clone with only python3 and make installed:
# the first one that needs Python packages creates .venv and installs the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SCENARIO ?=
USERS ?= 20
DURATION ?= 1m
PYTEST_ARGS ?=
MODE ?= auto
service ?=
# The Docker lab's compose command, as `drill up --mode docker` runs it (COMPOSE_FILE and
# COMPOSE_PROJECT_NAME, if set, choose files and project the same way for both).
COMPOSE := docker compose

.DEFAULT_GOAL := help
.PHONY: help install lock up down logs shell test test-fast test-soak lint verify solve reset loadtest bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The locked versions: constraints.txt pins every package, direct or not, to the versions the
# suite was last run with (pyproject.toml keeps the ranges). `make lock` refreshes it.
CONSTRAINTS := constraints.txt
# The lock is resolved for CI's Python (3.11), in a throwaway virtual environment with pip-tools.
LOCK_PYTHON ?= python3.11
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2

$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@

install: $(INSTALLED) ## create .venv and install the project and its dev tools, at the locked versions

lock: ## refresh constraints.txt: the newest versions pyproject.toml allows, for Python 3.11
	rm -rf $(LOCK_VENV)
	$(LOCK_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet '$(PIP_TOOLS)'
	$(LOCK_VENV)/bin/pip-compile --quiet --upgrade --extra dev --extra docker --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file $(CONSTRAINTS) pyproject.toml
	rm -rf $(LOCK_VENV)
	@echo "constraints.txt refreshed: run make install, make lint and make test, then commit it"

up: $(INSTALLED) ## start the lab: Docker when an engine answers, else local (MODE=docker|local)
	$(BIN)/drill up --mode $(MODE)

down: $(INSTALLED) ## stop the lab (either mode)
	$(BIN)/drill down

logs: ## follow a Docker lab service's JSON logs: make logs service=billing (local: .drill/logs/)
	@test -n "$(service)" || { echo "usage: make logs service=<name>"; exit 2; }
	@if [ -f .drill/lab.json ] && ! grep -q '"mode": "docker"' .drill/lab.json; then \
		exec tail -n 50 -f .drill/logs/$(service).log; \
	else exec $(COMPOSE) logs --follow --tail 50 $(service); fi

shell: ## a shell inside a Docker lab service's container: make shell service=billing
	@test -n "$(service)" || { echo "usage: make shell service=<name>"; exit 2; }
	$(COMPOSE) exec $(service) sh

test: $(INSTALLED) ## run the whole test suite (starts real services on 127.0.0.1)
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(INSTALLED) ## the tests that start no service and no container (the inner loop)
	$(BIN)/pytest -m "not slow and not docker" $(PYTEST_ARGS)

test-soak: $(INSTALLED) ## each reference fix verified 10 times with its drill's load running (~15 min)
	DRILL_TEST_SOAK=1 $(BIN)/pytest -m soak $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff and mypy, on the poisoned code and on every reference fix
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy scripts/bench.py scripts/bench_n_plus_one.py
	MYPY=$(CURDIR)/$(BIN)/mypy scripts/typecheck-solutions

verify: $(INSTALLED) ## grade a fix: make verify SCENARIO=ledger-mismatch
	$(BIN)/drill verify $(SCENARIO)

solve: $(INSTALLED) ## apply a reference fix: make solve SCENARIO=ledger-mismatch
	$(BIN)/drill solve $(SCENARIO)

reset: $(INSTALLED) ## undo a reference fix: make reset SCENARIO=ledger-mismatch
	$(BIN)/drill reset $(SCENARIO)

loadtest: $(INSTALLED) ## headless Locust: make loadtest SCENARIO=ledger-mismatch USERS=20 DURATION=1m
	@test -n "$(SCENARIO)" || { echo "usage: make loadtest SCENARIO=<drill> [USERS=20] [DURATION=1m]"; exit 2; }
	@test -f loadgen/$(subst -,_,$(SCENARIO)).py || { echo "no load for drill '$(SCENARIO)' (loadgen/$(subst -,_,$(SCENARIO)).py)"; exit 2; }
	mkdir -p reports/$(SCENARIO)
	$(BIN)/locust -f loadgen/$(subst -,_,$(SCENARIO)).py --headless --users $(USERS) \
		--spawn-rate $(USERS) --run-time $(DURATION) --only-summary --exit-code-on-error 0 \
		--csv reports/$(SCENARIO)/locust --html reports/$(SCENARIO)/locust.html
	@echo "Reports: reports/$(SCENARIO)/locust_stats.csv, reports/$(SCENARIO)/locust.html"

bench: $(INSTALLED) ## measure grader run time and P99, poisoned against fixed (docs/benchmarks.md)
	$(BIN)/python scripts/bench.py

clean: ## remove the virtual environment, lab state and reports
	rm -rf $(VENV) $(LOCK_VENV) .drill reports .mypy_cache .ruff_cache .pytest_cache
