# agent-audit: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BENCHES := $(basename $(notdir $(filter-out bench/__init__.py bench/harness.py bench/workload.py bench/quix_env.py bench/quix_app.py,$(wildcard bench/*.py))))

.PHONY: help venv demo test unit integration lint bench stack-up stack-down stack-status compose-check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,dev]'
	touch $@

venv: $(VENV)/.installed  ## create the virtualenv with the project and its dev tools

demo: venv  ## run the pipeline end to end on the local stack and print what Elasticsearch holds
	$(VENV)/bin/agent-audit demo

test: venv  ## unit + integration tests (starts the local stack if needed, stops it after)
	$(PY) -m pytest

unit: venv  ## unit tests only (no services)
	$(PY) -m pytest tests/unit

integration: venv  ## integration tests only (real Kafka and Elasticsearch)
	$(PY) -m pytest tests/integration

lint: venv  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy -p agent_audit && $(VENV)/bin/mypy bench corpora

bench: venv  ## run every benchmark in bench/ (installs the Presidio peer for bench/redaction)
	$(PY) -m pip install -q -e '.[server,dev,bench]'
	@for b in $(BENCHES); do echo "== bench.$$b"; $(PY) -m bench.$$b || exit 1; done

stack-up: venv  ## start the local Kafka + Elasticsearch
	$(VENV)/bin/agent-audit stack up

stack-down: venv  ## stop them
	$(VENV)/bin/agent-audit stack down

stack-status: venv
	$(VENV)/bin/agent-audit stack status

compose-check: venv  ## validate docker-compose.yml (Compose schema; and the Compose CLI where installed)
	$(PY) -m pytest -q -rs tests/unit/test_compose.py

native: venv  ## compile the redaction modules with mypyc in place (about 1.5x; native-clean: pure Python again)
	$(PY) -m agent_audit.core.redaction.native

native-clean: venv
	$(PY) -m agent_audit.core.redaction.native --clean

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
