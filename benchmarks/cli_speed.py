"""How fast the ``ddtrack`` command starts: ``--help`` and ``status``, against the 0.5 s target.

    .venv/bin/python benchmarks/cli_speed.py                     # this checkout
    .venv/bin/python benchmarks/cli_speed.py --before 5fa81bb    # and an older commit, side by side

A throw-away Airflow home with a migrated SQLite metastore and ddtrack's tables installed
(what ``ddtrack status`` inspects) is made first. Then, in turns (so the machine's load hits
every contender alike), each command's wall time is taken as a fresh process: the Python
interpreter starting with click imported (the floor any click CLI pays), ``ddtrack --help``,
and ``ddtrack status``; with ``--before``, the same two commands of that commit's package
(its ``ddtrack/`` extracted with ``git archive``, run with the same interpreter and
environment). Medians are printed with their ratio to the 0.5 s target and to the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 0.5


def _wall(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds ``cmd`` takes as a fresh process (run outside the checkout: ``-c`` puts the
    working directory first on sys.path, which would shadow ``--before``'s package)."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def _home(tmp: Path) -> dict[str, str]:
    """An Airflow home with a migrated metastore and ddtrack's tables: what status inspects."""
    home = tmp / "airflow"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")}
    (home / "dags").mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "ddtrack"), "install"], env=env, check=False, capture_output=True)
    return env


def _extract(commit: str, into: Path) -> Path:
    """The ``ddtrack`` package as it was at ``commit``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "ddtrack"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--before", metavar="COMMIT", help="also time the package of this commit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = _home(Path(tmp))
        run = [sys.executable, "-c", "import sys; from ddtrack.cli import main; sys.argv[0] = 'ddtrack'; main()"]
        contenders = {
            "python + click (floor)": ([sys.executable, "-c", "import click"], env),
            "ddtrack --help": ([*run, "--help"], env),
            "ddtrack status": ([*run, "status"], env),
        }
        if args.before:
            old_env = {**env, "PYTHONPATH": str(_extract(args.before, Path(tmp) / "before"))}
            contenders[f"ddtrack --help at {args.before}"] = ([*run, "--help"], old_env)
            contenders[f"ddtrack status at {args.before}"] = ([*run, "status"], old_env)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.reps):
            for name, (cmd, cmd_env) in contenders.items():
                times[name].append(_wall(cmd, cmd_env, tmp))
    floor = statistics.median(times["python + click (floor)"])
    print(f"median of {args.reps} fresh processes each, in turns; target {TARGET_S} s for --help")
    print(f"{'command':<40} {'median s':>9} {'min s':>7} {'/ target':>9} {'/ floor':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} {median:>9.3f} {min(values):>7.3f} {median / TARGET_S:>9.2f} {median / floor:>8.2f}")


if __name__ == "__main__":
    main()
