import json

import httpx
import pytest

from desktop_app.core.errors import ClientConfigError, InvalidGrant, MalformedResponse, ProviderError, TransientError
from desktop_app.core.providers import ProviderSpec, preset
from desktop_app.core.tokens import TokenSet, parse_retry_after, parse_token_response

NOW = 1_800_000_000.0
SPEC = ProviderSpec(
    key="custom",
    display_name="Example",
    authorization_endpoint="https://id.example.com/authorize",
    token_endpoint="https://id.example.com/token",
)


def response(
    status: int,
    body: object = None,
    *,
    text: str | None = None,
    ctype: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = text if text is not None else json.dumps(body)
    return httpx.Response(
        status,
        content=content.encode(),
        headers={"content-type": ctype, **(headers or {})},
        request=httpx.Request("POST", "https://id.example.com/token"),
    )


def test_full_response() -> None:
    tokens = parse_token_response(
        response(
            200,
            {
                "access_token": "at-123456789",
                "token_type": "bearer",
                "expires_in": 300,
                "refresh_token": "rt-123456789",
                "scope": "openid email",
                "refresh_token_expires_in": "3600",
            },
        ),
        SPEC,
        now=NOW,
    )
    assert tokens.access_token.reveal() == "at-123456789"
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at == NOW + 300
    assert tokens.refresh_expires_at == NOW + 3600
    assert tokens.scopes == ("openid", "email")
    assert tokens.authorization_header() == "Bearer at-123456789"


def test_scope_defaults_to_requested_and_expiry_may_be_unknown() -> None:
    tokens = parse_token_response(
        response(200, {"access_token": "at-123456789", "token_type": "Bearer"}),
        SPEC,
        now=NOW,
        requested_scopes=("a", "b"),
    )
    assert tokens.scopes == ("a", "b")
    assert tokens.expires_at is None
    assert tokens.valid_for(NOW + 10**9) == float("inf")


def test_secrets_never_in_repr() -> None:
    tokens = parse_token_response(
        response(
            200,
            {
                "access_token": "at-SECRETVALUE",
                "token_type": "Bearer",
                "refresh_token": "rt-SECRETVALUE",
                "id_token": "id-SECRETVALUE",
            },
        ),
        SPEC,
        now=NOW,
    )
    shown = repr(tokens) + str(tokens) + f"{tokens.access_token}" + repr(tokens.refresh_token)
    assert "SECRETVALUE" not in shown


def test_round_trip_through_json() -> None:
    tokens = parse_token_response(
        response(
            200,
            {"access_token": "at-123456789", "token_type": "Bearer", "expires_in": 60, "refresh_token": "rt-123456789"},
        ),
        SPEC,
        now=NOW,
    )
    again = TokenSet.from_json(tokens.to_json())
    assert again == tokens


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"token_type": "Bearer"}, "no access_token"),
        ({"access_token": "", "token_type": "Bearer"}, "no access_token"),
        ({"access_token": "x" * 10}, "no token_type"),
        ({"access_token": "x" * 10, "token_type": "DPoP"}, "only Bearer"),
        ({"access_token": "x" * 10, "token_type": "Bearer", "expires_in": "soon"}, "invalid expires_in"),
        ({"access_token": "x" * 10, "token_type": "Bearer", "expires_in": -5}, "invalid expires_in"),
    ],
)
def test_malformed_token_responses(body: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_token_response(response(200, body), SPEC, now=NOW)


def test_html_answer_is_named() -> None:
    with pytest.raises(MalformedResponse, match="HTML page"):
        parse_token_response(response(200, text="<!DOCTYPE html><p>Login</p>", ctype="text/html"), SPEC, now=NOW)


def test_garbage_answer_is_named() -> None:
    with pytest.raises(MalformedResponse, match="not JSON"):
        parse_token_response(response(200, text="\x00garbage", ctype="application/octet-stream"), SPEC, now=NOW)


def test_error_inside_http_200_is_an_error() -> None:
    with pytest.raises(InvalidGrant, match="token revoked"):
        parse_token_response(
            response(200, {"error": "invalid_grant", "error_description": "token revoked"}), SPEC, now=NOW
        )


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, "invalid_grant", InvalidGrant),
        (401, "invalid_client", ClientConfigError),
        (400, "unauthorized_client", ClientConfigError),
        (400, "temporarily_unavailable", TransientError),
        (400, "something_new", ProviderError),
    ],
)
def test_error_codes_are_classified(status: int, error: str, kind: type[Exception]) -> None:
    with pytest.raises(kind) as info:
        parse_token_response(response(status, {"error": error}), SPEC, now=NOW)
    assert type(info.value) is kind


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_statuses_carry_retry_after(status: int) -> None:
    with pytest.raises(TransientError) as info:
        parse_token_response(
            response(status, text="<html>busy</html>", ctype="text/html", headers={"Retry-After": "17"}), SPEC, now=NOW
        )
    assert info.value.retry_after_s == 17


