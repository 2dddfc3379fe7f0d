"""Start-up: the window paints from metadata before httpx or keyring are imported, in the real start-up order."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.accounts import AccountStore
from desktop_app.core.paths import AppPaths
from tests.rig.keychain import Keychain
from tests.ui.conftest import make_record

HEAVY = ("httpx", "keyring", "desktop_app.core.service")

# The unmodified app entry (single-instance check, logging, service wired after first paint, keychain probe,
# engine, agent), with hooks that only observe: each milestone prints which heavy modules are loaded.
TRACED_MAIN = f"""
import json, sys
from desktop_app.ui import app

def record(event):
    loaded = {{name: name in sys.modules for name in {HEAVY!r}}}
    print(json.dumps({{"event": event, "loaded": loaded}}), flush=True)

init = app.Controller.__init__

def traced_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    record("controller")
    self.window.firstPainted.connect(lambda: record("painted"))
    attach, raise_window = self.attach, self.window.show_and_raise

    def traced_attach(service):
        record("service")
        bridge = attach(service)
        bridge.engineStarted.connect(lambda: record("engine"))
        return bridge

    def activated():  # a second start reached us: the single-instance server was listening
        raise_window()
        record("activated")
        self.quit()

    self.attach, self.window.show_and_raise = traced_attach, activated

app.Controller.__init__ = traced_init
sys.exit(app.main([]))
"""


class Lines:
    """Reads a child's stdout line by line with a deadline (a hung app fails the test, not the run)."""

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


def _env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TOKENDESK_INSTANCE_NAME": f"tokendesk-test-{uuid.uuid4().hex[:12]}",
    }


def _seed(tmp_path: Path) -> None:
    paths = AppPaths(config_dir=tmp_path / "config" / "tokendesk", state_dir=tmp_path / "s", log_dir=tmp_path / "l")
    AccountStore(paths.accounts_file).add(make_record(1))


@pytest.mark.e2e
def test_first_paint_comes_before_httpx_and_keyring_in_the_real_start_up(tmp_path: Path, keychain: Keychain) -> None:
    _seed(tmp_path)
    env = _env(tmp_path)
    app = subprocess.Popen(
        [sys.executable, "-c", TRACED_MAIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = Lines(app)
        events = [lines.next_event() for _ in range(4)]
        assert [e["event"] for e in events] == ["controller", "painted", "service", "engine"]
        nothing = dict.fromkeys(HEAVY, False)
        assert events[0]["loaded"] == nothing
        assert events[1]["loaded"] == nothing, "the first paint waited for a heavy import"
        assert events[2]["loaded"]["desktop_app.core.service"] and events[2]["loaded"]["httpx"]
        # The keychain answered, the engine runs (on Linux the vault speaks Secret Service without keyring).
        assert events[3]["loaded"]["httpx"] and events[3]["loaded"]["desktop_app.core.service"]

        # The single-instance server was up all along: a second start hands over and exits at once.
        second = subprocess.run(
            [sys.executable, "-m", "desktop_app.ui.app"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        assert lines.next_event()["event"] == "activated"
        assert app.wait(timeout=60) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        assert app.stderr is not None and app.stdout is not None
        stderr = app.stderr.read()
        app.stdout.close()
        app.stderr.close()
    assert "Traceback" not in stderr, stderr


def test_probe_mode_for_the_bundle_smoke_test(tmp_path: Path) -> None:
    """packaging/build_bundle.sh and bench/gui.py start the app in this mode: it must report and quit."""
    _seed(tmp_path)
    env = {**_env(tmp_path), "TOKENDESK_STARTUP_PROBE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", "from desktop_app.ui.app import main; raise SystemExit(main([]))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["painted"] is True
    assert report["loaded"] == dict.fromkeys(HEAVY, False)


def test_ui_never_imports_httpx_or_keyring_directly() -> None:
    root = Path(__file__).resolve().parents[2] / "desktop_app" / "ui"
    for source in root.glob("*.py"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import httpx", "from httpx", "import keyring", "from keyring")), source
