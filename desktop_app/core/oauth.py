"""Token endpoint calls (RFC 6749 §4.1.3, §6), revocation (RFC 7009) and userinfo, with client authentication."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from .errors import InvalidGrant, MalformedResponse, TransientError
from .providers import ClientAuth, ProviderSpec, Quirk
from .secrets import Secret
from .tokens import TokenSet, parse_body, parse_token_response, raise_for_error
from .urls import check_endpoint

log = logging.getLogger(__name__)

USER_AGENT = "Tokendesk (+OAuth 2.0 desktop client)"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: Secret | None = None


def new_http_client(timeout_s: float = 20.0, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    # No redirects: a token endpoint that redirects is misconfigured, and following would resend credentials.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
    )


async def safe_get(http: httpx.AsyncClient, url: str, *, max_redirects: int = 3) -> httpx.Response:
    """GET metadata or keys, following redirects only to URLs that are themselves acceptable endpoints
    (HTTPS, or loopback HTTP): a redirect must never downgrade to plain HTTP."""
    for _ in range(max_redirects + 1):
        response = await http.get(url, headers={"Accept": "application/json"})
        location = response.headers.get("location")
        if not response.is_redirect or location is None:
            return response
        url = check_endpoint(str(response.url.join(location)), what="redirect target")
    return response


def failure_in_words(exc: BaseException) -> str:
    """Why a request failed, in words (refused, no such host, timed out, TLS), found along the exception's
    causes; the library's class name when none of those fits."""
    import socket
    import ssl

    cause: BaseException | None = exc
    for _ in range(10):  # the chain httpx -> httpcore -> OS error is short; never loop on a cycle
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate was not accepted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(cause, socket.gaierror):
            return "no such host"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(cause, TimeoutError | httpx.TimeoutException):
            return "it did not answer in time"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def _client_auth(spec: ProviderSpec, client: Client, data: dict[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    method = spec.client_auth if client.client_secret is not None else ClientAuth.NONE
    if method is ClientAuth.BASIC and client.client_secret is not None:
        # RFC 6749 §2.3.1: form-urlencode id and secret before base64, which many clients forget.
        raw = f"{quote(client.client_id, safe='')}:{quote(client.client_secret.reveal(), safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode("ascii")
    else:
        data["client_id"] = client.client_id
        if method is ClientAuth.POST and client.client_secret is not None:
            data["client_secret"] = client.client_secret.reveal()
    return headers


async def _post(
    http: httpx.AsyncClient, url: str, spec: ProviderSpec, client: Client, data: dict[str, str]
) -> httpx.Response:
    headers = {"Accept": "application/json", **_client_auth(spec, client, data)}
    host = urlsplit(url).netloc
    try:
        return await http.post(url, data=data, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        why = failure_in_words(exc)
        raise TransientError(f"Cannot reach {host} ({why}); you may be offline.", offline=True) from None
    except httpx.TimeoutException as exc:
        raise TransientError(f"{host} did not answer in time ({type(exc).__name__}).", maybe_processed=True) from None
    except httpx.HTTPError as exc:
        # The request may have been received and acted upon before the connection broke.
        why = failure_in_words(exc)
        raise TransientError(f"The connection to {host} failed ({why}).", maybe_processed=True) from None


async def post_form(
    http: httpx.AsyncClient, url: str, spec: ProviderSpec, client: Client, data: dict[str, str]
) -> httpx.Response:
    """POST a form to one of the provider's endpoints with the client's authentication (RFC 6749 §2.3);
    network failures become TransientError."""
    return await _post(http, url, spec, client, data)


async def exchange_code(
    http: httpx.AsyncClient,
    spec: ProviderSpec,
    client: Client,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    scopes: tuple[str, ...],
    now: float,
) -> TokenSet:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    response = await _post(http, spec.token_endpoint, spec, client, data)
    return parse_token_response(response, spec, now=now, requested_scopes=scopes)


async def refresh_grant(
    http: httpx.AsyncClient, spec: ProviderSpec, client: Client, tokens: TokenSet, *, now: float
) -> TokenSet:
    if tokens.refresh_token is None:
        raise MalformedResponse("This account has no refresh token; reconnect to get a new access token.")
    data = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.reveal()}
    if Quirk.REFRESH_SENDS_SCOPE in spec.quirks and tokens.scopes:
        data["scope"] = " ".join(tokens.scopes)
    response = await _post(http, spec.token_endpoint, spec, client, data)
    if response.status_code in (400, 401) and not _has_error_code(response):
        # The same endpoint answered properly at sign-in, so a bare refusal of a refresh (Glewlwyd sends an
        # empty 400 for a dead refresh token) means the grant was refused, not that the URL is wrong.
        raise InvalidGrant(
            f"{spec.display_name} refused the refresh without saying why (HTTP {response.status_code}).",
            advice="The provider gave no reason; usually the sign-in expired or was revoked. Reconnect the account.",
            status=response.status_code,
        )
    try:
        return parse_token_response(response, spec, now=now, requested_scopes=tokens.scopes).with_previous(tokens)
    except MalformedResponse as exc:
        rotated = _refresh_token_in(response)
        if rotated is not None and rotated != tokens.refresh_token.reveal():
            exc.rescued_tokens = replace(tokens, refresh_token=Secret(rotated))
        raise


def _has_error_code(response: httpx.Response) -> bool:
    body = parse_body(response)
    return body is not None and isinstance(body.get("error"), str) and bool(body["error"])


def _refresh_token_in(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.text)
    except ValueError:
        return None
    value = body.get("refresh_token") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


async def revoke(
    http: httpx.AsyncClient, spec: ProviderSpec, client: Client, token: Secret, *, hint: str, now: float
) -> None:
    """RFC 7009: revoking the refresh token also ends the grant's access tokens at most providers (§2.1)."""
    if spec.revocation_endpoint is None:
        return
    data = {"token": token.reveal(), "token_type_hint": hint}
    response = await _post(http, spec.revocation_endpoint, spec, client, data)
    # §2.2: 200 for success and for tokens that were already invalid.
    if response.status_code != 200:
        raise_for_error(response, spec, now)


async def fetch_userinfo(
    http: httpx.AsyncClient, spec: ProviderSpec, tokens: TokenSet, *, now: float
) -> dict[str, Any]:
    if spec.userinfo_endpoint is None:
        return {}
    try:
        response = await http.get(
            spec.userinfo_endpoint,
            headers={"Authorization": tokens.authorization_header(), "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        log.warning("userinfo request failed: %s", type(exc).__name__)
        return {}
    if response.status_code != 200:
        log.warning("userinfo answered HTTP %s", response.status_code)
        return {}
    try:
        data = raise_for_error(response, spec, now)
    except Exception:
        return {}
    user = data.get("user")  # Slack's users.identity shape
    return user if isinstance(user, dict) else data


def authorization_url(
    spec: ProviderSpec,
    client: Client,
    *,
    redirect_uri: str,
    scopes: tuple[str, ...],
    state: str,
    challenge: str,
    nonce: str | None,
    extra: tuple[tuple[str, str], ...] = (),
) -> str:
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if scopes:
        params["scope"] = " ".join(scopes)
    if nonce is not None:
        params["nonce"] = nonce
    if "offline_access" in scopes and spec.consent_for_offline:
        # OIDC Core §11: offline_access is ignored unless the request asks for consent.
        params["prompt"] = "consent"
    params.update(dict(spec.extra_auth_params))
    params.update(dict(extra))
    sep = "&" if urlsplit(spec.authorization_endpoint).query else "?"
    return spec.authorization_endpoint + sep + urlencode(params)
