"""A token a client reports refused (git's `erase` after a 401) is refreshed on the next request, in any process."""

from __future__ import annotations

import httpx
import pytest

from desktop_app.core.oauth import new_http_client
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.secrets import Secret
from tests.core.conftest import Harness, ok

pytestmark = pytest.mark.usefixtures("keychain")


async def test_the_refused_token_is_refreshed_once_then_forgotten(harness: Harness) -> None:
    account = harness.record.id
    assert (await harness.engine.get_token(account)).access_token == Secret("at-initial-0001")  # cached
    assert await harness.engine.mark_rejected(account, Secret("at-initial-0001"))
    record = harness.store.get(account)
    assert record.rejected_issued_at == record.issued_at
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    # Still valid for 299 s, yet not handed out again: refreshed instead.
    tokens = await harness.engine.get_token(account, min_valid_s=60)
    assert tokens.access_token == Secret("at-second-0002")
    assert len(harness.endpoint.requests) == 1
    assert harness.store.get(account).rejected_issued_at is None
    assert (await harness.engine.get_token(account)).access_token == Secret("at-second-0002")
    assert len(harness.endpoint.requests) == 1
    assert (await harness.stored()).access_token == Secret("at-second-0002")


async def test_a_token_that_is_no_longer_current_marks_nothing(harness: Harness) -> None:
    account = harness.record.id
    assert not await harness.engine.mark_rejected(account, Secret("at-someone-else"))
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    await harness.engine.refresh_now(account)
    # git reports the old token after a refresh already replaced it: nothing to do, no second refresh.
    assert not await harness.engine.mark_rejected(account, Secret("at-initial-0001"))
    assert harness.store.get(account).rejected_issued_at is None
    assert (await harness.engine.get_token(account)).access_token == Secret("at-second-0002")
    assert len(harness.endpoint.requests) == 1


async def test_the_mark_binds_another_process_engine(harness: Harness) -> None:
    """The app's engine has the token cached; a CLI process marks it: the app refreshes on its next request."""
    account = harness.record.id
    assert (await harness.engine.get_token(account)).access_token == Secret("at-initial-0001")
    cli_http = new_http_client(transport=httpx.MockTransport(harness.endpoint.handle))
    cli = RefreshEngine(
        store=harness.store,
        vault=harness.vault,
        http=cli_http,
        clock=harness.clock,
        bus=harness.engine._bus,
        lock_dir=harness.engine._lock_dir,
        policy=RefreshPolicy(max_jitter_s=0),
        owner="cli-process",
    )
    try:
        assert await cli.mark_rejected(account, Secret("at-initial-0001"))
    finally:
        await cli_http.aclose()
    harness.endpoint.replies = [ok("at-second-0002", "rt-second-0002")]
    assert (await harness.engine.get_token(account)).access_token == Secret("at-second-0002")
    assert harness.endpoint.refresh_tokens_sent == ["rt-initial-0001"]
