"""pytest plugin: the rig's OpenID provider, private keychain and browser as fixtures."""

from __future__ import annotations

import os
import types
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.SecretService
import keyring.core
import pytest
import pytest_asyncio
import secretstorage

from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider


def pytest_configure(config: pytest.Config) -> None:
    _close_keyrings_own_connections()


class _SecretStorageForKeyring(types.ModuleType):
    """secretstorage as keyring's SecretService backend sees it: every D-Bus connection it opens is closed
    when dropped, so its leak raises no ResourceWarning."""

    def __getattr__(self, name: str) -> Any:
        return getattr(secretstorage, name)

    @staticmethod
    def dbus_init() -> Any:
        connection = secretstorage.dbus_init()
        weakref.finalize(connection, connection.sock.close)
        return connection


def _close_keyrings_own_connections() -> None:
    # WORKAROUND for keyring 25.7 (keyring/backends/SecretService.py, get_preferred_collection): when the
    # collection is locked or missing it raises before closing the D-Bus connection it opened, and with
    # filterwarnings=error the socket's ResourceWarning fails whichever test the garbage collector happens
    # to run in. Only connections keyring opens are closed this way; any other unclosed socket, the
    # project's own included, still warns and fails the test.
    backend_module = keyring.backends.SecretService
    if not isinstance(backend_module.secretstorage, _SecretStorageForKeyring):
        backend_module.secretstorage = _SecretStorageForKeyring("secretstorage")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """The running provider; counters are shared across the session, call reset() before asserting."""
    with OidcProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def keychain() -> Iterator[Keychain]:
    """A private unlocked gnome-keyring, wired into this process's environment for the session."""
    with Keychain() as chain:
        saved = {name: os.environ.get(name) for name in chain.env}
        os.environ.update(chain.env)
        try:
            # keyring caches the backend it detected first; detect again against the rig's bus.
            keyring.core.init_backend()
            _assert_secret_service(keyring.get_keyring())
            yield chain
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            # The bus is about to go away: anything still using keyring must fail, not hang or leak.
            keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]


def _assert_secret_service(backend: keyring.backend.KeyringBackend) -> None:
    chosen = backend
    if isinstance(backend, keyring.backends.chainer.ChainerBackend) and backend.backends:
        chosen = backend.backends[0]
    if not isinstance(chosen, keyring.backends.SecretService.Keyring):
        pytest.fail(
            f"keyring resolved to {type(backend).__module__}.{type(backend).__qualname__}, not "
            "keyring.backends.SecretService.Keyring: tests would not exercise the real keychain "
            "(check PYTHON_KEYRING_BACKEND, keyringrc.cfg and installed keyring backends)"
        )


@pytest_asyncio.fixture
async def rig_browser() -> AsyncIterator[RigBrowser]:
    """A fresh headless Chromium profile (no provider session) per test."""
    async with RigBrowser() as browser:
        yield browser
