"""The desktop app's start: process start to first paint, and RSS 5 s after start, with 0 and N accounts,
against an empty PySide6 window started the same way (the floor), measured interleaved. Offscreen platform.

Targets (issue 9): first paint <= 1.5x (0 accounts) / <= 1.6x (1,000) the empty window; RSS 5 s after start
<= 1.6x / <= 1.8x the empty window. The first paint also shows a second floor: the Qt classes and widgets of
Tokendesk's window with none of its code (QT_WIDGETS_ONLY).

Both start with bytecode caches, as an installed app does (pip compiles on install): the runs get a private
PYTHONPYCACHEPREFIX, filled by one warm-up start of each that is not measured (the app's lasting as long as an
RSS run, so the modules it imports after the paint are cached too), even where the caller's
environment says PYTHONDONTWRITEBYTECODE (which would otherwise make every start compile the app's ~40
modules from source, about 40 ms, a cost no installed copy pays). --no-bytecode-cache measures that case.

Run: .venv/bin/python bench/gui_start.py [--quick] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._util import verdict
from bench.gui import records
from desktop_app.core.accounts import AccountRecord, AccountStore

# The floors' window class: says "painted" on its first paint, as the app's probe mode does.
PAINTED_ONCE = """
class W({base}):
    done = False
    def paintEvent(self, event):
        super().paintEvent(event)
        if not W.done:
            W.done = True
            print("painted", flush=True)
"""

EMPTY_WINDOW = (
    """
import sys
from PySide6.QtWidgets import QApplication, QWidget
"""
    + PAINTED_ONCE.format(base="QWidget")
    + """
app = QApplication(sys.argv)
w = W()
w.resize(800, 600)
w.show()
app.exec()
"""
)

# A second floor, shown beside the first: the Qt half of Tokendesk's window with none of the app's code (the same
# classes imported and touched: the Qt namespace, a main window, a stacked page with a list view and a styled
# delegate over an empty model, the tray's classes). What it costs over the empty window is PySide's, not ours.
QT_WIDGETS_ONLY = (
    """
import sys
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QIcon, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QFrame, QHBoxLayout, QLabel, QListView, QMainWindow, QMenu, QMessageBox,
    QPushButton, QStackedWidget, QStatusBar, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QSystemTrayIcon,
    QVBoxLayout, QWidget,
)
class Model(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):
        return 0
    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None
class Delegate(QStyledItemDelegate):
    def sizeHint(self, option, index):
        return QSize(320, 56)
"""
    + PAINTED_ONCE.format(base="QMainWindow")
    + """
app = QApplication(sys.argv)
w = W()
w.resize(760, 500)
central = QWidget()
outer = QVBoxLayout(central)
header = QHBoxLayout()
header.addWidget(QLabel("Accounts"))
header.addWidget(QPushButton("Connect"))
outer.addLayout(header)
stack = QStackedWidget()
stack.addWidget(QLabel("No accounts yet", alignment=Qt.AlignmentFlag.AlignCenter))
page = QWidget()
view = QListView()
view.setModel(Model())
view.setItemDelegate(Delegate())
view.setUniformItemSizes(True)
view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
QVBoxLayout(page).addWidget(view)
stack.addWidget(page)
outer.addWidget(stack, 1)
w.setCentralWidget(central)
w.setStatusBar(QStatusBar())
w.show()
app.exec()
"""
)


def first_paint_ms(argv: list[str], env: dict[str, str], marker: str) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                return (time.perf_counter() - start) * 1000
        raise RuntimeError(f"{argv[:3]} never painted")
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_after_mib(argv: list[str], env: dict[str, str], seconds: float = 5.0) -> float:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)  # the figure is defined at a fixed time after start
        status = Path(f"/proc/{proc.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kib / 1024
    finally:
        _stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 runs, 50 accounts")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="compile from source on every start")
    args = parser.parse_args()
    many, repeat = (50, 2) if args.quick else (1000, 7)
    ok = True
    py = sys.executable
    floor_argv = [py, "-c", EMPTY_WINDOW]
    widgets_argv = [py, "-c", QT_WIDGETS_ONLY]
    app_argv = [py, "-m", "desktop_app"]
    for accounts in (0, many):
        with tempfile.TemporaryDirectory(prefix="td-gui-") as tmp:
            base = Path(tmp)
            (base / "run").mkdir(mode=0o700)
            env = {
                **os.environ,
                "QT_QPA_PLATFORM": "offscreen",
                "PYTHONPATH": str(ROOT),
                "XDG_CONFIG_HOME": str(base / "config"),
                "XDG_STATE_HOME": str(base / "state"),
                "XDG_RUNTIME_DIR": str(base / "run"),
                "TOKENDESK_INSTANCE_NAME": f"bench-gui-{os.getpid()}",
            }
            if args.no_bytecode_cache:
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            else:
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
            if accounts:
                store = AccountStore(base / "config" / "tokendesk" / "accounts.json")
                store._write(_many(accounts))
            probe = {**env, "TOKENDESK_STARTUP_PROBE": "1"}
            # Warm-up, not measured: fills the bytecode cache. The app's runs as long as an RSS run, or what it
            # imports after the paint (asyncio, the service) would be compiled, and weigh, in the first RSS run.
            first_paint_ms(floor_argv, env, "painted")
            first_paint_ms(widgets_argv, env, "painted")
            rss_after_mib(app_argv, env)
            app_ms, floor_ms, widgets_ms = [], [], []
            for _ in range(repeat):
                floor_ms.append(first_paint_ms(floor_argv, env, "painted"))
                widgets_ms.append(first_paint_ms(widgets_argv, env, "painted"))
                app_ms.append(first_paint_ms(app_argv, probe, '"painted": true'))
            app_rss, floor_rss = [], []
            for _ in range(max(1, repeat // 3)):
                floor_rss.append(rss_after_mib(floor_argv, env))
                app_rss.append(rss_after_mib(app_argv, env))
            shutil.rmtree(base / "state", ignore_errors=True)
        paint, floor = statistics.median(app_ms), statistics.median(floor_ms)
        widgets = statistics.median(widgets_ms)
        target = 1.5 if accounts == 0 else 1.6
        ok &= verdict(
            f"start to first paint, {accounts} accounts",
            f"{paint:.0f} ms = {paint / floor:.2f}x",
            f"empty PySide6 window {floor:.0f} ms; the window's Qt widgets alone, no app code: {widgets:.0f} ms = "
            f"{widgets / floor:.2f}x",
            f"<= {target}x",
            paint <= target * floor,
        )
        rss, rss_floor = statistics.median(app_rss), statistics.median(floor_rss)
        target = 1.6 if accounts == 0 else 1.8
        ok &= verdict(
            f"RSS 5 s after start, {accounts} accounts",
            f"{rss:.0f} MiB = {rss / rss_floor:.2f}x",
            f"empty PySide6 window {rss_floor:.0f} MiB",
            f"<= {target}x",
            rss <= target * rss_floor,
        )
    return 0 if ok else 1


def _many(count: int) -> dict[str, AccountRecord]:
    """bench/gui.py's mix of providers and states, repeated to `count` accounts."""
    base = records(time.time())
    out: dict[str, AccountRecord] = {}
    for i in range(count):
        r = replace(base[i % len(base)], id=f"acct{i:05d}", name=f"Account {i}")
        r = replace(r, created_at=r.created_at + i)
        out[r.id] = r
    return out


if __name__ == "__main__":
    sys.exit(main())