def test_retry_after_http_date() -> None:
    from email.utils import formatdate

    assert parse_retry_after(formatdate(NOW + 10, usegmt=True), NOW) == pytest.approx(10, abs=1)
    assert parse_retry_after("nonsense", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_microsoft_advice_for_inactivity() -> None:
    spec = preset("microsoft")
    with pytest.raises(InvalidGrant) as info:
        parse_token_response(
            response(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
                },
            ),
            spec,
            now=NOW,
        )
    assert info.value.advice is not None and "unused" in info.value.advice


def test_google_testing_app_advice() -> None:
    with pytest.raises(InvalidGrant) as info:
        parse_token_response(
            response(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            preset("google"),
            now=NOW,
        )
    assert info.value.advice is not None and "7 days" in info.value.advice
    with pytest.raises(InvalidGrant) as info:
        parse_token_response(
            response(400, {"error": "invalid_grant", "error_description": "invalid_rapt"}), preset("google"), now=NOW
        )
    assert info.value.advice is not None and "reauth" in info.value.advice


def test_github_form_encoded_answer_and_errors_in_200() -> None:
    spec = preset("github")
    tokens = parse_token_response(
        response(
            200,
            text="access_token=ghu_abcdefgh&expires_in=28800&refresh_token=ghr_abcdefgh"
            "&refresh_token_expires_in=15811200&scope=repo%2Cgist&token_type=bearer",
            ctype="application/x-www-form-urlencoded",
        ),
        spec,
        now=NOW,
    )
    assert tokens.scopes == ("repo", "gist")
    assert tokens.refresh_expires_at == NOW + 15811200
    with pytest.raises(InvalidGrant):
        parse_token_response(
            response(
                200,
                {
                    "error": "bad_refresh_token",
                    "error_description": "The refresh token passed is incorrect or expired.",
                },
            ),
            spec,
            now=NOW,
        )
    with pytest.raises(ClientConfigError):
        parse_token_response(response(200, {"error": "incorrect_client_credentials"}), spec, now=NOW)


def test_slack_quirks() -> None:
    spec = preset(
        "slack",
    )
    tokens = parse_token_response(
        response(
            200,
            {
                "ok": True,
                "authed_user": {
                    "id": "U1",
                    "access_token": "xoxp-123456789",
                    "token_type": "user",
                    "refresh_token": "xoxe-1-abcdefgh",
                    "expires_in": 43200,
                    "scope": "search:read,users:read",
                },
            },
        ),
        spec,
        now=NOW,
    )
    assert tokens.access_token.reveal() == "xoxp-123456789"
    assert tokens.token_type == "user"
    assert tokens.scopes == ("search:read", "users:read")
    with pytest.raises(InvalidGrant):
        parse_token_response(response(200, {"ok": False, "error": "invalid_refresh_token"}), spec, now=NOW)
    with pytest.raises(TransientError):
        parse_token_response(response(200, {"ok": False, "error": "ratelimited"}), spec, now=NOW)


def test_non_bearer_token_type_is_a_quirk_not_the_default() -> None:
    with pytest.raises(MalformedResponse):
        parse_token_response(response(200, {"access_token": "x" * 10, "token_type": "user"}), SPEC, now=NOW)
