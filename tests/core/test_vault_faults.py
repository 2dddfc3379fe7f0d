"""The vault under keychain faults, on an in-memory backend: retries, locked, refused, hung calls, damage."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney.wrappers import DBusErrorResponse
from keyring.errors import InitError, KeyringError, KeyringLocked
from secretstorage.exceptions import LockedException, PromptDismissedException, SecretServiceNotAvailableException

from desktop_app.core.errors import DamagedKeychainItem, Hint, NeedsSignIn, VaultError, VaultLocked, VaultUnavailable
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import SERVICE_NAME, Vault, VaultEntry
from tests.memory_keyring import BLOCK, MemoryKeyring

ROOT = Path(__file__).resolve().parents[2]
TOKENS = TokenSet(
    access_token=Secret("at-faults-0001"),
    token_type="Bearer",
    issued_at=1.0,
    expires_at=301.0,
    refresh_token=Secret("rt-faults-0001"),
)
FAST = (0.01, 0.01)  # three tries, short waits: the schedule's shape without its two seconds


def dbus_error(name: str) -> DBusErrorResponse:
    error = DBusErrorResponse.__new__(DBusErrorResponse)  # its constructor wants a whole D-Bus message
    error.name = name
    error.data = ("details that might quote arguments",)
    return error


@pytest.fixture
def memory() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def vault(memory: MemoryKeyring) -> Iterator[Vault]:
    v = Vault(backend=memory, require_secure=False, retry_delays_s=FAST, timeout_s=10)
    yield v
    v.close()


async def test_memory_backend_round_trip(vault: Vault, memory: MemoryKeyring) -> None:
    await vault.save("acct", VaultEntry(tokens=TOKENS))
    assert list(memory.items()) == [(SERVICE_NAME, "acct")]
    loaded = await vault.load("acct")
    assert loaded is not None and loaded.tokens == TOKENS
    await vault.delete("acct")
    await vault.delete("acct")  # idempotent
    assert await vault.load("acct") is None


async def test_an_injected_backend_is_still_checked_by_default(memory: MemoryKeyring) -> None:
    vault = Vault(backend=memory)
    try:
        with pytest.raises(VaultUnavailable, match="No secure keychain"):
            await vault.save("acct", VaultEntry(tokens=TOKENS))
    finally:
        vault.close()
    assert memory.calls == []  # refused before any call


async def test_a_damaged_item_needs_sign_in(vault: Vault, memory: MemoryKeyring) -> None:
    memory.set_password(SERVICE_NAME, "acct", '{"format":1,"tokens":{"access_token":"at-damaged-0001"')
    with pytest.raises(DamagedKeychainItem, match="damaged; reconnecting replaces it") as caught:
        await vault.load("acct")
    assert isinstance(caught.value, NeedsSignIn) and caught.value.exit_code == 3 and caught.value.hint is Hint.RECONNECT
    assert "at-damaged-0001" not in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        InitError("Failed to create the collection"),
        SecretServiceNotAvailableException("no bus"),
        TimeoutError(),
        ConnectionRefusedError(),
        FileNotFoundError(2, "No such file", "/run/user/1/bus"),
        dbus_error("org.freedesktop.DBus.Error.NoReply"),
        dbus_error("org.freedesktop.DBus.Error.ServiceUnknown"),
    ],
    ids=lambda e: getattr(e, "name", None) or type(e).__name__,
)
async def test_an_unreachable_keychain_is_tried_again(vault: Vault, memory: MemoryKeyring, error: Exception) -> None:
    await vault.save("acct", VaultEntry(tokens=TOKENS))
    memory.fail_next(error, error)
    loaded = await vault.load("acct")
    assert loaded is not None and loaded.tokens == TOKENS
    assert [c[0] for c in memory.calls] == ["set_password"] + ["get_password"] * 3


async def test_three_tries_then_a_message_that_says_unreachable(vault: Vault, memory: MemoryKeyring) -> None:
    memory.fail_next(InitError("x"), InitError("x"), InitError("x"), InitError("never reached"))
    with pytest.raises(VaultUnavailable, match=r"could not be reached \(InitError; 3 tries") as caught:
        await vault.load("acct")
    assert not isinstance(caught.value, VaultLocked)
    assert len(memory.calls) == 3


async def test_the_default_schedule_is_three_tries_within_about_two_seconds() -> None:
    vault = Vault(backend=MemoryKeyring(), require_secure=False)
    assert len(vault._retry_delays_s) == 2 and sum(vault._retry_delays_s) <= 2.5
    vault.close()


@pytest.mark.parametrize(
    "error",
    [
        KeyringLocked("Failed to unlock the collection!"),
        LockedException("locked"),
        PromptDismissedException("dismissed"),
        dbus_error("org.freedesktop.Secret.Error.IsLocked"),
    ],
    ids=lambda e: getattr(e, "name", None) or type(e).__name__,
)
async def test_a_locked_keychain_is_not_retried(vault: Vault, memory: MemoryKeyring, error: Exception) -> None:
    memory.fail_next(error)
    with pytest.raises(VaultLocked, match="locked; unlock it"):
        await vault.load("acct")
    assert len(memory.calls) == 1


@pytest.mark.parametrize(
    "error",
    [KeyringError("rt-faults-0001 was refused"), dbus_error("org.freedesktop.DBus.Error.AccessDenied"), ValueError()],
    ids=lambda e: getattr(e, "name", None) or type(e).__name__,
)
async def test_a_refusal_is_not_retried(vault: Vault, memory: MemoryKeyring, error: Exception) -> None:
    memory.fail_next(error)
    with pytest.raises(VaultUnavailable, match="refused the request") as caught:
        await vault.save("acct", VaultEntry(tokens=TOKENS))
    assert len(memory.calls) == 1
    assert "rt-faults-0001" not in str(caught.value) and "quote arguments" not in str(caught.value)


async def test_unreachable_then_locked_stops_at_locked(vault: Vault, memory: MemoryKeyring) -> None:
    memory.fail_next(InitError("x"), KeyringLocked("y"))
    with pytest.raises(VaultLocked):
        await vault.load("acct")
    assert len(memory.calls) == 2


async def test_a_hung_call_times_out_and_later_calls_still_work(memory: MemoryKeyring) -> None:
    vault = Vault(backend=memory, require_secure=False, retry_delays_s=FAST, timeout_s=0.2)
    try:
        await vault.save("acct", VaultEntry(tokens=TOKENS))
        memory.fail_next(BLOCK)
        with pytest.raises(VaultLocked, match=r"did not answer within 0\.2 s"):
            await vault.load("acct")
        assert memory.blocked.is_set()
        # Queued behind the hung call, and given up on before it started: it must never run.
        with pytest.raises(VaultLocked):
            await vault.save("acct", VaultEntry(tokens=None))
        memory.release()
        loaded = await vault.load("acct")
        assert loaded is not None and loaded.tokens == TOKENS
        assert [c[0] for c in memory.calls] == ["set_password", "get_password", "get_password"]
    finally:
        memory.release()
        vault.close()


async def test_calls_run_on_one_daemon_thread(vault: Vault, memory: MemoryKeyring) -> None:
    threads: list[threading.Thread] = []
    original = memory.get_password

    def spy(service: str, username: str) -> str | None:
        threads.append(threading.current_thread())
        return original(service, username)

    memory.get_password = spy  # type: ignore[method-assign]
    await vault.load("a")
    await vault.load("b")
    assert len({id(t) for t in threads}) == 1
    assert threads[0].daemon and threads[0].name.startswith("tokendesk-vault")
    assert threads[0] is not threading.current_thread()


async def test_a_closed_vault_starts_a_new_worker_when_used_again(vault: Vault, memory: MemoryKeyring) -> None:
    await vault.save("acct", VaultEntry(tokens=TOKENS))
    vault.close()
    assert (await vault.load("acct")) is not None


HUNG_KEYCHAIN = """
import asyncio, sys
from desktop_app.core.errors import VaultLocked
from desktop_app.core.vault import Vault
from tests.memory_keyring import BLOCK, MemoryKeyring

keychain = MemoryKeyring()
keychain.fail_next(BLOCK)  # an unlock prompt nobody answers: get_password never returns
vault = Vault(backend=keychain, require_secure=False, timeout_s=0.5)
try:
    asyncio.run(vault.load("account"))
except VaultLocked as exc:
    print(exc, flush=True)
    if sys.argv[1] == "close":
        vault.close()
    sys.exit(5)
"""


@pytest.mark.parametrize("close", ["close", "no-close"])
def test_a_process_exits_on_time_after_a_keychain_timeout(close: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        done = subprocess.run(
            [sys.executable, "-c", HUNG_KEYCHAIN, close], cwd=ROOT, env=env, capture_output=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process was still running 30 s after a 0.5 s keychain timeout")
    assert done.returncode == 5, done.stderr.decode()
    assert "did not answer within 0.5 s" in done.stdout.decode()


def test_vault_errors_keep_their_exit_codes() -> None:
    assert VaultUnavailable("x").exit_code == VaultLocked("x").exit_code == VaultError("x").exit_code == 5
    assert DamagedKeychainItem("x").exit_code == 3
