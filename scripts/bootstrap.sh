#!/usr/bin/env bash
# Install what ddtrack's demo or its tests need, idempotently (quick when nothing changed).
#
#   scripts/bootstrap.sh demo   Python 3.10-3.12 and pip only: a virtualenv with ddtrack
#                               (pip install -e .). No apt-get, no sudo, no system packages.
#   scripts/bootstrap.sh test   also the tests' system packages (Chromium and its driver, the
#                               MySQL client headers, shellcheck) through apt-get where it
#                               exists, and ddtrack's test extras.
#
# DDTRACK_VENV (default .venv) is the virtualenv; PYTHON picks the interpreter that creates it.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-test}
VENV=${DDTRACK_VENV:-.venv}
APT_PACKAGES=(chromium chromium-driver pkg-config default-libmysqlclient-dev shellcheck pgbouncer)

die() { echo "bootstrap: $*" >&2; exit 1; }

supported() { # is "$1" a Python 3.10-3.12?
  "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null
}

pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    supported "$PYTHON" || die "PYTHON=$PYTHON is not Python 3.10, 3.11 or 3.12 ($("$PYTHON" --version 2>&1 | head -n1 || true)). Install one and pass it, e.g. make demo PYTHON=python3.12"
    echo "$PYTHON"; return
  fi
  for candidate in python3 python3.12 python3.11 python3.10; do
    if command -v "$candidate" >/dev/null && supported "$candidate"; then echo "$candidate"; return; fi
  done
  found=$(command -v python3 >/dev/null && python3 --version 2>&1 || echo "no python3 on PATH")
  die "ddtrack needs Python 3.10, 3.11 or 3.12 with pip (found: $found). Install one (python.org, pyenv, or your package manager) and run again, e.g. make demo PYTHON=python3.12"
}

system_packages() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    local need=()
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=("Chromium (the browser tests drive it)")
    command -v mysql_config >/dev/null || command -v mariadb_config >/dev/null || need+=("the MySQL/MariaDB client headers and pkg-config (mysqlclient builds against them)")
    command -v shellcheck >/dev/null || need+=("shellcheck")
    [ ${#need[@]} -eq 0 ] && return
    die "no apt-get here, and the tests need: $(printf '%s; ' "${need[@]}")install them with your package manager (e.g. brew install chromium mysql-client pkg-config shellcheck; dnf install chromium mariadb-connector-c-devel pkgconf shellcheck). The demo needs none of them: make demo."
  fi
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "==> installing system packages for the tests: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "installing ${missing[*]} needs root: run as root, or install them yourself (apt-get install ${missing[*]})"
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

python_packages() { # $1: what to install, $2: the stamp's name
  if [ ! -x "$VENV/bin/python" ]; then
    py=$(pick_python)
    echo "==> creating $VENV with $($py --version 2>&1)"
    "$py" -m venv "$VENV" || die "$py could not create a virtualenv (Debian/Ubuntu: apt-get install python3-venv)"
  fi
  supported "$VENV/bin/python" || die "$VENV has $("$VENV/bin/python" --version 2>&1); ddtrack needs 3.10-3.12: remove $VENV and run again (PYTHON=python3.12 make demo)"
  local stamp="$VENV/.ddtrack-$2" want
  # Python hashes the inputs: macOS has no sha256sum.
  want=$("$VENV/bin/python" -c 'import glob, hashlib
print(hashlib.sha256(b"".join(open(f, "rb").read() for f in ["pyproject.toml", "setup.py", *sorted(glob.glob("ddtrack/profile/*.c"))])).hexdigest())')
  # The test install holds everything the demo needs.
  [ "$2" = demo ] && [ "$(cat "$VENV/.ddtrack-test" 2>/dev/null)" = "$want" ] && return
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing $1 into $VENV (the first time takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip wheel
    "$VENV/bin/python" -m pip install -q -e "$1"
    echo "$want" > "$stamp"
  fi
}

case "$MODE" in
  demo) python_packages "." demo ;;
  test) system_packages; python_packages ".[test]" test ;;
  *) die "usage: scripts/bootstrap.sh demo|test" ;;
esac
echo "==> ready: $("$VENV/bin/python" -c 'import airflow, ddtrack; print("Airflow", airflow.__version__, "/ ddtrack", ddtrack.__version__)')"
