"""Secrets in the OS keychain through keyring: one item per account, never a plaintext fallback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import VaultError, VaultLocked, VaultUnavailable
from .secrets import Secret
from .tokens import TokenSet

log = logging.getLogger(__name__)

SERVICE_NAME = "tokendesk"
_FORMAT = 1
# Backends that keep secrets in an OS keychain. Anything else (keyrings.alt's files, null, fail, or a
# chainer holding one of those) is refused rather than used.
SECURE_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
    }
)
_WINDOWS_MAX_BLOB_BYTES = 2560  # Credential Manager's limit for one secret (CRED_MAX_CREDENTIAL_BLOB_SIZE)

T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class VaultEntry:
    tokens: TokenSet | None = None
    client_secret: Secret | None = None

    def __repr__(self) -> str:
        return f"VaultEntry(tokens={self.tokens!r}, has_client_secret={self.client_secret is not None})"

    def dumps(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "tokens": None if self.tokens is None else self.tokens.to_json(),
                "client_secret": None if self.client_secret is None else self.client_secret.reveal(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str) -> VaultEntry:
        try:
            data = json.loads(text)
            tokens = data.get("tokens")
            secret = data.get("client_secret")
            return cls(
                tokens=None if tokens is None else TokenSet.from_json(tokens),
                client_secret=Secret(secret) if secret else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            raise VaultError("The keychain item for this account is damaged; reconnect the account.") from None


def _backend_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def check_backend(backend: Any) -> None:
    """Raise VaultUnavailable unless every backend keyring would use is a real OS keychain."""
    from keyring.backends.chainer import ChainerBackend

    parts = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    names = [_backend_name(b) for b in parts]
    if not parts or any(n not in SECURE_BACKENDS for n in names):
        raise VaultUnavailable(
            "No secure keychain is available (keyring offers: " + (", ".join(names) or "nothing") + "). "
            "Start a Secret Service provider such as GNOME Keyring or KWallet; Tokendesk never stores secrets in files."
        )


class Vault:
    """Keychain access. Every keyring call runs on one worker thread, never on the event loop."""

    def __init__(self, *, service: str = SERVICE_NAME, timeout_s: float = 30.0, backend: Any = None) -> None:
        self._service = service
        self._timeout_s = timeout_s
        self._backend = backend
        self._checked = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokendesk-vault")

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring  # imported late: it costs start-up time the GUI does not want to pay

            self._backend = keyring.get_keyring()
        if not self._checked:
            check_backend(self._backend)
            self._checked = True
        return self._backend

    async def _run(self, fn: Callable[[Any], T]) -> T:
        def call() -> T:
            from keyring.errors import InitError, KeyringError, KeyringLocked, PasswordDeleteError

            try:
                return fn(self._keyring())
            except VaultError:
                raise
            except KeyringLocked:
                raise VaultLocked(
                    "The keychain is locked; unlock it (log in to your desktop session) and retry."
                ) from None
            except PasswordDeleteError:
                raise
            except (InitError, KeyringError, RuntimeError, OSError) as exc:
                raise VaultUnavailable(f"The keychain failed ({type(exc).__name__}); is it running?") from None
            except Exception as exc:
                # secretstorage/jeepney D-Bus errors land here; their text may quote arguments, so drop it.
                if "locked" in type(exc).__name__.lower():
                    raise VaultLocked("The keychain is locked; unlock it and retry.") from None
                raise VaultUnavailable(f"The keychain failed ({type(exc).__name__}).") from None

        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, call), self._timeout_s)
        except TimeoutError:
            raise VaultLocked(
                f"The keychain did not answer within {self._timeout_s:g} s; it may be waiting for you to unlock it."
            ) from None

    async def load(self, account_id: str) -> VaultEntry | None:
        text = await self._run(lambda kr: kr.get_password(self._service, account_id))
        return None if text is None else VaultEntry.loads(text)

    async def save(self, account_id: str, entry: VaultEntry) -> None:
        blob = entry.dumps()

        def store(kr: Any) -> None:
            if (
                _backend_name(kr).startswith("keyring.backends.Windows")
                and len(blob.encode("utf-16-le")) > _WINDOWS_MAX_BLOB_BYTES
            ):
                raise VaultError("These tokens are too large for Windows Credential Manager (2,560 bytes per item).")
            kr.set_password(self._service, account_id, blob)

        await self._run(store)

    async def delete(self, account_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        def remove(kr: Any) -> None:
            with contextlib.suppress(PasswordDeleteError):  # already gone: deleting is idempotent
                kr.delete_password(self._service, account_id)

        await self._run(remove)

    async def probe(self) -> None:
        """Fail now with a clear VaultError if the keychain cannot be used or stays locked.

        Reads an item that does not exist: that makes the keychain unlock (and prompt the user) up front."""
        await self._run(lambda kr: kr.get_password(self._service, "probe"))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
