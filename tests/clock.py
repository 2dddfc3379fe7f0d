"""A controllable clock for tests: time moves only when the test says so."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._changed = asyncio.Event()
        self.sleeps: list[float] = []
        self._slept = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._changed.set()

    async def sleep(self, seconds: float) -> None:
        """Returns once the test has advanced the clock past the deadline."""
        self.sleeps.append(seconds)
        self._slept.set()
        deadline = self._now + seconds
        while self._now < deadline:
            self._changed.clear()
            await self._changed.wait()

    async def next_sleep(self) -> None:
        """Wait until some task starts sleeping after this call: it has finished what it was doing."""
        self._slept.clear()
        await asyncio.wait_for(self._slept.wait(), 10)


class SimClock:
    """A FakeClock that also tells when every background loop has gone quiet: each sleeper notes the
    last time jump it has seen, so `seen_everything` is true only once all of them looked at the current
    time and chose to sleep on."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._changed = asyncio.Event()
        self._generation = 0
        self._seen: dict[object, int] = {}

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._generation += 1
        self._changed.set()

    @property
    def sleeping(self) -> int:
        return len(self._seen)

    def seen_everything(self, sleepers: int) -> bool:
        return len(self._seen) == sleepers and all(g == self._generation for g in self._seen.values())

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + seconds
        me = object()
        try:
            while True:
                self._seen[me] = self._generation
                if self._now >= deadline:
                    return
                self._changed.clear()
                await self._changed.wait()
        finally:
            del self._seen[me]
