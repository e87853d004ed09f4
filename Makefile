# Everything set-up related goes through here, so `make run` / `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv run test lint format migrate clean

venv: $(STAMP)

# The stamp is newer than the requirements once they are installed, so a second `make venv`
# does nothing; editing either requirements file re-installs.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -r requirements-dev.txt
	touch $(STAMP)

run: venv
	$(VPY) manage.py runportal $(ARGS)

test: venv
	$(VPY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: venv
	$(VPY) manage.py migrate

clean:
	rm -rf var/ db.sqlite3 db.sqlite3-wal db.sqlite3-shm
