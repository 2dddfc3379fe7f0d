"""The service facade on an in-memory keyring with scripted provider answers: disconnect and refresh races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl

import httpx
import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord, AccountStore
from desktop_app.core.errors import TransientError
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
    store = AccountStore(paths.accounts_file)  # the service's own: the test seeds it
    service = Service(
        paths=paths,
        vault=vault,
        http=new_http_client(transport=httpx.MockTransport(provider.handle)),
        store=store,
        clock=clock,
    )
    record = await seed_account(store, vault, clock.now(), access="at-old-0001", refresh="rt-old-0001", name="Acct")
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
    closing = asyncio.ensure_future(service.aclose())  # drains the engine first
    await asyncio.sleep(0)
    assert not closing.done()
    provider.gate.set()
    await closing
    await refresh
    entry = await service._vault.load(record.id)
    assert entry is not None and entry.tokens is not None and entry.tokens.refresh_token == Secret("rt-new-0002")


def scripted_service(
    paths: AppPaths, vault: Vault, handle: Callable[[httpx.Request], httpx.Response]
) -> tuple[Service, AccountStore, FakeClock]:
    """A Service whose provider answers by `handle`, with its own store (the test seeds it) and a fake clock."""
    clock = FakeClock()
    store = AccountStore(paths.accounts_file)
    http = new_http_client(transport=httpx.MockTransport(handle))
    return Service(paths=paths, vault=vault, http=http, store=store, clock=clock), store, clock


def dropbox_account(store: AccountStore, now: float) -> AccountRecord:
    """An account at a provider whose revocation takes the access token as a Bearer credential."""
    from desktop_app.core.accounts import Identity
    from desktop_app.core.providers import preset

    return store.add(
        AccountRecord(
            id=AccountRecord.new_id(),
            name="Box",
            provider=preset("dropbox"),
            client_id="cid",
            scopes=(),
            identity=Identity(subject="1"),
            created_at=now,
        )
    )


async def test_disconnect_finishes_locally_when_revocation_is_refused(paths: AppPaths, vault: Vault) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    service, store, clock = scripted_service(paths, vault, handle)
    record = await seed_account(store, vault, clock.now(), access="at-1", refresh="rt-1", name="Acct")
    try:
        result = await service.disconnect(record.name)
        assert not result.revoked and result.note is not None
        assert "Remove the app's access yourself" in result.note
        assert service.accounts() == [] and await vault.load(record.id) is None
    finally:
        await vault.delete(record.id)
        await service.aclose()


async def test_disconnect_keeps_everything_when_the_provider_is_out_of_reach(paths: AppPaths, vault: Vault) -> None:
    """The grant is still alive and only the provider can end it: forgetting the token would make that impossible
    from here, so nothing is deleted and the user is told to retry, or to forget it here only on purpose."""

    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        raise httpx.ConnectError("no route", request=request)

    service, store, clock = scripted_service(paths, vault, handle)
    record = await seed_account(store, vault, clock.now(), access="at-1", refresh="rt-1", name="Acct")
    try:
        with pytest.raises(TransientError, match="nothing was deleted"):
            await service.disconnect(record.name)
        assert [r.id for r in service.accounts()] == [record.id]
        entry = await vault.load(record.id)
        assert entry is not None and entry.tokens is not None and entry.tokens.refresh_token == Secret("rt-1")
        # Forgetting here only is the user's choice then: nothing is sent, and the note says where the grant lives.
        sent = len(requests)
        result = await service.disconnect(record.name, keep_grant=True)
        assert len(requests) == sent
        assert not result.revoked and result.note is not None
        assert result.note.startswith(f"The access stays granted at {record.provider.display_name}.")
        assert "Remove the app's access yourself" in result.note
        assert service.accounts() == [] and await vault.load(record.id) is None
    finally:
        await vault.delete(record.id)
        await service.aclose()


async def test_a_token_refreshed_for_a_failed_revocation_is_kept(paths: AppPaths, vault: Vault) -> None:
    """Bearer revocation refreshes an expired access token first; a rotating provider spent the old refresh
    token then, so when the revocation itself cannot be sent the new tokens must reach the keychain."""
    from desktop_app.core.tokens import TokenSet
    from desktop_app.core.vault import VaultEntry

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(
                200,
                json={"access_token": "at-fresh", "refresh_token": "rt-2", "token_type": "bearer", "expires_in": 14400},
            )
        raise httpx.ConnectError("no route", request=request)

    service, store, clock = scripted_service(paths, vault, handle)
    now = clock.now()
    record = dropbox_account(store, now)
    await vault.save(
        record.id, VaultEntry(tokens=TokenSet(Secret("at-stale"), "Bearer", now, now + 60, Secret("rt-1")))
    )
    clock.advance(120)
    try:
        with pytest.raises(TransientError):
            await service.disconnect(record.name)
        entry = await vault.load(record.id)
        assert entry is not None and entry.tokens is not None
        assert entry.tokens.refresh_token == Secret("rt-2") and entry.tokens.access_token == Secret("at-fresh")
        assert service.find(record.id).issued_at == entry.tokens.issued_at
    finally:
        await vault.delete(record.id)
        await service.aclose()


async def test_bearer_revocation_refreshes_an_expired_access_token_first(paths: AppPaths, vault: Vault) -> None:
    from desktop_app.core.tokens import TokenSet
    from desktop_app.core.vault import VaultEntry

    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization", "")))
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "at-fresh", "token_type": "bearer", "expires_in": 14400})
        return httpx.Response(200, content=b"null")

    service, store, clock = scripted_service(paths, vault, handle)
    now = clock.now()
    record = dropbox_account(store, now)
    tokens = TokenSet(Secret("at-stale"), "Bearer", now, now + 60, Secret("rt-1"))
    await vault.save(record.id, VaultEntry(tokens=tokens))
    clock.advance(120)  # the access token expired
    try:
        result = await service.disconnect(record.name)
        assert result.revoked and result.note is None
        assert seen == [("/oauth2/token", ""), ("/2/auth/token/revoke", "Bearer at-fresh")]
    finally:
        await vault.delete(record.id)
        await service.aclose()


async def test_reload_if_changed_reports_each_change_to_the_accounts_once(paths: AppPaths, vault: Vault) -> None:
    from desktop_app.core.accounts import Identity
    from desktop_app.core.providers import preset

    service = Service(paths=paths, vault=vault, http=new_http_client())
    other = AccountStore(paths.accounts_file)  # another process's
    try:
        assert service.watch() == (paths.config_dir, paths.accounts_file)
        assert await service.reload_if_changed() == []
        assert await service.reload_if_changed() is None
        record = other.add(
            AccountRecord(
                id="a1",
                name="Elsewhere",
                provider=preset("github"),
                client_id="cid",
                scopes=(),
                identity=Identity(subject="1"),
                created_at=1.0,
            )
        )
        assert await service.reload_if_changed() == [record]
        assert await service.reload_if_changed() is None
        other.remove(record.id)
        assert await service.reload_if_changed() == []
    finally:
        await service.aclose()
