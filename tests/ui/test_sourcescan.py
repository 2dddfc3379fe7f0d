"""PySide's per-import scan for "PySide6" (ui/sourcescan.py) gives PySide's own answers and keeps no source lines;
`from __feature__ import snake_case` still works. Each check runs in a fresh interpreter: the scan is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHECK = """
import json, linecache, sys
sys.path.insert(0, {folder!r})
from desktop_app import ui
from desktop_app.ui import sourcescan
feature = sys.modules["__feature__"]
scan = feature._mod_uses_pyside
import uses_qt, plain, snake
held = [name for name in ("uses_qt", "plain", "snake") if any(name in path for path in linecache.cache)]
answers = {{name: feature.pyside_feature_dict.get(name) for name in ("uses_qt", "plain")}}
pysides = {{name: getattr(scan, "pysides", scan)(sys.modules[name]) for name in ("uses_qt", "plain")}}
print(json.dumps({{
    "held": held,
    "answers": answers,
    "pysides": pysides,
    "again": sourcescan.install() and feature._mod_uses_pyside is scan,
    "snake": snake.NAME,
}}))
"""


def test_same_answers_without_keeping_sources(tmp_path: Path) -> None:
    (tmp_path / "uses_qt.py").write_text("from PySide6.QtCore import QObject\n" + "# padding\n" * 500)
    (tmp_path / "plain.py").write_text("VALUE = 1\n" + "# padding\n" * 500)
    (tmp_path / "snake.py").write_text(
        "from PySide6.QtWidgets import QApplication\n"
        "from __feature__ import snake_case\n"
        "from PySide6.QtCore import QObject\n"
        "o = QObject()\n"
        "o.set_object_name('snake')\n"
        "NAME = o.object_name()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(folder=str(tmp_path))], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["held"] == [], "a scanned module's source stayed in linecache"
    # 0: uses PySide (features may switch), -1: ignored by PySide's feature switching; PySide's own scan agrees.
    assert got["answers"] == {"uses_qt": 0, "plain": -1}
    assert got["pysides"] == {"uses_qt": True, "plain": False}
    assert got["again"], "a second install wrapped the scan again"
    assert got["snake"] == "snake"
