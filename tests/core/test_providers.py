from urllib.parse import parse_qs, urlsplit

import pytest

from desktop_app.core.errors import Hint, Input, InvalidEndpoint, UsageError
from desktop_app.core.flow import request_scopes
from desktop_app.core.oauth import Client, authorization_url
from desktop_app.core.providers import PRESETS, ProviderSpec, Quirk, preset


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def build_url(spec: ProviderSpec, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
    return query(
        authorization_url(
            spec,
            Client("cid"),
            redirect_uri="http://127.0.0.1:5000/callback",
            scopes=request_scopes(spec, scopes),
            state="st",
            challenge="ch",
            nonce="n",
        )
    )


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset_builds_with_https_endpoints_and_round_trips(key: str) -> None:
    params = {p.name: "example.test" if p.name == "domain" else "acme" for p in PRESETS[key].params if p.required}
    spec = preset(key, **params)
    assert spec.authorization_endpoint.startswith("https://")
    assert spec.token_endpoint.startswith("https://")
    assert ProviderSpec.from_json(spec.to_json()) == spec


def test_google_asks_offline_with_params_and_consent() -> None:
    q = build_url(preset("google"))
    assert q["access_type"] == "offline" and q["prompt"] == "consent"
    assert "offline_access" not in q["scope"].split()
    assert preset("google").quirks == {Quirk.ISSUER_WITHOUT_SCHEME}


def test_accounts_saved_with_a_retired_quirk_still_load() -> None:
    # "no-refresh-rotation" was named by Google and Dropbox but read by no code; it was removed, and
    # accounts.json files written before still carry it.
    stored = {**preset("dropbox").to_json(), "quirks": ["no-refresh-rotation"]}
    assert ProviderSpec.from_json(stored) == preset("dropbox")


def test_microsoft_tenant_offline_access_and_localhost_redirect() -> None:
    spec = preset("microsoft", tenant="contoso.onmicrosoft.com")
    assert spec.token_endpoint == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert spec.redirect_host == "localhost"
    assert spec.revocation_endpoint is None
    q = build_url(spec)
    assert "offline_access" in q["scope"].split()
    # Forcing consent would block users whose admin consented for them (AADSTS90094).
    assert "prompt" not in q
    assert preset("microsoft").issuer == "https://login.microsoftonline.com/common/v2.0"


def test_dropbox_token_access_type() -> None:
    assert build_url(preset("dropbox"))["token_access_type"] == "offline"


def test_generic_oidc_request_has_pkce_state_nonce_and_consent() -> None:
    spec = ProviderSpec(
        key="custom",
        display_name="x",
        issuer="https://id.example.com",
        authorization_endpoint="https://id.example.com/auth?tenant=1",
        token_endpoint="https://id.example.com/token",
        jwks_uri="https://id.example.com/jwks",
        default_scopes=("openid", "email", "profile", "offline_access"),
    )
    url = authorization_url(
        spec,
        Client("cid"),
        redirect_uri="http://127.0.0.1:5000/callback",
        scopes=spec.default_scopes,
        state="st",
        challenge="ch",
        nonce="n",
    )
    assert url.startswith("https://id.example.com/auth?tenant=1&")
    q = query(url)
    assert q == {
        "tenant": "1",
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "http://127.0.0.1:5000/callback",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
        "scope": "openid email profile offline_access",
        "nonce": "n",
        "prompt": "consent",
    }


@pytest.mark.parametrize(("key", "param"), [("auth0", "domain"), ("okta", "domain"), ("keycloak", "realm")])
def test_presets_needing_a_domain_or_realm_say_so(key: str, param: str) -> None:
    given = {"domain": "sso.example.com"} if param == "realm" else {}
    with pytest.raises(UsageError, match=f"needs a {param}") as caught:
        preset(key, **given)
    assert caught.value.input == param and caught.value.hint is Hint.GIVE_INPUT


def test_every_preset_parameter_is_a_named_input() -> None:
    """Errors name the input at fault (the CLI maps it to a flag, the dialog to a field): every preset
    parameter must be one."""
    assert {q.name for p in PRESETS.values() for q in p.params} <= set(Input)


def test_preset_parameters_are_checked() -> None:
    assert preset("keycloak", domain="https://sso.example.com/auth/", realm="dev").issuer == (
        "https://sso.example.com/auth/realms/dev"
    )
    with pytest.raises(UsageError):
        preset("keycloak", domain="http://sso.example.com", realm="dev")
    with pytest.raises(UsageError) as caught:
        preset("microsoft", tenant="evil/../x")
    assert caught.value.input is Input.TENANT and caught.value.hint is Hint.CHANGE_INPUT
    with pytest.raises(UsageError, match="does not take"):
        preset("google", tenant="x")
    with pytest.raises(UsageError, match="Unknown provider"):
        preset("myspace")


def test_spec_rejects_plain_http_endpoints() -> None:
    with pytest.raises(InvalidEndpoint):
        ProviderSpec(
            key="c",
            display_name="c",
            authorization_endpoint="http://id.example.com/a",
            token_endpoint="https://id.example.com/t",
        )


@pytest.mark.parametrize("key", ["auth0", "okta", "keycloak"])
def test_enterprise_presets_get_refresh_tokens_without_forcing_consent(key: str) -> None:
    params = {"domain": "sso.example.com", **({"realm": "dev"} if key == "keycloak" else {})}
    q = build_url(preset(key, **params))
    assert "offline_access" in q["scope"].split() and "prompt" not in q


def test_domains_are_lower_cased_so_issuers_match() -> None:
    assert preset("okta", domain="Example.OKTA.com").issuer == "https://example.okta.com/oauth2/default"
    assert preset("keycloak", domain="https://SSO.example.com:8443/auth", realm="r").issuer == (
        "https://sso.example.com:8443/auth/realms/r"
    )
