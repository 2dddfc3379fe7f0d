"""Time, injected everywhere it is read, so tests control it and never sleep."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time in seconds since the epoch (jumps on suspend and clock changes)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep about `seconds`; callers re-check now() afterwards since the wall clock may have jumped."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
