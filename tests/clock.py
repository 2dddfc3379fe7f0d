"""A controllable clock for tests: time moves only when the test says so."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._changed = asyncio.Event()
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._changed.set()

    async def sleep(self, seconds: float) -> None:
        """Returns once the test has advanced the clock past the deadline."""
        self.sleeps.append(seconds)
        deadline = self._now + seconds
        while self._now < deadline:
            self._changed.clear()
            await self._changed.wait()
