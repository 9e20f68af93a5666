# The two commands of the README: `make run` and `make test`. Everything else is a step
# they share. Needs Python 3.11 and a local PostgreSQL 15 with a superuser reachable at
# PG_ADMIN_URL (this machine kind: trust auth on the socket).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_ADMIN_URL ?= postgresql:///postgres
DB_NAME ?= skeldir
DB_OWNER ?= skeldir_owner
DEV_ENV := .dev/env
PYTEST_WORKERS ?= 2
WITH_DEV_ENV := set -a && . ./$(DEV_ENV) && set +a &&

.PHONY: help run test lint bench bench-full venv postgres db dev-env migrate check

help:
	@echo "make run   set up everything and run the service on 127.0.0.1:8000"
	@echo "make test  set up everything and run the whole test suite"

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(BIN)/.installed

postgres:
	@scripts/ensure_postgres.sh

db: postgres
	psql -X -q "$(PG_ADMIN_URL)" -v owner=$(DB_OWNER) -v db=$(DB_NAME) -f scripts/bootstrap_db.sql

dev-env: venv
	$(BIN)/python scripts/dev_env.py $(DEV_ENV)

migrate: venv db dev-env
	$(WITH_DEV_ENV) $(BIN)/python manage.py migrate --database owner --no-input

check: venv dev-env
	$(WITH_DEV_ENV) $(BIN)/python manage.py check

run: migrate check
	scripts/run_demo.sh

bench: venv db
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
	$(BIN)/python -m bench.run --quick

bench-full: venv db
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
	$(BIN)/python -m bench.run

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv db
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q
