"""One example per defect found in the engine's failure paths (issue 7), each failing on the code before its fix.

The engine runs against an in-memory keychain behind the real Vault, a real accounts.json, and a scripted
token endpoint; time is simulated, and the background loop runs until it goes quiet at every step."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from keyring.errors import KeyringLocked

from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore
from desktop_app.core.errors import InvalidGrant, NeedsSignIn, RotationPending, StoreError, TransientError
from desktop_app.core.events import EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault, VaultEntry
from tests.clock import SimClock
from tests.core.conftest import TokenEndpoint, fail, ok, seed_account
from tests.core.test_engine_faults import engines_quiet
from tests.memory_keyring import MemoryKeyring

SERVICE = "tokendesk-defects"


@dataclass
class Process:
    engine: RefreshEngine
    store: AccountStore
    http: httpx.AsyncClient


@dataclass
class World:
    root: Path
    clock: SimClock
    keyring: MemoryKeyring
    vault: Vault
    endpoint: TokenEndpoint
    alive: set[str]
    processes: list[Process]
    record: AccountRecord

    def start(self, owner: str) -> Process:
        store = AccountStore(self.root / "accounts.json")
        http = new_http_client(transport=httpx.MockTransport(self.endpoint.handle))
        self.alive.add(owner)
        engine = RefreshEngine(
            store=store,
            vault=self.vault,
            http=http,
            clock=self.clock,
            bus=EventBus(),
            lock_dir=self.root / "locks",
            policy=RefreshPolicy(max_jitter_s=0),
            rng=random.Random(1),
            owner=owner,
            owner_alive=lambda o: o in self.alive,
        )
        proc = Process(engine, store, http)
        self.processes.append(proc)
        return proc

    @property
    def engine(self) -> RefreshEngine:
        return self.processes[0].engine

    def get(self) -> AccountRecord:
        return AccountStore(self.root / "accounts.json").get(self.record.id)

    async def stored(self) -> TokenSet:
        entry = await self.vault.load(self.record.id)
        assert entry is not None and entry.tokens is not None
        return entry.tokens

    async def run_loop(self, seconds: float, step_s: float = 5.0) -> None:
        """Run the first engine's background loop for `seconds` of simulated time, settling at each step."""
        engine = self.engine
        task = asyncio.ensure_future(engine.run())
        try:
            await self._quiet(engine)
            for _ in range(int(seconds / step_s)):
                self.clock.advance(step_s)
                await self._quiet(engine)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _quiet(self, engine: RefreshEngine) -> None:
        async with asyncio.timeout(10):  # a spinning loop never gets quiet
            while not engines_quiet(self.clock, [engine]):  # noqa: ASYNC110 - a condition over engine internals
                await asyncio.sleep(0.001)


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    keyring = MemoryKeyring()
    vault = Vault(service=SERVICE, backend=keyring, require_secure=False, timeout_s=5, retry_delays_s=())
    clock = SimClock()
    store = AccountStore(tmp_path / "accounts.json")
    record = await seed_account(store, vault, clock.now(), access="at-initial-0001", refresh="rt-initial-0001")
    w = World(tmp_path, clock, keyring, vault, TokenEndpoint(), set(), [], record)
    w.start("p1")
    clock.advance(1)
    yield w
    for proc in w.processes:
        await proc.http.aclose()
    vault.close()


def keychain_calls(world: World) -> int:
    return len(world.keyring.calls)


def refuse_saves(world: World, n: int) -> None:
    """The next `n` writes to the keychain fail as locked; reads still work."""
    real = world.keyring.set_password
    left = [n]

    def set_password(service: str, username: str, password: str) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise KeyringLocked("locked")
        real(service, username, password)

    world.keyring.set_password = set_password  # type: ignore[method-assign]


# --- 1. lost updates between threads ------------------------------------------------------------------------


