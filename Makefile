# The two commands of the quick start: `make demo` and `make test`.
.PHONY: setup demo test test-fast lint bench

setup:
	@scripts/bootstrap.sh

## Start a local Airflow 3 with ddtrack, the example DAGs already run (Ctrl-C stops it).
demo: setup
	.venv/bin/python tests/dev_tools/run_webserver.py

## Install everything and run the whole test suite (SQLite, PostgreSQL, MariaDB, real scheduler, Chromium).
test: setup lint
	.venv/bin/pytest

## Everything but the full deployments and the browser.
test-fast: setup
	.venv/bin/pytest -m "not scheduler and not browser"

lint: setup
	.venv/bin/ruff check .

## Benchmarks: profiler speed, views speed, merged mapped tasks (side tables at 1M outputs: benchmarks/store_scale.py).
bench: setup
	.venv/bin/python benchmarks/profile_speed.py
	.venv/bin/python benchmarks/views_speed.py
	.venv/bin/python benchmarks/mapped_whole_speed.py
