import base64
import json
from collections.abc import Mapping

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from desktop_app.core.errors import IdTokenError
from desktop_app.core.idtoken import JwksCache, validate_id_token
from desktop_app.core.providers import ProviderSpec, preset

NOW = 1_800_000_000
SPEC = ProviderSpec(
    key="custom",
    display_name="Example",
    issuer="https://id.example.com",
    authorization_endpoint="https://id.example.com/a",
    token_endpoint="https://id.example.com/t",
    jwks_uri="https://id.example.com/jwks",
    id_token_algs=("RS256",),
)


class Keys:
    def __init__(self) -> None:
        self.current = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.extra: list[dict[str, object]] = []  # raw JWKS entries served beside the current key
        self.fetches = 0

    def rotate(self) -> None:
        self.current = RSAKey.generate_key(2048, parameters={"kid": "k2"})

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        keys = KeySet([self.current]).as_dict(private=False)["keys"]
        return httpx.Response(200, text=json.dumps({"keys": [*self.extra, *keys]}))

    def sign(self, *, kid: bool = True, **claims: object) -> str:
        base: dict[str, object] = {
            "iss": "https://id.example.com",
            "aud": "cid",
            "sub": "42",
            "iat": NOW,
            "exp": NOW + 300,
            "nonce": "n-1",
        }
        base.update(claims)
        header: dict[str, object] = {"alg": "RS256", "kid": self.current.kid} if kid else {"alg": "RS256"}
        return jwt.encode(header, {k: v for k, v in base.items() if v is not None}, self.current)


@pytest.fixture
def keys() -> Keys:
    return Keys()


async def check(
    keys: Keys, token: str, *, spec: ProviderSpec = SPEC, nonce: str | None = "n-1", cache: JwksCache | None = None
) -> dict[str, object]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(keys.handler)) as http:
        return await validate_id_token(
            token, spec=spec, client_id="cid", nonce=nonce, jwks=cache or JwksCache(http), now=NOW
        )


async def test_valid_token(keys: Keys) -> None:
    claims = await check(keys, keys.sign(email="a@example.test"))
    assert claims["sub"] == "42" and claims["email"] == "a@example.test"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example.com"}, "issued by"),
        ({"aud": "someone-else"}, "another application"),
        ({"aud": ["cid", "other"], "azp": "other"}, "authorized party"),
        ({"azp": "other"}, "authorized party"),
        ({"aud": ["cid", "other"]}, "authorized party"),
        ({"exp": NOW - 3600}, "expired"),
        ({"iat": NOW + 3600, "exp": NOW + 7200}, "future"),
        ({"nonce": "replayed"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "subject"),
    ],
)
async def test_claims_are_enforced(keys: Keys, claims: dict[str, object], message: str) -> None:
    with pytest.raises(IdTokenError, match=message):
        await check(keys, keys.sign(**claims))


async def test_signature_from_another_key_is_refused(keys: Keys) -> None:
    forger = Keys()
    forged = forger.sign()  # same kid "k1", different key
    with pytest.raises(IdTokenError, match="signature"):
        await check(keys, forged)


def header_of(token: str) -> dict[str, object]:
    segment = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def b64(d: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def test_sign_without_kid_really_omits_it(keys: Keys) -> None:
    # Guards the helper itself: otherwise the "no kid" tests below would run the ordinary path.
    assert "kid" not in header_of(keys.sign(kid=False))
    assert header_of(keys.sign())["kid"] == "k1"


async def test_unsigned_tokens_are_refused(keys: Keys) -> None:
    # Claims that pass every other check, so only the missing signature can be the reason.
    claims = {"iss": "https://id.example.com", "aud": "cid", "sub": "1", "iat": NOW, "exp": NOW + 300, "nonce": "n-1"}
    for header in ({"alg": "none"}, {"alg": "none", "kid": "k1"}):
        unsigned = f"{b64(header)}.{b64(claims)}."
        with pytest.raises(IdTokenError, match="signature"):
            await check(keys, unsigned)
    # The same claims, signed, are accepted: the test above fails only for the signature.
    assert (await check(keys, keys.sign(sub="1")))["sub"] == "1"


async def test_key_rotation_refetches_once(keys: Keys) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(keys.handler)) as http:
        cache = JwksCache(http)
        await check(keys, keys.sign(), cache=cache)
        keys.rotate()
        await check(keys, keys.sign(), cache=cache)
    assert keys.fetches == 2


