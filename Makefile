# Everything a fresh clone needs: `make demo` and `make test` (see README.rst).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The suite runs in this many processes (pytest-xdist; whole files per process, so module fixtures start once),
# then the tests that start Celery worker processes run one at a time.
TEST_PROCESSES ?= 2
# The browser tests drive Debian's Chromium; Playwright's own browser downloads are never used.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv demo test lint format migrations-check clean bench

help:
	@echo "make demo   - run the example project on http://$(HOST):$(PORT) with the simulator"
	@echo "make test   - lint (ruff, mypy) and run the whole test suite (browser tests included; installs Chromium if missing)"
	@echo "make format - apply ruff's formatting and safe fixes"
	@echo "make bench  - run the benchmarks (PostgreSQL and Redis on 127.0.0.1) and write benchmarks/results.md"

# The stamps are rebuilt when the dependency declarations change. `make demo` installs only what the example
# project needs (the `demo` extra); `make test` and `make venv` install the test tools too.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# -qq for the demo: every editable install of a flat-layout project gets setuptools' informational
# "Editable installation" box, which is not for someone trying the demo; errors are still shown.
$(VENV)/.installed-demo: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -qq -e '.[demo]'
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-demo

venv: $(VENV)/.installed

# SITE_URL follows HOST and PORT: the simulator's origins and the Connect redirect URI are built from it.
demo: $(VENV)/.installed-demo
	cd example_project && SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} ../$(PY) manage.py rundemo $(HOST):$(PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint $(CHROMIUM)
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadfile -m 'not worker_processes' $(PYTEST_ARGS)
	$(VENV)/bin/pytest -m worker_processes $(PYTEST_ARGS)

$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: venv
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django makemigrations --check --dry-run

# A few minutes; BENCH_ARGS="--database-url ... --broker-url ..." for other servers (see README.rst).
BENCH_ARGS ?=

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
