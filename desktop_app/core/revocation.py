"""Revoking a grant at the provider: RFC 7009, and the APIs of providers that offer something else instead
(GitHub's grant deletion, Slack's auth.revoke, Dropbox's token/revoke), chosen by the spec's RevocationKind.

A refusal never blocks forgetting an account: it becomes an outcome with a note that tells the user where to
remove the app's access by hand. A provider out of reach (network, 5xx, 429) raises TransientError instead:
the grant is alive, and trying again later is better than forgetting a token only the provider can end."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from .errors import InvalidEndpoint, InvalidGrant, ProviderError, TransientError
from .oauth import Client, failure_in_words, revoke
from .providers import ProviderSpec, RevocationKind
from .secrets import Secret
from .tokens import TokenSet
from .urls import check_endpoint

log = logging.getLogger(__name__)

# Kinds that send the access token as a Bearer credential: it must still be valid to be accepted.
BEARER_KINDS = frozenset({RevocationKind.SLACK_AUTH_REVOKE, RevocationKind.DROPBOX_TOKEN_REVOKE})
# Slack errors that mean the token is dead already, which is what revoking wanted.
_SLACK_GONE = frozenset({"token_revoked", "invalid_auth", "account_inactive", "not_authed"})


@dataclass(frozen=True)
class RevocationOutcome:
    revoked: bool  # revoked now, or already gone at the provider
    note: str | None = None


def manual_step(spec: ProviderSpec) -> str:
    """What the user must do at the provider when the grant could not be revoked from here."""
    if spec.grants_pages:
        return f"Remove the app's access yourself at {' or '.join(spec.grants_pages)}."
    return (
        f"Remove the app's access yourself in your account settings at {spec.display_name} "
        "(often under 'connected apps', 'applications' or 'sessions')."
    )


def kept_grant_note(spec: ProviderSpec) -> str:
    """Forgotten here on purpose (the grant kept): where the user can still end it."""
    return f"The access stays granted at {spec.display_name}. " + manual_step(spec)


def revocation_url(spec: ProviderSpec, client_id: str) -> str | None:
    """The endpoint for this client (GitHub's names the client ID in its path)."""
    if spec.revocation_endpoint is None or spec.revocation is RevocationKind.NONE:
        return None
    return spec.revocation_endpoint.replace("{client_id}", quote(client_id, safe=""))


def can_revoke(spec: ProviderSpec) -> bool:
    return spec.revocation is not RevocationKind.NONE and spec.revocation_endpoint is not None


async def revoke_grant(
    http: httpx.AsyncClient, spec: ProviderSpec, client: Client, tokens: TokenSet, *, now: float
) -> RevocationOutcome:
    """Revoke the grant behind `tokens` the way `spec.revocation` says; raises only TransientError."""
    if not can_revoke(spec):
        return RevocationOutcome(False, f"{spec.display_name} offers no way to revoke from here. {manual_step(spec)}")
    try:
        if spec.revocation is RevocationKind.RFC7009:
            await _rfc7009(http, spec, client, tokens, now)
            return RevocationOutcome(True)
        if spec.revocation is RevocationKind.GITHUB_GRANT:
            return await _github_grant(http, spec, client, tokens)
        if spec.revocation is RevocationKind.SLACK_AUTH_REVOKE:
            return await _slack_auth_revoke(http, spec, tokens)
        return await _dropbox_token_revoke(http, spec, tokens)
    except TransientError:
        raise
    except (ProviderError, InvalidGrant) as exc:  # an invalid_grant answer too: the provider refused
        log.warning("revocation refused: %s", exc)
        return _refused(spec, str(exc))


def _refused(spec: ProviderSpec, why: str) -> RevocationOutcome:
    return RevocationOutcome(
        False, f"{spec.display_name} refused the revocation ({why.rstrip('.')}). {manual_step(spec)}"
    )


async def _rfc7009(http: httpx.AsyncClient, spec: ProviderSpec, client: Client, tokens: TokenSet, now: float) -> None:
    # Revoking the refresh token ends the grant's access tokens too at most providers (RFC 7009 §2.1).
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token is not None
        else (tokens.access_token, "access_token")
    )
    await revoke(http, spec, client, token, hint=hint, now=now)


async def _send(http: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> httpx.Response:
    host = urlsplit(url).netloc
    try:
        return await http.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise TransientError(f"{host}: {failure_in_words(exc)}") from None


def _bearer(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}


async def _github_grant(
    http: httpx.AsyncClient, spec: ProviderSpec, client: Client, tokens: TokenSet
) -> RevocationOutcome:
    """DELETE /applications/{client_id}/grant: ends every token of this app for this user."""
    if client.client_secret is None:
        return RevocationOutcome(
            False, f"{spec.display_name} revokes only with the app's client secret, which this account lacks. "
            + manual_step(spec),
        )  # fmt: skip
    assert spec.revocation_endpoint is not None
    try:
        url = check_endpoint(revocation_url(spec, client.client_id) or "", what="revocation endpoint")
    except InvalidEndpoint as exc:
        return _refused(spec, str(exc))
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret.reveal()}".encode()).decode("ascii")
    response = await _send(
        http,
        "DELETE",
        url,
        headers={
            "Authorization": f"Basic {basic}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
        content=json.dumps({"access_token": tokens.access_token.reveal()}).encode(),
    )
    if response.status_code in (204, 404, 422):  # done; no such grant or token any more
        return RevocationOutcome(True)
    return _http_refusal(spec, response)


async def _slack_auth_revoke(http: httpx.AsyncClient, spec: ProviderSpec, tokens: TokenSet) -> RevocationOutcome:
    """auth.revoke revokes the token it is called with; failures come as ok=false in HTTP 200."""
    assert spec.revocation_endpoint is not None
    response = await _send(http, "POST", spec.revocation_endpoint, headers=_bearer(tokens.access_token))
    if response.status_code != 200:
        return _http_refusal(spec, response)
    body = _json(response)
    if body.get("ok") is True:
        return RevocationOutcome(True)
    error = str(body.get("error") or "no reason given")
    if error in _SLACK_GONE:
        return RevocationOutcome(True)
    return _refused(spec, error)


async def _dropbox_token_revoke(http: httpx.AsyncClient, spec: ProviderSpec, tokens: TokenSet) -> RevocationOutcome:
    """/2/auth/token/revoke ends the access token and the refresh token it came from; no body."""
    assert spec.revocation_endpoint is not None
    response = await _send(http, "POST", spec.revocation_endpoint, headers=_bearer(tokens.access_token))
    if response.status_code == 200:
        return RevocationOutcome(True)
    if response.status_code == 401 and "invalid_access_token" in response.text:
        return RevocationOutcome(True)  # the token is unknown: revoked already
    return _http_refusal(spec, response)


def _http_refusal(spec: ProviderSpec, response: httpx.Response) -> RevocationOutcome:
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"{spec.display_name} could not revoke the grant now (HTTP {response.status_code})")
    body = _json(response)
    detail = body.get("error_summary") or body.get("error") or body.get("message")
    why = f"HTTP {response.status_code}" + (f": {detail}" if isinstance(detail, str) and detail else "")
    return _refused(spec, why[:200])


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = json.loads(response.text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
