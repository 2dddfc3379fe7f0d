"""The desktop app quits gracefully on SIGTERM, SIGINT and SIGHUP, through its normal quit path."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.rig.keychain import Keychain
from tests.ui.appproc import Lines, app_env, seed, start_app, stop_app

# The unmodified app entry, observed: it says when the engine runs (the service is loaded, the keychain
# answered), and when Controller.quit and Service.stop_sending are reached.
OBSERVED_MAIN = """
import json, sys
from desktop_app.ui import app
from desktop_app.core import service as core_service

def say(event):
    print(json.dumps({"event": event}), flush=True)

attach = app.Controller.attach

def observed_attach(self, service):
    bridge = attach(self, service)
    bridge.engineStarted.connect(lambda: say("engine"))
    return bridge

stop_sending = core_service.Service.stop_sending

def observed_stop_sending(self):
    say("stop_sending")
    stop_sending(self)

aclose = core_service.Service.aclose

async def observed_aclose(self):
    await aclose(self)
    say("service closed")

app.Controller.attach = observed_attach
core_service.Service.stop_sending = observed_stop_sending
core_service.Service.aclose = observed_aclose
sys.exit(app.main([]))
"""


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_quits_through_the_normal_path(tmp_path: Path, keychain: Keychain, signum: signal.Signals) -> None:
    seed(tmp_path)
    app = start_app(app_env(tmp_path), OBSERVED_MAIN)
    try:
        lines = Lines(app)
        assert lines.next_event()["event"] == "engine"
        sent_at = time.monotonic()
        app.send_signal(signum)
        assert lines.next_event(30)["event"] == "stop_sending"
        assert lines.next_event(30)["event"] == "service closed"  # aclose ran: the engine drained
        assert app.wait(timeout=30) == 0
        assert time.monotonic() - sent_at < 15
    finally:
        stderr = stop_app(app, politely=False)  # a signal was the test: a second one would blur it
    assert "Traceback" not in stderr, stderr
    [log] = list(tmp_path.rglob("*.log"))
    assert f"quitting on {signum.name}" in log.read_text()
