"""Start-up: the window paints from metadata on Qt's own loop before asyncio, httpx or the keychain modules are
imported; right after it the keychain is probed (its error shows), due accounts refresh and the agent answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core import agentwire
from desktop_app.core.accounts import AccountStore
from desktop_app.core.vault import Vault
from desktop_app.ui.startup import AFTER_FIRST_PAINT
from tests.e2e.conftest import Rig, rig, rig_cli_env
from tests.rig.keychain import Keychain
from tests.ui.appproc import Lines, app_env, seed, start_app, stop_app
from tests.ui.conftest import make_record, until

# Not one of these may be imported before the first paint: the event loop (asyncio, qasync, and ssl, which
# asyncio imports), HTTP, the keychain (keyring; secretstorage, jeepney and cryptography for its encrypted
# session), sign-in's JOSE library, the command line, and the core modules that pull them in.
HEAVY = (
    "asyncio",
    "qasync",
    "ssl",
    "httpx",
    "keyring",
    "secretstorage",
    "jeepney",
    "cryptography",
    "joserfc",
    "desktop_app.cli",
    "desktop_app.core.service",
    "desktop_app.core.vault",
    "desktop_app.core.agent",
    "desktop_app.core.device",
    "desktop_app.core.revocation",
    "desktop_app.ui.bridge",
)

# Not one of these may be loaded while no account is due and no sign-in runs, even after the service, engine and
# agent have started: the HTTP client (httpx, and ssl, which asyncio would import), the keychain's encrypted
# session (secretstorage, cryptography; the start-up probe asks over plain D-Bus), keyring's discovery, OpenSSL's
# libcrypto (_hashlib: hashlib, hmac, filelock; core/digest.py), QtNetwork (the single-instance socket is a plain
# AF_UNIX one on POSIX; reachability is watched once an account is offline), and the core modules that send
# requests. They load with the first request or secret read.
IDLE_ABSENT = (
    "_hashlib",
    "PySide6.QtNetwork",
    "httpx",
    "keyring",
    "secretstorage",
    "cryptography",
    "joserfc",
    "desktop_app.cli",
    "desktop_app.core.oauth",
    "desktop_app.core.flow",
    "desktop_app.core.device",
    "desktop_app.core.discovery",
    "desktop_app.core.revocation",
)
WATCHED = tuple(dict.fromkeys(HEAVY + IDLE_ABSENT))
IDLE_AFTER_ENGINE_MS = 1500  # the engine's first plan reads the store on its thread: long done by then

# The unmodified app entry (single-instance check, logging, service wired after first paint, keychain probe,
# engine, agent), with hooks that only observe: each milestone prints which heavy modules are loaded.
TRACED_MAIN = f"""
import json, linecache, sys
from desktop_app.ui import app  # first, as in the app: ui/__init__ imports PySide6
from PySide6.QtCore import QTimer

def record(event):
    loaded = {{name: name in sys.modules for name in {WATCHED!r}}}
    # Source lines kept for the app's modules and asyncio's (PySide's per-import scan; ui/sourcescan.py).
    sources = [path for path in linecache.cache if "/asyncio/" in path or "/desktop_app/" in path]
    print(json.dumps({{"event": event, "loaded": loaded, "sources": sources}}), flush=True)

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
        bridge.engineStarted.connect(lambda: QTimer.singleShot({IDLE_AFTER_ENGINE_MS}, lambda: record("idle")))
        banner = self.window.banner.label
        bridge.keychainWaiting.connect(lambda waiting: waiting and record("keychain: " + banner.text()))
        bridge.accountChanged.connect(lambda account: record("changed: " + account.id))
        return bridge

    def activated():  # a second start reached us: the single-instance server was listening
        raise_window()
        record("activated")
        self.quit()

    self.attach, self.window.show_and_raise = traced_attach, activated

