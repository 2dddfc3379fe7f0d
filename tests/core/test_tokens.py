import json
from dataclasses import FrozenInstanceError, replace

import httpx
import pytest

from desktop_app.core.errors import ClientConfigError, InvalidGrant, MalformedResponse, ProviderError, TransientError
from desktop_app.core.providers import ProviderSpec, preset
from desktop_app.core.secrets import Secret
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
        ({"access_token": "x" * 10, "token_type": "Bearer", "expires_in": True}, "invalid expires_in"),
        ({"access_token": "x" * 10, "token_type": "Bearer", "expires_in": [300]}, "invalid expires_in"),
    ],
)
def test_malformed_token_responses(body: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_token_response(response(200, body), SPEC, now=NOW)


def test_html_answer_is_named() -> None:
    with pytest.raises(MalformedResponse, match="HTML page"):
        parse_token_response(response(200, text="<!DOCTYPE html><p>Login</p>", ctype="text/html"), SPEC, now=NOW)


def test_html_is_recognised_by_its_body_as_well() -> None:
    # Mislabelled error pages (proxies, captive portals) are still named as HTML.
    page = response(200, text="  <!DOCTYPE html><p>Login</p>", ctype="application/octet-stream")
    with pytest.raises(MalformedResponse, match="HTML page"):
        parse_token_response(page, SPEC, now=NOW)


def test_absurd_lifetimes_are_capped_at_ten_years() -> None:
    body = {"access_token": "x" * 10, "token_type": "Bearer", "expires_in": 10**12}
    tokens = parse_token_response(response(200, body), SPEC, now=NOW)
    assert tokens.expires_at == NOW + 10 * 365 * 86400


def test_fresh_tokens_fill_gaps_from_the_previous_set() -> None:
    previous = TokenSet(
        access_token=Secret("at-old-0001"),
        token_type="Bearer",
        issued_at=NOW - 600,
        expires_at=NOW - 300,
        refresh_token=Secret("rt-old-0001"),
        refresh_expires_at=NOW + 9000,
    )
    bare = TokenSet(access_token=Secret("at-new-0002"), token_type="Bearer", issued_at=NOW, expires_at=None)
    filled = bare.with_previous(previous)
    assert filled.refresh_token == Secret("rt-old-0001") and filled.refresh_expires_at == NOW + 9000
    assert filled.expires_at == NOW + 300  # the previous lifetime, not eternity
    full = TokenSet(
        access_token=Secret("at-new-0002"),
        token_type="Bearer",
        issued_at=NOW,
        expires_at=NOW + 60,
        refresh_token=Secret("rt-new-0002"),
    )
    assert full.with_previous(previous) == full  # nothing is overwritten
    assert bare.with_previous(replace(previous, expires_at=None)).expires_at is None


def test_token_sets_are_immutable() -> None:
    tokens = TokenSet(access_token=Secret("at-0001"), token_type="Bearer", issued_at=NOW, expires_at=None)
    with pytest.raises(FrozenInstanceError):
        tokens.access_token = Secret("other")  # type: ignore[misc]


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
    assert ("rate limiting" in str(info.value)) is (status == 429)


def test_retry_after_http_date() -> None:
    from email.utils import formatdate

    assert parse_retry_after(formatdate(NOW + 10, usegmt=True), NOW) == pytest.approx(10, abs=1)
    assert parse_retry_after(formatdate(NOW - 100, usegmt=True), NOW) == 0.0  # already past: at once
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
    # An answer with a token at the top (a bot token) keeps it; authed_user is only where the user token hides.
    both = {"ok": True, "access_token": "xoxb-987654321", "token_type": "bot", "authed_user": {"id": "U1"}}
    assert parse_token_response(response(200, both), spec, now=NOW).access_token.reveal() == "xoxb-987654321"
    with pytest.raises(InvalidGrant):
        parse_token_response(response(200, {"ok": False, "error": "invalid_refresh_token"}), spec, now=NOW)
    with pytest.raises(TransientError):
        parse_token_response(response(200, {"ok": False, "error": "ratelimited"}), spec, now=NOW)


def test_non_bearer_token_type_is_a_quirk_not_the_default() -> None:
    with pytest.raises(MalformedResponse):
        parse_token_response(response(200, {"access_token": "x" * 10, "token_type": "user"}), SPEC, now=NOW)


def test_answers_without_json_or_error_code_are_still_classified() -> None:
    # RFC 6749 §5.2: a bare 401 means the client credentials were refused.
    with pytest.raises(ClientConfigError, match="client credentials"):
        parse_token_response(response(401, text="", ctype="text/plain"), SPEC, now=NOW)
    # Some other JSON on a 4xx is an error, not tokens.
    with pytest.raises(ProviderError, match="http_400"):
        parse_token_response(response(400, {"detail": "nope"}), SPEC, now=NOW)
    # Slack's "ok": false with no error name is still an error.
    with pytest.raises(ProviderError):
        parse_token_response(response(200, {"ok": False, "access_token": "xoxp-123456789"}), preset("slack"), now=NOW)


def test_empty_strings_are_no_tokens_and_zero_lifetimes_are_allowed() -> None:
    body = {"access_token": "x" * 10, "token_type": "Bearer", "refresh_token": "", "id_token": "", "expires_in": 0}
    tokens = parse_token_response(response(200, body), SPEC, now=NOW)
    assert tokens.refresh_token is None and tokens.id_token is None
    assert tokens.expires_at == NOW  # already expired, but a valid answer


def test_validity_and_repr() -> None:
    tokens = TokenSet(
        access_token=Secret("at-0001"),
        token_type="Bearer",
        issued_at=NOW,
        expires_at=NOW + 300,
        refresh_token=Secret("rt-0001"),
    )
    assert tokens.valid_for(NOW + 100) == 200
    assert tokens.lifetime_s == 300
    assert "has_refresh=True" in repr(tokens)
    assert "has_refresh=False" in repr(replace(tokens, refresh_token=None))
    assert replace(tokens, expires_at=None).valid_for(NOW) == float("inf")


def test_a_non_text_error_description_is_dropped_not_fatal() -> None:
    with pytest.raises(InvalidGrant) as info:
        parse_token_response(response(400, {"error": "invalid_grant", "error_description": 42}), SPEC, now=NOW)
    assert "42" not in str(info.value)
