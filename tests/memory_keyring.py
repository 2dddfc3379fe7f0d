"""An in-memory keyring for unit tests, with faults on demand: `Vault(backend=MemoryKeyring(), require_secure=False)`.

Not a keyring backend subclass on purpose: keyring registers every subclass and would start offering it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final, Literal

from keyring.errors import KeyringLocked, PasswordDeleteError

BLOCK: Final = "block"
Fault = BaseException | Literal["block"]


class MemoryKeyring:
    """get_password / set_password / delete_password on a dict, safe to call from any thread.

    `fail_next(*faults)` makes the next calls, one fault each and in order, raise the given exception or
    (BLOCK) block until `release()`; a blocked call sets `blocked` first, so a test can wait for it.
    `calls` records (method, service, username) for every call, faulty ones included.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], str] = {}
        self._faults: deque[Fault] = deque()
        self._released = threading.Event()
        self.blocked = threading.Event()
        self.calls: list[tuple[str, str, str]] = []
        self._locked = False

    # --- fault injection ----------------------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def lock(self) -> None:
        """Every call fails as a locked keychain's does (KeyringLocked), until unlock(); like the rig's Keychain."""
        with self._lock:
            self._locked = True

    def unlock(self) -> None:
        with self._lock:
            self._locked = False

    def is_locked(self) -> bool:
        with self._lock:
            return self._locked

    def release(self) -> None:
        """Let every blocked call (and any later BLOCK) go on."""
        self._released.set()

    def _enter(self, method: str, service: str, username: str) -> None:
        with self._lock:
            self.calls.append((method, service, username))
            fault = self._faults.popleft() if self._faults else None
            if fault is None and self._locked:
                fault = KeyringLocked("Keyring is locked (in memory).")
        if fault == BLOCK:
            self.blocked.set()
            self._released.wait()
        elif isinstance(fault, BaseException):
            raise fault

    # --- the keyring interface ----------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        self._enter("get_password", service, username)
        with self._lock:
            return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._enter("set_password", service, username)
        with self._lock:
            self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._enter("delete_password", service, username)
        with self._lock:
            if self._items.pop((service, username), None) is None:
                raise PasswordDeleteError("No such password!")

    # --- inspection ---------------------------------------------------------------------------------

    def items(self) -> dict[tuple[str, str], str]:
        with self._lock:
            return dict(self._items)
