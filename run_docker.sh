#!/usr/bin/env bash
# Build ddtrack's demo image (official Apache Airflow 3 image + ddtrack) and run it on :8080.
#   ./run_docker.sh            # build and run; Ctrl-C stops it
#   PORT=8099 ./run_docker.sh  # publish on another host port
set -euo pipefail

cd "$(dirname "$0")"
IMAGE="${IMAGE:-ddtrack-demo}"
PORT="${PORT:-8080}"

if ! command -v docker >/dev/null 2>&1; then
    echo "docker not found; without Docker run the same demo with:" >&2
    echo "  python tests/dev_tools/run_webserver.py --port ${PORT}" >&2
    exit 1
fi

docker build -t "${IMAGE}" .
echo "Starting the demo; open http://127.0.0.1:${PORT}/ and log in as admin/admin."
exec docker run --rm -it -p "127.0.0.1:${PORT}:8080" --name "${IMAGE}" "${IMAGE}"
