"""The device authorization grant (RFC 8628) against scripted answers: polling, slow_down, errors, backoff."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from desktop_app.core.device import GRANT_TYPE, DeviceCode, browser_available, poll, start
from desktop_app.core.discovery import spec_from_metadata
from desktop_app.core.errors import (
    ClientConfigError,
    DeviceAccessDenied,
    DeviceCodeExpired,
    InvalidGrant,
    MalformedResponse,
    TransientError,
)
from desktop_app.core.oauth import Client, new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import PRESETS, ProviderSpec, preset
from desktop_app.core.secrets import Secret
from desktop_app.core.service import ConnectRequest, Service
from desktop_app.core.vault import Vault

NOW = 1_800_000_000.0
SPEC = ProviderSpec(
    key="custom",
    display_name="Example",
    authorization_endpoint="https://id.example.com/authorize",
    token_endpoint="https://id.example.com/token",
    device_authorization_endpoint="https://id.example.com/device",
)
DEVICE_CODE = "dc-secret-0123456789"
TOKEN = {"access_token": "at-device-000001", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-0001"}


class JumpClock:
    """Sleeping moves time on at once and is recorded, so polling runs without real waits."""

    def __init__(self) -> None:
        self.t = NOW
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Endpoint:
    """Answers token requests from a script, one per poll; the last answer repeats."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.polls: list[dict[str, str]] = []
        self.headers: list[httpx.Headers] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.polls.append(dict(parse_qsl(request.content.decode())))
        self.headers.append(request.headers)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


def err(code: str, status: int = 400, **extra: object) -> httpx.Response:
    return httpx.Response(status, json={"error": code, **extra})


def offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def code(expires_in: float = 600, interval_s: float = 5) -> DeviceCode:
    return DeviceCode(
        Secret(DEVICE_CODE), "WDJB-MJHT", "https://id.example.com/activate", None, NOW + expires_in, interval_s
    )


async def run_poll(
    endpoint: Endpoint, *, spec: ProviderSpec = SPEC, device: DeviceCode | None = None, timeout_s: float = 900
) -> tuple[object, JumpClock]:
    clock = JumpClock()
    async with new_http_client(transport=httpx.MockTransport(endpoint.handle)) as http:
        tokens = await poll(
            http, spec, Client("cid"), device or code(), clock=clock, scopes=("openid",), timeout_s=timeout_s
        )
    return tokens, clock


async def test_pending_answers_are_waited_out_at_the_interval() -> None:
    endpoint = Endpoint(err("authorization_pending"), err("authorization_pending"), httpx.Response(200, json=TOKEN))
    tokens, clock = await run_poll(endpoint)
    assert tokens.access_token == Secret("at-device-000001")  # type: ignore[attr-defined]
    assert clock.sleeps == [5, 5, 5]
    assert len(endpoint.polls) == 3
    assert endpoint.polls[0] == {"grant_type": GRANT_TYPE, "device_code": DEVICE_CODE, "client_id": "cid"}
    assert endpoint.headers[0]["accept"] == "application/json"


async def test_slow_down_adds_five_seconds_for_good() -> None:
    endpoint = Endpoint(
        err("authorization_pending"),
        err("slow_down"),
        err("authorization_pending"),
        err("slow_down"),
        httpx.Response(200, json=TOKEN),
    )
    _, clock = await run_poll(endpoint)
    assert clock.sleeps == [5, 5, 10, 10, 15]
    assert len(endpoint.polls) == 5


async def test_access_denied_is_a_refusal_with_its_own_exit_code() -> None:
    with pytest.raises(DeviceAccessDenied, match="refused on the other device") as info:
        await run_poll(Endpoint(err("authorization_pending"), err("access_denied")))
    assert info.value.exit_code == 3
    assert DEVICE_CODE not in str(info.value)


async def test_expired_token_says_to_start_again() -> None:
    with pytest.raises(DeviceCodeExpired, match=r"code WDJB-MJHT expired.*run the sign-in again"):
        await run_poll(Endpoint(err("expired_token")))


