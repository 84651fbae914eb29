#!/usr/bin/env bash
# The compatibility job: ddtrack on the last Airflow 3.1 and 3.2 releases, each in its own
# virtualenv (.venv-af3.1, .venv-af3.2), next to the main suite's Airflow 3.3 in .venv.
#
#   scripts/compat.sh                 install (idempotent, quick when nothing changed) and test
#   scripts/compat.sh install         install only (e.g. in the background, ahead of the tests)
#
# Tests per version: the real deployment (PostgreSQL metastore, LocalExecutor, scheduler,
# api-server, dag-processor; the listener ingests, no `ddtrack sync` before the checks) and the
# views tests. DDTRACK_COMPAT_AIRFLOW overrides the versions ("3.1.8 3.2.2").
#
# Airflow's constraint files live on GitHub; this job installs from PyPI alone, so it pins what
# those constraints pin where it matters: pandas<3 (before 3.3 Airflow's serde cannot serialise
# a pandas 3 DataFrame a task returns), and fastapi<0.137 with cadwyn<8 (with fastapi 0.165 and
# cadwyn 9, Airflow 3.2.2's execution API fails to build: "TITerminalStatePayload needs a discriminator").
PINS=("pandas<3" "fastapi<0.137" "cadwyn<8")
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-test}
VERSIONS=${DDTRACK_COMPAT_AIRFLOW:-"3.1.8 3.2.2"}
PYTHON=${PYTHON:-python3}
# The deployment test without its MariaDB variant (the main suite covers ddtrack's own tables
# there), and the views tests.
TESTS=(tests/integration/test_scheduler.py tests/views)
DESELECT=(-k "not store-in-mariadb")

install() { # $1: Airflow version; prints the virtualenv's path
  local version=$1 venv=".venv-af${1%.*}" want
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv" >&2
  want=$(cat pyproject.toml setup.py "$0" | "$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')-$version
  if [ "$(cat "$venv/.ddtrack-compat" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Airflow $version and ddtrack into $venv" >&2
    "$venv/bin/python" -m pip install -q --upgrade pip wheel >&2
    "$venv/bin/python" -m pip install -q -e ".[test]" "apache-airflow==$version" "${PINS[@]}" >&2
    echo "$want" > "$venv/.ddtrack-compat"
  fi
  echo "$venv"
}

# Airflow 3.1 has no teams (multi-team authorization came with 3.2): these tests of it cannot apply.
NO_TEAMS="not test_auth_manager_decides_dag_by_dag and not test_alerts_of_a_dag_the_user_cannot_read_stay_hidden \
and not test_partial_user_never_sees_an_unreadable_dag"

for version in $VERSIONS; do
  venv=$(install "$version")
  [ "$MODE" = install ] && continue
  echo "==> Airflow $version ($venv): ${TESTS[*]}"
  start=$(date +%s)
  tests=("${TESTS[@]}") select=("${DESELECT[@]}")
  case "$version" in
    3.1.*) select=(-k "${DESELECT[1]} and $NO_TEAMS") ;;
    # Airflow 3.2's dag.test() cannot run a task (its in-process execution API never runs the
    # lifespan that sets `svcs_registry`; 3.3 does), and the views tests' data comes from
    # dag.test(): there, only the views tests that build their runs from records.
    3.2.*) tests=(tests/integration/test_scheduler.py tests/views/test_run_fanout.py) ;;
  esac
  "$venv/bin/pytest" -q -p no:cacheprovider "${tests[@]}" "${select[@]}"
  echo "==> Airflow $version passed in $(( $(date +%s) - start )) s"
done
