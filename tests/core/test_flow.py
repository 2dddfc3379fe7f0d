import threading
import webbrowser
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
import pytest

from desktop_app.core import flow
from desktop_app.core.errors import AuthorizationError
from desktop_app.core.flow import request_scopes, sign_in, system_browser
from desktop_app.core.oauth import Client
from desktop_app.core.providers import preset
from tests.clock import FakeClock
from tests.core.conftest import SPEC as BASE_SPEC

SPEC = replace(BASE_SPEC, iss_parameter_supported=True)


def redirecting(extra: dict[str, str]) -> Callable[[str], Awaitable[bool]]:
    """A browser whose provider redirects straight back with a code plus `extra`."""

    async def opener(url: str) -> bool:
        params = httpx.URL(url).params
        async with httpx.AsyncClient() as http:
            await http.get(params["redirect_uri"], params={"code": "c0de", "state": params["state"], **extra})
        return True

    return opener


@pytest.mark.parametrize(
    ("extra", "message"),
    [({}, "promised an iss"), ({"iss": "https://evil.example.com"}, "mix-up")],
)
async def test_iss_is_enforced_before_the_code_is_spent(extra: dict[str, str], message: str) -> None:
    token_calls: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        token_calls.append(request)
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint)) as http:
        with pytest.raises(AuthorizationError, match=message):
            await sign_in(
                SPEC,
                Client("cid"),
                scopes=("api",),
                http=http,
                opener=redirecting(extra),
                clock=FakeClock(),
                timeout_s=10,
            )
    assert token_calls == []


async def test_code_exchange_sends_pkce_verifier_and_redirect_uri() -> None:
    seen: dict[str, str] = {}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.update(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(
            200,
            json={
                "access_token": "at-0123456789",
                "token_type": "Bearer",
                "expires_in": 60,
                "refresh_token": "rt-0123456789",
            },
        )

    opener = redirecting({"iss": "https://id.example.com"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint)) as http:
        result = await sign_in(
            SPEC, Client("cid"), scopes=("api",), http=http, opener=opener, clock=FakeClock(), timeout_s=10
        )
    assert result.tokens.refresh_token is not None and result.claims == {}
    assert seen["grant_type"] == "authorization_code" and seen["code"] == "c0de" and seen["client_id"] == "cid"
    assert seen["redirect_uri"].startswith("http://127.0.0.1:") and len(seen["code_verifier"]) >= 43


async def test_system_browser_reports_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: False)
    assert await system_browser("http://127.0.0.1:1/x") is False


async def test_system_browser_never_waits_for_a_browser_that_stays_open(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    seen: list[str] = []

    def blocking_open(url: str, new: int = 0) -> bool:
        seen.append(url)
        release.wait(30)  # like `$BROWSER=firefox` when Firefox was not running yet
        return True

    monkeypatch.setattr(webbrowser, "open", blocking_open)
    monkeypatch.setattr(flow, "BROWSER_START_S", 0.05)
    try:
        assert await system_browser("http://127.0.0.1:1/x") is True
        assert seen == ["http://127.0.0.1:1/x"]
        browser_threads = [t for t in threading.enumerate() if t.name == "tokendesk-browser"]
        assert browser_threads and all(t.daemon for t in browser_threads)
    finally:
        release.set()


def test_offline_access_scope_is_added_once() -> None:
    spec = preset("okta", domain="example.okta.com")
    assert request_scopes(spec, ("openid", "profile")) == ("openid", "profile", "offline_access")
    assert request_scopes(spec, None).count("offline_access") == 1
    assert "offline_access" not in request_scopes(preset("google"), ("openid",))
