#!/usr/bin/env bash
# `make test` after setup and lint: the main suite on Airflow 3.3 (.venv), then the
# compatibility job on Airflow 3.1 and 3.2 (scripts/compat.sh).
#
# The compatibility job's two virtualenvs install in the background while the main suite
# runs: pip waits mostly on downloads and disk, the suite mostly on Airflow's processes, so
# the installs (about 5 minutes on a fresh machine) no longer add to CI's time. Their output
# goes to a log that is printed if they fail. Arguments are passed to the main suite's pytest,
# which ends with its 40 slowest steps (where CI's time goes).
#
# The main suite runs on two pytest-xdist workers: most of its time is spent waiting on
# Airflow's processes (a scheduler's loop, a DAG file parsed, a task started), so two test
# modules at a time use the two cores better than one. Tests that share a deployment run on
# one worker (tests/conftest.py groups them).
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -t ddtrack-compat-install.XXXXXX)
setsid scripts/compat.sh install >"$log" 2>&1 &  # its own process group, stopped whole on exit
installer=$!
trap 'kill -- -"$installer" 2>/dev/null || true; rm -f "$log"' EXIT

status=0
.venv/bin/pytest -n 2 --dist loadgroup --durations=40 "$@" || status=$?
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if ! wait "$installer"; then
  echo "==> installing the compatibility job's virtualenvs failed:" >&2
  cat "$log" >&2
  exit 1
fi
scripts/compat.sh
