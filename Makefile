# wagtail-coaching: `make demo` and `make test` are all you need; run `make help` for more.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
ADDRPORT    ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench e2e install

help: ## Show the targets
	@grep -E '^[a-z0-9]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-7s %s\n", $$1, $$2}'

demo: $(STAMP) ## Set up, load the demo data and serve it with a worker on http://127.0.0.1:8000
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py load_demo
	$(PY) manage.py rundemo --addrport $(ADDRPORT)

test: $(STAMP) ## Set up and run the test suite (pass options with PYTEST_ARGS="-k enroll")
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## (helper) ruff
	$(PY) -m ruff check .

bench: $(STAMP) ## (helper) run every benchmarks/*.py script; best on PostgreSQL (DATABASE_URL)
	@set -e; found=0; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		case "$$(basename $$script)" in _*) continue;; esac; \
		found=1; echo "== $$script"; $(PY) "$$script" $(BENCH_ARGS); \
	done; [ $$found = 1 ] || echo "No benchmark scripts in benchmarks/."

e2e: $(STAMP) ## (helper) browser tests: Playwright + the system's Chromium (see README)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[e2e]'
	cd e2e && npm ci --no-audit --no-fund --loglevel=error
	$(PY) -m pytest e2e $(PYTEST_ARGS)

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@