async def test_microsoft_multi_tenant_issuer(keys: Keys) -> None:
    tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
    spec = ProviderSpec.from_json(
        {**preset("microsoft").to_json(), "jwks_uri": "https://id.example.com/jwks", "id_token_algs": ["RS256"]}
    )
    claims = await check(keys, keys.sign(iss=f"https://login.microsoftonline.com/{tid}/v2.0", tid=tid), spec=spec)
    assert claims["tid"] == tid
    with pytest.raises(IdTokenError, match="issued by"):
        await check(keys, keys.sign(iss=f"https://login.microsoftonline.com/{tid}/v2.0", tid="other"), spec=spec)
    # A tenant addressed by its domain, or by its GUID in upper case, signs with its lower-case tid.
    for tenant in ("contoso.onmicrosoft.com", tid.upper()):
        by_name = ProviderSpec.from_json(
            {
                **preset("microsoft", tenant=tenant).to_json(),
                "jwks_uri": "https://id.example.com/jwks",
                "id_token_algs": ["RS256"],
            }
        )
        iss = f"https://login.microsoftonline.com/{tid}/v2.0"
        assert (await check(keys, keys.sign(iss=iss, tid=tid), spec=by_name))["tid"] == tid
    pinned = ProviderSpec.from_json(
        {
            **preset("microsoft", tenant=tid).to_json(),
            "jwks_uri": "https://id.example.com/jwks",
            "id_token_algs": ["RS256"],
        }
    )
    other = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(IdTokenError, match="issued by"):
        await check(keys, keys.sign(iss=f"https://login.microsoftonline.com/{other}/v2.0", tid=other), spec=pinned)


async def test_google_issuer_without_scheme(keys: Keys) -> None:
    spec = ProviderSpec.from_json(
        {**preset("google").to_json(), "jwks_uri": "https://id.example.com/jwks", "id_token_algs": ["RS256"]}
    )
    assert (await check(keys, keys.sign(iss="accounts.google.com"), spec=spec))["sub"] == "42"
    from dataclasses import replace

    with pytest.raises(IdTokenError, match="issued by"):
        await check(keys, keys.sign(iss="accounts.google.com"), spec=replace(spec, quirks=frozenset()))


async def test_unusable_keys_in_the_set_are_skipped(keys: Keys) -> None:
    keys.extra = [{"kty": "EC", "crv": "secp256k1", "kid": "odd", "x": "AAAA", "y": "AAAA"}, {"kty": "nonsense"}]
    assert (await check(keys, keys.sign()))["sub"] == "42"


async def test_token_without_kid_is_checked_against_each_key(keys: Keys) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k0"})
    keys.extra = [other.as_dict(private=False)]
    assert (await check(keys, keys.sign(kid=False)))["sub"] == "42"
    forger = Keys()
    with pytest.raises(IdTokenError, match="signature"):
        await check(keys, forger.sign(kid=False))


