"""Stateful property test of the refresh engine under faults.

Several engines stand for several processes: each has its own store object on one accounts.json, and they share
one lock directory, one in-memory keychain, one clock and one scripted provider that rotates refresh tokens on
every use and revokes the grant when a spent one comes back (reuse detection). Any keychain call, store write
or provider call may fail, lose its answer or be cancelled; time jumps; processes stop (draining) or are killed.

After every step, once every engine's background loop has gone quiet:
- no refresh token is presented after its rotation's answer reached the engine (spending it twice);
- the provider never saw a spent token it had delivered a rotation for (reuse detection never fires);
- every account is terminal or has its next attempt in the future, in every running engine;
- a needs-sign-in account has a reason: its grant is dead at the provider, or a process holding its rotated
  token was killed;
- a process that stopped gracefully with a working keychain left no rotated token only in its memory;
- at one instant, an engine makes a bounded number of provider requests and keychain calls (no spinning).

HYPOTHESIS_PROFILE=thorough runs many more examples (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore, Identity
from desktop_app.core.errors import StoreError, TokendeskError, VaultLocked, VaultUnavailable
from desktop_app.core.events import EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault, VaultEntry
from tests.clock import SimClock
from tests.core.conftest import SPEC

settings.register_profile(
    "ci", max_examples=150, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "thorough",
    max_examples=int(os.environ.get("TOKENDESK_FAULT_EXAMPLES", "600")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

ACCOUNTS = 2
LIFETIME_S = 300
GRACE_S = 5.0  # the provider accepts the previous token again this soon after rotating (Okta, Auth0)
SETTLE_REAL_S = 10.0


# --- the simulated world ----------------------------------------------------------------------------------


def engines_quiet(clock: SimClock, engines: list[RefreshEngine]) -> bool:
    """Every loop has seen the current time, planned, and sleeps; nothing is queued, in flight or waking it."""
    busy = any(e._background or e._inflight or e._wake.is_set() for e in engines)
    return not busy and clock.seen_everything(len(engines))


@dataclass
class Grant:
    current: str
    previous: str | None = None
    rotated_at: float = 0.0
    dead: bool = False
    n: int = 0


@dataclass
class Provider:
    """Single-use rotation with reuse detection, and the faults a network and a server can produce."""

    clock: SimClock
    grants: dict[str, Grant] = field(default_factory=dict)  # by account id
    owner: dict[str, str] = field(default_factory=dict)  # refresh token -> account id
    delivered: set[str] = field(default_factory=set)  # tokens whose rotation answer reached the engine
    lost: set[str] = field(default_factory=set)  # tokens the provider rotated but whose answer was lost
    spent_twice: list[str] = field(default_factory=list)
    reuse_detected: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    requests_at: list[float] = field(default_factory=list)
    gate: asyncio.Event | None = None

    def grant(self, account_id: str) -> str:
        token = f"rt-{account_id[:6]}-0-{uuid.uuid4().hex[:6]}"
        self.grants[account_id] = Grant(current=token)
        self.owner[token] = account_id
        return token

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests_at.append(self.clock.now())
        form = dict(parse_qsl(request.content.decode()))
        token = form.get("refresh_token", "")
        if token in self.delivered:
            self.spent_twice.append(token)
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "offline":
            raise httpx.ConnectError("refused", request=request)
        if fault == "503":
            return httpx.Response(503, json={"error": "server_error"}, headers={"Retry-After": "120"})
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "3600"})
        if fault == "429-odd":
            return httpx.Response(429, headers=[(b"Retry-After", "²".encode())])  # isdigit() says yes
        if fault == "html":
            return httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"})
        if self.gate is not None:
            await self.gate.wait()
        answer = self._rotate(token, expires_in=0 if fault == "expires0" else LIFETIME_S)
        if fault == "lost" and answer.status_code == 200:
            self.lost.add(token)
            raise httpx.ReadError("connection reset after the server answered", request=request)
        body = answer.json()
        if answer.status_code == 200:
            self.delivered.add(token)
            assert body["refresh_token"]
        return answer

    def _rotate(self, token: str, *, expires_in: int) -> httpx.Response:
        account_id = self.owner.get(token)
        grant = None if account_id is None else self.grants.get(account_id)
        if grant is None or grant.dead:
            return httpx.Response(400, json={"error": "invalid_grant"})
        now = self.clock.now()
        in_grace = token == grant.previous and now - grant.rotated_at <= GRACE_S
        if token != grant.current and not in_grace:
            self.reuse_detected.append(token)
            grant.dead = True  # RFC 9700 §4.14.2: a spent token came back; revoke the whole grant
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "reuse detected"})
        grant.n += 1
        new = f"rt-{cast(str, account_id)[:6]}-{grant.n}-{uuid.uuid4().hex[:6]}"
        self.owner[new] = cast(str, account_id)
        grant.previous, grant.current, grant.rotated_at = grant.current, new, now
        return httpx.Response(
            200,
            json={
                "access_token": f"at-{uuid.uuid4().hex[:8]}",
                "token_type": "Bearer",
                "expires_in": expires_in,
                "refresh_token": new,
            },
        )


class SharedKeychain:
    """The one keychain all processes share: entries as the real vault serialises them."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.locked = False
        self.fail_next: list[str] = []  # "load", "save" or "any": the next matching call fails
        self.calls_at: list[float] = []
        self.failures = 0

    def check(self, op: str, now: float) -> None:
        self.calls_at.append(now)
        if self.locked:
            self.failures += 1
            raise VaultLocked("The keychain is locked.")
        for i, kind in enumerate(self.fail_next):
            if kind in (op, "any"):
                del self.fail_next[i]
                self.failures += 1
                raise VaultUnavailable("The keychain failed (injected).")


