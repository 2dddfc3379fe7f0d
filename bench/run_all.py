"""Runs every benchmark in turn; each prints its figures with their floors and targets (PASS/MISS lines).

Run: .venv/bin/python bench/run_all.py [--quick]   (nice it on a shared machine: nice -n 5 ...)
--quick runs small sizes as a smoke test: it then fails only if a benchmark crashed, never on a figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Issue 9's rows first; store_and_plan and gui are the older component benchmarks (gui has no --quick).
SCRIPTS = ["cli_token.py", "storm.py", "idle.py", "gui_start.py", "store_and_plan.py", "gui.py"]
QUICK = ["cli_token.py", "storm.py", "idle.py", "gui_start.py", "store_and_plan.py"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    crashed, missed = [], []
    for script in QUICK if args.quick else SCRIPTS:
        print(f"== {script}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                str(BENCH / script),
                *(["--quick"] if args.quick and script != "store_and_plan.py" else []),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode not in (0, 1) or "Traceback" in done.stderr:
            crashed.append(script)
            print(done.stderr[-3000:], file=sys.stderr)
        elif done.returncode == 1:
            missed.append(script)
        print(f"   ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"crashed: {crashed or 'none'}; targets missed in: {missed or 'none'}")
    if crashed:
        return 2
    return 0 if args.quick or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
