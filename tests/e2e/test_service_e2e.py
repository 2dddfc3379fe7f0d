"""Connect, refresh, revoke and disconnect through the service facade, against the real rig."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from desktop_app.core.accounts import AccountState
from desktop_app.core.errors import AuthorizationDenied, AuthorizationError, AuthorizationTimeout, NeedsSignIn
from desktop_app.core.events import NeedsSignInRaised
from desktop_app.core.providers import ProviderSpec
from tests.e2e.conftest import Rig

pytestmark = pytest.mark.e2e


async def stored(rig: Rig, account_id: str):  # type: ignore[no-untyped-def]
    entry = await rig.vault.load(account_id)
    assert entry is not None and entry.tokens is not None
    return entry


@pytest.mark.parametrize("client", ["native-rotating", "confidential-basic", "confidential-post"])
async def test_connect_with_discovery(rig: Rig, client: str) -> None:
    record = await rig.service.connect(rig.request(client, name=f"Rig {client}"))
    pages = await rig.consent.pages()
    assert "Signed in" in pages[0] and "close this tab" in pages[0]
    assert record.state is AccountState.VALID
    assert record.identity.subject == "alice" and record.identity.email == "alice@example.test"
    assert record.identity.label() == "alice@example.test"
    assert "offline_access" in record.scopes
    entry = await stored(rig, record.id)
    assert entry.tokens.refresh_token is not None
    assert entry.tokens.id_token is None  # validated at sign-in, never kept
    assert (entry.client_secret is not None) == (client != "native-rotating")
    assert rig.service.accounts() == [record]
    # The redirect went to 127.0.0.1 on an ephemeral port with PKCE S256, state and nonce.
    url = httpx.URL(rig.consent.urls[0])
    assert url.params["redirect_uri"].startswith("http://127.0.0.1:")
    assert url.params["code_challenge_method"] == "S256" and url.params["prompt"] == "consent"
    assert len(url.params["state"]) >= 43 and url.params["nonce"]
    assert rig.provider.stats()["token"]["authorization_code"] == 1
    # Metadata on disk holds no secret.
    text = rig.paths.accounts_file.read_text()
    for secret in (entry.tokens.access_token, entry.tokens.refresh_token):
        assert secret.reveal() not in text
    assert json.loads(text)["accounts"][0]["name"] == f"Rig {client}"


async def test_localhost_redirect_registration(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.native_localhost, redirect_host="localhost"))
    await rig.consent.pages()
    assert httpx.URL(rig.consent.urls[0]).params["redirect_uri"].startswith("http://localhost:")
    assert record.provider.redirect_host == "localhost"


async def test_refresh_with_rotation(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.native_rotating))
    first = (await stored(rig, record.id)).tokens
    rig.clock.advance(1)
    second = await rig.service.refresh(record.name)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert (await stored(rig, record.id)).tokens.refresh_token == second.refresh_token
    # The next refresh spends the new token, not the rotated-out one (reuse would kill the grant).
    rig.clock.advance(1)
    third = await rig.service.refresh(record.name)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)
    assert rig.provider.stats()["token"]["refresh_token"] == 2
    assert rig.service.find(record.id).state is AccountState.VALID


async def test_refresh_without_rotation_keeps_the_refresh_token(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.native_static))
    first = (await stored(rig, record.id)).tokens
    rig.clock.advance(1)
    second = await rig.service.refresh(record.name)
    assert second.refresh_token == first.refresh_token
    assert second.access_token != first.access_token


async def test_token_export_refreshes_only_when_needed(rig: Rig) -> None:
    record = await rig.service.connect(rig.request())
    rig.provider.reset()
    same = await rig.service.token(record.name, min_valid_s=60)
    assert same.access_token == (await stored(rig, record.id)).tokens.access_token
    assert rig.provider.stats()["token_requests"] == 0
    rig.clock.advance(250)  # 300 s tokens: fewer than 60 s left
    fresh = await rig.service.token(record.name, min_valid_s=60)
    assert fresh.valid_for(rig.clock.now()) > 250
    assert rig.provider.stats()["token"]["refresh_token"] == 1


async def test_revoked_grant_needs_sign_in_and_stops_requests(rig: Rig) -> None:
    raised: list[NeedsSignInRaised] = []
    rig.service.subscribe(lambda e: raised.append(e) if isinstance(e, NeedsSignInRaised) else None)
    record = await rig.service.connect(rig.request())
    assert rig.provider.revoke_all() >= 1
    rig.provider.reset()
    rig.clock.advance(1)
    with pytest.raises(NeedsSignIn):
        await rig.service.refresh(record.name)
    assert rig.service.find(record.id).state is AccountState.NEEDS_SIGN_IN
    assert "invalid_grant" in (rig.service.find(record.id).last_error or "")
    for _ in range(3):
        with pytest.raises(NeedsSignIn, match="sign in again"):
            await rig.service.token(record.name)
    assert rig.provider.stats()["token_requests"] == 1
    assert len(raised) == 1 and raised[0].record.id == record.id
    # Reconnecting brings it back.
    rig.consent.tasks.clear()
    again = await rig.service.reconnect(record.name)
    assert again.state is AccountState.VALID and again.id == record.id


async def test_transient_provider_failure_backs_off(rig: Rig) -> None:
    record = await rig.service.connect(rig.request())
    rig.provider.fail_token(503, retry_after=7, html=True)
    rig.clock.advance(1)
    from desktop_app.core.errors import TransientError

    with pytest.raises(TransientError):
        await rig.service.refresh(record.name)
    after = rig.service.find(record.id)
    assert after.state is AccountState.RETRYING and after.retry_at is not None
    assert after.retry_at >= rig.clock.now() + 7
    rig.clock.advance(10)
    await rig.service.refresh(record.name)
    assert rig.service.find(record.id).state is AccountState.VALID


async def test_disconnect_revokes_at_the_provider(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.confidential_basic))
    refresh_token = (await stored(rig, record.id)).tokens.refresh_token
    result = await rig.service.disconnect(record.name)
    assert result.revoked
    assert rig.provider.stats()["revocation"] == 1
    assert rig.service.accounts() == []
    assert await rig.vault.load(record.id) is None
    # The provider really forgot the grant.
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            rig.provider.token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()},
            auth=(rig.provider.confidential_basic, rig.provider.confidential_basic_secret),
        )
    assert answer.json()["error"] == "invalid_grant"


async def test_denied_consent_stores_nothing(rig: Rig) -> None:
    rig.consent.approve = False
    with pytest.raises(AuthorizationDenied, match="denied"):
        await rig.service.connect(rig.request())
    assert "not completed" in (await rig.consent.pages())[0]
    assert rig.service.accounts() == []
    assert rig.provider.stats()["token_requests"] == 0


async def test_forged_redirect_is_ignored_and_the_real_one_wins(rig: Rig) -> None:
    real = rig.consent

    async def forge_first(url: str) -> bool:
        redirect = httpx.URL(url).params["redirect_uri"]
        async with httpx.AsyncClient() as http:
            forged = await http.get(redirect, params={"code": "attacker-code", "state": "forged"})
        assert forged.status_code == 400
        return await real(url)

    rig.service._opener = forge_first
    record = await rig.service.connect(rig.request())
    assert record.state is AccountState.VALID
    assert rig.provider.stats()["token"]["authorization_code"] == 1
    assert rig.provider.stats()["token_requests"] == 1


async def test_timeout_when_nobody_comes_back(rig: Rig) -> None:
    async def nowhere(url: str) -> bool:
        return True

    rig.service._opener = nowhere
    rig.service._flow_timeout_s = 0.5
    with pytest.raises(AuthorizationTimeout):
        await rig.service.connect(rig.request())
    assert rig.service.accounts() == []


async def test_cancelled_connect_leaves_nothing_behind(rig: Rig) -> None:
    opened: list[str] = []
    seen = asyncio.Event()

    async def nowhere(url: str) -> bool:
        opened.append(url)
        seen.set()
        return True

    rig.service._opener = nowhere
    task = asyncio.ensure_future(rig.service.connect(rig.request()))
    # Cancel while the flow waits for the browser, not during discovery.
    await asyncio.wait_for(seen.wait(), 30)
    redirect = httpx.URL(dict(httpx.URL(opened[0]).params)["redirect_uri"])
    assert redirect.host == "127.0.0.1" and redirect.port
    _, writer = await asyncio.open_connection("127.0.0.1", redirect.port)  # listening until now
    writer.close()
    await writer.wait_closed()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rig.service.accounts() == []
    # The one-shot listener is closed: its port refuses connections.
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", redirect.port)


async def test_issuer_mix_up_is_refused_before_any_token_request(rig: Rig) -> None:
    spec = await rig.service.resolve_provider(rig.request())
    from dataclasses import replace

    from desktop_app.core.flow import sign_in
    from desktop_app.core.oauth import Client

    wrong = replace(spec, issuer="http://127.0.0.1:1/another-issuer")
    with pytest.raises(AuthorizationError, match="mix-up"):
        await sign_in(
            wrong,
            Client(rig.provider.native_rotating),
            scopes=("openid", "offline_access"),
            http=rig.service._http,
            opener=rig.consent,
            clock=rig.clock,
            timeout_s=30,
        )
    await rig.consent.pages()
    assert rig.provider.stats()["token_requests"] == 0
    assert isinstance(spec, ProviderSpec) and spec.iss_parameter_supported


async def test_reconnect_as_someone_else_is_refused(rig: Rig) -> None:
    record = await rig.service.connect(rig.request())
    await rig.consent.pages()
    await rig.consent.browser.clear_cookies()
    rig.consent.login = "mallory"
    from desktop_app.core.errors import UsageError

    with pytest.raises(UsageError, match="belongs to"):
        await rig.service.reconnect(record.name)
    assert (await stored(rig, record.id)).tokens.refresh_token is not None
    assert rig.service.find(record.id).identity.subject == "alice"
