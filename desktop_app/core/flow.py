"""The authorization-code flow with the system browser and a loopback redirect (RFC 8252, 7636, 9207)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import webbrowser
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .clock import Clock
from .defaults import SIGN_IN_TIMEOUT_S
from .errors import AuthorizationError, AuthorizationTimeout, IdTokenError
from .loopback import LoopbackListener
from .oauth import Client, authorization_url, exchange_code, fetch_userinfo
from .pkce import new_pkce, new_state
from .providers import OfflineAccess, ProviderSpec
from .tokens import TokenSet

log = logging.getLogger(__name__)

BrowserOpener = Callable[[str], Awaitable[bool]]
DEFAULT_TIMEOUT_S = SIGN_IN_TIMEOUT_S  # the name callers of sign_in know
BROWSER_START_S = 5.0


async def system_browser(url: str) -> bool:
    """Open `url` with Python's webbrowser module, which honours $BROWSER.

    webbrowser may block until the browser exits (a `$BROWSER` command that stays in the foreground), so it
    runs on a daemon thread that nobody waits for at exit; after a few seconds we assume it opened."""
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[bool] = loop.create_future()

    def settle(ok: bool) -> None:
        if not opened.done():
            opened.set_result(ok)

    def run() -> None:
        try:
            ok = webbrowser.open(url, new=2)
        except Exception:  # a broken $BROWSER must not kill the flow; the link is shown too
            ok = False
        with contextlib.suppress(RuntimeError):  # the loop may be gone already
            loop.call_soon_threadsafe(settle, ok)

    threading.Thread(target=run, name="tokendesk-browser", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(opened), BROWSER_START_S)
    except TimeoutError:
        return True


@dataclass(frozen=True)
class SignIn:
    tokens: TokenSet
    claims: dict[str, Any]  # verified ID token claims, else userinfo, else empty


def request_scopes(spec: ProviderSpec, scopes: tuple[str, ...] | None) -> tuple[str, ...]:
    chosen = list(scopes if scopes else spec.default_scopes)
    if spec.offline_access is OfflineAccess.SCOPE and "offline_access" not in chosen:
        chosen.append("offline_access")
    return tuple(dict.fromkeys(chosen))


async def sign_in(
    spec: ProviderSpec,
    client: Client,
    *,
    scopes: tuple[str, ...],
    http: httpx.AsyncClient,
    opener: BrowserOpener,
    clock: Clock,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_url: Callable[[str], None] | None = None,
) -> SignIn:
    pkce = new_pkce()
    state = new_state()
    oidc = spec.is_oidc and "openid" in scopes
    nonce = new_state() if oidc else None
    async with LoopbackListener(
        state=state, redirect_host=spec.redirect_host, port=spec.redirect_port, path=spec.redirect_path
    ) as listener:
        url = authorization_url(
            spec,
            client,
            redirect_uri=listener.redirect_uri,
            scopes=scopes,
            state=state,
            challenge=pkce.challenge,
            nonce=nonce,
        )
        if on_url is not None:
            on_url(url)
        opened: asyncio.Future[bool] = asyncio.ensure_future(opener(url))
        try:
            callback = await listener.wait(timeout_s)
        except AuthorizationTimeout as exc:
            if spec.redirect_port:
                raise
            # A server that matches redirect URIs exactly shows its error in the browser and never redirects.
            raise AuthorizationTimeout(
                f"{exc} If the provider said the redirect URI does not match, its registration names a fixed "
                "port: connect with that port (and path) as registered."
            ) from None
        finally:
            if not opened.done():
                opened.cancel()
            with contextlib.suppress(BaseException):
                await opened
    # RFC 9207 §2.4: compare iss whenever present; require it when the provider says it sends it.
    if callback.iss is not None and spec.issuer is not None and callback.iss != spec.issuer:
        raise AuthorizationError(
            f"The redirect came from issuer {callback.iss!r}, not {spec.issuer!r}; refusing it (mix-up attack?)."
        )
    if callback.iss is None and spec.iss_parameter_supported:
        raise AuthorizationError("The provider promised an iss parameter in the redirect but sent none; refusing it.")
    tokens = await exchange_code(
        http,
        spec,
        client,
        code=callback.code,
        verifier=pkce.verifier,
        redirect_uri=listener.redirect_uri,
        scopes=scopes,
        now=clock.now(),
    )
    return await finish_sign_in(spec, client, tokens, http=http, clock=clock, nonce=nonce, oidc=oidc)


async def finish_sign_in(
    spec: ProviderSpec,
    client: Client,
    tokens: TokenSet,
    *,
    http: httpx.AsyncClient,
    clock: Clock,
    nonce: str | None,
    oidc: bool,
) -> SignIn:
    """Check the ID token (when OIDC) and learn who signed in; shared by the browser and the device flow
    (which has no nonce: RFC 8628 sends no authorization request that could carry one)."""
    claims: dict[str, Any] = {}
    if oidc:
        if tokens.id_token is None:
            raise IdTokenError(f"{spec.display_name} did not return an ID token for an OpenID Connect sign-in.")
        from .idtoken import JwksCache, validate_id_token  # joserfc costs start-up time only sign-in needs

        claims = await validate_id_token(
            tokens.id_token.reveal(),
            spec=spec,
            client_id=client.client_id,
            nonce=nonce,
            jwks=JwksCache(http),
            now=clock.now(),
        )
    if spec.userinfo_endpoint and not any(claims.get(k) for k in ("email", "preferred_username", "name")):
        info = await fetch_userinfo(http, spec, tokens, now=clock.now())
        if claims and info.get("sub") != claims.get("sub"):
            # OIDC Core §5.3.2: userinfo must name the ID token's subject, or it is not about this user.
            log.warning("userinfo does not name the ID token's subject; ignoring it")
        else:
            claims = {**info, **claims}
    return SignIn(tokens=tokens, claims=claims)
