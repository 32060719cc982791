# PIAK Ops. Quick start: `make demo`, `make test`. Both create .venv and install what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/include

.PHONY: demo test test-distributed test-compose lint format bench venv constraints clean

venv:
	@scripts/bootstrap.sh

## make demo: demo SIAK database + airflow standalone on http://127.0.0.1:8080 (Ctrl-C stops)
demo: venv
	$(PY) -m piak demo --residents $${RESIDENTS:-100000}

## make test: ruff (lint + format check, AIR rules) and pytest: unit, integration and end-to-end on
## one shared Airflow, in five processes at once (scripts/test.sh; the Celery topology and the
## compose stack have their own targets)
test: venv
	scripts/test.sh

## make test-distributed: the production topology on loopback (started once), with the load test
test-distributed: venv
	.venv/bin/python -m pytest tests/distributed

## make test-compose: docker-compose.yaml built and run on a private Docker engine (as root)
test-compose: venv
	scripts/test-compose.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: benchmarks; writes bench/REPORT.md
bench: venv
	$(PY) bench/run.py

## make constraints: refreeze constraints.txt from the current .venv (after a deliberate upgrade)
constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^pip==' | sort -f > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
