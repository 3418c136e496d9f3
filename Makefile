# Everything a fresh clone needs: `make demo` and `make test` (see README.rst).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help venv demo test lint format migrations-check clean

help:
	@echo "make demo   - run the example project on http://$(HOST):$(PORT) with the simulator"
	@echo "make test   - lint and run the whole test suite"
	@echo "make format - apply ruff's formatting and safe fixes"

# The stamp is rebuilt when the dependency declarations change.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	cd example_project && ../$(PY) manage.py rundemo $(HOST):$(PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: venv
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m django makemigrations --check --dry-run

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
