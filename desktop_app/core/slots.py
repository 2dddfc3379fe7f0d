"""The engine's limit on background refreshes talking to the provider and the keychain at once.

A background refresh gives its slot back as soon as the keychain has the new tokens (release_slot, called in the
refresh itself): what is left, the metadata write, needs no slot, and the next account starting meanwhile lets its
rotation-pending mark share that write (core/writes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable

# The release of the slot held by the background refresh running in this context (tasks copy it: the flight).
_HELD: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("tokendesk_slot", default=None)


class Slots:
    def __init__(self, size: int) -> None:
        self._semaphore = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        await self._semaphore.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._semaphore.release()

        token = _HELD.set(release)
        try:
            yield
        finally:
            _HELD.reset(token)
            release()


def release_slot() -> None:
    """Give back the slot this refresh was started under, if any (a caller's own refresh holds none)."""
    release = _HELD.get()
    if release is not None:
        release()
