"""The service facade on an in-memory keyring with scripted provider answers: disconnect and refresh races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.secrets import Secret
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from tests.clock import FakeClock
from tests.core.conftest import seed_account


class Provider:
    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.refresh_arrived = asyncio.Event()
        self.revoked: list[str] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if request.url.path == "/revoke":
            self.revoked.append(form["token"])
            return httpx.Response(200)
        self.refresh_arrived.set()
        await self.gate.wait()
        return httpx.Response(
            200,
            json={
                "access_token": "at-new-0002",
                "token_type": "Bearer",
                "expires_in": 300,
                "refresh_token": "rt-new-0002",
            },
        )


@pytest_asyncio.fixture
async def setup(paths: AppPaths, vault: Vault) -> AsyncIterator[tuple[Service, Provider, AccountRecord]]:
    provider = Provider()
    clock = FakeClock()
    service = Service(
        paths=paths, vault=vault, http=new_http_client(transport=httpx.MockTransport(provider.handle)), clock=clock
    )
    record = await seed_account(
        service.store, vault, clock.now(), access="at-old-0001", refresh="rt-old-0001", name="Acct"
    )
    clock.advance(1)
    yield service, provider, record
    await vault.delete(record.id)
    provider.gate.set()
    await service.aclose()


async def test_disconnect_waits_for_a_refresh_in_flight_and_revokes_its_result(
    setup: tuple[Service, Provider, AccountRecord],
) -> None:
    service, provider, record = setup
    refresh = asyncio.ensure_future(service.refresh(record.name))
    await asyncio.wait_for(provider.refresh_arrived.wait(), 10)
    disconnect = asyncio.ensure_future(service.disconnect(record.name))
    await asyncio.sleep(0)
    assert not disconnect.done()  # it waits for the rotation to land
    provider.gate.set()
    await refresh
    result = await asyncio.wait_for(disconnect, 10)
    assert result.revoked
    assert provider.revoked == ["rt-new-0002"]  # the live token, not the rotated-out one
    assert await service._vault.load(record.id) is None
    assert service.accounts() == []


async def test_shutdown_lets_a_rotation_reach_the_keychain(setup: tuple[Service, Provider, AccountRecord]) -> None:
    service, provider, record = setup
    refresh = asyncio.ensure_future(service.refresh(record.name))
    await asyncio.wait_for(provider.refresh_arrived.wait(), 10)
    closing = asyncio.ensure_future(service.engine.drain(timeout_s=10))
    await asyncio.sleep(0)
    assert not closing.done()
    provider.gate.set()
    await closing
    await refresh
    entry = await service._vault.load(record.id)
    assert entry is not None and entry.tokens is not None and entry.tokens.refresh_token == Secret("rt-new-0002")