class ProcessVault:
    """One process's view of the shared keychain, with the real Vault's interface and serialisation."""

    def __init__(self, keychain: SharedKeychain, clock: SimClock) -> None:
        self._keychain = keychain
        self._clock = clock

    async def load(self, account_id: str) -> VaultEntry | None:
        await asyncio.sleep(0)  # a real call is never synchronous
        self._keychain.check("load", self._clock.now())
        text = self._keychain.items.get(account_id)
        return None if text is None else VaultEntry.loads(text)

    async def save(self, account_id: str, entry: VaultEntry) -> None:
        await asyncio.sleep(0)
        self._keychain.check("save", self._clock.now())
        self._keychain.items[account_id] = entry.dumps()

    async def delete(self, account_id: str) -> None:
        self._keychain.items.pop(account_id, None)


class FaultyStore(AccountStore):
    """accounts.json with writes that fail on demand (disk full, permissions)."""

    def __init__(self, path: Path, faults: list[str]) -> None:
        super().__init__(path)
        self._faults = faults

    def _write(self, records: dict[str, AccountRecord]) -> None:
        if self._faults:
            self._faults.pop(0)
            raise StoreError("Cannot write accounts.json (injected).")
        super()._write(records)


@dataclass
class Process:
    owner: str
    engine: RefreshEngine
    http: httpx.AsyncClient
    loop_task: asyncio.Task[None]


# --- the state machine --------------------------------------------------------------------------------------


class EngineUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="tokendesk-faults-")
        root = Path(self.tmp.name)
        self.accounts_file = root / "config" / "accounts.json"
        self.lock_dir = root / "state" / "locks"
        self.clock = SimClock()
        self.provider = Provider(self.clock)
        self.keychain = SharedKeychain()
        self.store_faults: list[str] = []
        self.alive: set[str] = set()
        self.processes: list[Process] = []
        self.lost_rotation: set[str] = set()  # accounts whose rotated token died with a killed process
        self.revoked: set[str] = set()
        self.next_owner = 0
        self.ids = self.run(self._seed())
        for _ in range(2):
            self.processes.append(self._start())
        self.settle()

    # --- plumbing ---

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def _seed(self) -> list[str]:
        store = AccountStore(self.accounts_file)
        ids = []
        now = self.clock.now()
        for i in range(ACCOUNTS):
            record = AccountRecord(
                id=AccountRecord.new_id(),
                name=f"acct{i}",
                provider=SPEC,
                client_id="cid",
                scopes=("openid",),
                identity=Identity(subject=str(i)),
                created_at=now + i,
            )
            tokens = TokenSet(
                access_token=Secret(f"at-seed-{i}"),
                token_type="Bearer",
                issued_at=now - 100 * i,
                expires_at=now - 100 * i + LIFETIME_S,
                refresh_token=Secret(self.provider.grant(record.id)),
            )
            store.add(record.with_tokens(tokens, now))
            self.keychain.items[record.id] = VaultEntry(tokens=tokens).dumps()
            ids.append(record.id)
        return ids

    def _start(self) -> Process:
        self.next_owner += 1
        owner = f"proc-{self.next_owner}"
        self.alive.add(owner)

        async def make() -> Process:
            http = new_http_client(transport=httpx.MockTransport(self.provider.handle))
            engine = RefreshEngine(
                store=FaultyStore(self.accounts_file, self.store_faults),
                vault=cast(Vault, ProcessVault(self.keychain, self.clock)),
                http=http,
                clock=self.clock,
                bus=EventBus(),
                lock_dir=self.lock_dir,
                policy=RefreshPolicy(lock_timeout_s=5.0, drain_timeout_s=5.0),
                rng=random.Random(self.next_owner),
                owner=owner,
                owner_alive=lambda o: o in self.alive,
            )
            return Process(owner, engine, http, asyncio.ensure_future(engine.run()))

        return cast(Process, self.run(make()))

    def settle(self) -> None:
        """Run until every engine's loop sleeps with nothing in flight; count what happened at this instant."""
        requests_before = len(self.provider.requests_at)
        keychain_before = len(self.keychain.calls_at)
        for proc in self.processes:
            proc.engine.wake()  # what each loop's periodic re-read does: see what other processes wrote

        async def quiet() -> None:
            async with asyncio.timeout(SETTLE_REAL_S):  # a spinning loop never gets quiet
                while not engines_quiet(self.clock, [p.engine for p in self.processes]):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)

        self.run(quiet())
        engines = len(self.processes)
        # Per instant and engine: at most an attempt per account, each at most two requests (the retry after a
        # lost answer), plus explicit calls made by the rule itself (counted generously).
        assert len(self.provider.requests_at) - requests_before <= 2 * ACCOUNTS * (engines + 2) + 4
        assert len(self.keychain.calls_at) - keychain_before <= 8 * ACCOUNTS * (engines + 2) + 16

    async def _call(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        with contextlib.suppress(TokendeskError):  # any honest error: the invariants judge what it left behind
            await fn()

    # --- rules ---

    @rule(seconds=st.sampled_from([1.0, 10.0, 45.0, 120.0, 240.0, 900.0, 3600.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    @rule(p=st.integers(0, 3), a=st.integers(0, ACCOUNTS - 1), min_valid=st.sampled_from([0.0, 60.0, 3600.0]))
    def script_asks_for_a_token(self, p: int, a: int, min_valid: float) -> None:
        engine = self.processes[p % len(self.processes)].engine
        self.run(self._call(lambda: engine.get_token(self.ids[a], min_valid_s=min_valid)))
        self.settle()

    @rule(a=st.integers(0, ACCOUNTS - 1))
    def every_process_asks_at_once(self, a: int) -> None:
        async def together() -> None:
            await asyncio.gather(
                *(self._call(lambda e=p.engine: e.get_token(self.ids[a], min_valid_s=3600)) for p in self.processes)
            )

        self.run(together())
        self.settle()

    @rule(p=st.integers(0, 3), a=st.integers(0, ACCOUNTS - 1))
    def user_presses_refresh(self, p: int, a: int) -> None:
        engine = self.processes[p % len(self.processes)].engine
        self.run(self._call(lambda: engine.refresh_now(self.ids[a])))
        self.settle()

    @rule(p=st.integers(0, 3), a=st.integers(0, ACCOUNTS - 1), ticks=st.integers(0, 6))
    def caller_gives_up(self, p: int, a: int, ticks: int) -> None:
        """A caller cancelled mid-refresh (a timeout, a closed window): the refresh itself must go on."""
        engine = self.processes[p % len(self.processes)].engine
        self.provider.gate = asyncio.Event()

        async def cancel_midway() -> None:
            task = asyncio.ensure_future(engine.refresh_now(self.ids[a]))
            for _ in range(ticks):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert self.provider.gate is not None
            self.provider.gate.set()

        self.run(cancel_midway())
        event("caller cancelled mid-refresh")
        self.provider.gate = None
        self.settle()

    @rule(kind=st.sampled_from(["offline", "lost", "503", "429", "429-odd", "html", "expires0"]), n=st.integers(1, 3))
    def provider_misbehaves(self, kind: str, n: int) -> None:
        event(f"provider fault: {kind}")
        self.provider.faults.extend([kind] * n)

    @rule(kind=st.sampled_from(["load", "save", "any"]), n=st.integers(1, 3))
    def keychain_fails(self, kind: str, n: int) -> None:
        event(f"keychain fault: {kind}")
        self.keychain.fail_next.extend([kind] * n)

    @rule(locked=st.booleans())
    def keychain_locks(self, locked: bool) -> None:
        self.keychain.locked = locked
        self.settle()

    @rule(n=st.integers(1, 4))
    def disk_refuses_writes(self, n: int) -> None:
        event("store write refused")
        self.store_faults.extend(["write"] * n)

    @rule(a=st.integers(0, ACCOUNTS - 1))
    def user_revokes_at_provider(self, a: int) -> None:
        self.provider.grants[self.ids[a]].dead = True
        self.revoked.add(self.ids[a])

    @rule(p=st.integers(0, 3))
    def process_stops(self, p: int) -> None:
        """SIGTERM: the process drains (sent refreshes reach the keychain, refused rotations are retried)."""
        proc = self.processes.pop(p % len(self.processes))
        failures_before = self.keychain.failures

        async def stop() -> None:
            proc.loop_task.cancel()
            await asyncio.gather(proc.loop_task, return_exceptions=True)
            await proc.engine.drain()
            await proc.http.aclose()

        self.run(stop())
        if self.keychain.failures == failures_before:  # the keychain answered every call while it drained
            assert not proc.engine._unsaved, "a rotated token stayed only in a stopped process's memory"
        self.lost_rotation.update(proc.engine._unsaved)
        self.alive.discard(proc.owner)
        event("process stopped by a signal (drained)")
        self.processes.append(self._start())
        self.settle()

    @rule(p=st.integers(0, 3))
    def process_is_killed(self, p: int) -> None:
        """SIGKILL between steps: whatever it held only in memory is gone."""
        proc = self.processes.pop(p % len(self.processes))
        proc.loop_task.cancel()
        self.run(asyncio.gather(proc.loop_task, return_exceptions=True))
        self.run(proc.http.aclose())
        self.lost_rotation.update(proc.engine._unsaved)
        self.alive.discard(proc.owner)
        event("process killed" + (" holding a refused rotation" if proc.engine._unsaved else ""))
        self.processes.append(self._start())
        self.settle()

    @rule()
    def faults_clear(self) -> None:
        """The keychain, the disk and the provider behave again.

        No precondition on the faults left: it would make the steps depend on thread timing, which hypothesis
        cannot replay."""
        self.keychain.locked = False
        self.keychain.fail_next.clear()
        self.store_faults.clear()
        self.provider.faults.clear()
        self.settle()

    # --- invariants ---

    @invariant()
    def no_refresh_token_is_spent_twice(self) -> None:
        assert self.provider.spent_twice == [], "a refresh token was sent again after its rotation was received"
        # Reuse the engine could not avoid: every answer rotating that token was lost on the way back.
        unavoidable = self.provider.lost - self.provider.delivered
        assert set(self.provider.reuse_detected) <= unavoidable, "the provider saw a spent refresh token"

    @invariant()
    def every_account_has_a_future(self) -> None:
        records = {r.id: r for r in AccountStore(self.accounts_file).all()}
        now = self.clock.now()
        for account_id in self.ids:
            record = records[account_id]
            if record.state is AccountState.NEEDS_SIGN_IN:
                grant = self.provider.grants[account_id]
                assert grant.dead or account_id in self.lost_rotation, (
                    f"needs sign-in without cause: {record.last_error}"
                )
                continue
            assert not record.state.is_terminal, f"unexpected {record.state}: {record.last_error}"
            for proc in self.processes:
                at = proc.engine._next_attempt(record)
                assert at is None or at > now, f"{record.state} due at {at} <= now {now} after the loop went quiet"
            if record.state in (AccountState.RETRYING, AccountState.ERROR):
                assert record.retry_at is not None

    def teardown(self) -> None:
        async def stop_all() -> None:
            for proc in self.processes:
                proc.loop_task.cancel()
                await asyncio.gather(proc.loop_task, return_exceptions=True)
                await proc.http.aclose()

        try:
            self.run(stop_all())
        finally:
            self.loop.close()
            self.tmp.cleanup()


EngineUnderFaults.TestCase.settings = settings.get_profile(PROFILE)
TestEngineUnderFaults = EngineUnderFaults.TestCase
TestEngineUnderFaults = pytest.mark.timeout(900)(TestEngineUnderFaults)


def test_the_scripted_provider_detects_reuse() -> None:
    """The net catches: sending a spent token is seen by the provider as reuse and kills the grant."""
    provider = Provider(SimClock())
    first = provider.grant("a" * 32)
    loop = asyncio.new_event_loop()
    try:

        async def send(token: str) -> httpx.Response:
            request = httpx.Request("POST", SPEC.token_endpoint, data={"refresh_token": token})
            return await provider.handle(request)

        assert loop.run_until_complete(send(first)).status_code == 200
        provider.clock.advance(GRACE_S + 1)
        assert loop.run_until_complete(send(first)).status_code == 400
    finally:
        loop.close()
    assert provider.spent_twice == [first] and provider.reuse_detected == [first]
    assert provider.grants["a" * 32].dead
