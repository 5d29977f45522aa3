# wagtail-coaching: `make demo` and `make test` are all you need; run `make help` for more.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core; TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto
ADDRPORT    ?= 127.0.0.1:8000
# Where `make dist` puts the sdist and the wheel.
DIST        ?= dist
# Benchmarks: each script makes its own coaching_bench_<name> database on this server.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/coaching_bench
BENCH_REDIS_URL    ?= redis://127.0.0.1:6379/0
BENCH_ARGS  ?=
# Clients enrolled at each size of bench_journeys.py's sweep.
BENCH_JOURNEY_SIZES ?= 1000,10000,100000
# `make fresh-site`: the Wagtail series of the new site (8 or 7.4), its Python, more options
# of .ci/fresh_site.py (--dist DIR to reuse a wheel, --keep to keep the site).
SERIES      ?= 8
FRESH_SITE_PYTHON ?= $(PYTHON)
FRESH_SITE_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test lint docs bench bench-smoke e2e dist fresh-site install

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-7s %s\n", $$1, $$2}'

demo: $(STAMP) ## Set up, load the demo data and serve it with a worker on http://127.0.0.1:8000
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py load_demo
	$(PY) manage.py rundemo --addrport $(ADDRPORT)

test: $(STAMP) ## Set up and run the test suite (pass options with PYTEST_ARGS="-k enroll")
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP) ## (helper) ruff
	$(PY) -m ruff check .

# -E: every page is read again, so each build reports every warning (and fails on it).
docs: $(STAMP) ## (helper) build the documentation into docs/_build/html (warnings are errors)
	$(VENV)/bin/sphinx-build -W --keep-going -n -E -b html docs docs/_build/html

bench: $(STAMP) ## (helper) run every benchmarks/*.py on PostgreSQL + Redis, write benchmarks/RESULTS.md
	@rm -f benchmarks/results/*.json
	@failed=""; for script in benchmarks/*.py; do \
		case "$$(basename $$script)" in _*) continue;; esac; \
		echo "== $$script"; \
		BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_REDIS_URL="$(BENCH_REDIS_URL)" \
		BENCH_JOURNEY_SIZES="$(BENCH_JOURNEY_SIZES)" \
			$(PY) "$$script" $(BENCH_ARGS) || failed="$$failed $$script"; \
	done; \
	$(PY) benchmarks/_report.py || true; \
	if [ -n "$$failed" ]; then echo "Failed:$$failed"; exit 1; fi

bench-smoke: $(STAMP) ## (helper) every benchmark script once with --quick on SQLite (kept out of the suite)
	$(PY) -m pytest benchmarks -q $(PYTEST_ARGS)

e2e: $(STAMP) ## (helper) browser tests: Playwright + the system's Chromium (docs/testing.md)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[e2e]'
	cd e2e && npm ci --no-audit --no-fund --loglevel=error
	$(PY) -m pytest e2e $(PYTEST_ARGS)

dist: $(STAMP) ## (helper) build the sdist and wheel into $(DIST)/ and check them (twine, contents)
	rm -rf $(DIST) && mkdir -p $(DIST)
	@echo "$(PY) -m build --outdir $(DIST) . (its output: $(DIST).log, printed if it fails)"
	@$(PY) -m build --outdir $(DIST) . >$(DIST).log 2>&1 || { cat $(DIST).log; exit 1; }
	$(PY) -m twine check --strict $(DIST)/*
	$(PY) .ci/check_dist.py $(DIST)

fresh-site: $(STAMP) ## (helper) docs/install.md applied to a new `wagtail start` site, driven in Chromium (SERIES=8|7.4)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[e2e]'
	$(PY) .ci/fresh_site.py $(SERIES) --python $(FRESH_SITE_PYTHON) $(FRESH_SITE_ARGS)

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@
