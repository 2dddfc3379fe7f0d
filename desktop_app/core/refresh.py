"""The refresh engine: ahead of expiry, single flight in and across processes, rotation-safe, backing off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from filelock import FileLock, Timeout

from .accounts import AccountRecord, AccountState, AccountStore, Attempt, Event
from .clock import Clock
from .errors import (
    ClientConfigError,
    InvalidGrant,
    MalformedResponse,
    NeedsSignIn,
    ProviderError,
    StoreError,
    TokendeskError,
    TransientError,
    VaultError,
)
from .events import AccountChanged, EventBus, NeedsSignInRaised
from .oauth import Client, refresh_grant
from .tokens import TokenSet
from .vault import Vault, VaultEntry

log = logging.getLogger(__name__)

Needs = Callable[[TokenSet, float], bool]


@dataclass(frozen=True)
class RefreshPolicy:
    fraction: float = 0.75  # refresh once this share of the lifetime has passed ...
    min_margin_s: float = 60.0  # ... and at least this long before expiry
    max_jitter_s: float = 30.0  # spread refreshes so many accounts (and devices) do not fire at once
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 900.0
    offline_cap_s: float = 60.0  # offline: keep probing often so we resume soon after the network returns
    max_retry_after_s: float = 3600.0
    wake_interval_s: float = 30.0  # re-read the wall clock this often: suspend and clock jumps
    lock_timeout_s: float = 120.0
    concurrency: int = 4


class RefreshEngine:
    def __init__(
        self,
        *,
        store: AccountStore,
        vault: Vault,
        http: httpx.AsyncClient,
        clock: Clock,
        bus: EventBus,
        lock_dir: Path,
        policy: RefreshPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._vault = vault
        self._http = http
        self._clock = clock
        self._bus = bus
        self._lock_dir = lock_dir
        self._lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._policy = policy or RefreshPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._cache: dict[str, VaultEntry] = {}
        self._unsaved: dict[str, VaultEntry] = {}  # rotated tokens the keychain refused to take
        self._inflight: dict[str, asyncio.Future[TokenSet]] = {}
        self._jitter: dict[tuple[str, float], float] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self._policy.concurrency)
        self._background: set[asyncio.Task[None]] = set()

    # --- public API -------------------------------------------------------------------------------

    async def get_token(self, account_id: str, *, min_valid_s: float = 60.0) -> TokenSet:
        """A token valid for `min_valid_s`, refreshing first if needed. A token issued after this call began
        is accepted even if shorter-lived: refreshing again could not do better."""
        asked_at = self._clock.now()
        if account_id in self._unsaved:
            # Rotated tokens the keychain refused earlier: nothing is handed out until they are safe.
            async with self._cross_process_lock(account_id):
                await self._save_unsaved(account_id)
        record = await asyncio.to_thread(self._store.get, account_id)
        if record.state is AccountState.NEEDS_SIGN_IN:
            # The grant is known dead; a leftover access token would only fail later, less clearly.
            raise NeedsSignIn(_sign_in_message(record))
        entry = self._cache.get(account_id)
        if entry is None or entry.tokens is None or entry.tokens.issued_at != record.issued_at:
            # Another process refreshed or reconnected since we cached: the keychain has the current tokens.
            entry = await self._load(account_id)
        assert entry.tokens is not None
        wanted_s = _attainable(min_valid_s, entry.tokens)
        if entry.tokens.valid_for(asked_at) >= wanted_s:
            return entry.tokens
        tokens = await self._single_flight(
            account_id, lambda t, now: t.valid_for(now) < _attainable(min_valid_s, t) and t.issued_at < asked_at
        )
        if tokens.refresh_token is None and tokens.valid_for(self._clock.now()) < wanted_s:
            raise NeedsSignIn(
                f"The access token is valid for less than {min_valid_s:g} s and there is no refresh token to renew "
                "it; reconnect the account."
            )
        return tokens

    async def refresh_now(self, account_id: str) -> TokenSet:
        asked_at = self._clock.now()
        return await self._single_flight(account_id, lambda t, now: t.issued_at < asked_at)

    @contextlib.asynccontextmanager
    async def exclusive(self, account_id: str) -> AsyncIterator[None]:
        """Hold the account against every refresh, here and in other processes (disconnect, reconnect)."""
        flight = self._inflight.get(account_id)
        if flight is not None:
            await asyncio.gather(asyncio.shield(flight), return_exceptions=True)
        async with self._cross_process_lock(account_id):
            yield

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Let refreshes in flight finish (a rotated token must reach the keychain) before shutting down."""
        flights = [asyncio.shield(f) for f in self._inflight.values()]
        if flights:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*flights, return_exceptions=True), timeout_s)

    def forget(self, account_id: str) -> None:
        self._cache.pop(account_id, None)
        self._unsaved.pop(account_id, None)

    def remember(self, account_id: str, entry: VaultEntry) -> None:
        self._cache[account_id] = entry
        self.wake()

    def wake(self) -> None:
        """Re-plan now (account added, network back, system resumed)."""
        self._wake.set()

    def due_at(self, record: AccountRecord) -> float | None:
        """When the background loop should act on `record`, or None for never."""
        if record.state.is_terminal:
            return None
        if record.state in (AccountState.RETRYING, AccountState.ERROR) and record.retry_at is not None:
            return record.retry_at
        if not record.has_refresh_token or record.expires_at is None or record.issued_at is None:
            return None
        return self._refresh_point(record.id, record.issued_at, record.expires_at)

    # --- background loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Refresh accounts as they come due, until cancelled."""
        try:
            while True:
                self._wake.clear()
                now = self._clock.now()
                next_at = now + self._policy.wake_interval_s
                try:
                    records = await asyncio.to_thread(self._store.all)
                except StoreError as exc:
                    log.error("cannot read accounts: %s", exc)
                    records = []
                for record in records:
                    at = self.due_at(record)
                    if at is None or record.id in self._inflight:
                        continue
                    if at <= now:
                        self._spawn(self._background_refresh(record.id))
                    else:
                        next_at = min(next_at, at)
                sleeper = asyncio.ensure_future(self._clock.sleep(max(0.0, next_at - now)))
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waker.cancel()
        finally:
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)  # strong reference: the loop keeps only weak ones
        task.add_done_callback(self._background.discard)

    async def _background_refresh(self, account_id: str) -> None:
        async with self._slots:
            try:
                await self._single_flight(account_id, lambda t, now: self._tokens_due(account_id, t, now))
            except TokendeskError as exc:
                log.info("background refresh of %s: %s", account_id, exc)
            except Exception:
                log.exception("background refresh of %s failed unexpectedly", account_id)
        self.wake()

    def _tokens_due(self, account_id: str, tokens: TokenSet, now: float) -> bool:
        if tokens.expires_at is None:
            return False
        return self._refresh_point(account_id, tokens.issued_at, tokens.expires_at) <= now

    def _refresh_point(self, account_id: str, issued_at: float, expires_at: float) -> float:
        lifetime = max(0.0, expires_at - issued_at)
        # The margin shrinks with short lifetimes: with a flat 60 s, a 60 s token would be due at birth and
        # refreshed in a tight loop.
        margin = min(self._policy.min_margin_s, (1.0 - self._policy.fraction) * lifetime)
        point = min(issued_at + self._policy.fraction * lifetime, expires_at - margin)
        key = (account_id, issued_at)
        if key not in self._jitter:
            self._jitter[key] = self._rng.uniform(0.0, min(self._policy.max_jitter_s, 0.05 * lifetime))
        return max(issued_at, point - self._jitter[key])

    # --- one refresh ------------------------------------------------------------------------------

    async def _single_flight(self, account_id: str, needs: Needs) -> TokenSet:
        flight = self._inflight.get(account_id)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh(account_id, needs))
            self._inflight[account_id] = flight

            def done(f: asyncio.Future[TokenSet]) -> None:
                if self._inflight.get(account_id) is f:
                    del self._inflight[account_id]
                if not f.cancelled():
                    f.exception()  # mark retrieved: every waiter gets it through shield below

            flight.add_done_callback(done)
        # shield: a caller giving up must not abort a refresh that may be rotating the token right now.
        return await asyncio.shield(flight)

    @contextlib.asynccontextmanager
    async def _cross_process_lock(self, account_id: str) -> AsyncIterator[None]:
        lock = FileLock(str(self._lock_dir / f"{account_id}.lock"), thread_local=False)
        deadline = asyncio.get_running_loop().time() + self._policy.lock_timeout_s
        # Poll instead of blocking a thread: a cancelled waiter must never acquire the lock later and keep it.
        while True:
            try:
                lock.acquire(timeout=0)
                break
            except Timeout:
                if asyncio.get_running_loop().time() > deadline:
                    raise TransientError("Another Tokendesk process is stuck refreshing this account.") from None
                await asyncio.sleep(0.02)
        try:
            yield
        finally:
            lock.release()

    async def _load(self, account_id: str) -> VaultEntry:
        entry = await self._vault.load(account_id)
        if entry is None or entry.tokens is None:
            raise NeedsSignIn("This account's tokens are missing from the keychain; reconnect it.")
        self._cache[account_id] = entry
        return entry

    async def _update(self, account_id: str, change: Callable[[AccountRecord], AccountRecord]) -> AccountRecord:
        record = await asyncio.to_thread(self._store.update, account_id, change)
        self._bus.emit(AccountChanged(record))
        return record

    async def _refresh(self, account_id: str, needs: Needs) -> TokenSet:
        async with self._cross_process_lock(account_id):
            await self._save_unsaved(account_id)
            record = await asyncio.to_thread(self._store.get, account_id)
            entry = await self._load(account_id)  # fresh: another process may have refreshed meanwhile
            tokens = entry.tokens
            assert tokens is not None
            now = self._clock.now()
            if not needs(tokens, now):
                return tokens
            if record.state is AccountState.NEEDS_SIGN_IN:
                raise NeedsSignIn(_sign_in_message(record))
            if record.state is AccountState.CONFIG_ERROR:
                raise ClientConfigError(_sign_in_message(record))
            if tokens.refresh_token is None or (
                tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= now
            ):
                if tokens.valid_for(now) > 0:
                    return tokens  # the best there is; it cannot be renewed without the user
                reason = "The access token expired and there is no usable refresh token."
                await self._needs_sign_in(account_id, reason, None)
                raise NeedsSignIn(reason + " Reconnect the account.")
            await self._update(account_id, lambda r: r.apply(Event.REFRESH_STARTED))
            client = Client(record.client_id, entry.client_secret)
            try:
                new = await self._call(record, client, tokens)
            except InvalidGrant as exc:
                adopted = await self._adopt_if_rotated_elsewhere(account_id, tokens)
                if adopted is not None:
                    return adopted
                await self._needs_sign_in(account_id, str(exc), exc.advice)
                raise
            except TransientError as exc:
                await self._retry_later(account_id, exc, Event.TRANSIENT_FAILURE, "retrying")
                raise
            except ClientConfigError as exc:
                await self._config_rejected(account_id, str(exc))
                raise
            except MalformedResponse as exc:
                if exc.rescued_tokens is not None:
                    # Keep the rotated refresh token even though the rest of the answer was unusable.
                    await self._vault.save(account_id, replace(entry, tokens=exc.rescued_tokens))
                    self._cache[account_id] = replace(entry, tokens=exc.rescued_tokens)
                await self._retry_later(account_id, exc, Event.FAILED, "error")
                raise
            except ProviderError as exc:
                if exc.status is not None and 400 <= exc.status < 500:
                    # An error the RFCs do not name, on a 4xx: retrying will not change the answer.
                    await self._config_rejected(account_id, str(exc))
                else:
                    await self._retry_later(account_id, exc, Event.FAILED, "error")
                raise
            except TokendeskError as exc:
                await self._retry_later(account_id, exc, Event.FAILED, "error")
                raise
            await self._store_new_tokens(account_id, entry, new)
            return new

    async def _call(self, record: AccountRecord, client: Client, tokens: TokenSet) -> TokenSet:
        try:
            return await refresh_grant(self._http, record.provider, client, tokens, now=self._clock.now())
        except TransientError as exc:
            if not exc.maybe_processed:
                raise
            # The provider may have rotated the token without our seeing the answer. Providers with a
            # rotation grace period (Okta, Auth0, Keycloak, Entra) still accept the old token now, not later.
            log.info("refresh of %s lost its answer; retrying at once with the same token", record.id)
            return await refresh_grant(self._http, record.provider, client, tokens, now=self._clock.now())

    async def _store_new_tokens(self, account_id: str, entry: VaultEntry, new: TokenSet) -> None:
        updated = replace(entry, tokens=new)
        self._cache[account_id] = updated
        try:
            # The keychain first: a rotated refresh token must be safe before anyone uses the access token.
            await self._vault.save(account_id, updated)
        except VaultError as exc:
            self._unsaved[account_id] = updated
            await self._retry_later(account_id, exc, Event.FAILED, "error")
            raise
        now = self._clock.now()
        await self._update(
            account_id,
            lambda r: r.apply(Event.REFRESH_SUCCEEDED).with_tokens(new, now).with_attempt(Attempt(now, "ok")),
        )

    async def _save_unsaved(self, account_id: str) -> None:
        pending = self._unsaved.get(account_id)
        if pending is not None:
            await self._vault.save(account_id, pending)
            del self._unsaved[account_id]

    async def _adopt_if_rotated_elsewhere(self, account_id: str, used: TokenSet) -> TokenSet | None:
        latest = await self._vault.load(account_id)
        if latest is None or latest.tokens is None or latest.tokens.refresh_token == used.refresh_token:
            return None
        log.info("refresh token of %s was rotated by another process; adopting it", account_id)
        self._cache[account_id] = latest
        new = latest.tokens
        now = self._clock.now()
        await self._update(account_id, lambda r: r.apply(Event.REFRESH_SUCCEEDED).with_tokens(new, now))
        return new

    async def _config_rejected(self, account_id: str, reason: str) -> None:
        now = self._clock.now()
        await self._update(
            account_id,
            lambda r: r.apply(Event.CONFIG_REJECTED, last_error=reason, retry_at=None).with_attempt(
                Attempt(now, "config_error", reason)
            ),
        )

    async def _needs_sign_in(self, account_id: str, reason: str, advice: str | None) -> None:
        now = self._clock.now()
        before = await asyncio.to_thread(self._store.get, account_id)
        record = await self._update(
            account_id,
            lambda r: r.apply(Event.GRANT_REJECTED, last_error=reason, advice=advice, retry_at=None).with_attempt(
                Attempt(now, "needs_sign_in", reason)
            ),
        )
        if before.state is not AccountState.NEEDS_SIGN_IN:
            self._bus.emit(NeedsSignInRaised(record, advice or reason))

    async def _retry_later(self, account_id: str, exc: TokendeskError, event: Event, outcome: str) -> None:
        now = self._clock.now()
        offline = isinstance(exc, TransientError) and exc.offline
        retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None

        def change(r: AccountRecord) -> AccountRecord:
            delay = self.backoff_s(r.failures, retry_after=retry_after, offline=offline)
            return r.apply(
                event, last_error=str(exc), retry_at=now + delay, failures=r.failures + 1, offline=offline
            ).with_attempt(Attempt(now, outcome, str(exc)))

        await self._update(account_id, change)

    def backoff_s(self, failures: int, *, retry_after: float | None = None, offline: bool = False) -> float:
        """Exponential backoff with (floored) full jitter, capped; never sooner than the server's Retry-After."""
        cap = self._policy.offline_cap_s if offline else self._policy.backoff_cap_s
        ceiling = min(cap, self._policy.backoff_base_s * 2 ** min(failures, 30))
        delay = self._rng.uniform(ceiling / 10, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._policy.max_retry_after_s))
        return delay


def _attainable(min_valid_s: float, tokens: TokenSet) -> float:
    """What a refresh can promise: never more than half a token's lifetime (a 30 s token cannot stay valid
    for 60 s, and asking for it must not refresh on every call)."""
    lifetime = tokens.lifetime_s
    return min_valid_s if lifetime is None else min(min_valid_s, 0.5 * lifetime)


def _sign_in_message(record: AccountRecord) -> str:
    what = "needs you to sign in again" if record.state is AccountState.NEEDS_SIGN_IN else "has a configuration error"
    parts = [f"{record.name} {what}."]
    if record.last_error:
        parts.append(record.last_error)
    if record.advice:
        parts.append(record.advice)
    parts.append(f"Reconnect it (tokendesk reconnect {record.name!r}).")
    return " ".join(parts)