def test_threads_of_one_process_never_lose_an_update(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    records = [
        AccountRecord(
            id=AccountRecord.new_id(), name=f"a{i}", provider=seed_provider(), client_id="c", scopes=(), created_at=i
        )
        for i in range(8)
    ]
    for r in records:
        store.add(r)

    def bump(account_id: str) -> None:
        for _ in range(30):
            store.update(account_id, lambda r: replace(r, failures=r.failures + 1))

    threads = [threading.Thread(target=bump, args=(records[i % 8].id,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.failures for r in AccountStore(tmp_path / "accounts.json").all()] == [60] * 8


def seed_provider():  # type: ignore[no-untyped-def]
    from tests.core.conftest import SPEC

    return SPEC


# --- 2. the loop never spins --------------------------------------------------------------------------------


async def test_metadata_older_than_the_keychain_is_brought_up_to_date_without_a_request(world: World) -> None:
    # A process was killed between the keychain write and the metadata write.
    world.clock.advance(250)  # the old metadata says: due
    newer = replace(await world.stored(), issued_at=world.clock.now(), expires_at=world.clock.now() + 300)
    await world.vault.save(world.record.id, VaultEntry(tokens=newer))
    before = keychain_calls(world)
    await world.run_loop(60)
    assert world.endpoint.requests == []
    assert world.get().issued_at == newer.issued_at
    assert keychain_calls(world) - before <= 3


async def test_a_locked_keychain_is_retried_with_growing_pauses_and_recovers(world: World) -> None:
    world.clock.advance(250)
    world.keyring.fail_next(*[KeyringLocked()] * 1000)
    before = keychain_calls(world)
    await world.run_loop(600)
    tries = keychain_calls(world) - before
    assert world.endpoint.requests == []  # nothing is sent without the keychain
    assert 3 <= tries <= 20, tries  # 5, 10, 20, 40, then every 60 s or so
    world.keyring._faults.clear()  # unlocked
    world.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    await world.run_loop(70)
    assert world.get().state is AccountState.VALID
    assert (await world.stored()).refresh_token == Secret("rt-second-0002")
    assert len(world.endpoint.requests) == 1


async def test_an_expired_refresh_token_with_a_valid_access_token_waits_for_expiry(world: World) -> None:
    tokens = replace(await world.stored(), refresh_expires_at=world.clock.now() - 1)
    await world.vault.save(world.record.id, VaultEntry(tokens=tokens))
    world.processes[0].store.update(world.record.id, lambda r: r.with_tokens(tokens, world.clock.now()))
    before = keychain_calls(world)
    await world.run_loop(200)
    assert keychain_calls(world) - before <= 2 and world.endpoint.requests == []
    await world.run_loop(150)  # the access token expired: the user has to sign in
    assert world.get().state is AccountState.NEEDS_SIGN_IN
    assert world.endpoint.requests == []


async def test_a_retry_after_that_is_not_ascii_digits_backs_off(world: World) -> None:
    world.clock.advance(250)
    world.endpoint.replies = [httpx.Response(429, headers=[(b"Retry-After", "²".encode())])] * 50
    await world.run_loop(120)
    record = world.get()
    assert record.state is AccountState.RETRYING and record.retry_at is not None
    assert record.retry_at > world.clock.now()
    assert len(world.endpoint.requests) <= 8  # 5 s, 10 s, 20 s, 40 s... apart


async def test_tokens_born_expired_are_not_refreshed_in_a_loop(world: World) -> None:
    world.clock.advance(250)
    world.endpoint.replies = [ok(f"at-{i:04}", f"rt-{i:04}", expires_in=0) for i in range(200)]
    await world.run_loop(600)
    sent = len(world.endpoint.requests)
    assert 2 <= sent <= 20, sent  # growing pauses, not one request per wake


# --- 3. a rotated token the keychain refused ----------------------------------------------------------------


async def test_a_rotation_the_keychain_refused_is_never_spent_by_another_process(world: World) -> None:
    a = world.engine
    b = world.start("p2").engine
    world.endpoint.replies = [ok("at-second-0002", "rt-second-0002"), ok("at-third-0003", "rt-third-0003")]
    refuse_saves(world, 1)  # the save after the rotation
    with pytest.raises(Exception, match="locked"):
        await a.refresh_now(world.record.id)
    assert world.get().rotation_pending == "p1"
    assert (await world.stored()).refresh_token == Secret("rt-initial-0001")  # spent at the provider

    with pytest.raises(RotationPending) as refused:
        await b.refresh_now(world.record.id)
    assert refused.value.exit_code == 5
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001"]

    await a.drain()  # shutting down: the save is tried again, and the mark comes down
    assert (await world.stored()).refresh_token == Secret("rt-second-0002")
    assert world.get().rotation_pending is None
    world.clock.advance(1)
    await b.refresh_now(world.record.id)
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-second-0002"]


async def test_a_rotation_lost_with_its_process_means_sign_in_not_reuse(world: World) -> None:
    world.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    refuse_saves(world, 1)
    with pytest.raises(Exception, match="locked"):
        await world.engine.refresh_now(world.record.id)
    world.alive.discard("p1")  # killed with the token in its memory
    other = world.start("p3").engine
    with pytest.raises(NeedsSignIn):
        await other.refresh_now(world.record.id)
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001"]
    assert world.get().state is AccountState.NEEDS_SIGN_IN


async def test_a_new_sign_in_drops_the_old_grants_unsaved_rotation(world: World) -> None:
    engine = world.engine
    world.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    refuse_saves(world, 1)
    with pytest.raises(Exception, match="locked"):
        await engine.refresh_now(world.record.id)
    fresh = TokenSet(Secret("at-new-grant"), "Bearer", world.clock.now(), world.clock.now() + 300, Secret("rt-new"))
    # What Service.reconnect does under the account's lock.
    async with engine.exclusive(world.record.id):
        engine.forget(world.record.id)
        await world.vault.save(world.record.id, VaultEntry(tokens=fresh))
        world.processes[0].store.update(world.record.id, lambda r: r.with_tokens(fresh, world.clock.now()))
    engine.remember(world.record.id, VaultEntry(tokens=fresh))
    assert (await engine.get_token(world.record.id)).access_token == Secret("at-new-grant")
    await engine.drain()
    assert (await world.stored()).refresh_token == Secret("rt-new")  # never overwritten by the old grant's
    assert world.get().rotation_pending is None


# --- 6. scripts honour Retry-After --------------------------------------------------------------------------


async def test_token_calls_during_a_backoff_fail_fast_without_a_request(world: World) -> None:
    world.endpoint.replies = [fail(429, headers={"Retry-After": "3600"}), ok("at-second-0002", "rt-second-0002")]
    world.clock.advance(250)
    with pytest.raises(TransientError):
        await world.engine.get_token(world.record.id)
    for _ in range(5):
        with pytest.raises(TransientError, match=r"next attempt is due at \d\d:\d\d:\d\d UTC") as waiting:
            await world.engine.get_token(world.record.id)
        assert waiting.value.exit_code == 4
    assert len(world.endpoint.requests) == 1
    await world.engine.refresh_now(world.record.id)  # the user asked: one try
    assert len(world.endpoint.requests) == 2 and world.get().state is AccountState.VALID


# --- 7. one damaged record ----------------------------------------------------------------------------------


async def test_a_damaged_record_stays_in_its_record(world: World) -> None:
    path = world.root / "accounts.json"
    data = json.loads(path.read_text())
    bad = json.loads(json.dumps(data["accounts"][0]))
    bad.update(id="bad-endpoint", name="Old", created_at=0.5)
    bad["provider"]["token_endpoint"] = "http://idp.example.com/token"  # refused by today's rules
    garbage = {"id": "garbage", "name": "Broken", "created_at": 0.25}  # no provider at all
    data["accounts"] += [bad, garbage]
    path.write_text(json.dumps(data))

    records = {r.id: r for r in AccountStore(path).all()}
    assert records["bad-endpoint"].state is AccountState.CONFIG_ERROR
    assert "HTTPS" in (records["bad-endpoint"].last_error or "")
    assert records["garbage"].state is AccountState.CONFIG_ERROR and records["garbage"].name == "Broken"
    with pytest.raises(StoreError):
        AccountStore(path).update("bad-endpoint", lambda r: r)

    world.clock.advance(250)
    world.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    await world.run_loop(30)  # the loop survives and refreshes the good account
    assert world.get().state is AccountState.VALID and len(world.endpoint.requests) == 1
    kept = {a["id"]: a for a in json.loads(path.read_text())["accounts"]}
    assert kept["bad-endpoint"] == bad and kept["garbage"] == garbage  # written back untouched


# --- 8. a bare refusal of a refresh -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401])
async def test_a_refresh_refused_without_a_reason_needs_sign_in(world: World, status: int) -> None:
    world.endpoint.replies = [httpx.Response(status, content=b"")]
    with pytest.raises(InvalidGrant, match="refused the refresh without saying why") as refused:
        await world.engine.refresh_now(world.record.id)
    assert refused.value.exit_code == 3
    record = world.get()
    assert record.state is AccountState.NEEDS_SIGN_IN and "Reconnect" in (record.advice or "")


# --- 9. smaller ones ----------------------------------------------------------------------------------------


async def test_jitter_keeps_no_memory(world: World) -> None:
    engine = RefreshEngine(
        store=world.processes[0].store,
        vault=world.vault,
        http=world.processes[0].http,
        clock=world.clock,
        bus=EventBus(),
        lock_dir=world.root / "locks",
        rng=random.Random(7),
    )
    record = world.get()
    first = engine.due_at(record)
    sizes = {k: len(v) for k, v in vars(engine).items() if isinstance(v, dict | set | list)}
    for i in range(5000):
        engine.due_at(replace(record, issued_at=1000.0 + i, expires_at=1300.0 + i))
    assert {k: len(v) for k, v in vars(engine).items() if isinstance(v, dict | set | list)} == sizes
    assert engine.due_at(record) == first  # the same tokens keep the same point
    assert record.issued_at is not None and record.expires_at is not None
    assert record.issued_at + 225 - 15 <= (first or 0) <= record.issued_at + 225


async def test_a_damaged_keychain_item_means_reconnect(world: World) -> None:
    world.keyring.set_password(SERVICE, world.record.id, "{not json")
    with pytest.raises(NeedsSignIn) as damaged:
        await world.engine.refresh_now(world.record.id)
    assert damaged.value.exit_code == 3
    assert world.get().state is AccountState.NEEDS_SIGN_IN
    assert world.endpoint.requests == []


# --- who holds a rotation: a process, named so a reused pid is not mistaken for it ---------------------------


def test_the_owner_of_a_mark_is_alive_only_while_that_very_process_runs() -> None:
    import os
    import subprocess
    import sys

    from desktop_app.core.refresh import owner_is_alive, process_owner

    me = process_owner()
    pid, started = me.split(":")
    assert pid == str(os.getpid()) and started.isdigit()  # Linux: the start time in clock ticks
    assert owner_is_alive(me)
    assert not owner_is_alive(f"{pid}:{int(started) + 1}")  # the same pid, another process (pid reuse)
    assert owner_is_alive(f"{pid}:")  # no start time known (other systems): the pid alone decides

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not owner_is_alive(process_owner(child.pid))  # it exited
    assert not owner_is_alive("not-a-pid") and not owner_is_alive("")
    assert owner_is_alive("1:")  # pid 1 belongs to another user or to us: never ours to declare dead


async def test_a_rotated_token_in_an_unusable_answer_to_the_retry_is_kept(world: World) -> None:
    """The first answer is lost, the immediate retry answers without an access token but with a new refresh
    token: that token is the grant now, and must reach the keychain."""
    from desktop_app.core.errors import MalformedResponse

    lost = httpx.ReadError("reset after the answer", request=httpx.Request("POST", "https://id.example.com/token"))
    world.endpoint.replies = [lost, httpx.Response(200, json={"token_type": "Bearer", "refresh_token": "rt-rescued"})]
    with pytest.raises(MalformedResponse):
        await world.engine.refresh_now(world.record.id)
    assert (await world.stored()).refresh_token == Secret("rt-rescued")
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-initial-0001"]
