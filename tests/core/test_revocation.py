"""Each revocation kind sends exactly its provider's request and turns every answer into an outcome."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from desktop_app.core.errors import TransientError
from desktop_app.core.oauth import Client, new_http_client
from desktop_app.core.providers import ProviderSpec, RevocationKind, preset
from desktop_app.core.revocation import RevocationOutcome, manual_step, revoke_grant
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet

TOKENS = TokenSet(Secret("at-123"), "Bearer", 0.0, 3600.0, Secret("rt-456"))
SECRET = Secret("s3cret")


async def run(
    spec: ProviderSpec, answer: Callable[[httpx.Request], httpx.Response], *, client: Client | None = None
) -> tuple[RevocationOutcome, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    async with new_http_client(transport=httpx.MockTransport(handler)) as http:
        outcome = await revoke_grant(http, spec, client or Client("cid", SECRET), TOKENS, now=100.0)
    return outcome, seen


def custom(**kwargs: object) -> ProviderSpec:
    return ProviderSpec(
        key="custom",
        display_name="login.example.com",
        authorization_endpoint="https://login.example.com/auth",
        token_endpoint="https://login.example.com/token",
        **kwargs,  # type: ignore[arg-type]
    )


# --- the request each kind sends ----------------------------------------------------------------------


async def test_rfc7009_posts_the_refresh_token_with_client_auth() -> None:
    spec = custom(revocation_endpoint="https://login.example.com/revoke")
    outcome, [request] = await run(spec, lambda r: httpx.Response(200))
    assert outcome == RevocationOutcome(True)
    assert (request.method, str(request.url)) == ("POST", "https://login.example.com/revoke")
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {"token": "rt-456", "token_type_hint": "refresh_token", "client_id": "cid"}


async def test_github_deletes_the_grant_with_basic_auth_and_the_token_in_json() -> None:
    outcome, [request] = await run(preset("github"), lambda r: httpx.Response(204))
    assert outcome == RevocationOutcome(True)
    assert (request.method, str(request.url)) == ("DELETE", "https://api.github.com/applications/cid/grant")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"cid:s3cret").decode()
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"access_token": "at-123"}


async def test_slack_calls_auth_revoke_with_the_token_as_bearer() -> None:
    outcome, [request] = await run(preset("slack"), lambda r: httpx.Response(200, json={"ok": True, "revoked": True}))
    assert outcome == RevocationOutcome(True)
    assert (request.method, str(request.url)) == ("POST", "https://slack.com/api/auth.revoke")
    assert request.headers["authorization"] == "Bearer at-123"
    assert request.content == b""


async def test_dropbox_posts_token_revoke_with_bearer_and_no_body() -> None:
    outcome, [request] = await run(preset("dropbox"), lambda r: httpx.Response(200, content=b"null"))
    assert outcome == RevocationOutcome(True)
    assert (request.method, str(request.url)) == ("POST", "https://api.dropboxapi.com/2/auth/token/revoke")
    assert request.headers["authorization"] == "Bearer at-123"
    assert request.content == b""


# --- already gone counts as revoked -------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 422])
async def test_github_grant_already_gone(status: int) -> None:
    outcome, _ = await run(preset("github"), lambda r: httpx.Response(status, json={"message": "Not Found"}))
    assert outcome == RevocationOutcome(True)


async def test_slack_token_already_revoked() -> None:
    outcome, _ = await run(preset("slack"), lambda r: httpx.Response(200, json={"ok": False, "error": "token_revoked"}))
    assert outcome == RevocationOutcome(True)


async def test_dropbox_token_unknown() -> None:
    body = {"error_summary": "invalid_access_token/...", "error": {".tag": "invalid_access_token"}}
    outcome, _ = await run(preset("dropbox"), lambda r: httpx.Response(401, json=body))
    assert outcome == RevocationOutcome(True)


# --- refused or unreachable: a note that says what to do at the provider --------------------------------


@pytest.mark.parametrize(
    ("spec", "answer", "why"),
    [
        (preset("github"), httpx.Response(401, json={"message": "Bad credentials"}), "HTTP 401: Bad credentials"),
        (preset("github"), httpx.Response(403, json={"message": "Forbidden"}), "HTTP 403: Forbidden"),
        (preset("slack"), httpx.Response(200, json={"ok": False, "error": "token_expired"}), "token_expired"),
        (preset("dropbox"), httpx.Response(401, json={"error_summary": "expired_access_token/"}), "HTTP 401"),
        (
            preset("gitlab"),
            httpx.Response(400, json={"error": "unauthorized_client", "error_description": "public clients"}),
            "unauthorized_client",
        ),
    ],
    ids=["github-401", "github-403", "slack-ok-false", "dropbox-401", "rfc7009-unauthorized-client"],
)
async def test_refused_gives_a_note_with_the_grants_page(spec: ProviderSpec, answer: httpx.Response, why: str) -> None:
    outcome, _ = await run(spec, lambda r: answer)
    assert not outcome.revoked and outcome.note is not None
    assert f"{spec.display_name} refused the revocation" in outcome.note and why in outcome.note
    assert outcome.note.endswith(manual_step(spec)) and spec.grants_pages[0] in outcome.note
    assert "at-123" not in outcome.note and "s3cret" not in outcome.note


@pytest.mark.parametrize("key", ["github", "slack", "dropbox", "google"])
async def test_a_provider_out_of_reach_is_transient(key: str) -> None:
    """The grant is alive and only the provider can end it: the caller keeps the account and says retry."""

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransientError):
        await run(preset(key), down)


@pytest.mark.parametrize("status", [503, 429])
async def test_a_busy_provider_is_transient(status: int) -> None:
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        await run(preset("dropbox"), lambda r: httpx.Response(status))


async def test_github_without_a_client_secret_sends_nothing() -> None:
    outcome, seen = await run(preset("github"), lambda r: httpx.Response(204), client=Client("cid"))
    assert seen == [] and not outcome.revoked
    assert (
        outcome.note is not None
        and "client secret" in outcome.note
        and "github.com/settings/applications" in outcome.note
    )


async def test_microsoft_has_no_api_and_names_both_grant_pages() -> None:
    outcome, seen = await run(preset("microsoft"), lambda r: httpx.Response(200))
    assert seen == [] and not outcome.revoked and outcome.note is not None
    assert "https://myapplications.microsoft.com" in outcome.note
    assert "https://account.live.com/consent/Manage" in outcome.note


async def test_custom_server_without_endpoint_gets_the_generic_sentence() -> None:
    outcome, seen = await run(custom(), lambda r: httpx.Response(200))
    assert seen == [] and not outcome.revoked
    assert outcome.note is not None and "in your account settings at login.example.com" in outcome.note


# --- stored records ------------------------------------------------------------------------------------


def test_records_without_the_field_keep_rfc7009() -> None:
    data = custom(revocation_endpoint="https://login.example.com/revoke").to_json()
    for name in ("revocation", "grants_pages", "redirect_port", "redirect_path"):
        del data[name]
    spec = ProviderSpec.from_json(data)
    assert spec.revocation is RevocationKind.RFC7009 and spec.grants_pages == ()
    assert (spec.redirect_port, spec.redirect_path) == (0, "/callback")


def test_kinds_round_trip_and_unknown_kinds_fall_back() -> None:
    spec = preset("slack")
    assert ProviderSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    data = {**spec.to_json(), "revocation": "from-a-newer-version"}
    assert ProviderSpec.from_json(data).revocation is RevocationKind.RFC7009
