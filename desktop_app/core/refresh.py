"""The refresh engine: ahead of expiry, single flight in and across processes, rotation-safe, backing off.

Failure model (see ARCHITECTURE.md): every attempt ends with the account valid, waiting for a `retry_at` in
the future, or terminal; the background loop never re-plans an account without progress (a stalled account is
held back in memory with growing delays); a rotated refresh token the keychain refused is marked in the
metadata so no process spends the old one; shutdown lets a refresh that was sent reach the keychain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import AccountRecord, AccountState, AccountStore, Attempt, Event, sign_in_message
from .clock import Clock
from .defaults import MIN_VALID_S
from .errors import (
    ClientConfigError,
    Hint,
    InvalidGrant,
    MalformedResponse,
    NeedsSignIn,
    RotationPending,
    ShuttingDown,
    StoreError,
    TokendeskError,
    TransientError,
    VaultError,
)
from .events import AccountChanged, EventBus, NeedsSignInRaised
from .httpclient import LazyHttp
from .marks import LOST_ROTATION, account_lock, cleared, holding, synced, waiting_elsewhere
from .outcomes import config_rejected, is_config_error, retrying
from .owner import owner_is_alive, process_owner
from .plan import Plan
from .schedule import RefreshPolicy, Schedule, honour_retry_at
from .secrets import Secret
from .slots import Slots, release_slot
from .tokens import TokenSet, attainable_s
from .vault import Vault, VaultEntry
from .writes import Change, WriteQueue

if TYPE_CHECKING:
    import httpx  # annotations only: the engine must not load httpx before it sends

__all__ = ["DEFAULT_MIN_VALID_S", "RefreshEngine", "RefreshPolicy", "owner_is_alive", "process_owner"]
log = logging.getLogger(__name__)

Needs = Callable[[TokenSet, float], bool]

DEFAULT_MIN_VALID_S = MIN_VALID_S  # the name callers of get_token know


class RefreshEngine:
    """Hands out access tokens and keeps them fresh for every account in one store.

    One engine per process, owned by the Service (which builds it from its store, vault and HTTP client).
    Other processes (a CLI call, a second app) are excluded per account by a file lock under `lock_dir`;
    inside the process, one refresh per account is in flight at a time and every caller shares it.

    Loop rules: all methods run on one asyncio loop; run() is the background loop (the app runs it, the CLI
    does not), get_token()/refresh_now() may be awaited concurrently with it; stop() then drain() at shutdown
    let a refresh that was sent reach the keychain. Time comes only from `clock`, so tests drive it.

    Invariants: a refresh token is sent at most once across processes (under the lock, the engine works from
    the keychain's copy unless the metadata vouches for its cached one; the `rotation_pending` mark goes up before
    a request and stays up while a rotated token exists only in this process's memory, so no process spends
    the old one); terminal states (AccountState.is_terminal) are never refreshed."""

    def __init__(
        self,
        *,
        store: AccountStore,
        vault: Vault,
        http: httpx.AsyncClient | LazyHttp,
        clock: Clock,
        bus: EventBus,
        lock_dir: Path,
        policy: RefreshPolicy | None = None,
        rng: random.Random | None = None,
        owner: str | None = None,
        owner_alive: Callable[[str], bool] | None = None,
    ) -> None:
        self._store = store
        self._vault = vault
        self._lazy_http = LazyHttp.of(http)  # httpx loads with the first refresh, not with the engine
        self._clock = clock
        self._bus = bus
        self._lock_dir = lock_dir
        self._lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._policy = policy or RefreshPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._schedule = Schedule(self._policy, clock, self._rng)
        self._owner = owner or process_owner()
        self._owner_alive = owner_alive or owner_is_alive
        self._cache: dict[str, VaultEntry] = {}
        self._unsaved: dict[str, VaultEntry] = {}  # rotated tokens the keychain refused to take
        self._inflight: dict[str, asyncio.Future[TokenSet]] = {}
        self._queued: set[str] = set()  # background attempts spawned and not finished (waiting for a slot too)
        self._held: dict[str, tuple[float, int]] = {}  # stalled accounts: (not before, stalls in a row)
        self._stopping = False
        self._wake = asyncio.Event()
        self._slots = Slots(self._policy.concurrency)
        self._background: set[asyncio.Task[None]] = set()
        self._writes = WriteQueue(store)
        self._plan = Plan(self._next_attempt, self._policy.wake_interval_s)

    # --- public API -------------------------------------------------------------------------------

    async def get_token(self, account_id: str, *, min_valid_s: float = DEFAULT_MIN_VALID_S) -> TokenSet:
        """A token valid for `min_valid_s`, refreshing first if needed. A token issued after this call began
        is accepted even if shorter-lived: refreshing again could not do better."""
        asked_at = self._clock.now()
        if account_id in self._unsaved:
            # Rotated tokens the keychain refused earlier: nothing is handed out until they are safe.
            async with self._cross_process_lock(account_id):
                await self._save_unsaved(account_id)
        record = await self._store.call(self._store.get, account_id)
        if record.state is AccountState.NEEDS_SIGN_IN:
            # The grant is known dead; a leftover access token would only fail later, less clearly.
            raise NeedsSignIn(sign_in_message(record), account=record.name)
        entry = self._cache.get(account_id)
        if entry is None or entry.tokens is None or entry.tokens.issued_at != record.issued_at:
            # Another process refreshed or reconnected since we cached: the keychain has the current tokens.
            entry = await self._load(account_id)
        assert entry.tokens is not None
        wanted_s = attainable_s(min_valid_s, entry.tokens)
        if entry.tokens.valid_for(asked_at) >= wanted_s and not record.is_rejected(entry.tokens):
            return entry.tokens
        honour_retry_at(record, asked_at)

        def needs(t: TokenSet, now: float) -> bool:
            # A token the provider refused is renewed whatever its expiry; one refreshed meanwhile is not.
            short = t.valid_for(now) < attainable_s(min_valid_s, t) and t.issued_at < asked_at
            return short or record.is_rejected(t)

        tokens = await self._single_flight(account_id, needs)
        if record.is_rejected(tokens):
            # Another caller's flight (joined above) had no reason to refresh: ask once more, for ours.
            tokens = await self._single_flight(account_id, needs)
        if record.is_rejected(tokens):
            raise NeedsSignIn(
                "The provider refused the access token and no new one could be had without signing in.",
                account=record.name,
            )
        if tokens.refresh_token is None and tokens.valid_for(self._clock.now()) < wanted_s:
            raise NeedsSignIn(
                f"The access token is valid for less than {min_valid_s:g} s and there is no refresh token to renew it.",
                account=record.name,
            )
        return tokens

    async def mark_rejected(self, account_id: str, access_token: Secret) -> bool:
        """A client reports `access_token` refused (git's `erase` after a 401). While it is still the account's
        current token, a mark in the metadata makes the next request, from any process, refresh instead of
        handing it out again. Nothing is deleted; a token refreshed meanwhile is left alone. True if marked."""
        record = await self._store.call(self._store.get, account_id)
        entry = self._cache.get(account_id)
        if entry is None or entry.tokens is None or entry.tokens.issued_at != record.issued_at:
            entry = await self._vault.load(account_id)
        tokens = None if entry is None else entry.tokens
        import hmac  # here: hmac loads libcrypto (core/digest.py), and this runs only after a secret was read

        if tokens is None or not hmac.compare_digest(
            tokens.access_token.reveal().encode(), access_token.reveal().encode()
        ):
            return False
        issued_at = tokens.issued_at
        # with_rejected re-checks under the store's lock: a refresh that landed since leaves the record alone.
        updated = await self._update(account_id, lambda r: r.with_rejected(issued_at))
        return updated.rejected_issued_at == issued_at

    async def refresh_now(self, account_id: str) -> TokenSet:
        """Refresh once, now, even while a retry is scheduled (the user asked)."""
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

    def stop(self) -> None:
        """Send no new refresh from now on (shutting down); refreshes already sent still finish."""
        self._stopping = True

    async def drain(self, timeout_s: float | None = None) -> None:
        """Shut down: send nothing new, let refreshes that were sent reach the keychain, and try once more to
        save rotated tokens the keychain refused. Bounded by the policy's drain timeout."""
        self.stop()
        deadline = asyncio.get_running_loop().time() + (timeout_s or self._policy.drain_timeout_s)
        flights = [asyncio.shield(f) for f in self._inflight.values()]
        if flights:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*flights, return_exceptions=True), self._left(deadline))
        for account_id in list(self._unsaved):
            try:
                async with asyncio.timeout(self._left(deadline)):
                    async with self._cross_process_lock(account_id, stoppable=False):
                        await self._save_unsaved(account_id)
            except (TokendeskError, TimeoutError) as exc:
                log.error("a refreshed token of %s could not be saved before exit: %s", account_id, exc)
        await self._clear_stale_marks()

    async def _clear_stale_marks(self) -> None:
        """Marks this process set but could not take down (the store refused a write): once it exits, another
        process would read them as a rotated token lost with it."""
        try:
            records = await self._store.call(self._store.all)
            for record in records:
                if record.rotation_pending == self._owner and record.id not in self._unsaved:
                    await self._update(record.id, lambda r: cleared(r, self._owner, self._saved(r.id)))
        except TokendeskError as exc:
            log.error("could not clear this process's refresh marks: %s", exc)

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - asyncio.get_running_loop().time())

    def forget(self, account_id: str) -> None:
        """The account was removed or signed in again: drop everything kept about its old grant."""
        self._cache.pop(account_id, None)
        self._unsaved.pop(account_id, None)
        self._held.pop(account_id, None)
        self._plan.invalidate()

    def remember(self, account_id: str, entry: VaultEntry) -> None:
        self.forget(account_id)
        self._cache[account_id] = entry
        self.wake()

    def wake(self) -> None:
        """Re-plan every account now (account added, network back, system resumed)."""
        self._plan.invalidate()
        self._wake.set()

    def due_at(self, record: AccountRecord) -> float | None:
        """When the background loop should act on `record`, or None for never (see schedule.Schedule)."""
        return self._schedule.due_at(record)

    def backoff_s(self, failures: int, *, retry_after: float | None = None, offline: bool = False) -> float:
        return self._schedule.backoff_s(failures, retry_after=retry_after, offline=offline)

    # --- background loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Refresh accounts as they come due, until cancelled."""
        try:
            while True:
                self._wake.clear()
                now = self._clock.now()
                next_at = now + self._policy.wake_interval_s
                try:
                    records = await self._store.call(self._store.all)
                except StoreError as exc:
                    log.error("cannot read accounts: %s", exc)
                    records = None
                if records is not None:
                    self._plan.sync(records, now, self._queued)
                    for account_id in self._plan.take_due(now):
                        self._queued.add(account_id)  # before it waits for a slot: one task per account
                        self._spawn(self._background_refresh(account_id))
                    at = self._plan.next_at()
                    if at is not None:
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

    def _next_attempt(self, record: AccountRecord) -> float | None:
        at = self.due_at(record)
        held = self._held.get(record.id)
        if at is None or held is None:
            return at
        return max(at, held[0])

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)  # strong reference: the loop keeps only weak ones
        task.add_done_callback(self._background.discard)

    async def _background_refresh(self, account_id: str) -> None:
        try:
            async with self._slots.hold():
                try:
                    await self._single_flight(account_id, lambda t, now: self._schedule.tokens_due(account_id, t, now))
                except TokendeskError as exc:
                    log.info("background refresh of %s: %s", account_id, exc)
                except Exception:
                    log.exception("background refresh of %s failed unexpectedly", account_id)
                await self._check_progress(account_id)
        finally:
            self._queued.discard(account_id)
            self._wake.set()  # the loop plans this account again (and only what else changed)

    async def _check_progress(self, account_id: str) -> None:
        """Hold back an account whose attempt left it due now (nothing was recorded, or nothing could be):
        without this the loop would start it again at once, forever."""
        try:
            record: AccountRecord | None = await self._store.call(self._store.get, account_id)
        except TokendeskError:
            record = None
        now = self._clock.now()
        at = None if record is None else self.due_at(record)
        if record is not None and (at is None or at > now) and not self._schedule.born_dead(record):
            self._held.pop(account_id, None)
            return
        stalls = self._held.get(account_id, (0.0, 0))[1] + 1
        self._held[account_id] = (now + self._schedule.stall_s(stalls), stalls)

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

    def _cross_process_lock(self, account_id: str, *, stoppable: bool = True) -> AbstractAsyncContextManager[None]:
        return account_lock(
            self._lock_dir / f"{account_id}.lock",
            timeout_s=self._policy.lock_timeout_s,
            stopping=lambda: stoppable and self._stopping,
        )

    async def _load(self, account_id: str) -> VaultEntry:
        entry = await self._vault.load(account_id)
        if entry is None or entry.tokens is None:
            raise NeedsSignIn("This account's tokens are missing from the keychain.")
        self._cache[account_id] = entry
        return entry

    async def _update(self, account_id: str, change: Change, *, linger: bool = False) -> AccountRecord:
        # Coalesced with other accounts' writes; `linger`: may wait a little for company while others are due.
        linger_s = self._policy.write_linger_s if linger and len(self._queued) > 1 else 0.0
        record = await self._writes.update(account_id, change, linger_s=linger_s)
        self._bus.emit(AccountChanged(record))
        return record

    async def _refresh(self, account_id: str, needs: Needs) -> TokenSet:
        async with self._cross_process_lock(account_id):
            await self._save_unsaved(account_id)
            record = await self._store.call(self._store.get, account_id)
            cached = self._cache.get(account_id)
            if (
                cached is not None
                and cached.tokens is not None
                and cached.tokens.issued_at == record.issued_at
                and record.rotation_pending is None
                and record.history
                and record.history[-1].outcome == "ok"
            ):
                # The metadata vouches for our copy: the keychain changes only under the account's lock, each
                # change is followed by a success write with its issued_at or leaves the rotation-pending mark up
                # (a process killed in between, a store that refused the write; a mark taken down at exit carries
                # the tokens' fields, see _synced), and a failed attempt may have saved a rescued refresh token
                # under the same issued_at, so after one the keychain is read. Saves a keychain read per refresh.
                entry = cached
            else:
                try:
                    entry = await self._load(account_id)  # another process refreshed or reconnected meanwhile
                except NeedsSignIn as exc:  # missing or damaged item: only a new sign-in brings tokens back
                    await self._needs_sign_in(account_id, str(exc), None)
                    raise
            tokens = entry.tokens
            assert tokens is not None
            if record.issued_at != tokens.issued_at and not record.state.is_terminal:
                # A process stopped between the keychain write and the metadata write: the keychain wins.
                record = await self._adopt(account_id, tokens, "adopted the keychain's newer tokens")
            now = self._clock.now()
            if not needs(tokens, now):
                return tokens
            if record.state is AccountState.NEEDS_SIGN_IN:
                raise NeedsSignIn(sign_in_message(record), account=record.name)
            if record.state is AccountState.CONFIG_ERROR:
                raise ClientConfigError(sign_in_message(record), account=record.name, hint=Hint.RECONNECT)
            if record.rotation_pending not in (None, self._owner):
                await self._rotation_pending(record)
            if tokens.refresh_token is None or (
                tokens.refresh_expires_at is not None and tokens.refresh_expires_at <= now
            ):
                if tokens.valid_for(now) > 0:
                    return tokens  # the best there is; it cannot be renewed without the user
                reason = "The access token expired and there is no usable refresh token."
                await self._needs_sign_in(account_id, reason, None)
                raise NeedsSignIn(reason, account=record.name)
            if self._stopping:
                raise ShuttingDown("Tokendesk is shutting down; nothing was sent.")
            # The mark goes up before the request: until the answer is in the keychain (or the attempt failed
            # without a rotation), this process may hold a newer refresh token than the keychain.
            await self._update(
                account_id, lambda r: replace(r.apply(Event.REFRESH_STARTED), rotation_pending=self._owner)
            )
            try:
                return await self._send_and_keep(record, entry, tokens)
            except InvalidGrant as exc:
                adopted = await self._adopt_if_rotated_elsewhere(account_id, tokens)
                if adopted is not None:
                    return adopted
                await self._needs_sign_in(account_id, str(exc), exc.advice)
                raise
            except Exception as exc:
                try:
                    await self._record_failure(account_id, exc)
                except TokendeskError as also:
                    log.error("could not record the failed refresh of %s: %s", account_id, also)
                raise

    async def _send_and_keep(self, record: AccountRecord, entry: VaultEntry, tokens: TokenSet) -> TokenSet:
        """The sacred window: from the request to the keychain write. Shielded, so a cancelled caller (or a
        signal's shutdown) cannot end it between the provider's answer and the save."""

        async def window() -> TokenSet:
            new = await self._call(record, entry, tokens)
            await self._keep(record.id, entry, tokens, new)
            release_slot()  # done with the provider and the keychain; the next account's mark can share this write
            now = self._clock.now()
            try:
                await self._update(
                    record.id,
                    lambda r: r.apply(Event.REFRESH_SUCCEEDED).with_tokens(new, now).with_attempt(Attempt(now, "ok")),
                    linger=True,
                )
            except StoreError as exc:
                # The tokens are safe in the keychain; the metadata catches up on the next attempt.
                log.error("refreshed %s but could not record it: %s", record.id, exc)
            return new

        task = asyncio.ensure_future(window())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # Keep the account's lock until the window closes: released now, another process would send the
            # refresh token this one may be rotating.
            await asyncio.wait({task}, timeout=self._policy.drain_timeout_s)
            raise

    async def _record_failure(self, account_id: str, exc: Exception) -> None:
        now = self._clock.now()
        offline = isinstance(exc, TransientError) and exc.offline
        retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None

        def change(r: AccountRecord) -> AccountRecord:
            synced, pending = self._synced(account_id, r), self._holding(account_id, r)
            if is_config_error(exc):
                return config_rejected(synced, now=now, reason=str(exc), rotation_pending=pending)
            delay_s = self.backoff_s(r.failures, retry_after=retry_after, offline=offline)
            return retrying(synced, exc, now=now, delay_s=delay_s, rotation_pending=pending)

        await self._update(account_id, change)

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._lazy_http.get()

    @_http.setter
    def _http(self, client: httpx.AsyncClient) -> None:  # tests swap the transport
        self._lazy_http = LazyHttp(client)

    async def _call(self, record: AccountRecord, entry: VaultEntry, tokens: TokenSet) -> TokenSet:
        from .oauth import Client, refresh_grant  # httpx: only when a refresh is sent

        client = Client(record.client_id, entry.client_secret)
        try:
            try:
                return await refresh_grant(self._http, record.provider, client, tokens, now=self._clock.now())
            except TransientError as exc:
                if not exc.maybe_processed:
                    raise
                # The provider may have rotated the token without our seeing the answer. Providers with a
                # rotation grace period (Okta, Auth0, Keycloak, Entra) still accept the old token now, not later.
                log.info("refresh of %s lost its answer; retrying at once with the same token", record.id)
                return await refresh_grant(self._http, record.provider, client, tokens, now=self._clock.now())
        except MalformedResponse as exc:
            if isinstance(exc.rescued_tokens, TokenSet):
                # Keep the rotated refresh token even though the rest of the answer (first or retried) was unusable.
                await self._keep(record.id, entry, tokens, exc.rescued_tokens)
            raise

    async def _keep(self, account_id: str, entry: VaultEntry, old: TokenSet, new: TokenSet) -> None:
        """Save new tokens to the keychain before anyone uses them. If the keychain refuses a rotated refresh
        token, keep it in memory and mark the account so no process spends the old one meanwhile."""
        updated = replace(entry, tokens=new)
        try:
            await self._vault.save(account_id, updated)
        except VaultError:
            if new.refresh_token is not None and new.refresh_token != old.refresh_token:
                # The metadata's rotation-pending mark (set before the request) stays up until this is saved.
                self._unsaved[account_id] = self._cache[account_id] = updated
            raise
        self._cache[account_id] = updated

    async def _save_unsaved(self, account_id: str) -> None:
        """Under the account's lock: put a rotated token the keychain refused earlier where it belongs."""
        pending = self._unsaved.get(account_id)
        if pending is None:
            return
        await self._vault.save(account_id, pending)
        del self._unsaved[account_id]
        assert pending.tokens is not None
        await self._adopt(account_id, pending.tokens, "saved the refreshed tokens the keychain refused earlier")

    async def _adopt(self, account_id: str, tokens: TokenSet, why: str) -> AccountRecord:
        log.info("%s: %s", account_id, why)
        now = self._clock.now()
        return await self._update(account_id, lambda r: r.apply(Event.REFRESH_SUCCEEDED).with_tokens(tokens, now))

    async def _rotation_pending(self, record: AccountRecord) -> None:
        """Another process was refreshing this account and may hold a newer refresh token than the keychain:
        the keychain's may be spent, so it must not be sent."""
        owner = record.rotation_pending
        assert owner is not None
        if self._owner_alive(owner):
            raise RotationPending(waiting_elsewhere(record), account=record.name)
        await self._needs_sign_in(record.id, LOST_ROTATION, None)
        raise NeedsSignIn(LOST_ROTATION, account=record.name)

    async def _adopt_if_rotated_elsewhere(self, account_id: str, used: TokenSet) -> TokenSet | None:
        latest = await self._vault.load(account_id)
        if latest is None or latest.tokens is None or latest.tokens.refresh_token == used.refresh_token:
            return None
        log.info("refresh token of %s was rotated by another process; adopting it", account_id)
        self._cache[account_id] = latest
        await self._adopt(account_id, latest.tokens, "adopted a refresh token rotated elsewhere")
        return latest.tokens

    async def _needs_sign_in(self, account_id: str, reason: str, advice: str | None) -> None:
        now = self._clock.now()
        before = await self._store.call(self._store.get, account_id)
        record = await self._update(
            account_id,
            lambda r: r.apply(
                Event.GRANT_REJECTED, last_error=reason, advice=advice, retry_at=None, rotation_pending=None
            ).with_attempt(Attempt(now, "needs_sign_in", reason)),
        )
        if before.state is not AccountState.NEEDS_SIGN_IN:
            self._bus.emit(NeedsSignInRaised(record, advice or reason))

    def _saved(self, account_id: str) -> TokenSet | None:
        return entry.tokens if (entry := self._cache.get(account_id)) is not None else None

    def _synced(self, account_id: str, record: AccountRecord) -> AccountRecord:
        return synced(record, self._saved(account_id), unsaved=account_id in self._unsaved)

    def _holding(self, account_id: str, record: AccountRecord) -> str | None:
        return holding(record, self._owner, unsaved=account_id in self._unsaved)
