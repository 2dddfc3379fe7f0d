"""The refresh engine against scripted token endpoints (MockTransport) and an in-memory keyring."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from desktop_app.core.accounts import AccountState
from desktop_app.core.errors import (
    ClientConfigError,
    InvalidGrant,
    MalformedResponse,
    NeedsSignIn,
    ProviderError,
    TransientError,
)
from desktop_app.core.events import AccountChanged, NeedsSignInRaised
from desktop_app.core.secrets import Secret
from desktop_app.core.vault import VaultEntry
from tests.core.conftest import Harness, fail, ok
from tests.memory_keyring import MemoryKeyring


async def test_valid_token_needs_no_request(harness: Harness) -> None:
    tokens = await harness.engine.get_token(harness.record.id, min_valid_s=60)
    assert tokens.access_token.reveal() == "at-initial-0001"
    assert harness.endpoint.requests == []


async def test_single_flight_in_one_process(harness: Harness) -> None:
    harness.endpoint.gate = asyncio.Event()
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    harness.clock.advance(200)  # 100 s left of 300: less than the 3600 s asked, and less than half its life
    waiters = [asyncio.ensure_future(harness.engine.get_token(harness.record.id, min_valid_s=3600)) for _ in range(10)]
    await asyncio.wait_for(harness.endpoint.arrived.wait(), 10)
    harness.endpoint.gate.set()
    results = await asyncio.gather(*waiters)
    assert len(harness.endpoint.requests) == 1
    assert {t.access_token.reveal() for t in results} == {"at-second-0002"}


async def test_rotated_refresh_token_is_stored_before_use(harness: Harness) -> None:
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002"), ok("at-third-0003")]
    await harness.engine.refresh_now(harness.record.id)
    assert (await harness.stored()).refresh_token == Secret("rt-second-0002")
    harness.clock.advance(1)
    third = await harness.engine.refresh_now(harness.record.id)
    assert harness.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-second-0002"]
    # No refresh token in the answer: the previous one is kept.
    assert third.refresh_token == Secret("rt-second-0002")
    assert (await harness.stored()).refresh_token == Secret("rt-second-0002")
    record = harness.store.get(harness.record.id)
    assert record.state is AccountState.VALID
    assert [a.outcome for a in record.history] == ["ok", "ok"]


async def test_invalid_grant_stops_everything(harness: Harness) -> None:
    harness.endpoint.replies = [fail(400, "invalid_grant")]
    with pytest.raises(InvalidGrant):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "needs_sign_in"
    assert [type(e) for e in harness.events if isinstance(e, NeedsSignInRaised)] == [NeedsSignInRaised]
    # No further request, whatever asks: the CLI, a forced refresh, or the background loop.
    for _ in range(3):
        with pytest.raises(NeedsSignIn):
            await harness.engine.get_token(harness.record.id, min_valid_s=3600)
    with pytest.raises(NeedsSignIn):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.engine.due_at(harness.store.get(harness.record.id)) is None
    assert len(harness.endpoint.requests) == 1
    assert len([e for e in harness.events if isinstance(e, NeedsSignInRaised)]) == 1
    # The old tokens are not destroyed: the user may still want to look at or revoke them.
    assert (await harness.stored()).refresh_token == Secret("rt-initial-0001")


async def test_invalid_grant_after_another_process_rotated_adopts_the_stored_token(harness: Harness) -> None:
    async def rotate_elsewhere(request: httpx.Request) -> httpx.Response:
        # Another process (without our lock, e.g. an older version) rotated meanwhile.
        stored = await harness.stored()
        from dataclasses import replace

        await harness.vault.save(
            harness.record.id,
            VaultEntry(
                tokens=replace(
                    stored,
                    access_token=Secret("at-other-0009"),
                    refresh_token=Secret("rt-other-0009"),
                    issued_at=harness.clock.now(),
                    expires_at=harness.clock.now() + 300,
                )
            ),
        )
        return fail(400, "invalid_grant")

    harness.endpoint.replies = []
    transport = httpx.MockTransport(rotate_elsewhere)
    harness.engine._http = httpx.AsyncClient(transport=transport)
    tokens = await harness.engine.refresh_now(harness.record.id)
    assert tokens.access_token.reveal() == "at-other-0009"
    assert harness.state() == "valid"
    await harness.engine._http.aclose()


async def test_transient_failure_backs_off_honouring_retry_after(harness: Harness) -> None:
    harness.endpoint.replies = [fail(503, headers={"Retry-After": "120"}), ok("at-second-0002", "rt-second-0002")]
    with pytest.raises(TransientError):
        await harness.engine.refresh_now(harness.record.id)
    record = harness.store.get(harness.record.id)
    assert record.state is AccountState.RETRYING
    assert record.retry_at is not None and record.retry_at >= harness.clock.now() + 120
    assert record.failures == 1 and not record.offline
    assert harness.engine.due_at(record) == record.retry_at
    # The old token is intact and still handed out while it is valid.
    assert (await harness.engine.get_token(harness.record.id, min_valid_s=60)).access_token.reveal() == (
        "at-initial-0001"
    )
    harness.clock.advance(130)
    await harness.engine.refresh_now(harness.record.id)
    record = harness.store.get(harness.record.id)
    assert record.state is AccountState.VALID and record.failures == 0 and record.retry_at is None


async def test_rate_limit_is_transient(harness: Harness) -> None:
    harness.endpoint.replies = [fail(429, headers={"Retry-After": "30"})]
    with pytest.raises(TransientError) as info:
        await harness.engine.refresh_now(harness.record.id)
    assert info.value.retry_after_s == 30
    assert harness.state() == "retrying"


async def test_offline_is_shown_as_offline_and_probed_often(harness: Harness) -> None:
    request = httpx.Request("POST", "https://id.example.com/token")
    harness.endpoint.replies = [httpx.ConnectError("no route", request=request) for _ in range(12)]
    for _ in range(12):
        with pytest.raises(TransientError):
            await harness.engine.refresh_now(harness.record.id)
        harness.clock.advance(1)
    record = harness.store.get(harness.record.id)
    assert record.offline and record.state is AccountState.RETRYING and record.failures == 12
    assert record.retry_at is not None and record.retry_at - harness.clock.now() <= 60


async def test_lost_answer_is_retried_at_once_with_the_same_token(harness: Harness) -> None:
    request = httpx.Request("POST", "https://id.example.com/token")
    harness.endpoint.replies = [httpx.ReadError("reset", request=request), ok("at-second-0002", "rt-second-0002")]
    tokens = await harness.engine.refresh_now(harness.record.id)
    assert tokens.refresh_token == Secret("rt-second-0002")
    assert harness.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-initial-0001"]


async def test_lost_answer_then_invalid_grant_needs_sign_in(harness: Harness) -> None:
    request = httpx.Request("POST", "https://id.example.com/token")
    harness.endpoint.replies = [httpx.ReadTimeout("slow", request=request), fail(400, "invalid_grant")]
    with pytest.raises(InvalidGrant):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "needs_sign_in"
    assert (await harness.stored()).refresh_token == Secret("rt-initial-0001")


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<!doctype html><title>Captive portal</title>", headers={"content-type": "text/html"}),
        httpx.Response(200, content=b"\xff\xfe garbage"),
        httpx.Response(200, json={"token_type": "Bearer", "expires_in": 300}),
    ],
)
async def test_garbage_answers_keep_the_old_tokens(harness: Harness, reply: httpx.Response) -> None:
    harness.endpoint.replies = [reply]
    with pytest.raises(MalformedResponse):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "error"
    stored = await harness.stored()
    assert stored.access_token == Secret("at-initial-0001") and stored.refresh_token == Secret("rt-initial-0001")
    assert harness.store.get(harness.record.id).retry_at is not None


async def test_client_errors_are_configuration_errors(harness: Harness) -> None:
    harness.endpoint.replies = [fail(401, "invalid_client")]
    with pytest.raises(ClientConfigError):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "config_error"
    with pytest.raises(ClientConfigError):
        await harness.engine.refresh_now(harness.record.id)
    assert len(harness.endpoint.requests) == 1


async def test_expired_refresh_token_needs_sign_in_without_a_request(harness: Harness) -> None:
    from dataclasses import replace

    stored = await harness.stored()
    await harness.vault.save(
        harness.record.id, VaultEntry(tokens=replace(stored, refresh_expires_at=harness.clock.now() + 10))
    )
    harness.engine.forget(harness.record.id)
    harness.clock.advance(400)
    with pytest.raises(NeedsSignIn):
        await harness.engine.get_token(harness.record.id)
    assert harness.endpoint.requests == []
    assert harness.state() == "needs_sign_in"


async def test_rotated_token_survives_a_keychain_that_refuses_to_save(harness: Harness, memory: MemoryKeyring) -> None:
    from desktop_app.core.errors import VaultError

    async def lock_then_answer(request: httpx.Request) -> httpx.Response:
        harness.endpoint.requests.append({})
        memory.lock()
        return ok("at-second-0002", "rt-second-0002")

    harness.engine._http = httpx.AsyncClient(transport=httpx.MockTransport(lock_then_answer))
    try:
        with pytest.raises(VaultError):
            await harness.engine.refresh_now(harness.record.id)
        assert harness.state() == "error"
        memory.unlock()
        # The next call saves what the keychain refused, and hands it out without spending a token again.
        tokens = await harness.engine.get_token(harness.record.id, min_valid_s=60)
        assert tokens.refresh_token == Secret("rt-second-0002")
        assert (await harness.stored()).refresh_token == Secret("rt-second-0002")
        assert len(harness.endpoint.requests) == 1
    finally:
        if memory.is_locked():
            memory.unlock()
        await harness.engine._http.aclose()


async def test_background_loop_refreshes_ahead_of_expiry(harness: Harness) -> None:
    changed = asyncio.Event()
    harness.engine._bus.subscribe(
        lambda e: changed.set() if isinstance(e, AccountChanged) and e.record.state is AccountState.VALID else None
    )
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    runner = asyncio.ensure_future(harness.engine.run())
    try:
        await harness.clock.next_sleep()
        assert harness.endpoint.requests == []  # not due yet (75% of 300 s)
        sleeping = harness.clock.next_sleep()
        harness.clock.advance(200)
        await sleeping
        assert harness.endpoint.requests == []
        harness.clock.advance(30)  # now past 225 s
        await asyncio.wait_for(changed.wait(), 10)
        assert harness.endpoint.refresh_tokens_sent == ["rt-initial-0001"]
        assert (await harness.stored()).access_token == Secret("at-second-0002")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_background_loop_wakes_after_a_clock_jump(harness: Harness) -> None:
    done = asyncio.Event()
    harness.engine._bus.subscribe(
        lambda e: done.set() if isinstance(e, AccountChanged) and e.record.state is AccountState.VALID else None
    )
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    runner = asyncio.ensure_future(harness.engine.run())
    try:
        await harness.clock.next_sleep()
        # Suspend for an hour: the token expired meanwhile; the refresh token still works.
        harness.clock.advance(3600)
        await asyncio.wait_for(done.wait(), 10)
        assert len(harness.endpoint.requests) == 1
        # Every sleep is capped so wall time is re-read often.
        assert max(harness.clock.sleeps) <= 30
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def test_backoff_grows_is_capped_and_honours_retry_after(harness: Harness) -> None:
    engine = harness.engine
    first = [engine.backoff_s(0) for _ in range(50)]
    later = [engine.backoff_s(20) for _ in range(50)]
    assert max(first) <= 5 and min(first) >= 0.5
    assert max(later) <= 900 and min(later) >= 90
    assert len(set(later)) > 1  # jittered
    assert min(engine.backoff_s(0, retry_after=300) for _ in range(20)) >= 300
    assert max(engine.backoff_s(20, offline=True) for _ in range(50)) <= 60


async def test_asking_for_more_than_a_lifetime_does_not_refresh_every_time(harness: Harness) -> None:
    # 300 s tokens cannot stay valid for an hour; half their life is the most a refresh can promise.
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    first = await harness.engine.get_token(harness.record.id, min_valid_s=3600)
    assert first.access_token == Secret("at-initial-0001") and harness.endpoint.requests == []
    harness.clock.advance(160)
    second = await harness.engine.get_token(harness.record.id, min_valid_s=3600)
    assert second.access_token == Secret("at-second-0002") and len(harness.endpoint.requests) == 1
    again = await harness.engine.get_token(harness.record.id, min_valid_s=3600)
    assert again == second and len(harness.endpoint.requests) == 1


async def test_short_lived_tokens_are_not_refreshed_in_a_loop(harness: Harness) -> None:
    engine = harness.engine
    for lifetime in (0.0, 10.0, 30.0, 60.0, 90.0, 300.0, 3600.0):
        point = engine._schedule.refresh_point("x", 1000.0, 1000.0 + lifetime)
        scheduled = 1000.0 + min(0.75 * lifetime, lifetime - 60.0 if lifetime > 240 else 0.75 * lifetime)
        # Never sooner than 10 s after the tokens were issued, even for a token that is born expired.
        assert point == max(1010.0, scheduled)


async def test_refresh_answer_without_expires_in_keeps_the_lifetime(harness: Harness) -> None:
    harness.endpoint.replies = [httpx.Response(200, json={"access_token": "at-second-0002", "token_type": "Bearer"})]
    tokens = await harness.engine.refresh_now(harness.record.id)
    assert tokens.lifetime_s == 300
    assert harness.store.get(harness.record.id).expires_at == tokens.expires_at


async def test_rotated_refresh_token_in_an_unusable_answer_is_kept(harness: Harness) -> None:
    harness.endpoint.replies = [
        httpx.Response(
            200, json={"access_token": "at-second-0002", "token_type": "N_A", "refresh_token": "rt-new-0002"}
        ),
        ok("at-third-0003", "rt-third-0003"),
    ]
    with pytest.raises(MalformedResponse):
        await harness.engine.refresh_now(harness.record.id)
    stored = await harness.stored()
    assert stored.refresh_token == Secret("rt-new-0002") and stored.access_token == Secret("at-initial-0001")
    harness.clock.advance(10)
    await harness.engine.refresh_now(harness.record.id)
    assert harness.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-new-0002"]


@pytest.mark.parametrize("error", ["interaction_required", "login_required", "consent_required"])
async def test_interactive_errors_need_sign_in(harness: Harness, error: str) -> None:
    harness.endpoint.replies = [fail(400, error)]
    with pytest.raises(NeedsSignIn):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "needs_sign_in"


async def test_unknown_client_errors_are_not_retried_forever(harness: Harness) -> None:
    harness.endpoint.replies = [fail(400, "something_new")]
    with pytest.raises(ProviderError):
        await harness.engine.refresh_now(harness.record.id)
    assert harness.state() == "config_error"
    assert harness.engine.due_at(harness.store.get(harness.record.id)) is None


async def test_a_refresh_elsewhere_replaces_the_cached_token(harness: Harness) -> None:
    from dataclasses import replace

    await harness.engine.get_token(harness.record.id)  # cached now
    stored = await harness.stored()
    newer = replace(stored, access_token=Secret("at-elsewhere-0005"), issued_at=harness.clock.now())
    await harness.vault.save(harness.record.id, VaultEntry(tokens=newer))
    harness.store.update(harness.record.id, lambda r: replace(r, issued_at=newer.issued_at))
    assert (await harness.engine.get_token(harness.record.id)).access_token == Secret("at-elsewhere-0005")
