#!/usr/bin/env bash
# Install everything ddtrack's demo and tests need on a fresh machine (Debian, Python 3.11):
# system packages (Chromium for browser tests, the MySQL client headers mysqlclient builds
# against, shellcheck), then a virtualenv in .venv with ddtrack and its test extras.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
APT_PACKAGES=(chromium chromium-driver pkg-config default-libmysqlclient-dev shellcheck)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.ddtrack-installed
want=$(cat pyproject.toml setup.py ddtrack/profile/*.c | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing ddtrack and its test dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip wheel
  .venv/bin/pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
echo "==> ready: $(.venv/bin/python -c 'import airflow, ddtrack; print("Airflow", airflow.__version__, "/ ddtrack", ddtrack.__version__)')"
