"""The background loop's plan: when each account is next due, kept between wakes.

Re-planning every record on every wake cost the loop a walk over all accounts (a keyed hash each) per finished
refresh: at 1,000 accounts due at once, a million plans (bench/storm.py). Records are immutable and the store
hands out the same object until that record changes (an update here, or a re-read after another process wrote the
file, which makes every object new), so a record still planned from the same object keeps its time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Sequence

from .accounts import AccountRecord


class Plan:
    """Each account's next attempt, as `next_attempt(record)` gave it for the record object it was planned from.

    Re-planned: records that are new objects, accounts not planned (back from a refresh), and everything after
    invalidate() (wake: account added, network back, engine state such as a hold changed) or once `full_every_s`
    has passed since the last full re-plan (the clock itself moves plans: suspend, jumps)."""

    def __init__(self, next_attempt: Callable[[AccountRecord], float | None], full_every_s: float) -> None:
        self._next_attempt = next_attempt
        self._full_every_s = full_every_s
        self._full_at: float | None = None  # when the last full re-plan ran; None: one is needed
        self._entries: dict[str, tuple[AccountRecord, float | None]] = {}
        self._heap: list[tuple[float, str]] = []  # may hold stale pairs: valid only if equal to the entry's time
        self.planned = 0  # records planned so far (tests and the storm benchmark count them)

    def invalidate(self) -> None:
        self._full_at = None

    def sync(self, records: Sequence[AccountRecord], now: float, busy: Collection[str]) -> None:
        """Bring the plan up to `records` (every account in the store); accounts in `busy` are being refreshed
        and are planned again once they are not."""
        full = self._full_at is None or not self._full_at <= now < self._full_at + self._full_every_s
        if full:
            self._full_at = now
            self._entries = {}
            self._heap = []
        entries = self._entries
        present = 0
        for record in records:
            entry = entries.get(record.id)
            if entry is not None:
                present += 1
                if entry[0] is record:
                    continue
            elif record.id in busy:
                continue
            else:
                present += 1
            at = self._next_attempt(record)
            self.planned += 1
            entries[record.id] = (record, at)
            if at is not None:
                heapq.heappush(self._heap, (at, record.id))
        if present < len(entries):  # accounts removed meanwhile
            ids = {r.id for r in records}
            self._entries = {k: v for k, v in entries.items() if k in ids}

    def take_due(self, now: float) -> list[str]:
        """Accounts due at `now`, in the order they came due; they leave the plan (see sync's `busy`)."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            at, account_id = heapq.heappop(self._heap)
            entry = self._entries.get(account_id)
            if entry is not None and entry[1] == at:
                del self._entries[account_id]
                due.append(account_id)
        return due

    def next_at(self) -> float | None:
        """The earliest planned attempt, if any."""
        while self._heap:
            at, account_id = self._heap[0]
            entry = self._entries.get(account_id)
            if entry is not None and entry[1] == at:
                return at
            heapq.heappop(self._heap)
        return None
