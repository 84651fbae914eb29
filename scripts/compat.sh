#!/usr/bin/env bash
# The compatibility job: ddtrack on the last Airflow 3.1 and 3.2 releases, each in its own
# virtualenv (.venv-af3.1, .venv-af3.2), next to the main suite's Airflow 3.3 in .venv.
#
#   scripts/compat.sh                 install (idempotent, quick when nothing changed) and test
#   scripts/compat.sh install         install only (e.g. in the background, ahead of the tests)
#
# Tests per version, the same on both: the parts of ddtrack that touch Airflow's surface, which
# is what changes between Airflow releases:
#   tests/integration/test_scheduler.py  the real deployment (PostgreSQL metastore, LocalExecutor,
#       scheduler, api-server, dag-processor; the listener ingests, no `ddtrack sync`), without
#       its MariaDB-store variant (ddtrack's own tables, covered by the main suite);
#   tests/views/test_partial_access.py   authorization as deployed: the auth manager's per-DAG
#       answers through a live api-server;
#   tests/views/test_views.py            the plugin mounted in Airflow's own FastAPI app: wiring,
#       login redirect, token/cookie, pages on real dag.test() runs, escaping;
#   test_timezone.py, test_home_status.py  the UI's timezone cookie and [core] default_timezone,
#       the admin-only section (auth manager roles);
#   test_bounded_pages.py, test_run_fanout.py  pages served through the app on big data, on
#       the SQLite store only.
# Left out: the query-layer tests (test_queries, test_catalog_queries, test_trace_queries) and
# the store-backend variants (PostgreSQL/MariaDB stores), which never import Airflow beyond the
# records; test_fuzz, test_lineage_scale, test_trends_alerts, test_compare,
# test_across_dags_views and test_trace_examples, which go through the same app wiring as
# test_views and differ from it in ddtrack's own logic only; test_docker_demo (static checks).
# DDTRACK_COMPAT_AIRFLOW overrides the versions ("3.1.8 3.2.2").
#
# Airflow's constraint files live on GitHub; this job installs from PyPI alone, so it pins what
# those constraints pin where it matters: pandas<3 (before 3.3 Airflow's serde cannot serialise
# a pandas 3 DataFrame a task returns), fastapi<0.137 with cadwyn<8 (with fastapi 0.165 and
# cadwyn 9, Airflow 3.2.2's execution API fails to build: "TITerminalStatePayload needs a
# discriminator"), and svcs<26.2 (svcs 26.2's FastAPI lifespan removes `svcs_registry` from
# app.state when it exits; Airflow 3.2's dag.test() drops its in-process execution API object
# right after building the client, the lifespan is finalised and every task fails with
# "'State' object has no attribute 'svcs_registry'").
PINS=("pandas<3" "fastapi<0.137" "cadwyn<8" "svcs<26.2")
set -euo pipefail
shopt -s inherit_errexit  # a failed pip install inside $(install ...) stops the job too
cd "$(dirname "$0")/.."

MODE=${1:-test}
VERSIONS=${DDTRACK_COMPAT_AIRFLOW:-"3.1.8 3.2.2"}
PYTHON=${PYTHON:-python3}
TESTS=(tests/integration/test_scheduler.py tests/views/test_partial_access.py tests/views/test_views.py
  tests/views/test_timezone.py tests/views/test_home_status.py tests/views/test_bounded_pages.py
  tests/views/test_run_fanout.py)
# Deployment tests (marked scheduler) keep their PostgreSQL metastore; store-backend variants go.
MARKS="not mariadb and (scheduler or not postgres)"

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
  select=()
  case "$version" in 3.1.*) select=(-k "$NO_TEAMS") ;; esac
  "$venv/bin/pytest" -q -p no:cacheprovider "${TESTS[@]}" -m "$MARKS" "${select[@]}"
  echo "==> Airflow $version passed in $(( $(date +%s) - start )) s"
done
