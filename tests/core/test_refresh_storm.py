"""Many accounts due at once (issue 9's storm): the engine batches its accounts.json writes (marks in fewer writes
than accounts, each request only after its own mark is on disk) and re-plans only what changed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore
from desktop_app.core.errors import AccountNotFound, StoreError
from desktop_app.core.events import AccountChanged, CoreEvent, EventBus
from desktop_app.core.paths import AppPaths
from desktop_app.core.plan import Plan
from desktop_app.core.vault import Vault
from desktop_app.core.writes import WriteQueue
from tests.clock import FakeClock
from tests.core.conftest import SPEC, make_engine, ok, seed_account

N = 12
OWNER = "storm-test"


class SlowDisk(AccountStore):
    """A real store whose file writes take a while (a disk under load), counting them and what they held."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.marked_per_write: list[int] = []

    def _write(self, records: dict[str, AccountRecord]) -> None:
        time.sleep(0.01)
        super()._write(records)
        self.marked_per_write.append(sum(1 for r in records.values() if r.rotation_pending == OWNER))


def on_disk(path: Path) -> dict[str, dict[str, object]]:
    """accounts.json as another process would read it now."""
    return {r["id"]: r for r in json.loads(path.read_text("utf-8"))["accounts"]}


async def test_a_storm_writes_marks_together_and_no_request_leaves_before_its_own(
    paths: AppPaths, vault: Vault
) -> None:
    clock = FakeClock()
    store = SlowDisk(paths.accounts_file)
    by_token: dict[str, str] = {}
    for i in range(N):
        record = await seed_account(store, vault, clock.now(), access=f"at-{i:04}", refresh=f"rt-{i:04}", name=f"A{i}")
        by_token[f"rt-{i:04}"] = record.id
    writes_at_start = len(store.marked_per_write)
    unmarked_at_request: list[str] = []
    arrived = 0
    all_arrived = asyncio.Event()
    release = asyncio.Event()

    async def provider(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        form = dict(parse_qsl(request.content.decode()))
        account_id = by_token[form["refresh_token"]]
        if on_disk(paths.accounts_file)[account_id]["rotation_pending"] != OWNER:
            unmarked_at_request.append(account_id)
        arrived += 1
        if arrived == N:
            all_arrived.set()
        await release.wait()  # every request of the storm is in flight at once
        return ok(f"new-{form['refresh_token']}", f"next-{form['refresh_token']}")

    bus = EventBus()
    fresh: set[str] = set()
    done = asyncio.Event()

    def settle(event: CoreEvent) -> None:
        record = event.record if isinstance(event, AccountChanged) else None
        if record is not None and record.state is AccountState.VALID and (record.issued_at or 0) > clock.now() - 1:
            fresh.add(record.id)
            if len(fresh) == N:
                done.set()

    bus.subscribe(settle)
    engine, http = make_engine(paths, store, vault, clock, provider, bus=bus, owner=OWNER, concurrency=N)
    clock.advance(250)  # past every account's refresh point
    runner = asyncio.ensure_future(engine.run())
    try:
        await asyncio.wait_for(all_arrived.wait(), 20)
        mark_writes = store.marked_per_write[writes_at_start:]
        release.set()
        await asyncio.wait_for(done.wait(), 20)
    finally:
        release.set()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await http.aclose()
    assert unmarked_at_request == []
    assert mark_writes[-1] == N  # every mark was on disk before the last request left...
    assert len(mark_writes) < N  # ...in fewer writes than accounts
    total = len(store.marked_per_write) - writes_at_start
    assert total < 2 * N  # the results were batched too
    assert all(r.rotation_pending is None and r.state is AccountState.VALID for r in store.all())
    for account_id in by_token.values():
        entry = await vault.load(account_id)
        assert entry is not None and entry.tokens is not None
        assert entry.tokens.access_token.reveal().startswith("new-")


async def test_a_storm_re_plans_only_the_accounts_that_changed(paths: AppPaths, vault: Vault) -> None:
    clock = FakeClock()
    store = AccountStore(paths.accounts_file)
    for i in range(N):  # accounts 3..11 are past their refresh point (225 s after issue); 0..2 are not
        await seed_account(store, vault, clock.now() - 100 * i, access=f"at-{i:04}", refresh=f"rt-{i:04}", name=f"A{i}")
    sent: list[str] = []

    async def provider(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        sent.append(form["refresh_token"])
        return ok(f"new-{form['refresh_token']}", f"next-{form['refresh_token']}")

    engine, http = make_engine(paths, store, vault, clock, provider, concurrency=2)
    clock.advance(1)
    runner = asyncio.ensure_future(engine.run())
    try:
        for _ in range(200):
            await clock.next_sleep()
            if len(sent) == N - 3 and not engine._queued:
                break
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await http.aclose()
    assert sorted(sent) == [f"rt-{i:04}" for i in range(3, N)]
    # The first plan covers every account; after that each finished refresh re-plans its own account, where
    # planning everything after each of them took N * (N - 3) more.
    assert engine._plan.planned == N + (N - 3)


def test_the_plan_keeps_unchanged_records_and_drops_removed_ones(tmp_path: Path) -> None:
    times = {"a": 10.0, "b": 20.0, "c": None}
    seen: list[str] = []

    def next_attempt(record: AccountRecord) -> float | None:
        seen.append(record.id)
        return times[record.id]

    def record(account_id: str) -> AccountRecord:
        return AccountRecord(id=account_id, name=account_id, provider=None, client_id="c", scopes=())  # type: ignore[arg-type]

    a, b, c = record("a"), record("b"), record("c")
    plan = Plan(next_attempt, full_every_s=30)
    plan.sync([a, b, c], now=0, busy=())
    assert (seen, plan.next_at()) == (["a", "b", "c"], 10.0)
    plan.sync([a, b, c], now=1, busy=())
    assert seen == ["a", "b", "c"]  # same objects: nothing planned again
    times["a"] = 25.0
    a2 = record("a")  # a new object: the record changed
    plan.sync([a2, b, c], now=2, busy=())
    assert (seen[3:], plan.next_at()) == (["a"], 20.0)
    assert plan.take_due(20) == ["b"]
    plan.sync([a2, b, c], now=21, busy={"b"})  # b is being refreshed: not planned
    assert seen[4:] == []
    assert plan.next_at() == 25.0
    plan.sync([a2, b, c], now=22, busy=())  # b is back
    assert seen[4:] == ["b"]
    plan.sync([b, c], now=23, busy=())  # a was removed
    assert plan.take_due(100) == ["b"]
    assert plan.next_at() is None
    plan.sync([a2, b, c], now=60, busy=())  # 30 s after the last full re-plan: everything again
    assert sorted(seen[5:]) == ["a", "b", "c"]
    plan.invalidate()
    plan.sync([a2, b, c], now=61, busy=())
    assert len(seen) == 11
    plan.sync([a2, b, c], now=10, busy=())  # the clock went back: everything again
    assert len(seen) == 14


async def test_the_write_queue_fails_each_change_alone_and_a_failed_write_for_all(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    for name in ("a", "b"):
        store.add(AccountRecord(id=name, name=name, provider=SPEC, client_id="c", scopes=()))
    queue = WriteQueue(store)

    def boom(r: AccountRecord) -> AccountRecord:
        raise ValueError("a change that fails")

    results = await asyncio.gather(
        queue.update("a", lambda r: r),
        queue.update("gone", lambda r: r),
        queue.update("b", boom),
        queue.update("b", lambda r: replace(r, failures=7)),
        return_exceptions=True,
    )
    assert isinstance(results[0], AccountRecord)
    assert isinstance(results[1], AccountNotFound)
    assert isinstance(results[2], ValueError)
    assert isinstance(results[3], AccountRecord) and results[3].failures == 7
    assert queue.writes == 1  # one file write for the four
    assert AccountStore(store.path).get("b").failures == 7

    refused = threading.Event()

    def refuse(records: dict[str, AccountRecord]) -> None:
        refused.set()
        raise StoreError("Cannot write accounts.json (injected).")

    store._write = refuse  # type: ignore[method-assign]
    failed = await asyncio.gather(
        queue.update("a", lambda r: replace(r, failures=1)),
        queue.update("b", lambda r: replace(r, failures=1)),
        return_exceptions=True,
    )
    assert refused.is_set()
    assert all(isinstance(r, StoreError) for r in failed)
    assert AccountStore(store.path).get("b").failures == 7  # nothing of the failed batch reached the file


async def test_a_caller_cancelled_before_its_write_has_nothing_written(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    store.add(AccountRecord(id="a", name="a", provider=SPEC, client_id="c", scopes=()))
    queue = WriteQueue(store)
    cancelled = asyncio.ensure_future(queue.update("a", lambda r: replace(r, failures=5)))
    kept = asyncio.ensure_future(queue.update("a", lambda r: replace(r, offline=True)))
    await asyncio.sleep(0)  # both queued; the write has not started
    cancelled.cancel()
    record = await kept
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert (record.failures, record.offline) == (0, True)
    assert AccountStore(store.path).get("a").failures == 0


async def test_a_result_waits_for_the_next_mark_and_shares_its_write(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    for name in ("a", "b"):
        store.add(AccountRecord(id=name, name=name, provider=SPEC, client_id="c", scopes=()))
    queue = WriteQueue(store)
    result = asyncio.ensure_future(queue.update("a", lambda r: replace(r, failures=1), linger_s=30))
    await asyncio.sleep(0.05)
    assert not result.done() and queue.writes == 0  # waiting for company, not written yet
    mark = await queue.update("b", lambda r: replace(r, rotation_pending="me"))  # a mark is written at once...
    assert (await result).failures == 1  # ...and takes the waiting result along
    assert mark.rotation_pending == "me"
    assert queue.writes == 1
    alone = await asyncio.wait_for(queue.update("a", lambda r: replace(r, failures=2), linger_s=0.01), 5)
    assert alone.failures == 2 and queue.writes == 2  # with no company, it goes after its linger
    assert AccountStore(store.path).get("a").failures == 2
