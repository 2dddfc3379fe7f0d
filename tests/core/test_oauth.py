"""What the token, refresh and revocation calls send, and where they never go (redirects)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from desktop_app.core.errors import TokendeskError
from desktop_app.core.oauth import Client, exchange_code, new_http_client, refresh_grant, revoke
from desktop_app.core.providers import ProviderSpec, Quirk, preset
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet

NOW = 1_800_000_000.0
SPEC = ProviderSpec(
    key="custom",
    display_name="Example",
    authorization_endpoint="https://id.example.com/authorize",
    token_endpoint="https://id.example.com/token",
    revocation_endpoint="https://id.example.com/revoke",
)
TOKENS = TokenSet(
    access_token=Secret("at-old-000001"),
    token_type="Bearer",
    issued_at=NOW - 3000,
    expires_at=NOW + 600,
    refresh_token=Secret("rt-old-000001"),
    scopes=("openid", "offline_access", "https://graph.microsoft.com/Mail.Read"),
)


class Recorder:
    def __init__(self, reply: httpx.Response) -> None:
        self.reply = reply
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply

    def form(self, n: int = 0) -> dict[str, str]:
        return dict(parse_qsl(self.requests[n].content.decode()))


def answer() -> httpx.Response:
    return httpx.Response(200, json={"access_token": "at-new-000002", "token_type": "Bearer", "expires_in": 3600})


@pytest.mark.parametrize("with_quirk", [True, False])
async def test_refresh_repeats_the_scopes_only_for_providers_that_need_it(with_quirk: bool) -> None:
    spec = preset("microsoft", tenant="contoso.onmicrosoft.com")
    assert Quirk.REFRESH_SENDS_SCOPE in spec.quirks
    if not with_quirk:
        spec = ProviderSpec.from_json({**spec.to_json(), "quirks": []})
    endpoint = Recorder(answer())
    async with new_http_client(transport=httpx.MockTransport(endpoint.handle)) as http:
        new = await refresh_grant(http, spec, Client("cid"), TOKENS, now=NOW)
    assert new.access_token == Secret("at-new-000002")
    form = endpoint.form()
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "rt-old-000001"
    if with_quirk:
        assert form["scope"] == "openid offline_access https://graph.microsoft.com/Mail.Read"
    else:
        assert "scope" not in form


async def test_refresh_without_known_scopes_sends_no_empty_scope() -> None:
    from dataclasses import replace

    endpoint = Recorder(answer())
    async with new_http_client(transport=httpx.MockTransport(endpoint.handle)) as http:
        await refresh_grant(http, preset("microsoft"), Client("cid"), replace(TOKENS, scopes=()), now=NOW)
    assert "scope" not in endpoint.form()


async def test_the_token_endpoint_is_never_followed_through_a_redirect() -> None:
    """A redirect would resend the code, refresh token or client secret to wherever it points."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "id.example.com":
            return httpx.Response(307, headers={"location": "https://elsewhere.example.net/steal"})
        return answer()

    client = Client("cid", Secret("client-secret-000003"))
    spec = ProviderSpec.from_json({**SPEC.to_json(), "client_auth": "client_secret_post"})
    async with new_http_client(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(TokendeskError):
            await refresh_grant(http, spec, client, TOKENS, now=NOW)
        with pytest.raises(TokendeskError):
            await exchange_code(
                http,
                spec,
                client,
                code="code-000004",
                verifier="v" * 43,
                redirect_uri="http://127.0.0.1:5000/callback",
                scopes=("openid",),
                now=NOW,
            )
        with pytest.raises(TokendeskError):
            await revoke(http, spec, client, Secret("rt-old-000001"), hint="refresh_token", now=NOW)
    assert [r.url.host for r in seen] == ["id.example.com"] * 3


async def test_a_refused_token_endpoint_is_said_in_words_not_library_classes() -> None:
    from desktop_app.core.errors import TransientError

    spec = ProviderSpec(
        key="custom",
        display_name="Local",
        authorization_endpoint="http://127.0.0.1:1/authorize",
        token_endpoint="http://127.0.0.1:1/token",  # nothing listens on port 1
    )
    tokens = TokenSet(Secret("at"), "Bearer", 0.0, 300.0, Secret("rt"))
    async with new_http_client(timeout_s=5) as http:
        with pytest.raises(TransientError) as refused:
            await refresh_grant(http, spec, Client("c"), tokens, now=1.0)
    assert str(refused.value) == "Cannot reach 127.0.0.1:1 (the connection was refused); you may be offline."
    assert refused.value.offline
