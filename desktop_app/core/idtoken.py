"""ID token validation (OIDC Core §3.1.3.7) with joserfc: signature via JWKS, iss, aud, azp, exp, nonce."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from .errors import IdTokenError, InvalidEndpoint, TransientError
from .oauth import failure_in_words, safe_get
from .providers import ProviderSpec, Quirk

log = logging.getLogger(__name__)

_ASYMMETRIC = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class JwksCache:
    """The provider's signing keys; refetched once when a token names a key id we do not have (rotation)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._sets: dict[str, KeySet] = {}

    async def get(self, uri: str, *, refresh: bool = False) -> KeySet:
        if refresh or uri not in self._sets:
            try:
                response = await safe_get(self._http, uri)
            except InvalidEndpoint:
                raise IdTokenError("The provider's signing keys (JWKS) redirect somewhere unsafe.") from None
            except httpx.HTTPError as exc:
                raise TransientError(f"Cannot fetch the provider's signing keys: {failure_in_words(exc)}.") from None
            try:
                response.raise_for_status()
                entries = json.loads(response.text)["keys"]
            except (httpx.HTTPStatusError, ValueError, TypeError, KeyError):
                raise IdTokenError("The provider's signing keys (JWKS) could not be read.") from None
            # Key by key: one key of a type we cannot use (say secp256k1, or an encryption key) must not
            # make the whole set unusable.
            usable = []
            for entry in entries if isinstance(entries, list) else []:
                try:
                    usable.append(KeySet.import_key_set({"keys": [entry]}).keys[0])
                except (JoseError, ValueError, TypeError, KeyError):
                    log.info(
                        "skipping a JWKS key we cannot use (kty=%s)",
                        entry.get("kty") if isinstance(entry, dict) else "?",
                    )
            if not usable:
                raise IdTokenError("The provider's signing keys (JWKS) contain no key Tokendesk can use.")
            self._sets[uri] = KeySet(usable)
        return self._sets[uri]


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError):
        return {}
    return data if isinstance(data, dict) else {}


def _decode_with_any(token: str, keys: KeySet, algorithms: list[str]) -> jwt.Token:
    for key in keys.keys:
        try:
            return jwt.decode(token, key, algorithms=algorithms)
        except JoseError:
            continue
    raise BadSignatureError()


def _expected_issuers(spec: ProviderSpec, claims: dict[str, Any]) -> set[str]:
    assert spec.issuer is not None
    issuers = {spec.issuer}
    if Quirk.ISSUER_WITHOUT_SCHEME in spec.quirks:
        issuers.add(spec.issuer.removeprefix("https://"))
    if Quirk.ISSUER_PER_TENANT in spec.quirks:
        # Entra signs with the user's tenant id (tid) as issuer, whether we addressed it as common,
        # organizations, consumers, a domain name, or its GUID (in any case).
        tid = claims.get("tid")
        tenant = spec.issuer.split("/")[3].lower()
        if isinstance(tid, str) and _GUID.match(tid) and (not _GUID.match(tenant) or tenant == tid.lower()):
            issuers.add(f"https://login.microsoftonline.com/{tid}/v2.0")
    return issuers


async def validate_id_token(
    id_token: str,
    *,
    spec: ProviderSpec,
    client_id: str,
    nonce: str | None,
    jwks: JwksCache,
    now: float,
    leeway_s: int = 120,
) -> dict[str, Any]:
    if spec.issuer is None or spec.jwks_uri is None:
        raise IdTokenError(f"{spec.display_name} sent an ID token but has no issuer or JWKS URI to check it.")
    algorithms = [a for a in (spec.id_token_algs or ("RS256",)) if a in _ASYMMETRIC] or ["RS256"]
    keys = await jwks.get(spec.jwks_uri)
    try:
        try:
            token = jwt.decode(id_token, keys, algorithms=algorithms)
        except InvalidKeyIdError:
            if _header(id_token).get("kid") is None:
                # No kid and several keys: the signature itself tells which one (OIDC Core §10.1).
                token = _decode_with_any(id_token, keys, algorithms)
            else:
                # The provider rotated its keys since we fetched them.
                token = jwt.decode(id_token, await jwks.get(spec.jwks_uri, refresh=True), algorithms=algorithms)
    except JoseError as exc:
        raise IdTokenError(f"The ID token's signature is not valid ({type(exc).__name__}).") from None
    claims = dict(token.claims)

    if claims.get("iss") not in _expected_issuers(spec, claims):
        raise IdTokenError(f"The ID token was issued by {claims.get('iss')!r}, not {spec.issuer!r}.")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise IdTokenError("The ID token was issued for another application (aud).")
    if claims.get("azp") not in (None, client_id) or (len(audiences) > 1 and "azp" not in claims):
        raise IdTokenError("The ID token's authorized party (azp) is another application.")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + leeway_s < now:
        raise IdTokenError("The ID token has expired; check this computer's clock.")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat - leeway_s > now:
        raise IdTokenError("The ID token was issued in the future; check this computer's clock.")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IdTokenError("The ID token's nonce does not match this sign-in (possible replay).")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise IdTokenError("The ID token has no subject (sub).")
    return claims
