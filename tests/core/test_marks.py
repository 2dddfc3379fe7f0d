"""The rotation-pending mark's rules (pure) and the per-account lock across processes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from desktop_app.core.accounts import AccountRecord, Identity
from desktop_app.core.errors import LockBusy, ShuttingDown
from desktop_app.core.marks import account_lock, cleared, holding, synced
from desktop_app.core.providers import preset
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet

ME, OTHER = "100:1", "200:2"


def _record(**changes: object) -> AccountRecord:
    record = AccountRecord(
        id="a1",
        name="Acct",
        provider=preset("github"),
        client_id="cid",
        scopes=(),
        identity=Identity(subject="1"),
        created_at=1.0,
        issued_at=10.0,
        expires_at=310.0,
        has_refresh_token=True,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


RESCUED = TokenSet(Secret("at-2"), "Bearer", issued_at=20.0, expires_at=None, refresh_token=None)


def test_synced_describes_tokens_a_failed_attempt_saved() -> None:
    record = _record(rotation_pending=ME)
    assert synced(record, RESCUED, unsaved=False) == replace(
        record, issued_at=20.0, expires_at=None, refresh_expires_at=None, has_refresh_token=False
    )
    assert synced(record, RESCUED, unsaved=True) is record  # still holding one the keychain refused
    assert synced(record, None, unsaved=False) is record
    assert synced(record, replace(RESCUED, issued_at=10.0), unsaved=False) is record  # already described


def test_holding_keeps_only_a_mark_with_something_behind_it() -> None:
    assert holding(_record(rotation_pending=ME), ME, unsaved=False) is None
    assert holding(_record(rotation_pending=ME), ME, unsaved=True) == ME
    assert holding(_record(rotation_pending=OTHER), ME, unsaved=False) == OTHER  # never ours to clear
    assert holding(_record(), ME, unsaved=False) is None


def test_cleared_takes_down_only_our_mark_carrying_what_we_saved() -> None:
    ours = cleared(_record(rotation_pending=ME), ME, RESCUED)
    assert ours.rotation_pending is None and ours.issued_at == 20.0
    theirs = _record(rotation_pending=OTHER)
    assert cleared(theirs, ME, RESCUED) is theirs


async def test_account_lock_excludes_another_holder_and_gives_up_in_time(tmp_path: Path) -> None:
    path = tmp_path / "a1.lock"
    other = FileLock(str(path), thread_local=False)  # another process's lock on the same account
    other.acquire()
    try:
        with pytest.raises(LockBusy):
            async with account_lock(path, timeout_s=0.1, stopping=lambda: False):
                pass
    finally:
        other.release()
    async with account_lock(path, timeout_s=0.1, stopping=lambda: False):
        with pytest.raises(Timeout):  # held by us: the other process waits
            await asyncio.to_thread(other.acquire, timeout=0.05)


async def test_account_lock_sends_nothing_once_shutting_down(tmp_path: Path) -> None:
    with pytest.raises(ShuttingDown, match="shutting down"):
        async with account_lock(tmp_path / "a1.lock", timeout_s=10, stopping=lambda: True):
            pass
