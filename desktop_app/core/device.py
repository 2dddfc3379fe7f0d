"""Sign-in on another device: the OAuth 2.0 Device Authorization Grant (RFC 8628)."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .clock import Clock
from .errors import (
    DeviceAccessDenied,
    DeviceCodeExpired,
    Hint,
    Input,
    InvalidEndpoint,
    MalformedResponse,
    TransientError,
    UsageError,
)
from .flow import SignIn, finish_sign_in
from .oauth import Client, post_form
from .providers import ProviderSpec
from .secrets import Secret
from .tokens import TokenSet, parse_body, parse_token_response, raise_for_error
from .urls import check_endpoint

log = logging.getLogger(__name__)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL_S = 5.0  # RFC 8628 §3.2: when the provider names none
SLOW_DOWN_S = 5.0  # §3.5: every slow_down adds five seconds to the interval, for good
DEFAULT_EXPIRES_S = 1800.0  # expires_in is required; a provider leaving it out still gets a bound
MAX_BACKOFF_S = 60.0  # network trouble while polling: double the wait up to this (§3.5 suggests backing off)

CodeCallback = Callable[["DeviceCode"], None]


@dataclass(frozen=True, repr=False)
class DeviceCode:
    """What the device authorization endpoint answered (§3.2). The device code is a secret: whoever has it
    can collect the tokens once the user approves; the user code is meant to be shown."""

    device_code: Secret
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval_s: float

    def __repr__(self) -> str:
        return (
            f"DeviceCode(user_code={self.user_code!r}, verification_uri={self.verification_uri!r}, "
            f"expires_at={self.expires_at:.0f}, interval_s={self.interval_s})"
        )

    @property
    def link(self) -> str:
        """The page to open: with the code filled in when the provider offers that (§3.3.1)."""
        return self.verification_uri_complete or self.verification_uri


def browser_available(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a browser could open here: on Linux and the BSDs only with a display or $BROWSER (over SSH
    without X forwarding there is neither); macOS and Windows always have one."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("darwin", "win", "cygwin")):
        return True
    return any(env.get(name) for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"))


def _seconds(body: dict[str, Any], name: str, default: float, spec: ProviderSpec) -> float:
    value = body.get(name)
    if value is None or value == "":
        return default
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise MalformedResponse(f"{spec.display_name}'s device authorization answer has an invalid {name}.")
    return seconds


async def start(
    http: httpx.AsyncClient, spec: ProviderSpec, client: Client, *, scopes: tuple[str, ...], now: float
) -> DeviceCode:
    """Ask for a device code and a user code (§3.1, §3.2)."""
    endpoint = spec.device_authorization_endpoint
    if endpoint is None:
        raise UsageError(
            f"{spec.display_name} has no device authorization endpoint (RFC 8628).",
            input=Input.DEVICE,
            hint=Hint.USE_BROWSER,
        )
    data = {"scope": " ".join(scopes)} if scopes else {}
    response = await post_form(http, endpoint, spec, client, data)
    # The same error shapes as the token endpoint (§3.2), GitHub's errors-in-200 and form bodies included.
    body = raise_for_error(response, spec, now)
    device_code = body.get("device_code")
    user_code = body.get("user_code")
    # Google's answer says verification_url (an early draft's name).
    uri = body.get("verification_uri") or body.get("verification_url")
    if not (isinstance(device_code, str) and device_code and isinstance(user_code, str) and user_code) or not (
        isinstance(uri, str) and uri
    ):
        raise MalformedResponse(
            f"{spec.display_name}'s device authorization answer lacks a device code, user code or "
            "verification URI; nothing was started.",
            status=response.status_code,
        )
    complete = body.get("verification_uri_complete")
    try:
        # The user is sent there: never to a plain-HTTP (or javascript:) page.
        uri = check_endpoint(uri, what="verification URI")
        complete = check_endpoint(complete, what="verification URI") if isinstance(complete, str) else None
    except InvalidEndpoint as exc:
        raise MalformedResponse(f"{spec.display_name}'s device authorization answer is unsafe: {exc}") from None
    return DeviceCode(
        device_code=Secret(device_code),
        user_code=user_code,
        verification_uri=uri,
        verification_uri_complete=complete,
        expires_at=now + _seconds(body, "expires_in", DEFAULT_EXPIRES_S, spec),
        interval_s=max(1.0, _seconds(body, "interval", DEFAULT_INTERVAL_S, spec)),
    )


async def poll(
    http: httpx.AsyncClient,
    spec: ProviderSpec,
    client: Client,
    code: DeviceCode,
    *,
    clock: Clock,
    scopes: tuple[str, ...],
    timeout_s: float,
) -> TokenSet:
    """Poll the token endpoint until the user approves (§3.4, §3.5), the code expires, or `timeout_s` passes."""
    started = clock.now()
    deadline = min(code.expires_at, started + timeout_s)
    interval = code.interval_s
    failures = 0  # network trouble in a row
    trouble: TransientError | None = None
    data = {"grant_type": GRANT_TYPE, "device_code": code.device_code.reveal()}
    while True:
        wait = interval
        if trouble is not None:
            wait = max(interval, min(interval * 2**failures, MAX_BACKOFF_S), trouble.retry_after_s or 0.0)
        if clock.now() + wait > deadline:
            raise _gave_up(spec, code, deadline, started, timeout_s, trouble)
        await clock.sleep(wait)
        try:
            response = await post_form(http, spec.token_endpoint, spec, client, data)
            body = parse_body(response) if response.status_code < 500 and response.status_code != 429 else None
            error = body.get("error") if body is not None else None
            if isinstance(error, str) and error:
                error = spec.error_aliases.get(error, error)
                if error == "authorization_pending":
                    trouble, failures = None, 0
                    continue
                if error == "slow_down":
                    interval += SLOW_DOWN_S
                    # GitHub names the new interval in its slow_down answer; never poll faster than either.
                    assert body is not None
                    interval = max(interval, _seconds(body, "interval", 0.0, spec))
                    log.info("device flow: the provider asked to slow down; polling every %.0f s", interval)
                    trouble, failures = None, 0
                    continue
                if error == "access_denied":
                    raise DeviceAccessDenied(
                        f"The sign-in to {spec.display_name} was refused on the other device; nothing was saved."
                    )
                if error == "expired_token":
                    raise DeviceCodeExpired(
                        f"The code {code.user_code} expired before the sign-in to {spec.display_name} was "
                        "approved; run the sign-in again for a new code."
                    )
            return parse_token_response(response, spec, now=clock.now(), requested_scopes=scopes)
        except TransientError as exc:
            # Offline for a moment, a 5xx or a 429: keep the code and try again later, waiting longer each time.
            failures += 1
            trouble = exc
            log.info("device flow: polling failed (%s); trying again", exc)


def _gave_up(
    spec: ProviderSpec,
    code: DeviceCode,
    deadline: float,
    started: float,
    timeout_s: float,
    trouble: TransientError | None,
) -> Exception:
    if trouble is not None:
        return TransientError(
            f"Gave up waiting for the sign-in to {spec.display_name}: {trouble} Run the sign-in again.",
            offline=trouble.offline,
        )
    if deadline < code.expires_at:
        return DeviceCodeExpired(
            f"Nobody approved the sign-in to {spec.display_name} within {timeout_s:.0f} s; run the sign-in "
            "again for a new code."
        )
    return DeviceCodeExpired(
        f"The code {code.user_code} expired before the sign-in to {spec.display_name} was approved; "
        "run the sign-in again for a new code."
    )


async def device_sign_in(
    spec: ProviderSpec,
    client: Client,
    *,
    scopes: tuple[str, ...],
    http: httpx.AsyncClient,
    clock: Clock,
    timeout_s: float,
    on_code: CodeCallback | None = None,
) -> SignIn:
    """The whole device flow: a code for the user, polling, then the same checks as a browser sign-in."""
    code = await start(http, spec, client, scopes=scopes, now=clock.now())
    if on_code is not None:
        # The user's time is what is left of both the code's life and our own wait.
        on_code(replace(code, expires_at=min(code.expires_at, clock.now() + timeout_s)))
    tokens = await poll(http, spec, client, code, clock=clock, scopes=scopes, timeout_s=timeout_s)
    oidc = spec.is_oidc and "openid" in scopes
    return await finish_sign_in(spec, client, tokens, http=http, clock=clock, nonce=None, oidc=oidc)