app.Controller.__init__ = traced_init
sys.exit(app.main([]))
"""


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return start_app(env, TRACED_MAIN)


NOTHING = dict.fromkeys(WATCHED, False)
__all__ = ["rig"]  # tests/e2e's fixture (a Service on the real provider, keychain and Chromium), to seed a grant


@pytest.mark.e2e
def test_first_paint_comes_before_the_heavy_modules_in_the_real_start_up(tmp_path: Path, keychain: Keychain) -> None:
    seed(tmp_path)
    env = app_env(tmp_path)
    app = _start(env)
    try:
        lines = Lines(app)
        events = [lines.next_event() for _ in range(5)]
        assert [e["event"] for e in events] == ["controller", "painted", "service", "engine", "idle"]
        assert events[0]["loaded"] == NOTHING
        assert events[1]["loaded"] == NOTHING, "the first paint waited for a heavy import"
        assert events[2]["loaded"]["desktop_app.core.service"]
        assert events[2]["loaded"]["asyncio"] and events[2]["loaded"]["qasync"]
        # The keychain answered (the banner stayed hidden), the engine runs and the agent listens; no account is
        # due, so nothing has sent a request or read a secret.
        assert events[3]["loaded"]["desktop_app.core.vault"]
        idle = {name: events[4]["loaded"][name] for name in IDLE_ABSENT}
        assert idle == dict.fromkeys(IDLE_ABSENT, False), "loaded with no account due"
        assert events[4]["sources"] == [], "source lines kept in memory"

        # The agent came up after the first paint and answers `tokendesk token` (this account has no tokens):
        # the token request reads the keychain, which loads its modules now.
        socket_path = str(Path(env["XDG_RUNTIME_DIR"]) / "tokendesk" / "agent.sock")
        answer = agentwire.ask(socket_path, make_record(1).name, 60)
        assert answer is not None and answer["ok"] is False, answer

        # The single-instance server was up all along: a second start hands over and exits at once.
        second = subprocess.run(
            [sys.executable, "-m", "desktop_app.ui.app"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        activated = lines.next_event()
        assert activated["event"] == "activated"
        assert activated["loaded"]["secretstorage"], "the token request read the keychain"
        assert not activated["loaded"]["httpx"], "nothing was due: no request"
        assert app.wait(timeout=60) == 0
    finally:
        stderr = stop_app(app)
    assert "Traceback" not in stderr, stderr


def test_the_keychain_error_shows_soon_after_the_first_paint(tmp_path: Path) -> None:
    """No Secret Service on the bus and keyring finding nothing better: the window says so, after painting."""
    seed(tmp_path)
    env = {
        **app_env(tmp_path),
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    app = _start(env)
    try:
        lines = Lines(app)
        assert [lines.next_event()["event"] for _ in range(3)] == ["controller", "painted", "service"]
        shown = lines.until_event("keychain: ")
        assert "Waiting for the keychain" in shown["event"]
    finally:
        stderr = stop_app(app)
    assert "Traceback" not in stderr, stderr


@pytest.mark.e2e
async def test_a_due_account_refreshes_after_the_first_paint(rig: Rig) -> None:
    """A real grant whose access token is past its refresh point when the app starts: the app refreshes it
    with the real provider right after its first paint, and the agent hands out the new token."""
    record = await rig.service.connect(rig.request(name="Due"))
    entry = await rig.vault.load(record.id)
    assert entry is not None and entry.tokens is not None
    # Past its refresh point in the keychain (which the engine trusts) and in the metadata, copied to the name the
    # app's own vault uses, in the rig's private keychain.
    now = time.time()
    due = replace(entry.tokens, issued_at=now - 400, expires_at=now - 100)
    app_vault = Vault()
    await app_vault.save(record.id, replace(entry, tokens=due))
    # Written as another process would: the rig's Service keeps its store private.
    AccountStore(rig.paths.accounts_file).update(
        record.id, lambda r: replace(r, issued_at=now - 400, expires_at=now - 100)
    )
    rig.provider.reset()
    env = {
        **rig_cli_env(rig, keychain=True),
        "QT_QPA_PLATFORM": "offscreen",
        "TOKENDESK_INSTANCE_NAME": f"tokendesk-test-{uuid.uuid4().hex[:12]}",
    }
    app = _start(env)
    try:
        lines = Lines(app)
        events = [await asyncio.to_thread(lines.next_event) for _ in range(3)]
        assert [e["event"] for e in events] == ["controller", "painted", "service"]
        assert events[1]["loaded"] == NOTHING
        assert not events[2]["loaded"]["httpx"], "the HTTP client waits for the first request"
        store = AccountStore(rig.paths.accounts_file)
        changed: dict[str, Any] = {}
        while (store.get(record.id).expires_at or 0) < time.time() + 60:  # refreshing first, then refreshed
            changed = await asyncio.to_thread(lines.until_event, f"changed: {record.id}")
        assert changed["loaded"]["httpx"], "the refresh loaded the HTTP client"
        # The rig counts a request when its response has gone out: it may count a moment after we see the result.
        await until(lambda: rig.provider.stats()["token"]["refresh_token"] > 0, 10, "the rig to count the refresh")
        assert rig.provider.stats()["token"]["refresh_token"] == 1
        answer = await asyncio.to_thread(agentwire.ask, str(rig.paths.agent_socket), "Due", 60)
        assert answer is not None and answer["ok"] is True
        fresh = await app_vault.load(record.id)
        assert fresh is not None and fresh.tokens is not None
        assert answer["access_token"] == fresh.tokens.access_token.reveal()
        assert answer["access_token"] != entry.tokens.access_token.reveal()
    finally:
        stderr = await asyncio.to_thread(stop_app, app)
        await app_vault.delete(record.id)
        app_vault.close()
    assert "Traceback" not in stderr, stderr


def test_probe_mode_reports_no_heavy_module_at_first_paint(tmp_path: Path) -> None:
    """packaging/build_bundle.sh and the benches start the app in this mode: it must report and quit; at 50
    accounts (the tray menu is built after the paint) nothing heavy is loaded either."""
    config = tmp_path / "config" / "tokendesk"
    store = AccountStore(config / "accounts.json")
    for n in range(50):
        store.add(make_record(n))
    env = {**app_env(tmp_path), "TOKENDESK_STARTUP_PROBE": "1"}
    proc = subprocess.run([sys.executable, "-m", "desktop_app"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["painted"] is True
    assert report["loaded"] == dict.fromkeys(AFTER_FIRST_PAINT, False)
    assert set(HEAVY) <= set(report["loaded"]), "the probe must report every module this test names"


def test_ui_never_imports_httpx_or_keyring_directly() -> None:
    root = Path(__file__).resolve().parents[2] / "desktop_app" / "ui"
    for source in root.glob("*.py"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import httpx", "from httpx", "import keyring", "from keyring")), source
