"""The rotation-pending mark in an account's metadata, and the per-account file lock it is set under.

The mark names the process (core.owner) that sent a refresh and may hold a rotated refresh token the keychain
does not have yet; while it is up, no other process spends the keychain's copy (see RefreshEngine). These are
its rules as pure functions over records, plus the lock every change to an account's tokens is made under.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import AccountRecord
from .errors import Hint, LockBusy, ShuttingDown

if TYPE_CHECKING:
    from .tokens import TokenSet


LOST_ROTATION = (
    "A Tokendesk process stopped while refreshing this account, before the new tokens reached the keychain; the "
    "stored refresh token may already be spent."
)


def waiting_elsewhere(record: AccountRecord) -> str:
    """Why nothing was sent: the process named by the mark lives and holds a token the keychain refused."""
    return (
        f"{record.name}: a refreshed token is waiting for the keychain in another Tokendesk process; nothing was "
        "sent. Try again once the keychain answers."
    )


def synced(record: AccountRecord, saved: TokenSet | None, *, unsaved: bool) -> AccountRecord:
    """The record describing `saved`, the tokens this process last put in the keychain, when a failed attempt
    saved some (a rescued rotation) and the mark is about to come down: otherwise another process would trust
    its older cached copy and send a spent refresh token. Failures and state are left alone. `unsaved`: this
    process still holds a rotated token the keychain refused (the mark stays, nothing to describe yet)."""
    if saved is None or saved.issued_at == record.issued_at or unsaved:
        return record
    return record.describing(saved)


def holding(record: AccountRecord, owner: str, *, unsaved: bool) -> str | None:
    """The mark after a failed attempt by `owner`: its own stays up only while it holds a rotated token the
    keychain refused (`unsaved`); another process's mark is never its to clear."""
    if record.rotation_pending == owner and not unsaved:
        return None
    return record.rotation_pending


def cleared(record: AccountRecord, owner: str, saved: TokenSet | None) -> AccountRecord:
    """At exit: `owner`'s mark taken down (it holds nothing unsaved), carrying the tokens it saved."""
    if record.rotation_pending != owner:
        return record
    return replace(synced(record, saved, unsaved=False), rotation_pending=None)


@contextlib.asynccontextmanager
async def account_lock(path: Path, *, timeout_s: float, stopping: Callable[[], bool]) -> AsyncIterator[None]:
    """The account's lock across processes. Polled instead of blocking a thread: a cancelled waiter must never
    acquire the lock later and keep it. `stopping()` true (shutting down): give up before anything is sent."""
    from filelock import (  # here: filelock imports secrets and hmac, which load libcrypto (core/digest.py)
        FileLock,
        Timeout,
    )

    lock = FileLock(str(path), thread_local=False)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if stopping():
            raise ShuttingDown("Tokendesk is shutting down; nothing was sent.")
        try:
            lock.acquire(timeout=0)
            break
        except Timeout:
            if asyncio.get_running_loop().time() > deadline:
                raise LockBusy(
                    "Another Tokendesk process is stuck refreshing this account.", hint=Hint.RETRY_LATER
                ) from None
            await asyncio.sleep(0.02)
    try:
        yield
    finally:
        lock.release()
