"""The start-up probe's cheap look (core/keychainprobe.py): an unlocked Secret Service is vouched for over plain
D-Bus without secretstorage or cryptography; no session bus is a clear error without keyring; anything else
(a locked keychain) still goes through the full probe, which names the error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core import keychainprobe
from desktop_app.core.errors import VaultLocked
from desktop_app.core.vault import Vault
from tests.rig.keychain import Keychain

PROBE = """
import asyncio, json, sys
from desktop_app.core.errors import VaultError
from desktop_app.core.vault import Vault
try:
    asyncio.run(Vault(timeout_s=20).probe())
    outcome = "ok"
except VaultError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
loaded = {name: name in sys.modules for name in ("secretstorage", "cryptography", "keyring", "httpx")}
print(json.dumps({"outcome": outcome, "loaded": loaded}))
"""
NOTHING = {"secretstorage": False, "cryptography": False, "keyring": False, "httpx": False}


def _probe(env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _default_path_env(tmp_path: Path) -> dict[str, str]:
    """No keyring backend chosen by the user (no PYTHON_KEYRING_BACKEND, no keyringrc.cfg)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def test_an_unlocked_secret_service_is_vouched_for_without_secretstorage(keychain: Keychain, tmp_path: Path) -> None:
    result = _probe({**_default_path_env(tmp_path), **keychain.env})
    assert result == {"outcome": "ok", "loaded": NOTHING}


def test_no_session_bus_is_a_clear_error_without_loading_keyring(tmp_path: Path) -> None:
    env = _default_path_env(tmp_path)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env["XDG_RUNTIME_DIR"] = str(tmp_path)  # no `bus` socket in it
    result = _probe(env)
    assert result["outcome"].startswith("VaultUnavailable: No secure keychain is available"), result
    assert "session bus" in result["outcome"]
    assert result["loaded"] == NOTHING


def test_a_bus_address_nobody_listens_on_is_no_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'gone'}")
    assert keychainprobe.look(5) is keychainprobe.Look.NO_BUS


def test_a_transport_jeepney_cannot_speak_is_left_to_the_full_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "tcp:host=localhost,port=1")
    assert keychainprobe.look(5) is keychainprobe.Look.UNSURE


async def test_a_locked_keychain_still_fails_the_probe(
    keychain: Keychain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keychain.lock()
    try:
        assert keychainprobe.look(5) is keychainprobe.Look.UNSURE  # not vouched for: the full probe decides
        vault = Vault(service=f"tokendesk-test-{uuid.uuid4().hex[:8]}", timeout_s=20)
        try:
            with pytest.raises(VaultLocked, match="locked"):
                await vault.probe()
        finally:
            vault.close()
    finally:
        keychain.unlock()
    assert keychainprobe.look(5) is keychainprobe.Look.READY
