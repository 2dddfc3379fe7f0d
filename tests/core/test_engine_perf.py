"""The engine reads the keychain under the lock only when the metadata cannot vouch for its cached copy (issue 9),
and never sends a spent refresh token because it skipped a read."""

from __future__ import annotations

import contextlib

import httpx

from desktop_app.core.errors import TokendeskError
from tests.core.conftest import ok
from tests.core.test_engine_defects import World, world

__all__ = ["world"]  # the fixture, imported for the tests below


def reads(world: World) -> int:
    return sum(1 for method, _, _ in world.keyring.calls if method == "get_password")


async def test_a_refresh_after_a_successful_one_reads_no_keychain(world: World) -> None:
    world.endpoint.replies += [ok("at-2", "rt-2"), ok("at-3", "rt-3")]
    await world.engine.refresh_now(world.record.id)
    world.clock.advance(1)
    before = reads(world)
    await world.engine.refresh_now(world.record.id)
    assert reads(world) == before
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-2"]
    assert (await world.stored()).refresh_token is not None
    assert (await world.stored()).access_token.reveal() == "at-3"


async def test_another_process_refreshing_meanwhile_is_read(world: World) -> None:
    other = world.start("p2").engine
    world.endpoint.replies += [ok("at-2", "rt-2"), ok("at-3", "rt-3")]
    await world.engine.refresh_now(world.record.id)  # p1 caches rt-2
    world.clock.advance(1)
    await other.refresh_now(world.record.id)  # p2 spends rt-2, rotates to rt-3
    world.clock.advance(1)
    world.endpoint.replies.append(ok("at-4", "rt-4"))
    await world.engine.refresh_now(world.record.id)
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-2", "rt-3"]


async def test_a_rescued_rotation_is_read_by_the_other_process(world: World) -> None:
    """An unusable answer that still rotated the refresh token keeps the old issued_at: the other process's cached
    copy looks current by issued_at alone, and must not be trusted after a failed attempt."""
    other = world.start("p2").engine
    world.endpoint.replies.append(ok("at-2", "rt-2"))
    await other.refresh_now(world.record.id)  # p2 caches the current tokens (rt-2) after an ok attempt
    world.clock.advance(1)
    world.endpoint.replies.append(httpx.Response(200, json={"token_type": "Bearer", "refresh_token": "rt-rescued"}))
    with contextlib.suppress(TokendeskError):
        await world.engine.refresh_now(world.record.id)
    assert (await world.stored()).refresh_token.reveal() == "rt-rescued"  # type: ignore[union-attr]
    world.clock.advance(1)
    world.endpoint.replies.append(ok("at-3", "rt-3"))
    await other.refresh_now(world.record.id)
    assert world.endpoint.refresh_tokens_sent == ["rt-initial-0001", "rt-2", "rt-rescued"]
