"""The benchmarks still run (bench/run_all.py --quick): a smoke test, never a timed one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_every_benchmark_runs_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=580,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    verdicts = [line for line in done.stdout.splitlines() if line.startswith(("PASS ", "MISS ", "FAIL "))]
    for row in (
        "token, app running",
        "agent reply",
        "token, no app",
        "refresh storm",
        "idle app",
        "first paint",
        "RSS 5 s",
    ):
        assert any(row in line for line in verdicts), (row, done.stdout[-3000:])
    assert "crashed: none" in done.stdout
