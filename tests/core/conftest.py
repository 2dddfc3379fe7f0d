"""Shared pieces for core tests: paths in tmp, a vault on an in-memory keyring, scripted token endpoints.

Engine and service unit tests never start gnome-keyring: the real keychain is for tests/core/test_vault.py and
the end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord, AccountStore, Identity
from desktop_app.core.events import CoreEvent, EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import ProviderSpec
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault, VaultEntry
from tests.clock import FakeClock
from tests.memory_keyring import MemoryKeyring

SPEC = ProviderSpec(
    key="custom",
    display_name="Example",
    issuer="https://id.example.com",
    authorization_endpoint="https://id.example.com/authorize",
    token_endpoint="https://id.example.com/token",
    revocation_endpoint="https://id.example.com/revoke",
)

Reply = Callable[[dict[str, str]], httpx.Response | Exception]


def ok(access: str, refresh: str | None = None, expires_in: int = 300) -> httpx.Response:
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


def fail(status: int, error: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": error} if error else {"x": 1}, headers=headers)


@dataclass
class TokenEndpoint:
    """A scripted token endpoint: each request takes the next reply; every form body is recorded."""

    replies: list[httpx.Response | Exception] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(dict(parse_qsl(request.content.decode())))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if not self.replies:
            return httpx.Response(500, json={"error": "server_error", "error_description": "script ran out"})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def refresh_tokens_sent(self) -> list[str]:
        return [r.get("refresh_token", "") for r in self.requests]


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", state_dir=tmp_path / "state", log_dir=tmp_path / "log")


@pytest.fixture
def memory() -> MemoryKeyring:
    """The keyring behind `vault`: tests lock it, inject faults into it and look at what it holds."""
    return MemoryKeyring()


def memory_vault(memory: MemoryKeyring, service: str | None = None) -> Vault:
    return Vault(service=service or f"tokendesk-test-{uuid.uuid4().hex[:8]}", backend=memory, require_secure=False)


@pytest_asyncio.fixture
async def vault(memory: MemoryKeyring) -> AsyncIterator[Vault]:
    v = memory_vault(memory)
    yield v
    v.close()


@dataclass
class Harness:
    engine: RefreshEngine
    store: AccountStore
    vault: Vault
    clock: FakeClock
    endpoint: TokenEndpoint
    record: AccountRecord
    events: list[CoreEvent]

    async def stored(self) -> TokenSet:
        entry = await self.vault.load(self.record.id)
        assert entry is not None and entry.tokens is not None
        return entry.tokens

    def state(self) -> str:
        return self.store.get(self.record.id).state.value


async def seed_account(
    store: AccountStore, vault: Vault, now: float, *, access: str, refresh: str, name: str = "Test"
) -> AccountRecord:
    """An account issued `now` with a 300 s access token, in the store and the keychain."""
    tokens = TokenSet(
        access_token=Secret(access),
        token_type="Bearer",
        issued_at=now,
        expires_at=now + 300,
        refresh_token=Secret(refresh),
    )
    record = store.add(
        AccountRecord(
            id=AccountRecord.new_id(),
            name=name,
            provider=SPEC,
            client_id="cid",
            scopes=("openid",),
            identity=Identity(subject="1"),
            created_at=now,
            expires_at=now + 300,
            issued_at=now,
        )
    )
    await vault.save(record.id, VaultEntry(tokens=tokens))
    return record


def make_engine(
    paths: AppPaths,
    store: AccountStore,
    vault: Vault,
    clock: FakeClock,
    provider: Callable[[httpx.Request], Any],
    *,
    bus: EventBus | None = None,
    owner: str | None = None,
    **policy: Any,
) -> tuple[RefreshEngine, httpx.AsyncClient]:
    """An engine on the test's store and vault whose token endpoint is `provider` (MockTransport), no jitter;
    `policy` sets other RefreshPolicy fields. Returns the HTTP client too, for the test to close."""
    http = new_http_client(transport=httpx.MockTransport(provider))
    engine = RefreshEngine(
        store=store,
        vault=vault,
        http=http,
        clock=clock,
        bus=bus or EventBus(),
        lock_dir=paths.lock_dir,
        policy=RefreshPolicy(**{"max_jitter_s": 0, **policy}),
        owner=owner,
    )
    return engine, http


@pytest_asyncio.fixture
async def harness(paths: AppPaths, vault: Vault) -> AsyncIterator[Harness]:
    clock = FakeClock()
    endpoint = TokenEndpoint()
    store = AccountStore(paths.accounts_file)
    record = await seed_account(store, vault, clock.now(), access="at-initial-0001", refresh="rt-initial-0001")
    bus = EventBus()
    events: list[CoreEvent] = []
    bus.subscribe(events.append)
    engine, http = make_engine(paths, store, vault, clock, endpoint.handle, bus=bus)
    clock.advance(1)  # requests come after the tokens were issued
    yield Harness(engine, store, vault, clock, endpoint, record, events)
    await vault.delete(record.id)
    await http.aclose()


def dumps(obj: object) -> str:
    return json.dumps(obj)
