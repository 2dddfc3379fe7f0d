"""Group commit for the engine's metadata writes: updates that pile up while a write is under way go to disk
together in the next one (AccountStore.update_many), and each caller resumes once its own change is on disk.

At 1,000 accounts due at once, every refresh wrote the whole accounts.json twice (the rotation-pending mark, then
the result), each with an fsync: the file grows with the accounts, so those writes were most of what the engine
spent beyond the requests and the keychain (bench/storm.py). Nothing waits on purpose: a write starts as soon as
the loop has run what was ready with the first update, and updates arriving meanwhile join the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .accounts import AccountRecord, AccountStore

Change = Callable[[AccountRecord], AccountRecord]


class WriteQueue:
    """Coalesces AccountStore updates made on one event loop; at most one batch is being written at a time."""

    def __init__(self, store: AccountStore) -> None:
        self._store = store
        self._pending: list[tuple[str, Change, asyncio.Future[AccountRecord]]] = []
        self._flushing = False
        self.writes = 0  # batches written (tests and the storm benchmark count them)

    async def update(self, account_id: str, change: Change) -> AccountRecord:
        """AccountStore.update, returning only once the change is on disk (or raising what update would)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[AccountRecord] = loop.create_future()
        self._pending.append((account_id, change, done))
        if not self._flushing:
            self._flushing = True
            # Not started from this coroutine: a caller cancelled now must not strand the others' updates.
            loop.call_soon(self._start)
        return await done

    def _start(self) -> None:
        task = asyncio.ensure_future(self._flush())
        task.add_done_callback(lambda t: None if t.cancelled() else t.exception())

    async def _flush(self) -> None:
        try:
            while True:
                # A caller cancelled before its turn has no change written (as with a store call not yet started).
                batch = [item for item in self._pending if not item[2].cancelled()]
                self._pending = []
                if not batch:
                    return
                self.writes += 1
                try:
                    results = await self._store.call(self._store.update_many, [(a, c) for a, c, _ in batch])
                except Exception as exc:  # the write failed: none of the batch is on disk
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                except BaseException:  # cancelled (the loop is closing): whether it was written is unknown
                    for _, _, done in batch:
                        done.cancel()
                    raise
                for (_, _, done), result in zip(batch, results, strict=True):
                    if done.done():
                        continue
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self._flushing = False
            if self._pending:  # left by a cancelled flush: start again
                self._flushing = True
                asyncio.get_running_loop().call_soon(self._start)