async def test_a_set_with_no_usable_key_is_named(keys: Keys) -> None:
    async def only_junk(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [{"kty": "nonsense"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(only_junk)) as http:
        with pytest.raises(IdTokenError, match="no key"):
            await validate_id_token(keys.sign(), spec=SPEC, client_id="cid", nonce="n-1", jwks=JwksCache(http), now=NOW)


@pytest.mark.parametrize(
    "target",
    [
        "http://keys.example.com/jwks",  # a downgrade to plain HTTP
        "https://user:pass@keys.example.com/jwks",  # credentials in the URL
        "file:///etc/passwd",
    ],
)
async def test_jwks_redirect_to_an_unsafe_place_is_refused(keys: Keys, target: str) -> None:
    seen: list[str] = []

    async def moved(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if str(request.url) == SPEC.jwks_uri:
            return httpx.Response(302, headers={"location": target})
        return keys.handler(request)  # anyone serving the keys there would be believed

    async with httpx.AsyncClient(transport=httpx.MockTransport(moved)) as http:
        with pytest.raises(IdTokenError, match="redirect somewhere unsafe"):
            await validate_id_token(keys.sign(), spec=SPEC, client_id="cid", nonce="n-1", jwks=JwksCache(http), now=NOW)
    assert seen == [SPEC.jwks_uri]


async def test_jwks_redirect_to_a_safe_place_is_followed(keys: Keys) -> None:
    async def moved(request: httpx.Request) -> httpx.Response:
        if str(request.url) == SPEC.jwks_uri:
            return httpx.Response(301, headers={"location": "/v2/jwks"})
        assert str(request.url) == "https://id.example.com/v2/jwks"
        return keys.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(moved)) as http:
        claims = await validate_id_token(
            keys.sign(), spec=SPEC, client_id="cid", nonce="n-1", jwks=JwksCache(http), now=NOW
        )
    assert claims["sub"] == "42"


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"exp": NOW - 120}, True),  # expired, but within the 120 s leeway for clock skew
        ({"exp": NOW - 60}, True),
        ({"exp": NOW - 121}, False),
        ({"iat": NOW + 120, "exp": NOW + 400}, True),
        ({"iat": NOW + 121, "exp": NOW + 400}, False),
    ],
)
async def test_clock_leeway_is_exactly_two_minutes(keys: Keys, claims: dict[str, object], accepted: bool) -> None:
    token = keys.sign(**claims)
    if accepted:
        assert (await check(keys, token))["sub"] == "42"
    else:
        with pytest.raises(IdTokenError, match=r"expired|future"):
            await check(keys, token)


async def test_keys_are_fetched_once_for_many_tokens(keys: Keys) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(keys.handler)) as http:
        cache = JwksCache(http)
        for _ in range(3):
            await check(keys, keys.sign(), cache=cache)
    assert keys.fetches == 1


async def test_a_spec_without_jwks_cannot_check_an_id_token(keys: Keys) -> None:
    from dataclasses import replace

    with pytest.raises(IdTokenError, match="no issuer or JWKS URI"):
        await check(keys, keys.sign(), spec=replace(SPEC, jwks_uri=None))


async def test_only_asymmetric_algorithms_are_accepted(keys: Keys) -> None:
    from dataclasses import replace

    from joserfc.jwk import ECKey, OctKey

    # A provider listing only HS256 still gets its RS256 tokens checked with RS256 ...
    assert (await check(keys, keys.sign(), spec=replace(SPEC, id_token_algs=("HS256",))))["sub"] == "42"
    # ... and an HS256 token is never accepted, whatever its key.
    secret = OctKey.import_key("a-shared-secret-that-is-long-enough-0123456789")
    claims = {"iss": "https://id.example.com", "aud": "cid", "sub": "42", "exp": NOW + 300, "nonce": "n-1"}
    hs256 = jwt.encode({"alg": "HS256"}, claims, secret)
    with pytest.raises(IdTokenError, match="signature"):
        await check(keys, hs256, spec=replace(SPEC, id_token_algs=("HS256", "RS256")))
    # A provider that signs with ES256 only is checked with ES256.
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    keys.extra = [ec.as_dict(private=False)]
    es256 = jwt.encode({"alg": "ES256", "kid": "e1"}, claims, ec)
    assert (await check(keys, es256, spec=replace(SPEC, id_token_algs=("ES256",))))["sub"] == "42"
