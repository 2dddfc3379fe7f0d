"""The token-set value and the strict token-response parser (RFC 6749 §5.1, §5.2)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .errors import ClientConfigError, InvalidGrant, MalformedResponse, ProviderError, TransientError
from .providers import ProviderSpec, Quirk
from .secrets import Secret

if TYPE_CHECKING:
    import httpx  # only annotations: the CLI reads a valid token from the keychain without loading httpx


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One grant's tokens as the provider issued them (immutable; the vault stores it, the engine replaces it).

    Secrets are `Secret`s: repr, str and logging never show them (reveal() does, for the one place that sends
    or prints a token). Times are wall-clock seconds (the engine's clock); `expires_at`/`refresh_expires_at`
    are None when the provider did not say. `scopes` are the granted ones (RFC 6749 §3.3)."""

    access_token: Secret
    token_type: str
    issued_at: float
    expires_at: float | None
    refresh_token: Secret | None = None
    refresh_expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    id_token: Secret | None = field(default=None)

    def __repr__(self) -> str:
        return (
            f"TokenSet(token_type={self.token_type!r}, issued_at={self.issued_at:.0f}, "
            f"expires_at={self.expires_at!r}, has_refresh={self.refresh_token is not None}, scopes={self.scopes!r})"
        )

    def valid_for(self, now: float) -> float:
        """Seconds of life left; infinity for tokens without a known expiry."""
        return float("inf") if self.expires_at is None else self.expires_at - now

    @property
    def lifetime_s(self) -> float | None:
        return None if self.expires_at is None else self.expires_at - self.issued_at

    def authorization_header(self) -> str:
        # RFC 6750 §2.1. Non-Bearer types are rejected at parse time unless a preset allows them, and those
        # providers (Slack) still expect the Bearer scheme.
        return f"Bearer {self.access_token.reveal()}"

    def with_previous(self, previous: TokenSet) -> TokenSet:
        """Fill what a refresh answer may leave out: the refresh token and its expiry (RFC 6749 §6), and the
        lifetime (expires_in is only RECOMMENDED): a refreshable token must never look eternal."""
        new = self
        if new.refresh_token is None:
            new = replace(new, refresh_token=previous.refresh_token, refresh_expires_at=previous.refresh_expires_at)
        if new.expires_at is None and previous.lifetime_s is not None:
            new = replace(new, expires_at=new.issued_at + previous.lifetime_s)
        return new

    def to_json(self) -> dict[str, Any]:
        def reveal(s: Secret | None) -> str | None:
            return None if s is None else s.reveal()

        return {
            "access_token": self.access_token.reveal(),
            "token_type": self.token_type,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "refresh_token": reveal(self.refresh_token),
            "refresh_expires_at": self.refresh_expires_at,
            "scopes": list(self.scopes),
            # No id_token: it is checked once at sign-in and never needed again, and it would push the item
            # past Windows Credential Manager's 2,560 bytes.
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenSet:
        def secret(key: str) -> Secret | None:
            value = data.get(key)
            return Secret(value) if isinstance(value, str) and value else None

        access = secret("access_token")
        if access is None:
            raise ValueError("stored token set has no access token")
        return cls(
            access_token=access,
            token_type=str(data.get("token_type", "Bearer")),
            issued_at=float(data["issued_at"]),
            expires_at=_opt_float(data.get("expires_at")),
            refresh_token=secret("refresh_token"),
            refresh_expires_at=_opt_float(data.get("refresh_expires_at")),
            scopes=tuple(str(s) for s in data.get("scopes", ())),
            id_token=secret("id_token"),
        )


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


# --- parsing ------------------------------------------------------------------------------------

_MAX_LIFETIME_S = 10 * 365 * 86400.0  # a bigger expires_in is a server bug; treat it as "very long"
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "slow_down"}
_CONFIG_ERRORS = {
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_request",
}
# The user must act: the grant is dead, or the provider wants an interactive sign-in (OIDC Core §3.1.2.6;
# Entra answers refreshes with interaction_required when MFA or conditional access kicks in).
_SIGN_IN_ERRORS = {
    "invalid_grant",
    "interaction_required",
    "login_required",
    "consent_required",
    "account_selection_required",
}


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() alone accepts "²", which float() refuses
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def parse_body(response: httpx.Response) -> dict[str, Any] | None:
    """The response body as a dict (JSON, or form-encoded as GitHub answers by default), else None."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = response.text
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _looks_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    head = response.text[:200].lstrip().lower()
    return "html" in ctype or head.startswith(("<!doctype", "<html"))


def raise_for_error(response: httpx.Response, spec: ProviderSpec, now: float) -> dict[str, Any]:
    """Return the parsed body of a successful answer; raise the typed error that fits anything else."""
    status = response.status_code
    host = response.request.url.host if response.request else "the provider"
    if status == 429 or status >= 500:
        retry = parse_retry_after(response.headers.get("retry-after"), now)
        what = "is rate limiting requests" if status == 429 else "is having trouble"
        raise TransientError(f"{spec.display_name} {what} (HTTP {status}).", retry_after_s=retry, status=status)
    body = parse_body(response)
    if body is None and status == 401:
        # RFC 6749 §5.2: client authentication failed, even when the server sends no JSON about it.
        raise ClientConfigError(
            f"{spec.display_name} did not accept the client credentials (HTTP 401); check the client ID and secret.",
            error="invalid_client",
            status=status,
        )
    if body is None:
        kind = "an HTML page" if _looks_html(response) else "something that is not JSON"
        raise MalformedResponse(
            f"{spec.display_name} answered with {kind} (HTTP {status}) instead of a token response; "
            f"check the token endpoint URL ({host}).",
            status=status,
        )
    error = body.get("error")
    if Quirk.ERRORS_IN_200 in spec.quirks and body.get("ok") is False and not error:
        error = "unknown_error"
    if error or status >= 400:
        raise _oauth_error(str(error or f"http_{status}"), body.get("error_description"), status, spec)
    return body


def _oauth_error(code: str, description: object, status: int, spec: ProviderSpec) -> ProviderError | InvalidGrant:
    from .logsetup import redact  # some servers echo the token they reject in the description

    code = spec.error_aliases.get(code, code)
    desc = redact(description) if isinstance(description, str) and description else None
    detail = f": {desc}" if desc else ""
    if code in _SIGN_IN_ERRORS:
        return InvalidGrant(
            f"{spec.display_name} no longer accepts this sign-in ({code}{detail}).",
            advice=spec.advice_for(desc),
            error=code,
            description=desc,
            status=status,
        )
    if code in _TRANSIENT_ERRORS:
        return TransientError(
            f"{spec.display_name} is temporarily unavailable ({code}{detail}).",
            error=code,
            description=desc,
            status=status,
        )
    if code in _CONFIG_ERRORS:
        return ClientConfigError(
            f"{spec.display_name} rejected the app's configuration ({code}{detail}); check the client ID, "
            "secret and scopes.",
            error=code,
            description=desc,
            status=status,
        )
    return ProviderError(
        f"{spec.display_name} refused the request ({code}{detail}).",
        error=code,
        description=desc,
        status=status,
    )


def parse_token_response(
    response: httpx.Response, spec: ProviderSpec, *, now: float, requested_scopes: tuple[str, ...] = ()
) -> TokenSet:
    body = raise_for_error(response, spec, now)
    if Quirk.SLACK_AUTHED_USER in spec.quirks and "access_token" not in body:
        nested = body.get("authed_user")
        if isinstance(nested, dict):
            body = nested
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise MalformedResponse(
            f"{spec.display_name}'s token response has no access_token; nothing was stored.",
            status=response.status_code,
        )
    token_type = body.get("token_type")
    if token_type is None and Quirk.TOKEN_TYPE_OPTIONAL not in spec.quirks:
        raise MalformedResponse(f"{spec.display_name}'s token response has no token_type.")
    token_type = str(token_type or "Bearer")
    if token_type.lower() != "bearer" and Quirk.NON_BEARER_TOKEN_TYPE not in spec.quirks:
        raise MalformedResponse(
            f"{spec.display_name} issued a {token_type!r} token; only Bearer tokens (RFC 6750) are supported."
        )
    scope = body.get("scope")
    if isinstance(scope, list):
        scopes = tuple(str(s) for s in scope)
    elif isinstance(scope, str) and scope.strip():
        scopes = tuple(scope.replace(",", " ").split()) if Quirk.COMMA_SCOPES in spec.quirks else tuple(scope.split())
    else:
        scopes = requested_scopes  # RFC 6749 §5.1: omitted means as requested
    refresh = body.get("refresh_token")
    id_token = body.get("id_token")
    return TokenSet(
        access_token=Secret(access),
        token_type="Bearer" if token_type.lower() == "bearer" else token_type,
        issued_at=now,
        expires_at=_deadline(body.get("expires_in"), now, "expires_in", spec),
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        refresh_expires_at=_deadline(body.get("refresh_token_expires_in"), now, "refresh_token_expires_in", spec),
        scopes=scopes,
        id_token=Secret(id_token) if isinstance(id_token, str) and id_token else None,
    )


def _deadline(value: object, now: float, name: str, spec: ProviderSpec) -> float | None:
    if value is None or value == "":
        return None
    # Some servers send numbers as strings ("3599"); accept those, reject anything else.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(f"{spec.display_name}'s token response has an invalid {name}.")
    try:
        seconds = float(value)
    except ValueError:
        raise MalformedResponse(f"{spec.display_name}'s token response has an invalid {name}.") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise MalformedResponse(f"{spec.display_name}'s token response has an invalid {name}.")
    return now + min(seconds, _MAX_LIFETIME_S)


def attainable_s(min_valid_s: float, tokens: TokenSet) -> float:
    """What a refresh can promise: never more than half a token's lifetime (a 30 s token cannot stay valid
    for 60 s, and asking for it must not refresh on every call)."""
    lifetime = tokens.lifetime_s
    return min_valid_s if lifetime is None else min(min_valid_s, 0.5 * lifetime)