async def test_the_code_lifetime_bounds_the_polling() -> None:
    endpoint = Endpoint(err("authorization_pending"))
    with pytest.raises(DeviceCodeExpired, match="expired before"):
        await run_poll(endpoint, device=code(expires_in=12))
    assert len(endpoint.polls) == 2  # at +5 and +10; +15 would be past the code's life


async def test_the_local_timeout_ends_the_wait_before_the_code_expires() -> None:
    endpoint = Endpoint(err("authorization_pending"))
    with pytest.raises(DeviceCodeExpired, match="within 21 s"):
        await run_poll(endpoint, timeout_s=21)
    assert len(endpoint.polls) == 4


async def test_network_failures_back_off_then_polling_goes_on() -> None:
    endpoint = Endpoint(offline, offline, err("authorization_pending"), httpx.Response(200, json=TOKEN))
    tokens, clock = await run_poll(endpoint)
    assert clock.sleeps == [5, 10, 20, 5]
    assert tokens.refresh_token == Secret("rt-0001")  # type: ignore[attr-defined]


async def test_server_trouble_backs_off_honouring_retry_after() -> None:
    endpoint = Endpoint(
        httpx.Response(503), httpx.Response(429, headers={"retry-after": "30"}), httpx.Response(200, json=TOKEN)
    )
    _, clock = await run_poll(endpoint)
    assert clock.sleeps == [5, 10, 30]


async def test_offline_until_the_code_expires_is_a_transient_failure() -> None:
    endpoint = Endpoint(offline)
    with pytest.raises(TransientError, match=r"Gave up waiting.*Cannot reach id\.example\.com") as info:
        await run_poll(endpoint, device=code(expires_in=100))
    assert info.value.exit_code == 4
    assert len(endpoint.polls) == 4  # waits 5, 10, 20, 40: the next (60) would pass the expiry


async def test_other_errors_are_not_retried() -> None:
    endpoint = Endpoint(err("invalid_client", 401))
    with pytest.raises(ClientConfigError):
        await run_poll(endpoint)
    assert len(endpoint.polls) == 1


async def test_the_code_shown_expires_when_our_own_wait_ends() -> None:
    """The user is told the time they really have: the code's life, or the local timeout if shorter."""
    from desktop_app.core.device import device_sign_in

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device":
            return httpx.Response(
                200,
                json={
                    "device_code": DEVICE_CODE,
                    "user_code": "U",
                    "verification_uri": "https://id.example.com/a",
                    "expires_in": 900,
                },
            )
        return httpx.Response(200, json=TOKEN)

    shown: list[DeviceCode] = []
    clock = JumpClock()
    async with new_http_client(transport=httpx.MockTransport(handle)) as http:
        result = await device_sign_in(
            SPEC, Client("cid"), scopes=(), http=http, clock=clock, timeout_s=300, on_code=shown.append
        )
    assert [c.expires_at for c in shown] == [NOW + 300]
    assert result.tokens.access_token == Secret("at-device-000001") and result.claims == {}


# --- GitHub: errors inside HTTP 200, form bodies, its own names -------------------------------------


def github_err(code: str, **extra: object) -> httpx.Response:
    body = {"error": code, "error_description": "GitHub says so", "error_uri": "https://docs.github.com", **extra}
    return httpx.Response(200, json=body)


async def test_github_pending_and_slow_down_inside_http_200() -> None:
    spec = preset("github")
    endpoint = Endpoint(
        github_err("authorization_pending"),
        github_err("slow_down", interval=13),  # GitHub names the new interval, more than +5
        github_err("authorization_pending"),
        httpx.Response(200, json={"access_token": "gho_token0001", "token_type": "bearer", "scope": "repo,gist"}),
    )
    tokens, clock = await run_poll(endpoint, spec=spec)
    assert clock.sleeps == [5, 5, 13, 13]
    assert tokens.scopes == ("repo", "gist")  # type: ignore[attr-defined]


