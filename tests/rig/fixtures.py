"""pytest plugin: the rig's OpenID provider, private keychain and browser as fixtures."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import AsyncIterator, Iterator

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.SecretService
import keyring.core
import pytest
import pytest_asyncio

from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider


def pytest_configure(config: pytest.Config) -> None:
    # keyring's SecretService backend opens a D-Bus connection per call and never closes it
    # (keyring 25.7, get_preferred_collection); with filterwarnings=error its ResourceWarning would fail
    # whichever test happens to trigger it. Ignore only sockets to the rig's own bus.
    leak = r"unclosed <socket\.socket [^>]*tokendesk-keychain-[^>]*/bus>"
    config.addinivalue_line("filterwarnings", f"ignore:{leak}:ResourceWarning")


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
            # keyring's leaked connections sit in reference cycles; collect them now, while their
            # ResourceWarning is still ignored, rather than in pytest's final gc pass, which errors.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()


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
