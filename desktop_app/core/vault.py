"""Secrets in the OS keychain through keyring: one item per account, never a plaintext fallback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import DamagedKeychainItem, VaultError, VaultLocked, VaultUnavailable
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
        "desktop_app.core.vault.SecretServiceBackend",
    }
)
_WINDOWS_MAX_BLOB_BYTES = 2560  # Credential Manager's limit for one secret (CRED_MAX_CREDENTIAL_BLOB_SIZE)
# Waits between tries when the keychain cannot be reached: three tries over about two seconds ride out a
# keychain daemon slow to answer on a loaded machine, and still fail soon when it is really gone.
RETRY_DELAYS_S = (0.5, 1.5)
_LOCKED_MESSAGE = "The keychain is locked; unlock it (log in to your desktop session) and retry."
# D-Bus errors that say the Secret Service did not answer or is not there (yet), not that it said no.
_UNREACHABLE_DBUS_ERRORS = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Timeout",
        "org.freedesktop.DBus.Error.TimedOut",
        "org.freedesktop.DBus.Error.NoServer",
        "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.DBus.Error.LimitsExceeded",
        "org.freedesktop.DBus.Error.Spawn.ExecFailed",
        "org.freedesktop.DBus.Error.Spawn.ChildExited",
    }
)

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
            raise DamagedKeychainItem(
                "The keychain item for this account is damaged; reconnecting replaces it."
            ) from None


def _backend_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def check_backend(backend: Any) -> None:
    """Raise VaultUnavailable unless every backend keyring would use is a real OS keychain."""
    if isinstance(backend, SecretServiceBackend):
        return
    from keyring.backends.chainer import ChainerBackend

    parts = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    names = [_backend_name(b) for b in parts]
    if not parts or any(n not in SECURE_BACKENDS for n in names):
        raise VaultUnavailable(
            "No secure keychain is available (keyring offers: " + (", ".join(names) or "nothing") + "). "
            "Start a Secret Service provider such as GNOME Keyring or KWallet; Tokendesk never stores secrets in files."
        )


class _Unreachable(VaultUnavailable):
    """The keychain did not answer or is not there (yet): worth another try."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"The keychain could not be reached ({cause}); is it running?")
        self.cause = cause


def _classify(exc: Exception) -> VaultError:
    """Map a keyring/secretstorage/jeepney failure to unreachable (retried), locked or refused.

    Only type names and D-Bus error names go into messages: exception texts may quote arguments."""
    kind = type(exc).__name__
    # By name, not by class: importing keyring.errors loads all of keyring (tens of ms), and without it loaded
    # no keyring exception can be in hand anyway.
    kinds = {t.__name__ for t in type(exc).__mro__ if t.__module__.startswith("keyring")}
    dbus_error = getattr(exc, "name", None) if kind == "DBusErrorResponse" else None
    if (
        "KeyringLocked" in kinds
        or kind in ("LockedException", "PromptDismissedException")  # secretstorage: locked, prompt dismissed
        or dbus_error == "org.freedesktop.Secret.Error.IsLocked"
        or "locked" in kind.lower()
    ):
        return VaultLocked(_LOCKED_MESSAGE)
    if (
        "InitError" in kinds
        or isinstance(exc, TimeoutError | OSError)  # OSError: the bus socket is missing or refuses
        or kind == "SecretServiceNotAvailableException"
        or dbus_error in _UNREACHABLE_DBUS_ERRORS
    ):
        return _Unreachable(dbus_error or kind)
    return VaultUnavailable(f"The keychain refused the request ({dbus_error or kind}).")


