"""The vault on the real keychain (gnome-keyring over a private D-Bus), and its refusal of anything else."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.backends.SecretService
import pytest
import secretstorage

from desktop_app.core.errors import DamagedKeychainItem, VaultLocked, VaultUnavailable
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import SecretServiceBackend, Vault, VaultEntry, check_backend
from tests.rig.keychain import Keychain

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def vault(keychain: Keychain) -> Iterator[Vault]:
    """Here, unlike the engine tests' in-memory one, the vault on the rig's real keychain."""
    v = Vault(service=f"tokendesk-test-{uuid.uuid4().hex[:8]}")
    yield v
    v.close()


TOKENS = TokenSet(
    access_token=Secret("at-vault-0001"),
    token_type="Bearer",
    issued_at=1.0,
    expires_at=301.0,
    refresh_token=Secret("rt-vault-0001"),
    scopes=("openid",),
)


async def test_round_trip_one_item_per_account(vault: Vault, keychain: Keychain) -> None:
    account = uuid.uuid4().hex
    await vault.save(account, VaultEntry(tokens=TOKENS, client_secret=Secret("cs-vault-0001")))
    loaded = await vault.load(account)
    assert loaded is not None and loaded.tokens == TOKENS and loaded.client_secret == Secret("cs-vault-0001")
    items = [i for i in keychain.items() if i["attributes"].get("username") == account]
    assert len(items) == 1 and items[0]["attributes"]["service"] == vault._service
    assert "vault-0001" not in repr(loaded)
    await vault.delete(account)
    await vault.delete(account)  # idempotent
    assert await vault.load(account) is None


async def test_keychain_calls_run_off_the_event_loop(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    original = SecretServiceBackend.get_password

    def spy(self: SecretServiceBackend, service: str, username: str) -> str | None:
        threads.append(threading.current_thread().name)
        return original(self, service, username)

    monkeypatch.setattr(SecretServiceBackend, "get_password", spy)
    await vault.load("nobody")
    assert threads and all(t.startswith("tokendesk-vault") for t in threads)
    assert threading.current_thread().name not in threads


async def test_one_connection_serves_every_call(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    original = secretstorage.dbus_init

    def counting() -> object:
        opened.append(connection := original())
        return connection

    monkeypatch.setattr(secretstorage, "dbus_init", counting)
    account = uuid.uuid4().hex
    await vault.save(account, VaultEntry(tokens=TOKENS))
    for _ in range(5):
        assert (await vault.load(account)) is not None
    await vault.delete(account)
    assert len(opened) == 1
    # keyring reads what the vault wrote: the item layout is keyring's own.
    await vault.save(account, VaultEntry(tokens=TOKENS))
    assert keyring.backends.SecretService.Keyring().get_password(vault._service, account) is not None
    await vault.delete(account)


async def test_a_broken_connection_is_opened_again(vault: Vault) -> None:
    account = uuid.uuid4().hex
    await vault.save(account, VaultEntry(tokens=TOKENS))
    backend = vault._backend
    assert isinstance(backend, SecretServiceBackend)
    backend._connection.sock.shutdown(socket.SHUT_RDWR)  # what a restarted keychain daemon's bus looks like
    assert (await vault.load(account)) is not None
    await vault.delete(account)


async def test_a_configured_keyring_backend_is_used_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # keyring reads the variable once per process (the CLI end-to-end test covers that); here its answer is faked.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setattr(keyring, "get_keyring", keyring.core.load_env)
    vault = Vault(retry_delays_s=())
    try:
        with pytest.raises(VaultUnavailable, match=r"No secure keychain.*keyring\.backends\.null"):
            await vault.load("nobody")
    finally:
        vault.close()


async def test_locked_keychain_is_a_clear_error(vault: Vault, keychain: Keychain) -> None:
    account = uuid.uuid4().hex
    await vault.save(account, VaultEntry(tokens=TOKENS))
    keychain.lock()
    try:
        with pytest.raises(VaultLocked, match="locked"):
            await vault.load(account)
        with pytest.raises(VaultLocked):
            await vault.probe()
    finally:
        keychain.unlock()
    assert (await vault.load(account)) is not None  # nothing was lost
    await vault.delete(account)


async def test_damaged_item_is_reported_not_guessed(vault: Vault) -> None:
    account = uuid.uuid4().hex
    keyring.set_password(vault._service, account, "{not json")
    with pytest.raises(DamagedKeychainItem, match="damaged; reconnect") as caught:
        await vault.load(account)
    assert caught.value.exit_code == 3  # reconnecting is the fix, not the keychain
    await vault.delete(account)


async def test_a_keychain_that_cannot_be_reached_is_tried_three_times(monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[str] = []
    original = keyring.backends.SecretService.Keyring.get_password

    def spy(self: object, service: str, username: str) -> str | None:
        tries.append(username)
        return original(self, service, username)  # type: ignore[arg-type]

    monkeypatch.setattr(keyring.backends.SecretService.Keyring, "get_password", spy)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/tokendesk/bus")
    vault = Vault(backend=keyring.backends.SecretService.Keyring(), retry_delays_s=(0.01, 0.01))
    try:
        with pytest.raises(VaultUnavailable, match="could not be reached") as caught:
            await vault.load("nobody")
    finally:
        vault.close()
    assert len(tries) == 3
    assert "3 tries" in str(caught.value) and "is it running" in str(caught.value)


# No subclasses of keyring's backends here: keyring registers every subclass and would start offering them.
@pytest.mark.parametrize(
    "chain",
    [[], [keyring.backends.SecretService.Keyring(), keyring.backends.null.Keyring()]],
    ids=["empty-chain", "chain-with-null"],
)
def test_chains_with_anything_insecure_are_refused(chain: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.backends.chainer.ChainerBackend, "backends", property(lambda self: chain))
    with pytest.raises(VaultUnavailable, match="No secure keychain"):
        check_backend(keyring.backends.chainer.ChainerBackend())


@pytest.mark.parametrize("backend", [keyring.backends.null.Keyring(), keyring.backends.fail.Keyring()])
def test_null_and_fail_backends_are_refused(backend: object) -> None:
    with pytest.raises(VaultUnavailable, match="No secure keychain"):
        check_backend(backend)


def test_plaintext_backends_are_refused() -> None:
    PlaintextKeyring = type("PlaintextKeyring", (), {"__module__": "keyrings.alt.file"})
    with pytest.raises(VaultUnavailable, match=r"keyrings\.alt\.file"):
        check_backend(PlaintextKeyring())


def test_the_real_backend_is_accepted() -> None:
    check_backend(keyring.get_keyring())


async def test_refused_backend_means_no_write(monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault(backend=keyring.backends.null.Keyring())
    try:
        with pytest.raises(VaultUnavailable):
            await vault.save("x", VaultEntry(tokens=TOKENS))
    finally:
        vault.close()
