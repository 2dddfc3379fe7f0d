"""When the engine plans a refresh: 75 % of the lifetime (so at least 60 s ahead for lifetimes of 240 s and
more, a quarter of the lifetime ahead for shorter ones), minus a jitter of at most 30 s or 5 % of the lifetime."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore
from desktop_app.core.events import EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.vault import Vault
from tests.clock import FakeClock
from tests.core.conftest import SPEC, memory_vault
from tests.memory_keyring import MemoryKeyring

ISSUED = 1_800_000_000.0
Make = Callable[..., RefreshEngine]


@pytest_asyncio.fixture
async def make_engine(paths: AppPaths) -> AsyncIterator[Make]:
    """Engines that only plan: due_at never touches the keychain or the network."""
    http = new_http_client()
    vaults: list[Vault] = []

    def make(policy: RefreshPolicy | None = None, rng: random.Random | None = None) -> RefreshEngine:
        vaults.append(memory_vault(MemoryKeyring(), "tokendesk-schedule-unused"))
        return RefreshEngine(
            store=AccountStore(paths.accounts_file),
            vault=vaults[-1],
            http=http,
            clock=FakeClock(ISSUED),
            bus=EventBus(),
            lock_dir=paths.lock_dir,
            policy=policy or RefreshPolicy(max_jitter_s=0),
            rng=rng,
        )

    yield make
    for vault in vaults:
        vault.close()
    await http.aclose()


def account(lifetime_s: float, *, issued_at: float = ISSUED, account_id: str | None = None) -> AccountRecord:
    return AccountRecord(
        id=account_id or AccountRecord.new_id(),
        name="Schedule",
        provider=SPEC,
        client_id="cid",
        scopes=("openid",),
        issued_at=issued_at,
        expires_at=issued_at + lifetime_s,
    )


@pytest.mark.parametrize(
    ("lifetime_s", "after_s"),
    [
        (3600, 2700),  # the common hour-long token: at 45 min, 15 min before expiry
        (300, 225),
        (240, 180),  # the shortest lifetime where 75 % and "60 s before expiry" coincide
        (100_000, 75_000),
        (60, 45),  # short-lived: 25 % of the lifetime ahead, never due at birth (no tight loop)
        (20, 15),
    ],
)
async def test_refresh_point_is_75_percent_of_the_lifetime(make_engine: Make, lifetime_s: int, after_s: int) -> None:
    engine = make_engine()
    assert engine.due_at(account(lifetime_s)) == ISSUED + after_s


@pytest.mark.parametrize("lifetime_s", [240, 241, 300, 3600, 86_400])
async def test_sixty_seconds_ahead_once_the_lifetime_allows(make_engine: Make, lifetime_s: int) -> None:
    record = account(lifetime_s)
    due = make_engine().due_at(record)
    assert due is not None and record.expires_at is not None
    assert record.expires_at - due >= 60


async def test_point_follows_the_records_issue_time(make_engine: Make) -> None:
    engine = make_engine()
    record = account(3600)
    assert engine.due_at(replace(record, issued_at=ISSUED + 500, expires_at=ISSUED + 4100)) == ISSUED + 500 + 2700


@pytest.mark.parametrize(
    "change",
    [
        {"has_refresh_token": False},
        {"expires_at": None},
        {"issued_at": None},
        {"state": AccountState.NEEDS_SIGN_IN},
    ],
)
async def test_no_refresh_planned_without_something_to_do(make_engine: Make, change: dict[str, Any]) -> None:
    assert make_engine().due_at(replace(account(3600), **change)) is None


async def test_retry_time_wins_while_backing_off(make_engine: Make) -> None:
    record = replace(account(3600), state=AccountState.RETRYING, retry_at=ISSUED + 42)
    assert make_engine().due_at(record) == ISSUED + 42


async def test_jitter_moves_the_point_earlier_within_its_bounds(make_engine: Make) -> None:
    engine = make_engine(RefreshPolicy(max_jitter_s=30), random.Random(1234))
    points = []
    for n in range(40):
        record = account(3600, account_id=f"acct-{n:02d}")
        due = engine.due_at(record)
        assert due is not None
        assert ISSUED + 2700 - 30 <= due <= ISSUED + 2700
        assert engine.due_at(record) == due  # stable for one token: the loop must not chase a moving point
        points.append(due)
    # Really spread: accounts (and devices) do not all fire at the same moment.
    assert len(set(points)) == len(points)
    assert max(points) - min(points) > 15


async def test_jitter_is_capped_at_five_percent_of_a_short_lifetime(make_engine: Make) -> None:
    engine = make_engine(RefreshPolicy(max_jitter_s=30), random.Random(99))
    for n in range(40):
        due = engine.due_at(account(100, account_id=f"short-{n:02d}"))
        assert due is not None
        assert ISSUED + 75 - 5 <= due <= ISSUED + 75


@pytest.mark.parametrize(
    ("refresh_expires_after_s", "due_after_s"),
    [
        (None, 2700),
        (2701, 2700),  # the refresh token outlives the refresh point: nothing changes
        (2700, 2640),  # it runs out at the point: use it 60 s before
        (1000, 940),  # an idle timeout: use it while it lasts (that often renews it)
        (100, 75),  # a short one: a quarter of its life ahead
        (12, 3600),  # too short to act on in time: act at expiry, to say sign-in is needed
        (0, 3600),  # already gone
    ],
)
async def test_a_refresh_token_that_runs_out_first_is_used_while_it_lasts(
    make_engine: Make, refresh_expires_after_s: int | None, due_after_s: int
) -> None:
    refresh_expires_at = None if refresh_expires_after_s is None else ISSUED + refresh_expires_after_s
    record = replace(account(3600), refresh_expires_at=refresh_expires_at)
    assert make_engine().due_at(record) == ISSUED + due_after_s
