"""docs/ARCHITECTURE.md's import graph is the code's (scripts/import_graph.py --write regenerates it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_import_graph_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_graph.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_graph_marks_deferred_imports() -> None:
    # fastcli loads the full CLI only when the running app did not answer: the graph must say so.
    graph = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_graph.py")], capture_output=True, text=True, check=True
    ).stdout
    assert any(line.startswith("fastcli ") and "cli*" in line for line in graph.splitlines())
