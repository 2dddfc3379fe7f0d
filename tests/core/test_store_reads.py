"""On POSIX the store reads accounts.json without its file lock (writers replace the file atomically); writers
still lock; what it caches is the file it read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.accounts import AccountRecord, AccountStore
from desktop_app.core.errors import StoreError
from tests.core.conftest import SPEC

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Windows readers take the lock")

HOLD = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1], thread_local=False)
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def _record(n: int) -> AccountRecord:
    return AccountRecord(id=f"id{n}", name=f"A{n}", provider=SPEC, client_id="c", scopes=(), created_at=n)


def test_readers_do_not_wait_for_a_writer_of_another_process(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    AccountStore(path).add(_record(1))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path) + ".lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = AccountStore(path, lock_timeout_s=0.5)
        # Under the lock these would fail with "holds accounts.json locked" after 0.5 s, as the write does.
        assert [r.id for r in store.all()] == ["id1"]
        assert store.get("id1").name == "A1"
        with pytest.raises(StoreError, match=r"holds accounts\.json locked"):
            store.add(_record(2))  # writers still lock
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_the_cache_follows_the_file_replaced_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    mine, theirs = AccountStore(path), AccountStore(path)
    mine.add(_record(1))
    assert [r.id for r in theirs.all()] == ["id1"]
    mine.add(_record(2))  # a new file replaces the one `theirs` parsed
    assert [r.id for r in theirs.all()] == ["id1", "id2"]
    assert theirs.all() == mine.all()
