"""A refresh token is never spent twice across processes: two engines on the same files and lock directory.

Each engine has its own store, vault and HTTP client, as two processes would; only the files, the keyring (in memory)
and the lock directory are shared. The token endpoint holds the first refresh until the second engine has
reached the account's file lock, so the test does not depend on two start-ups happening to overlap.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord, AccountStore
from desktop_app.core.paths import AppPaths
from desktop_app.core.refresh import RefreshEngine
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault
from tests.clock import FakeClock
from tests.core.conftest import make_engine, memory_vault, ok, seed_account
from tests.memory_keyring import MemoryKeyring


class LockWatch:
    """Sees every exclusive flock() on one lock file, whichever thread or library makes it.

    Works below filelock on purpose: blocking in a thread, polling with LOCK_NB, or a future rewrite all end
    in flock(2). `contended` is set when a second attempt starts while the first holder has not released."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self._loop = loop
        self._mutex = threading.Lock()
        self.attempts = 0
        self.contended = asyncio.Event()

    def _is_ours(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}") == str(self.path)
        except OSError:
            return False

    def wrap(self, real: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        def flock(fd: Any, operation: int) -> None:
            number = fd if isinstance(fd, int) else fd.fileno()
            if operation & fcntl.LOCK_EX and self._is_ours(number):
                with self._mutex:
                    self.attempts += 1
                    second = self.attempts >= 2
                if second:
                    self._loop.call_soon_threadsafe(self.contended.set)
            real(fd, operation)

        return flock


@dataclass
class HeldEndpoint:
    """A token endpoint that holds the first request until `release` is set; records every form body."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[dict[str, str]] = field(default_factory=list)
    serial: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(dict(parse_qsl(request.content.decode())))
        self.arrived.set()
        self.serial += 1
        if self.serial == 1:
            await self.release.wait()
        return ok(f"at-new-{self.serial:04d}", f"rt-new-{self.serial:04d}")


@dataclass
class Process:
    """What one Tokendesk process owns."""

    engine: RefreshEngine
    store: AccountStore
    vault: Vault
    http: httpx.AsyncClient


@dataclass
class Pair:
    a: Process
    b: Process
    clock: FakeClock
    endpoint: HeldEndpoint
    record: AccountRecord
    watch: LockWatch


def start_process(
    paths: AppPaths, keychain: MemoryKeyring, service: str, clock: FakeClock, endpoint: HeldEndpoint
) -> Process:
    store = AccountStore(paths.accounts_file)
    vault = memory_vault(keychain, service)  # its own Vault (worker thread, cache) on the one shared keyring
    engine, http = make_engine(paths, store, vault, clock, endpoint.handle)
    return Process(engine, store, vault, http)


@pytest_asyncio.fixture
async def pair(paths: AppPaths, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pair]:
    service = f"tokendesk-test-{uuid.uuid4().hex[:8]}"
    clock = FakeClock()
    endpoint = HeldEndpoint()
    a = start_process(paths, memory, service, clock, endpoint)
    record = await seed_account(a.store, a.vault, clock.now(), access="at-initial-0001", refresh="rt-initial-0001")
    b = start_process(paths, memory, service, clock, endpoint)
    watch = LockWatch(paths.lock_dir / f"{record.id}.lock", asyncio.get_running_loop())
    monkeypatch.setattr(fcntl, "flock", watch.wrap(fcntl.flock))
    clock.advance(250)  # 50 s left of 300: both callers below need a refresh
    yield Pair(a, b, clock, endpoint, record, watch)
    await a.vault.delete(record.id)
    for process in (a, b):
        await process.http.aclose()
        process.vault.close()


async def hold_until_b_waits(pair: Pair, b_call: asyncio.Future[TokenSet]) -> None:
    """A's request is at the endpoint; release it only once B is at the lock (or failed to get there)."""
    await asyncio.wait_for(pair.endpoint.arrived.wait(), 10)
    contended: asyncio.Future[Any] = asyncio.ensure_future(pair.watch.contended.wait())
    racers: set[asyncio.Future[Any]] = {contended, b_call}
    done, _ = await asyncio.wait(racers, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    contended.cancel()
    await asyncio.gather(contended, return_exceptions=True)
    # B finishing first means it never waited for A: the lock did not hold it back.
    assert contended in done and b_call not in done, "the second engine never waited on the account's lock"
    assert len(pair.endpoint.requests) == 1
    pair.endpoint.release.set()


@pytest.mark.parametrize("a_call", ["get_token", "refresh_now"])
async def test_second_process_waits_and_adopts_the_rotation(pair: Pair, a_call: str) -> None:
    first = asyncio.ensure_future(
        pair.a.engine.get_token(pair.record.id, min_valid_s=60)
        if a_call == "get_token"
        else pair.a.engine.refresh_now(pair.record.id)
    )
    await asyncio.wait_for(pair.endpoint.arrived.wait(), 10)
    second = asyncio.ensure_future(pair.b.engine.get_token(pair.record.id, min_valid_s=60))
    await hold_until_b_waits(pair, second)
    got_a, got_b = await asyncio.wait_for(asyncio.gather(first, second), 10)

    assert pair.endpoint.requests == [
        {"grant_type": "refresh_token", "refresh_token": "rt-initial-0001", "client_id": "cid"}
    ]
    assert got_a.access_token == got_b.access_token == Secret("at-new-0001")
    assert got_b.refresh_token == Secret("rt-new-0001")
    stored = await pair.b.vault.load(pair.record.id)
    assert stored is not None and stored.tokens is not None
    assert stored.tokens.refresh_token == Secret("rt-new-0001")
    # Both processes' views of the account agree that it was refreshed once.
    assert pair.a.store.get(pair.record.id).issued_at == pair.b.store.get(pair.record.id).issued_at
    assert pair.b.store.get(pair.record.id).issued_at == got_a.issued_at


async def test_the_watch_sees_a_waiter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector itself: a second flock on the same file while held is seen; another file is not."""
    from filelock import FileLock, Timeout

    path = tmp_path / "x.lock"
    watch = LockWatch(path, asyncio.get_running_loop())
    monkeypatch.setattr(fcntl, "flock", watch.wrap(fcntl.flock))
    holder = FileLock(str(path), thread_local=False)
    other = FileLock(str(tmp_path / "y.lock"), thread_local=False)
    with holder, other:
        assert watch.attempts == 1
        await asyncio.sleep(0)
        assert not watch.contended.is_set()
        with pytest.raises(Timeout):
            FileLock(str(path), thread_local=False).acquire(timeout=0)
        await asyncio.wait_for(watch.contended.wait(), 5)
