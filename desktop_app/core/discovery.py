"""Provider metadata from an issuer URL: OpenID Connect Discovery 1.0, then RFC 8414."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .errors import DiscoveryError, Input, InvalidEndpoint, TransientError
from .oauth import failure_in_words, safe_get
from .providers import ClientAuth, OfflineAccess, ProviderSpec
from .urls import check_endpoint

log = logging.getLogger(__name__)


def metadata_urls(issuer: str) -> list[str]:
    """Where to look, in order: OIDC (appended) then RFC 8414 §3.1 (inserted before the path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit((parts.scheme, parts.netloc, f"{path}/.well-known/openid-configuration", "", ""))
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", ""))
    return [oidc, rfc8414]


async def fetch_metadata(issuer: str, http: httpx.AsyncClient) -> dict[str, Any]:
    issuer = check_endpoint(issuer, what="issuer")
    if urlsplit(issuer).query:
        raise InvalidEndpoint("The issuer URL must not contain a query string.", input=Input.ISSUER)
    problems: list[str] = []
    for url in metadata_urls(issuer):
        try:
            response = await safe_get(http, url)
        except httpx.TimeoutException:
            raise TransientError(
                f"{urlsplit(issuer).netloc} did not answer in time.", offline=False, input=Input.ISSUER
            ) from None
        except httpx.HTTPError as exc:
            raise TransientError(
                f"Cannot reach {urlsplit(issuer).netloc}: {failure_in_words(exc)}.", offline=True, input=Input.ISSUER
            ) from None
        except InvalidEndpoint as exc:
            raise DiscoveryError(
                f"The issuer redirected discovery somewhere unsafe: {exc}", input=Input.ISSUER
            ) from None
        if response.status_code == 404:
            problems.append(f"{url}: not found")
            continue
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"{urlsplit(issuer).netloc} answered HTTP {response.status_code} to discovery.", input=Input.ISSUER
            )
        ctype = response.headers.get("content-type", "")
        try:
            data = json.loads(response.text)
        except ValueError:
            kind = "an HTML page" if "html" in ctype.lower() else "something that is not JSON"
            problems.append(f"{url}: {kind} (HTTP {response.status_code})")
            continue
        if response.status_code != 200 or not isinstance(data, dict):
            problems.append(f"{url}: HTTP {response.status_code}")
            continue
        # OIDC Discovery §4.3 / RFC 8414 §3.3: the document must name exactly the issuer we asked for,
        # otherwise an attacker-controlled document could redirect tokens elsewhere.
        # A trailing slash is the only leeway: users type "https://x.auth0.com" for "https://x.auth0.com/".
        if str(data.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise DiscoveryError(
                f"The metadata at {url} belongs to issuer {data.get('issuer')!r}, not {issuer!r}.", input=Input.ISSUER
            )
        return data
    raise DiscoveryError(
        f"No OpenID Connect or OAuth metadata found for {issuer}: " + "; ".join(problems) + ".", input=Input.ISSUER
    )


def spec_from_metadata(data: dict[str, Any], *, has_secret: bool, display_name: str | None = None) -> ProviderSpec:
    def endpoint(name: str, required: bool = False) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                raise DiscoveryError(f"The provider's metadata has no {name}.")
            return None
        if not isinstance(value, str):
            raise DiscoveryError(f"The provider's metadata has an invalid {name}.")
        try:
            return check_endpoint(value, what=name.replace("_", " "))
        except InvalidEndpoint as exc:
            raise DiscoveryError(f"The provider's metadata is unsafe: {exc}") from None

    issuer = str(data["issuer"])
    auth_methods = data.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if has_secret:
        method = ClientAuth.BASIC if "client_secret_basic" in auth_methods else ClientAuth.POST
        if method.value not in auth_methods:
            raise DiscoveryError(
                "The provider supports neither client_secret_basic nor client_secret_post for the token endpoint."
            )
    else:
        method = ClientAuth.NONE
    challenge = data.get("code_challenge_methods_supported")
    if isinstance(challenge, list) and "S256" not in challenge:
        log.warning("issuer %s does not advertise PKCE S256; sending it anyway (RFC 9700 §2.1.1)", issuer)
    scopes_supported = data.get("scopes_supported")
    oidc = "jwks_uri" in data and (
        scopes_supported is None or "openid" in scopes_supported or "id_token_signing_alg_values_supported" in data
    )
    scopes = ["openid", "email", "profile", "offline_access"] if oidc else []
    if isinstance(scopes_supported, list) and oidc:
        scopes = [s for s in scopes if s in scopes_supported or s == "openid"]
    offline = OfflineAccess.SCOPE if "offline_access" in scopes else OfflineAccess.ALWAYS
    algs = data.get("id_token_signing_alg_values_supported") or ["RS256"]
    return ProviderSpec(
        key="custom",
        display_name=display_name or urlsplit(issuer).hostname or issuer,
        issuer=issuer,
        authorization_endpoint=endpoint("authorization_endpoint", True) or "",
        token_endpoint=endpoint("token_endpoint", True) or "",
        revocation_endpoint=endpoint("revocation_endpoint"),
        userinfo_endpoint=endpoint("userinfo_endpoint"),
        jwks_uri=endpoint("jwks_uri") if oidc else None,
        device_authorization_endpoint=endpoint("device_authorization_endpoint"),
        default_scopes=tuple(scopes),
        offline_access=offline,
        client_auth=method,
        requires_secret=has_secret,
        iss_parameter_supported=data.get("authorization_response_iss_parameter_supported") is True,
        id_token_algs=tuple(a for a in algs if isinstance(a, str) and a != "none"),
    )


async def discover(
    issuer: str, http: httpx.AsyncClient, *, has_secret: bool, display_name: str | None = None
) -> ProviderSpec:
    return spec_from_metadata(await fetch_metadata(issuer, http), has_secret=has_secret, display_name=display_name)
