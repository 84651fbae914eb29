# The two commands of the quick start: `make demo` and `make test`.
.PHONY: setup demo-setup demo test test-compat test-fast lint bench

# DDTRACK_VENV: the virtualenv (default .venv); DEMO_ARGS: options of run_webserver.py (--port 8099).
VENV ?= $(or $(DDTRACK_VENV),.venv)
DEMO_ARGS ?=

## Everything the tests need: system packages through apt-get where it exists, and .venv.
setup:
	@DDTRACK_VENV=$(VENV) scripts/bootstrap.sh test

## Only Python and pip: a virtualenv with ddtrack (no apt-get, no sudo).
demo-setup:
	@DDTRACK_VENV=$(VENV) scripts/bootstrap.sh demo

## Start a local Airflow 3 with ddtrack, the example DAGs already run (Ctrl-C stops it).
demo: demo-setup
	$(VENV)/bin/python tests/dev_tools/run_webserver.py $(DEMO_ARGS)

## Install everything and run the whole test suite (SQLite, PostgreSQL, MariaDB, real scheduler, Chromium),
## then the compatibility job: the deployment and views tests on Airflow 3.1.8 and 3.2.2 (own virtualenvs,
## installed in the background while the main suite runs).
test: setup lint
	scripts/test.sh

## Only the compatibility job (scripts/compat.sh; DDTRACK_COMPAT_AIRFLOW="3.1.8" picks versions).
test-compat: setup
	scripts/compat.sh

## Everything but the full deployments and the browser.
test-fast: setup
	.venv/bin/pytest -m "not scheduler and not browser"

lint: setup
	.venv/bin/ruff check .

## Benchmarks: profiler speed, views speed, merged mapped tasks, across runs on PostgreSQL, the 5,000-task DAG's
## lineage in Chromium. store_scale.py and across_dags_speed.py (1M outputs, ~20 min of seeding) run on their own.
bench: setup
	.venv/bin/python benchmarks/profile_speed.py
	.venv/bin/python benchmarks/views_speed.py
	.venv/bin/python benchmarks/mapped_whole_speed.py
	.venv/bin/python benchmarks/across_runs_speed.py
	.venv/bin/python benchmarks/lineage_speed.py
