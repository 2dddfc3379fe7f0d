"""The real desktop app as a child process: private config, state and runtime dirs and single-instance name,
seeded accounts, and its stdout read line by line with a deadline (a hung app fails the test, not the run)."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from desktop_app.core.accounts import AccountStore
from tests.ui.conftest import make_record

ROOT = Path(__file__).resolve().parents[2]


class Lines:
    """Reads a child's stdout line by line with a deadline; lines that are not JSON objects are skipped."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.selector = selectors.DefaultSelector()
        self.selector.register(proc.stdout, selectors.EVENT_READ)

    def next_event(self, timeout_s: float = 60.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                raise AssertionError("the app printed nothing in time")
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"the app exited ({self.proc.wait()}) without the next event")
            if line.startswith("{"):
                event: dict[str, Any] = json.loads(line)
                return event

    def until_event(self, prefix: str) -> dict[str, Any]:
        """The next event whose "event" starts with `prefix` (the ones before it are skipped)."""
        while True:
            event = self.next_event()
            if str(event.get("event", "")).startswith(prefix):
                return event


def app_env(tmp_path: Path) -> dict[str, str]:
    """This test's own config, state and runtime dirs and instance name; the offscreen platform (override
    QT_QPA_PLATFORM and DISPLAY for a real X screen). Creates tmp_path/runtime: call once per tmp_path."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this tree's desktop_app, whichever tree the venv was installed from
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TOKENDESK_INSTANCE_NAME": f"tokendesk-test-{uuid.uuid4().hex[:12]}",
    }


def seed(tmp_path: Path, count: int = 1) -> None:
    """`count` accounts (metadata only, no tokens) where app_env's app reads them."""
    store = AccountStore(tmp_path / "config" / "tokendesk" / "accounts.json")
    for n in range(1, count + 1):
        store.add(make_record(n))


def start_app(env: dict[str, str], code: str | None = None) -> subprocess.Popen[str]:
    """The app (`python -m desktop_app.ui.app`), or `code` run with `python -c` (an observed entry)."""
    argv = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "desktop_app.ui.app"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_app(app: subprocess.Popen[str], *, politely: bool = True) -> str:
    """Ends the app if it still runs (SIGTERM, its normal quit, unless not `politely`: SIGKILL); its stderr."""
    if app.poll() is None and politely:
        app.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.wait(30)
    if app.poll() is None:
        app.kill()
        app.wait()
    assert app.stderr is not None and app.stdout is not None
    stderr = app.stderr.read()
    app.stdout.close()
    app.stderr.close()
    return stderr