async def test_github_form_encoded_errors_are_understood() -> None:
    spec = preset("github")
    form = {"content-type": "application/x-www-form-urlencoded"}
    endpoint = Endpoint(
        httpx.Response(200, headers=form, content=urlencode({"error": "authorization_pending"})),
        httpx.Response(200, headers=form, content=urlencode({"error": "access_denied"})),
    )
    with pytest.raises(DeviceAccessDenied):
        await run_poll(endpoint, spec=spec)
    assert len(endpoint.polls) == 2


@pytest.mark.parametrize(
    ("github", "kind"), [("incorrect_device_code", InvalidGrant), ("device_flow_disabled", ClientConfigError)]
)
async def test_github_own_error_names_map_to_typed_errors(github: str, kind: type[Exception]) -> None:
    with pytest.raises(kind):
        await run_poll(Endpoint(github_err(github)), spec=preset("github"))


# --- the device authorization request ----------------------------------------------------------------


async def authorize(answer: httpx.Response, spec: ProviderSpec = SPEC) -> tuple[DeviceCode, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    async with new_http_client(transport=httpx.MockTransport(handle)) as http:
        got = await start(http, spec, Client("cid"), scopes=("openid", "email"), now=NOW)
    return got, seen


async def test_start_reads_the_codes_and_keeps_the_device_code_out_of_its_repr() -> None:
    answer = {
        "device_code": DEVICE_CODE,
        "user_code": "WDJB-MJHT",
        "verification_uri": "https://id.example.com/activate",
        "verification_uri_complete": "https://id.example.com/activate?user_code=WDJB-MJHT",
        "expires_in": 900,
        "interval": 7,
    }
    got, seen = await authorize(httpx.Response(200, json=answer))
    assert str(seen[0].url) == "https://id.example.com/device"
    assert dict(parse_qsl(seen[0].content.decode())) == {"client_id": "cid", "scope": "openid email"}
    assert got.device_code == Secret(DEVICE_CODE)
    assert (got.user_code, got.expires_at, got.interval_s) == ("WDJB-MJHT", NOW + 900, 7)
    assert got.link == "https://id.example.com/activate?user_code=WDJB-MJHT"
    assert DEVICE_CODE not in repr(got) and DEVICE_CODE not in str(got)


async def test_start_takes_github_form_bodies_and_google_verification_url() -> None:
    body = urlencode(
        {"device_code": DEVICE_CODE, "user_code": "AB12-CD34", "verification_url": "https://www.google.com/device"}
    )
    form = {"content-type": "application/x-www-form-urlencoded"}
    got, _ = await authorize(httpx.Response(200, headers=form, content=body))
    assert got.verification_uri == "https://www.google.com/device"
    assert got.verification_uri_complete is None and got.interval_s == 5 and got.expires_at == NOW + 1800


async def test_start_refuses_a_plain_http_verification_page() -> None:
    answer = {"device_code": DEVICE_CODE, "user_code": "X", "verification_uri": "http://evil.example/activate"}
    with pytest.raises(MalformedResponse, match="unsafe"):
        await authorize(httpx.Response(200, json=answer))


async def test_start_reports_the_provider_error() -> None:
    with pytest.raises(ClientConfigError, match="unauthorized_client"):
        await authorize(err("unauthorized_client"))


# --- where the endpoint comes from -------------------------------------------------------------------


def test_presets_that_have_a_device_flow_know_its_endpoint() -> None:
    params = {"domain": "sso.example.org", "realm": "staff"}
    expected = {
        "github": "https://github.com/login/device/code",
        "microsoft": "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
        "google": "https://oauth2.googleapis.com/device/code",
        "gitlab": "https://sso.example.org/oauth/authorize_device",
        "keycloak": "https://sso.example.org/realms/staff/protocol/openid-connect/auth/device",
        "okta": "https://sso.example.org/oauth2/default/v1/device/authorize",
        "auth0": "https://sso.example.org/oauth/device/code",
        "slack": None,
        "dropbox": None,
    }
    assert set(expected) == set(PRESETS)
    for key, endpoint in expected.items():
        wanted = {k: v for k, v in params.items() if k in {p.name for p in PRESETS[key].params}}
        assert preset(key, **wanted).device_authorization_endpoint == endpoint, key


def test_records_stored_before_the_field_still_load() -> None:
    data = preset("github").to_json()
    del data["device_authorization_endpoint"]
    assert ProviderSpec.from_json(data).device_authorization_endpoint is None


def test_the_device_endpoint_must_be_https() -> None:
    from desktop_app.core.errors import InvalidEndpoint

    with pytest.raises(InvalidEndpoint, match="device authorization endpoint"):
        ProviderSpec.from_json({**SPEC.to_json(), "device_authorization_endpoint": "http://id.example.com/device"})


def test_discovery_reads_the_device_endpoint() -> None:
    meta = {
        "issuer": "https://id.example.com",
        "authorization_endpoint": "https://id.example.com/auth",
        "token_endpoint": "https://id.example.com/token",
        "device_authorization_endpoint": "https://id.example.com/device/auth",
    }
    assert (
        spec_from_metadata(meta, has_secret=False).device_authorization_endpoint
        == meta["device_authorization_endpoint"]
    )
    del meta["device_authorization_endpoint"]
    assert spec_from_metadata(meta, has_secret=False).device_authorization_endpoint is None


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({}, "linux", False),  # over SSH without a display
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"BROWSER": "w3m"}, "freebsd14", True),
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_browser_available(env: dict[str, str], platform: str, expected: bool) -> None:
    assert browser_available(env, platform) is expected


