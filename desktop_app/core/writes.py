"""Group commit for the engine's metadata writes: updates that pile up go to disk together in one write
(AccountStore.update_many), and each caller resumes once its own change is on disk.

At 1,000 accounts due at once, every refresh wrote the whole accounts.json twice (the rotation-pending mark, then
the result), each with an fsync: the file grows with the accounts, so those writes were most of what the engine
spent beyond the requests and the keychain (bench/storm.py). A mark gates a request, so it is written at once,
taking along whatever else is waiting. A result may wait a little (`linger_s`) for company: in a storm, the next
account's mark comes within milliseconds, and the two share one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .accounts import AccountRecord, AccountStore

Change = Callable[[AccountRecord], AccountRecord]
_Item = tuple[str, Change, "asyncio.Future[AccountRecord]", float]  # account, change, its caller, write by


class WriteQueue:
    """Coalesces AccountStore updates made on one event loop; at most one batch is being written at a time."""

    def __init__(self, store: AccountStore) -> None:
        self._store = store
        self._pending: list[_Item] = []
        self._flushing = False
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None  # the batch being written
        self.writes = 0  # batches written (tests and the storm benchmark count them)

    async def update(self, account_id: str, change: Change, *, linger_s: float = 0.0) -> AccountRecord:
        """AccountStore.update, returning only once the change is on disk (or raising what update would). The
        write starts at once, or within `linger_s` if nothing else needs one sooner."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[AccountRecord] = loop.create_future()
        self._pending.append((account_id, change, done, loop.time() + linger_s))
        self._schedule()
        return await done

    def _schedule(self) -> None:
        """Start the next write now if an update is due, else set a timer for the first one that will be.
        Never started from a caller's coroutine: a caller cancelled meanwhile must not strand the others."""
        if self._flushing or not self._pending:
            return
        loop = asyncio.get_running_loop()
        due = min(item[3] for item in self._pending)
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
            self._timer = None
        if due <= loop.time():
            self._flushing = True
            loop.call_soon(self._start)
        else:
            self._timer = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._schedule()

    def _start(self) -> None:
        if self._timer is not None:  # everything waiting goes now
            self._timer.cancel()
            self._timer = None
        # Kept: the loop holds only weak references to tasks. Its errors are the callers' (set in _flush).
        self._task = asyncio.ensure_future(self._flush())
        self._task.add_done_callback(lambda t: None if t.cancelled() else t.exception())

    async def _flush(self) -> None:
        try:
            # A caller cancelled before its turn has no change written (as with a store call not yet started).
            batch = [item for item in self._pending if not item[2].cancelled()]
            self._pending = []
            if not batch:
                return
            self.writes += 1
            try:
                results = await self._store.call(self._store.update_many, [(a, c) for a, c, _, _ in batch])
            except Exception as exc:  # the write failed: none of the batch is on disk
                for _, _, done, _ in batch:
                    if not done.done():
                        done.set_exception(exc)
                return
            except BaseException:  # cancelled (the loop is closing): whether it was written is unknown
                for _, _, done, _ in batch:
                    done.cancel()
                raise
            for (_, _, done, _), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)
        finally:
            self._flushing = False
            self._schedule()
