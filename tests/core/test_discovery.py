import httpx
import pytest

from desktop_app.core.discovery import discover, metadata_urls
from desktop_app.core.errors import DiscoveryError, InvalidEndpoint, TransientError
from desktop_app.core.providers import ClientAuth, OfflineAccess

ISSUER = "https://id.example.com/tenant"
META = {
    "issuer": ISSUER,
    "authorization_endpoint": "https://id.example.com/tenant/authorize",
    "token_endpoint": "https://id.example.com/tenant/token",
    "revocation_endpoint": "https://id.example.com/tenant/revoke",
    "jwks_uri": "https://id.example.com/tenant/jwks",
    "scopes_supported": ["openid", "email", "profile", "offline_access"],
    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
    "authorization_response_iss_parameter_supported": True,
    "id_token_signing_alg_values_supported": ["ES256", "none"],
}


def serve(routes: dict[str, httpx.Response]) -> httpx.AsyncClient:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return routes.get(str(request.url), httpx.Response(404))

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client.seen = seen  # type: ignore[attr-defined]
    return client


def test_metadata_locations() -> None:
    assert metadata_urls(ISSUER) == [
        "https://id.example.com/tenant/.well-known/openid-configuration",
        "https://id.example.com/.well-known/oauth-authorization-server/tenant",
    ]


async def test_oidc_discovery() -> None:
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(200, json=META)}) as http:
        spec = await discover(ISSUER, http, has_secret=True)
    assert spec.issuer == ISSUER and spec.is_oidc
    assert spec.client_auth is ClientAuth.POST  # basic is not offered
    assert spec.iss_parameter_supported
    assert spec.offline_access is OfflineAccess.SCOPE and "offline_access" in spec.default_scopes
    assert spec.id_token_algs == ("ES256",)  # "none" is never accepted


async def test_rfc8414_fallback_for_plain_oauth() -> None:
    meta = {k: v for k, v in META.items() if k not in ("jwks_uri", "scopes_supported")}
    async with serve({metadata_urls(ISSUER)[1]: httpx.Response(200, json=meta)}) as http:
        spec = await discover(ISSUER, http, has_secret=False)
        assert http.seen == metadata_urls(ISSUER)  # type: ignore[attr-defined]
    assert not spec.is_oidc and spec.default_scopes == ()
    assert spec.client_auth is ClientAuth.NONE
    assert spec.offline_access is OfflineAccess.ALWAYS


async def test_html_answers_are_named() -> None:
    page = httpx.Response(200, text="<html>Sign in</html>", headers={"content-type": "text/html"})
    async with serve({u: page for u in metadata_urls(ISSUER)}) as http:
        with pytest.raises(DiscoveryError, match="HTML page"):
            await discover(ISSUER, http, has_secret=False)


async def test_metadata_for_another_issuer_is_refused() -> None:
    other = {**META, "issuer": "https://evil.example.com"}
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(200, json=other)}) as http:
        with pytest.raises(DiscoveryError, match="belongs to issuer"):
            await discover(ISSUER, http, has_secret=False)


async def test_trailing_slash_is_tolerated() -> None:
    meta = {**META, "issuer": ISSUER + "/"}
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(200, json=meta)}) as http:
        spec = await discover(ISSUER, http, has_secret=False)
    assert spec.issuer == ISSUER + "/"


async def test_insecure_endpoints_in_metadata_are_refused() -> None:
    meta = {**META, "token_endpoint": "http://id.example.com/token"}
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(200, json=meta)}) as http:
        with pytest.raises(DiscoveryError, match="unsafe"):
            await discover(ISSUER, http, has_secret=False)


async def test_missing_endpoints_are_named() -> None:
    meta = {k: v for k, v in META.items() if k != "token_endpoint"}
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(200, json=meta)}) as http:
        with pytest.raises(DiscoveryError, match="token_endpoint"):
            await discover(ISSUER, http, has_secret=False)


async def test_nothing_found_lists_what_was_tried() -> None:
    async with serve({}) as http:
        with pytest.raises(DiscoveryError, match="not found"):
            await discover(ISSUER, http, has_secret=False)


async def test_unreachable_and_failing_issuers_are_transient() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        with pytest.raises(TransientError, match="Cannot reach"):
            await discover(ISSUER, http, has_secret=False)
    async with serve({metadata_urls(ISSUER)[0]: httpx.Response(503)}) as http:
        with pytest.raises(TransientError, match="503"):
            await discover(ISSUER, http, has_secret=False)


@pytest.mark.parametrize("issuer", ["http://id.example.com", "not a url", "https://id.example.com/?x=1"])
async def test_bad_issuer_urls_fail_before_any_request(issuer: str) -> None:
    async with serve({}) as http:
        with pytest.raises(InvalidEndpoint):
            await discover(issuer, http, has_secret=False)
        assert http.seen == []  # type: ignore[attr-defined]


async def test_redirects_are_followed_only_to_safe_places() -> None:
    moved = "https://id.example.com/tenant/v2/.well-known/openid-configuration"
    routes = {
        metadata_urls(ISSUER)[0]: httpx.Response(301, headers={"location": moved}),
        moved: httpx.Response(200, json=META),
    }
    async with serve(routes) as http:
        assert (await discover(ISSUER, http, has_secret=False)).issuer == ISSUER
    downgrade = {metadata_urls(ISSUER)[0]: httpx.Response(302, headers={"location": "http://evil.example.com/x"})}
    async with serve(downgrade) as http:
        with pytest.raises(DiscoveryError, match="unsafe"):
            await discover(ISSUER, http, has_secret=False)