class GitHubDevice:
    """GitHub's device flow as MockTransport answers: a 900 s code, approved by the user after `approve_after_s`."""

    def __init__(self, clock: JumpClock, approve_after_s: float) -> None:
        self.clock = clock
        self.approve_at = NOW + approve_after_s
        self.polls = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login/device/code":
            return httpx.Response(
                200,
                json={
                    "device_code": DEVICE_CODE,
                    "user_code": "WDJB-MJHT",
                    "verification_uri": "https://github.com/login/device",
                    "expires_in": 900,
                    "interval": 5,
                },
            )
        if request.url.path == "/login/oauth/access_token":
            self.polls += 1
            if self.clock.now() < self.approve_at:
                return httpx.Response(200, json={"error": "authorization_pending"})  # errors in 200, as GitHub
            return httpx.Response(200, json={**TOKEN, "scope": ""})
        if request.url.path == "/user":
            return httpx.Response(200, json={"id": 1, "login": "ann", "email": "ann@example.com"})
        return httpx.Response(404)


@pytest.mark.parametrize(("flow_timeout_s", "signed_in"), [(None, True), (300.0, False)])
async def test_without_a_timeout_the_device_flow_waits_as_long_as_the_code_lives(
    paths: AppPaths, vault: Vault, flow_timeout_s: float | None, signed_in: bool
) -> None:
    """Finding a second device takes time: the code lives 15 minutes and the user approves after 10, which the
    browser's 5-minute default would have cut short. A timeout the user gave still applies."""
    clock = JumpClock()
    github = GitHubDevice(clock, approve_after_s=600)
    service = Service(
        paths=paths,
        vault=vault,
        http=new_http_client(transport=httpx.MockTransport(github.handle)),
        clock=clock,
        flow_timeout_s=flow_timeout_s,
    )
    request = ConnectRequest(client_id="Iv1.cid", client_secret=Secret("s3cret"), preset="github")
    try:
        if signed_in:
            record = await service.connect(request, device=True)
            assert record.identity.username == "ann" and clock.now() >= NOW + 600
        else:
            with pytest.raises(DeviceCodeExpired):
                await service.connect(request, device=True)
            assert service.accounts() == [] and clock.now() <= NOW + 300 + 5
    finally:
        await service.aclose()