class SecretServiceBackend:
    """The Secret Service over one D-Bus connection and one session kept open, with keyring's item layout.

    keyring's own SecretService backend opens a connection and negotiates a session for every call (tens of ms
    each, and most of a refresh storm's keychain time); items are written with the same attributes, so either
    finds the other's. Not a keyring backend subclass: keyring would register it and start offering it.
    Any failure drops the connection, so the next try (the vault retries an unreachable keychain) starts anew."""

    APPLICATION = "Python keyring library"  # keyring's appid: items stay readable by keyring and by older versions

    def __init__(self, connection: Any) -> None:
        self._lock = threading.Lock()  # a closed vault's worker may still be finishing a call when a new one starts
        self._connection: Any = connection
        self._collection: Any = None

    @classmethod
    def open(cls) -> SecretServiceBackend | None:
        """A backend on the session bus when a Secret Service answers there, else None."""
        try:
            import secretstorage
        except ImportError:
            return None
        try:
            connection = secretstorage.dbus_init()
        except Exception:  # no bus, or not allowed on it: keyring's discovery decides what else there is
            return None
        try:
            available = secretstorage.check_service_availability(connection)
        except Exception:
            available = False
        if not available:
            connection.close()
            return None
        return cls(connection)

    def _default_collection(self) -> Any:
        import secretstorage
        from secretstorage.exceptions import LockedException

        if self._connection is None:
            self._connection = secretstorage.dbus_init()
        if self._collection is None:
            self._collection = secretstorage.get_default_collection(self._connection)
        if self._collection.is_locked():
            self._collection.unlock()  # may prompt the user, as keyring does
            if self._collection.is_locked():
                raise LockedException("the default collection stayed locked")
        return self._collection

    def _call(self, fn: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                return fn(self._default_collection())
            except BaseException:
                self._drop()
                raise

    def _drop(self) -> None:
        connection, self._connection, self._collection = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

    @staticmethod
    def _query(service: str, username: str) -> dict[str, str]:
        return {"username": username, "service": service}

    def get_password(self, service: str, username: str) -> str | None:
        def get(collection: Any) -> str | None:
            from secretstorage.exceptions import LockedException

            for item in collection.search_items(self._query(service, username)):
                if item.is_locked():
                    item.unlock()
                    if item.is_locked():
                        raise LockedException("the item stayed locked")
                return str(item.get_secret().decode("utf-8"))
            return None

        return self._call(get)

    def set_password(self, service: str, username: str, password: str) -> None:
        attributes = {**self._query(service, username), "application": self.APPLICATION}
        label = f"Password for '{username}' on '{service}'"
        self._call(lambda collection: collection.create_item(label, attributes, password, replace=True))

    def delete_password(self, service: str, username: str) -> None:
        def delete(collection: Any) -> None:
            for item in collection.search_items(self._query(service, username)):
                item.delete()
                return  # only the first, as keyring does

        self._call(delete)


def default_backend() -> Any:
    """The keychain to use: what the user configured for keyring (PYTHON_KEYRING_BACKEND, keyringrc.cfg); else
    on Linux the Secret Service over a kept connection when one answers; else keyring's discovery. Skipping
    discovery saves about 100 ms per process (half of it probing for the macOS backend with subprocesses)."""
    if _default_path():
        backend = SecretServiceBackend.open()
        if backend is not None:
            return backend
    import keyring

    return keyring.get_keyring()


def _default_path() -> bool:
    """Linux with no keyring backend chosen by the user: the Secret Service first, keyring's discovery after."""
    return sys.platform.startswith("linux") and "PYTHON_KEYRING_BACKEND" not in os.environ and not _keyring_configured()


def _keyring_configured() -> bool:
    """Whether keyring's config file exists (Linux: $XDG_CONFIG_HOME/python_keyring/keyringrc.cfg)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
    return os.path.exists(os.path.join(base, "python_keyring", "keyringrc.cfg"))


class _Worker:
    """One daemon thread that runs keychain calls in order.

    Not a ThreadPoolExecutor: Python joins those threads at exit, so one keychain call that never returns
    (an unlock prompt nobody answers) would keep the process alive long after its timeout was reported."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future

    def stop(self) -> None:
        """Cancel what has not started and let the thread end; never waits for a call in progress."""
        with contextlib.suppress(queue.Empty):
            while True:
                job = self._jobs.get_nowait()
                if job is not None:
                    job[1].cancel()
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up (timed out or was cancelled) before it started
            try:
                result = fn()
            except BaseException as exc:  # handed to the caller, like an executor does
                future.set_exception(exc)
            else:
                future.set_result(result)


class Vault:
    """Keychain access. Every keyring call runs on one worker thread, never on the event loop.

    `timeout_s` bounds each operation, retries included. A keychain that cannot be reached is tried again
    after each of `retry_delays_s`; a locked keychain or a refusal is final at once. `require_secure=False`
    lets tests use an in-memory backend; by default only the OS keychains in SECURE_BACKENDS are used.
    """

    def __init__(
        self,
        *,
        service: str = SERVICE_NAME,
        timeout_s: float = 30.0,
        backend: Any = None,
        require_secure: bool = True,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self._service = service
        self._timeout_s = timeout_s
        self._backend = backend
        self._checked = not require_secure
        self._retry_delays_s = tuple(retry_delays_s)
        self._worker: _Worker | None = None
        self._worker_lock = threading.Lock()

    def _keyring(self) -> Any:
        if self._backend is None:
            # Chosen late, on the worker: it costs start-up time the GUI does not want to pay.
            self._backend = default_backend()
            if isinstance(self._backend, SecretServiceBackend):
                # The kept connection closes with the vault even if nobody calls close().
                weakref.finalize(self, self._backend.close)
        if not self._checked:
            check_backend(self._backend)
            self._checked = True
        return self._backend

    def _submit(self, fn: Callable[[], T]) -> Future[T]:
        with self._worker_lock:
            if self._worker is None:
                self._worker = _Worker("tokendesk-vault")
            return self._worker.submit(fn)

    async def _run(self, fn: Callable[[Any], T]) -> T:
        def call() -> T:
            try:
                return fn(self._keyring())
            except VaultError:
                raise
            except Exception as exc:
                raise _classify(exc) from None

        started = time.monotonic()
        unreachable: _Unreachable | None = None
        tries = 0
        try:
            async with asyncio.timeout(self._timeout_s):
                for delay_s in (*self._retry_delays_s, None):
                    tries += 1
                    try:
                        return await asyncio.wrap_future(self._submit(call))
                    except _Unreachable as exc:
                        unreachable = exc
                        if delay_s is None:
                            break
                        log.info("keychain not reachable (%s); trying again in %g s", exc.cause, delay_s)
                        await asyncio.sleep(delay_s)
        except TimeoutError:
            if unreachable is None:
                raise VaultLocked(
                    f"The keychain did not answer within {self._timeout_s:g} s; it may be waiting for you to unlock it."
                ) from None
        assert unreachable is not None
        raise VaultUnavailable(
            f"The keychain could not be reached ({unreachable.cause}; {tries} tries in "
            f"{time.monotonic() - started:.1f} s); is it running?"
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
        def remove(kr: Any) -> None:
            try:
                kr.delete_password(self._service, account_id)
            except Exception as exc:
                if type(exc).__name__ != "PasswordDeleteError":  # already gone: deleting is idempotent
                    raise

        await self._run(remove)

    async def probe(self) -> None:
        """Fail now with a clear VaultError if the keychain cannot be used or stays locked.

        Reads an item that does not exist: that makes the keychain unlock (and prompt the user) up front.
        Before the backend is chosen, on Linux's default path, a look over plain D-Bus comes first: a Secret
        Service with its default collection unlocked needs no read (nor secretstorage and cryptography, which
        load with the first secret read instead), and no session bus at all means no keychain (nor keyring)."""
        if self._backend is None and _default_path():
            from . import keychainprobe

            seen = keychainprobe.Look.UNSURE
            with contextlib.suppress(TimeoutError):  # the full probe below then reports the time-out
                async with asyncio.timeout(self._timeout_s):
                    seen = await asyncio.wrap_future(self._submit(lambda: keychainprobe.look(self._timeout_s)))
            if seen is keychainprobe.Look.READY:
                return
            if seen is keychainprobe.Look.NO_BUS:
                raise VaultUnavailable(
                    "No secure keychain is available: there is no D-Bus session bus, which the Secret Service and "
                    "KWallet need. Log in to a desktop session; Tokendesk never stores secrets in files."
                )
        await self._run(lambda kr: kr.get_password(self._service, "probe"))

    def close(self) -> None:
        """Stop the worker without waiting for a call in progress; a later call starts a new one."""
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
        if isinstance(self._backend, SecretServiceBackend):
            # After a call in progress (it holds the backend's lock); never blocks on a stuck one.
            threading.Thread(target=self._backend.close, name="tokendesk-vault-close", daemon=True).start()
