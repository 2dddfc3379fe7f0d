"""Proves the rig itself works: provider, fault injection, browser consent and keychain."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import keyring
import keyring.errors
import pytest

from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import CLIENT_SECRETS, OidcProvider

BROWSER_CLI = Path(__file__).with_name("browser_cli.py")


@dataclass
class Loopback:
    """A one-shot loopback redirect target: `query` resolves to the callback's query parameters."""

    port: int
    query: asyncio.Future[dict[str, str]]
    path: str = "/callback"

    def redirect_uri(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{self.path}"


@asynccontextmanager
async def loopback(port: int = 0, path: str = "/callback") -> AsyncIterator[Loopback]:
    query: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nrig callback ok")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        parts = request_line.split()
        # Chromium may also ask for /favicon.ico; only the callback counts.
        if len(parts) > 1 and parts[1].startswith(path) and not query.done():
            query.set_result({k: v[0] for k, v in parse_qs(urlsplit(parts[1]).query).items()})

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield Loopback(server.sockets[0].getsockname()[1], query, path)
    finally:
        server.close()
        await server.wait_closed()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def auth_url(provider: OidcProvider, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": provider.scopes,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        # oidc-provider drops offline_access (so: no refresh token) unless prompt includes consent.
        "prompt": "consent",
    }
    return f"{provider.authorization_endpoint}?{urlencode(params)}"


def token_request(provider: OidcProvider, client_id: str, data: dict[str, str]) -> httpx.Response:
    secret = CLIENT_SECRETS[client_id]
    auth = None
    data = {**data}
    if client_id == provider.confidential_basic:
        assert secret is not None
        auth = httpx.BasicAuth(client_id, secret)
    else:
        data["client_id"] = client_id
        if secret is not None:
            data["client_secret"] = secret
    return httpx.post(provider.token_endpoint, data=data, auth=auth, timeout=10)


async def authorize(provider: OidcProvider, browser: RigBrowser, client_id: str) -> dict[str, Any]:
    """Full authorization-code + PKCE flow through the browser; returns the token response."""
    host = "localhost" if client_id == provider.native_localhost else "127.0.0.1"
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    exact = client_id == provider.web_exact_port  # its one redirect URI names a port and path
    async with loopback(*((provider.exact_port, provider.exact_redirect_path) if exact else ())) as lb:
        page = await browser.complete_consent(auth_url(provider, client_id, lb.redirect_uri(host), challenge, state))
        query = await asyncio.wait_for(lb.query, 5)
    assert page == "rig callback ok"
    assert query["state"] == state
    assert query["iss"] == provider.issuer
    resp = token_request(
        provider,
        client_id,
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": lb.redirect_uri(host),
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 200, resp.text
    tokens: dict[str, Any] = resp.json()
    return tokens


def refresh(provider: OidcProvider, client_id: str, refresh_token: str) -> httpx.Response:
    return token_request(provider, client_id, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(provider: OidcProvider, access_token: str) -> dict[str, Any]:
    resp = httpx.get(provider.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"})
    resp.raise_for_status()
    result: dict[str, Any] = resp.json()
    return result


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_discovery(oidc_provider: OidcProvider) -> None:
    doc = httpx.get(f"{oidc_provider.issuer}/.well-known/openid-configuration").json()
    assert doc["issuer"] == oidc_provider.issuer
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["revocation_endpoint"] == oidc_provider.revocation_endpoint
    assert doc["token_endpoint"] == oidc_provider.token_endpoint
    assert httpx.get(doc["jwks_uri"]).json()["keys"][0]["alg"] == "RS256"


async def test_every_client_authorizes(oidc_provider: OidcProvider, rig_browser: RigBrowser) -> None:
    oidc_provider.reset()
    for client_id in CLIENT_SECRETS:
        tokens = await authorize(oidc_provider, rig_browser, client_id)
        assert {"access_token", "refresh_token", "id_token"} <= tokens.keys(), client_id
        assert tokens["scope"] == oidc_provider.scopes
        claims = jwt_claims(tokens["id_token"])
        assert (claims["iss"], claims["aud"], claims["sub"]) == (oidc_provider.issuer, client_id, "alice")
        assert userinfo(oidc_provider, tokens["access_token"]) == {
            "sub": "alice",
            "email": "alice@example.test",
            "email_verified": True,
            "name": "Rig User alice",
        }
    assert oidc_provider.stats()["token"]["authorization_code"] == len(CLIENT_SECRETS)


async def test_rotation_and_reuse(oidc_provider: OidcProvider, rig_browser: RigBrowser) -> None:
    old = (await authorize(oidc_provider, rig_browser, oidc_provider.native_rotating))["refresh_token"]
    resp = refresh(oidc_provider, oidc_provider.native_rotating, old)
    assert resp.status_code == 200, resp.text
    new = resp.json()["refresh_token"]
    assert new != old
    oidc_provider.reset()
    reuse = refresh(oidc_provider, oidc_provider.native_rotating, old)
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    assert oidc_provider.stats()["token_errors"] == {"invalid_grant": 1}
    # Reuse detection: oidc-provider revokes the whole grant, so the newest token dies too.
    assert refresh(oidc_provider, oidc_provider.native_rotating, new).json()["error"] == "invalid_grant"


async def test_static_refresh_token(oidc_provider: OidcProvider, rig_browser: RigBrowser) -> None:
    rt = (await authorize(oidc_provider, rig_browser, oidc_provider.native_static))["refresh_token"]
    for _ in range(2):
        resp = refresh(oidc_provider, oidc_provider.native_static, rt)
        assert resp.status_code == 200, resp.text
        assert resp.json().get("refresh_token", rt) == rt


async def test_revoke_all(oidc_provider: OidcProvider, rig_browser: RigBrowser) -> None:
    rt = (await authorize(oidc_provider, rig_browser, oidc_provider.confidential_post))["refresh_token"]
    assert oidc_provider.revoke_all() >= 1
    resp = refresh(oidc_provider, oidc_provider.confidential_post, rt)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_grant")


def test_fail_token(oidc_provider: OidcProvider) -> None:
    oidc_provider.reset()
    oidc_provider.fail_token(503, count=2, retry_after=7)
    first = httpx.post(oidc_provider.token_endpoint, data={"grant_type": "refresh_token"})
    assert (first.status_code, first.headers["retry-after"]) == (503, "7")
    assert first.json() == {"error": "temporarily_unavailable"}
    oidc_provider.fail_token(502, html=True)  # replaces the pending fault
    second = httpx.post(oidc_provider.token_endpoint, data={"grant_type": "refresh_token"})
    assert second.status_code == 502
    assert "retry-after" not in second.headers
    assert second.headers["content-type"].startswith("text/html")
    third = httpx.post(oidc_provider.token_endpoint, data={"grant_type": "refresh_token"})
    assert third.status_code == 400  # the real provider again
    stats = oidc_provider.stats()
    assert stats["token_requests"] == 3
    assert stats["token_errors"] == {"invalid_request": 1}
    oidc_provider.fail_token(400, error="unauthorized_client")
    refused = httpx.post(oidc_provider.token_endpoint, data={"grant_type": "refresh_token"})
    assert (refused.status_code, refused.json()) == (400, {"error": "unauthorized_client"})


def test_revocation_counted(oidc_provider: OidcProvider) -> None:
    oidc_provider.reset()
    resp = httpx.post(
        oidc_provider.revocation_endpoint, data={"token": "unknown", "client_id": oidc_provider.native_static}
    )
    assert resp.status_code == 200
    assert oidc_provider.stats()["revocation"] == 1


async def test_deny_consent(oidc_provider: OidcProvider, rig_browser: RigBrowser) -> None:
    _, challenge = pkce()
    async with loopback() as lb:
        url = auth_url(oidc_provider, oidc_provider.native_rotating, lb.redirect_uri(), challenge, "s1")
        await rig_browser.complete_consent(url, approve=False)
        query = await asyncio.wait_for(lb.query, 5)
    assert query["error"] == "access_denied"
    assert (query["state"], query["iss"]) == ("s1", oidc_provider.issuer)


async def test_browser_cli(oidc_provider: OidcProvider) -> None:
    _, challenge = pkce()
    async with loopback() as lb:
        url = auth_url(oidc_provider, oidc_provider.native_static, lb.redirect_uri(), challenge, "s2")
        proc = await asyncio.create_subprocess_exec(sys.executable, str(BROWSER_CLI), url)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        query = await asyncio.wait_for(lb.query, 5)
    assert query["state"] == "s2"
    assert "code" in query


def test_keychain(keychain: Keychain) -> None:
    keyring.set_password("tokendesk-rig", "alice", "s3cret")
    assert keyring.get_password("tokendesk-rig", "alice") == "s3cret"
    assert any(i["attributes"].get("service") == "tokendesk-rig" for i in keychain.items())
    keychain.lock()
    try:
        with pytest.raises(keyring.errors.KeyringLocked):
            keyring.get_password("tokendesk-rig", "alice")
        with pytest.raises(keyring.errors.KeyringLocked):
            keyring.get_password("tokendesk-rig", "nobody")
    finally:
        keychain.unlock()
    assert keyring.get_password("tokendesk-rig", "alice") == "s3cret"
    keyring.delete_password("tokendesk-rig", "alice")


def test_only_keyrings_own_leaked_connections_are_forgiven(keychain: Keychain) -> None:
    """keyring leaks a D-Bus connection when the keychain is locked; the rig closes those, and only those."""
    import gc
    import warnings

    from jeepney.io.blocking import open_dbus_connection

    keychain.lock()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(keyring.errors.KeyringLocked):
                keyring.get_password("tokendesk-rig", "alice")
            gc.collect()
    finally:
        keychain.unlock()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []

    # A connection to the same bus that anyone else leaks still warns (and so fails a test).
    def leak() -> None:
        open_dbus_connection(keychain.env["DBUS_SESSION_BUS_ADDRESS"])
        gc.collect()  # jeepney's connection sits in a reference cycle

    with pytest.warns(ResourceWarning, match="unclosed <socket"):
        leak()
