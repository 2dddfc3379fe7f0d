"""When the refresh engine acts: the policy's numbers, each account's refresh point, and the backoff.

Pure arithmetic over records, tokens, the clock and a seeded random source: no I/O, so planning hundreds of
accounts costs microseconds and tests check it without a keychain or a network.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from . import digest
from .accounts import AccountRecord, AccountState
from .clock import Clock
from .errors import Hint, TransientError
from .tokens import TokenSet


@dataclass(frozen=True)
class RefreshPolicy:
    fraction: float = 0.75  # refresh once this share of the lifetime has passed
    min_margin_s: float = 60.0  # a refresh token that runs out first is used this long before it does
    max_jitter_s: float = 30.0  # spread refreshes so many accounts (and devices) do not fire at once
    min_interval_s: float = 10.0  # never refresh in the background sooner than this after the last tokens
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 900.0
    offline_cap_s: float = 60.0  # offline: keep probing often so we resume soon after the network returns
    stall_cap_s: float = 60.0  # attempts that changed nothing (keychain locked, store unwritable)
    max_retry_after_s: float = 3600.0
    wake_interval_s: float = 30.0  # re-read the wall clock this often: suspend and clock jumps
    lock_timeout_s: float = 120.0
    # Outlasts one refresh that was sent: two 20 s requests (the retry after a lost answer) and a keychain write.
    drain_timeout_s: float = 75.0
    concurrency: int = 4
    write_linger_s: float = 0.05  # a refresh's result waits at most this long to share a write (core/writes.py)


class Schedule:
    """One engine's plan. Jitter is derived from the account, its tokens' issue time and a per-process salt,
    so one token set keeps one refresh point (the loop never chases a moving target) and nothing is stored."""

    def __init__(self, policy: RefreshPolicy, clock: Clock, rng: random.Random) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._salt = rng.getrandbits(64).to_bytes(8, "big")  # jitter is derived, never stored

    def due_at(self, record: AccountRecord) -> float | None:
        """When the background loop should act on `record`, or None for never."""
        if record.state.is_terminal:
            return None
        if record.state in (AccountState.RETRYING, AccountState.ERROR) and record.retry_at is not None:
            return record.retry_at
        if record.expires_at is None or record.issued_at is None or not record.has_refresh_token:
            return None
        return self.plan(record.id, record.issued_at, record.expires_at, record.refresh_expires_at)

    def plan(self, account_id: str, issued_at: float, expires_at: float, refresh_expires_at: float | None) -> float:
        point = self.refresh_point(account_id, issued_at, expires_at)
        if refresh_expires_at is None or refresh_expires_at > point:
            return point
        if refresh_expires_at > self._clock.now():
            # The refresh token runs out first (an idle timeout): use it while it lasts, which often renews it.
            early = refresh_expires_at - min(self._policy.min_margin_s, 0.25 * (refresh_expires_at - issued_at))
            if early >= issued_at + self._policy.min_interval_s:
                return early
        # Nothing can renew the access token: act when it expires, to say the account needs sign-in.
        return expires_at

    def born_dead(self, record: AccountRecord) -> bool:
        """Tokens too short-lived to use (`expires_in: 0`): refreshing again is no progress either."""
        if record.expires_at is None or record.issued_at is None:
            return False
        return record.expires_at - record.issued_at < self._policy.min_interval_s

    def tokens_due(self, account_id: str, tokens: TokenSet, now: float) -> bool:
        if tokens.expires_at is None:
            return False
        return self.plan(account_id, tokens.issued_at, tokens.expires_at, tokens.refresh_expires_at) <= now

    def refresh_point(self, account_id: str, issued_at: float, expires_at: float) -> float:
        lifetime = max(0.0, expires_at - issued_at)
        # A share of the lifetime, not a flat margin before expiry: with a flat 60 s, a 60 s token would be
        # due at birth. (At 75 %, tokens living 4 minutes or more are refreshed at least 60 s before expiry.)
        point = issued_at + self._policy.fraction * lifetime
        jitter = self.jitter_share(account_id, issued_at) * min(self._policy.max_jitter_s, 0.05 * lifetime)
        return max(issued_at + self._policy.min_interval_s, point - jitter)

    def jitter_share(self, account_id: str, issued_at: float) -> float:
        """A share in [0, 1) fixed for one account's token set, derived rather than remembered."""
        share = digest.blake2b(f"{account_id}:{issued_at!r}".encode(), key=self._salt, digest_size=8)
        return int.from_bytes(share, "big") / 2**64

    def backoff_s(self, failures: int, *, retry_after: float | None = None, offline: bool = False) -> float:
        """Exponential backoff with (floored) full jitter, capped; never sooner than the server's Retry-After."""
        cap = self._policy.offline_cap_s if offline else self._policy.backoff_cap_s
        ceiling = min(cap, self._policy.backoff_base_s * 2 ** min(failures, 30))
        delay = self._rng.uniform(ceiling / 10, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._policy.max_retry_after_s))
        return delay

    def stall_s(self, stalls: int) -> float:
        """How long to hold back an account whose attempts changed nothing, `stalls` times in a row."""
        ceiling = min(self._policy.stall_cap_s, self._policy.backoff_base_s * 2 ** min(stalls - 1, 30))
        return self._rng.uniform(ceiling / 2, ceiling)


def honour_retry_at(record: AccountRecord, now: float) -> None:
    """The provider's clock binds every caller: a script asking during a backoff gets an answer at once,
    without a request (an explicit refresh may still try once)."""
    if record.state not in (AccountState.RETRYING, AccountState.ERROR) or record.retry_at is None:
        return
    wait_s = record.retry_at - now
    if wait_s <= 0:
        return
    until = dt.datetime.fromtimestamp(record.retry_at, dt.UTC).strftime("%H:%M:%S UTC")
    last = f" ({record.last_error.rstrip('.')})" if record.last_error else ""
    raise TransientError(
        f"{record.name}: the last refresh failed{last}; the next attempt is due at {until}, in {wait_s:.0f} s.",
        retry_after_s=wait_s,
        offline=record.offline,
        account=record.name,
        hint=Hint.RETRY_LATER,
    )
