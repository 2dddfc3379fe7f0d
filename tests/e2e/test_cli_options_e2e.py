"""The `tokendesk connect`/`disconnect` options and the README's failure promises, end to end on the rig."""

from __future__ import annotations

import http.server
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import keyring
import pytest

from tests.e2e.test_cli_e2e import BROWSER_CLI, Cli, connect, expire_access_token, stored_tokens
from tests.e2e.test_cli_e2e import cli as cli  # the fixture
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e

PROMPT = "Sign in with your browser. If it did not open, visit:"


def failure_lines(stderr: str) -> list[str]:
    """What the CLI itself printed on stderr, leaving out the sign-in prompt and the rig browser's notes."""
    lines = stderr.splitlines()
    return [
        line
        for i, line in enumerate(lines)
        if line.strip()
        and line != PROMPT
        and not (i > 0 and lines[i - 1] == PROMPT)
        and not line.startswith("browser_cli:")
    ]


def one_failure_line(proc: subprocess.CompletedProcess[str]) -> str:
    """README: every failure prints one line on standard error."""
    lines = failure_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("tokendesk: "), proc.stderr
    return lines[0]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def printed_url(stderr: str) -> str:
    lines = stderr.splitlines()
    return lines[lines.index(PROMPT) + 1].strip()


class Forwarder:
    """A token endpoint of our own on 127.0.0.1 that forwards to the rig, and can be switched off (offline)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.requests = 0
        forwarder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                forwarder.requests += 1
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                keep = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                answer = httpx.post(forwarder.target, content=body, headers=keep, timeout=10)
                self.send_response(answer.status_code)
                for name in ("content-type", "cache-control", "retry-after"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The port closes: what a client sees when the provider is unreachable."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


@pytest.fixture
def forwarder(oidc_provider: OidcProvider) -> Iterator[Forwarder]:
    f = Forwarder(oidc_provider.token_endpoint)
    yield f
    f.stop()


# --- connect options --------------------------------------------------------------------------------------


def test_no_browser_prints_the_link_and_opens_nothing(cli: Cli, oidc_provider: OidcProvider, tmp_path: Path) -> None:
    marker = tmp_path / "browser-was-opened"
    script = f"open({str(marker)!r}, 'w').close()"
    cli.env["BROWSER"] = f"{sys.executable} -c {shlex.quote(script)} %s"
    proc = cli.start(
        "connect", "--issuer", oidc_provider.issuer, "--client-id", oidc_provider.native_rotating, "--no-browser"
    )
    assert proc.stderr is not None
    # The CLI waits for the browser after printing the link: whoever reads it signs in.
    assert proc.stderr.readline().rstrip("\n") == PROMPT
    url = proc.stderr.readline().strip()
    assert url.startswith(oidc_provider.authorization_endpoint + "?")
    consent = subprocess.run([sys.executable, str(BROWSER_CLI), url], capture_output=True, text=True, timeout=120)
    assert consent.returncode == 0, consent.stderr
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.startswith("Connected ")
    assert not marker.exists()
    assert [a["state"] for a in cli.accounts()] == ["valid"]


def test_scope_reaches_the_provider(cli: Cli, oidc_provider: OidcProvider) -> None:
    proc = connect(cli, oidc_provider, "--name", "Scoped", "--scope", "openid", "--scope", "email")
    assert proc.returncode == 0, proc.stderr
    assert query(printed_url(proc.stderr))["scope"].split() == ["openid", "email", "offline_access"]
    [account] = cli.accounts()
    # What the provider granted, and what it released: an email, but no profile name.
    assert sorted(account["scopes"]) == ["email", "offline_access", "openid"]  # type: ignore[call-overload]
    assert account["identity"] == {"subject": "alice", "email": "alice@example.test", "name": None, "username": None}


@pytest.mark.parametrize(
    ("client", "method"),
    [
        ("confidential-basic", None),  # discovery lists both; basic is preferred
        ("confidential-basic", "client_secret_post"),
        ("confidential-post", "client_secret_basic"),
        ("confidential-post", "client_secret_post"),
    ],
)
def test_client_auth_reaches_the_provider(
    cli: Cli, oidc_provider: OidcProvider, client: str, method: str | None
) -> None:
    # oidc-provider takes basic and post alike, so the rig counts which one each token request used.
    proc = connect(cli, oidc_provider, *(["--client-auth", method] if method else []), client=client)
    assert proc.returncode == 0, proc.stderr
    assert oidc_provider.stats()["client_auth"] == {method or "client_secret_basic": 1}
    oidc_provider.reset()
    assert cli.run("refresh", str(cli.accounts()[0]["name"])).returncode == 0
    assert oidc_provider.stats()["client_auth"] == {method or "client_secret_basic": 1}  # kept for refreshes


def test_client_auth_none_needs_no_secret_and_sends_none(cli: Cli, oidc_provider: OidcProvider) -> None:
    proc = connect(cli, oidc_provider, "--client-auth", "none")
    assert proc.returncode == 0, proc.stderr
    assert oidc_provider.stats()["client_auth"] == {"none": 1}


def test_timeout_ends_an_unanswered_sign_in(cli: Cli, oidc_provider: OidcProvider) -> None:
    proc = cli.run(
        "connect",
        "--issuer",
        oidc_provider.issuer,
        "--client-id",
        oidc_provider.native_rotating,
        "--no-browser",
        "--timeout",
        "1",
    )
    assert proc.returncode == 1
    assert "No answer from the browser" in one_failure_line(proc)
    redirect = httpx.URL(query(printed_url(proc.stderr))["redirect_uri"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(str(redirect), timeout=5)  # the listener is gone with the process
    assert cli.accounts() == []


def test_disconnect_keep_grant_leaves_the_grant_alive(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Kept").returncode == 0
    [account] = cli.accounts()
    refresh_token = str(stored_tokens(str(account["id"]))["tokens"]["refresh_token"])  # type: ignore[index]
    gone = cli.run("disconnect", "Kept", "--keep-grant")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == "Disconnected Kept.\n"
    assert oidc_provider.stats()["revocation"] == 0
    assert cli.accounts() == []
    assert keyring.get_password("tokendesk", str(account["id"])) is None
    # The provider still honours the grant: the refresh token works.
    answer = httpx.post(
        oidc_provider.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": oidc_provider.native_rotating,
        },
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["access_token"]


def test_disconnect_revokes_by_default(cli: Cli, oidc_provider: OidcProvider) -> None:
    # The counterpart of the test above: without --keep-grant the same token is dead afterwards.
    assert connect(cli, oidc_provider, "--name", "Gone").returncode == 0
    [account] = cli.accounts()
    refresh_token = str(stored_tokens(str(account["id"]))["tokens"]["refresh_token"])  # type: ignore[index]
    assert cli.run("disconnect", "Gone").returncode == 0
    answer = httpx.post(
        oidc_provider.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": oidc_provider.native_rotating,
        },
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


# --- manual endpoints ----------------------------------------------------------------------------------------


def connect_manual(cli: Cli, provider: OidcProvider, token_endpoint: str) -> subprocess.CompletedProcess[str]:
    return cli.run(
        "connect",
        "--authorization-endpoint",
        provider.authorization_endpoint,
        "--token-endpoint",
        token_endpoint,
        "--revocation-endpoint",
        provider.revocation_endpoint,
        "--client-id",
        provider.native_rotating,
        "--scope",
        "openid offline_access",
        "--name",
        "Manual",
    )


def test_manual_endpoints_sign_in_refresh_and_go_offline(
    cli: Cli, oidc_provider: OidcProvider, forwarder: Forwarder
) -> None:
    proc = connect_manual(cli, oidc_provider, forwarder.url)
    assert proc.returncode == 0, proc.stderr
    assert forwarder.requests == 1  # the code exchange went to the endpoint we named
    [account] = cli.accounts()
    assert account["provider"] == "custom" and account["issuer"] is None
    before = stored_tokens(str(account["id"]))["tokens"]
    refreshed = cli.run("refresh", "Manual")
    assert refreshed.returncode == 0, refreshed.stderr
    assert forwarder.requests == 2
    assert oidc_provider.stats()["token"] == {"authorization_code": 1, "refresh_token": 1}
    after = stored_tokens(str(account["id"]))["tokens"]
    assert after["refresh_token"] != before["refresh_token"]  # type: ignore[index]

    # Exit 4 when the provider cannot be reached at all.
    forwarder.stop()
    offline = cli.run("refresh", "Manual")
    assert offline.returncode == 4
    assert "offline" in one_failure_line(offline)
    expire_access_token(str(account["id"]))
    assert cli.run("token", "Manual").returncode == 4
    assert cli.accounts()[0]["state"] == "retrying"


# --- failures: exit codes and one line on stderr ---------------------------------------------------------------


@pytest.fixture
def connected(cli: Cli, oidc_provider: OidcProvider) -> Cli:
    assert connect(cli, oidc_provider, "--name", "Fails").returncode == 0
    oidc_provider.reset()
    return cli


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        ({"status": 429, "retry_after": 5}, 4, "rate limiting"),
        ({"status": 503}, 4, "HTTP 503"),
        ({"status": 200, "html": True}, 1, "HTML page"),  # malformed: a page where a token answer belongs
        ({"status": 400, "error": "unauthorized_client"}, 1, "unauthorized_client"),  # refused
        ({"status": 401, "error": "invalid_client"}, 1, "invalid_client"),
    ],
)
def test_refresh_failures_exit_codes_and_one_line(
    connected: Cli, oidc_provider: OidcProvider, fault: dict[str, object], code: int, words: str
) -> None:
    oidc_provider.fail_token(**fault)  # type: ignore[arg-type]
    proc = connected.run("refresh", "Fails")
    assert proc.returncode == code, proc.stderr
    assert words in one_failure_line(proc)
    assert proc.stdout == ""
    assert oidc_provider.stats()["token_requests"] == 1


def test_other_failures_print_one_line(cli: Cli, oidc_provider: OidcProvider) -> None:
    cases = [
        (cli.run("token", "nobody"), 1),
        (cli.run("refresh", "nobody"), 1),
        (cli.run("disconnect", "nobody"), 1),
        (cli.run("connect", "--issuer", "http://idp.example.com", "--client-id", "x"), 2),
        (cli.run("connect", "--provider", "keycloak", "--domain", "sso.example.com", "--client-id", "x"), 2),
        (cli.run("connect", "--issuer", oidc_provider.issuer, "--client-id", "x", "--tenant", "t"), 2),
        (cli.run("token", "x", extra_env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}), 1),
    ]
    for proc, code in cases:
        assert proc.returncode == code, (proc.args, proc.stderr)
        one_failure_line(proc)


# --- logging ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "debug_lines"), [(None, False), ("INFO", False), ("DEBUG", True)])
def test_log_level_from_the_environment(
    connected: Cli, oidc_provider: OidcProvider, level: str | None, debug_lines: bool
) -> None:
    log = connected.home / "state" / "tokendesk" / "log" / "tokendesk.log"
    before = log.read_text() if log.exists() else None
    env = {"TOKENDESK_LOG_LEVEL": level} if level else {}
    proc = connected.run("refresh", "Fails", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    assert (" DEBUG " in proc.stderr) is debug_lines
    after = log.read_text() if log.exists() else None
    if level is None:
        assert proc.stderr == ""  # the default, WARNING, says nothing on success
        assert after == before  # nor writes (or makes) the log file
    else:
        assert after is not None and (" DEBUG " in after[len(before or "") :]) is debug_lines


# --- presets: what the provider would see -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "authorize", "redirect_host", "extra"),
    [
        (
            ["--provider", "microsoft", "--tenant", "contoso.onmicrosoft.com"],
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
            "localhost",
            {},
        ),
        (
            ["--provider", "microsoft"],
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "localhost",
            {},
        ),
        (
            ["--provider", "keycloak", "--domain", "sso.example.com/auth", "--realm", "dev"],
            "https://sso.example.com/auth/realms/dev/protocol/openid-connect/auth",
            "127.0.0.1",
            {},
        ),
        (
            ["--provider", "okta", "--domain", "example.okta.com", "--server", "aus1"],
            "https://example.okta.com/oauth2/aus1/v1/authorize",
            "127.0.0.1",
            {},
        ),
        (
            ["--provider", "auth0", "--domain", "Example.EU.auth0.com"],
            "https://example.eu.auth0.com/authorize",
            "127.0.0.1",
            {},
        ),
        (
            ["--provider", "gitlab", "--domain", "gitlab.example.com"],
            "https://gitlab.example.com/oauth/authorize",
            "127.0.0.1",
            {},
        ),
        (
            ["--provider", "dropbox"],
            "https://www.dropbox.com/oauth2/authorize",
            "localhost",
            {"token_access_type": "offline"},
        ),
    ],
)
def test_preset_parameters_reach_the_authorization_url(
    cli: Cli, args: list[str], authorize: str, redirect_host: str, extra: dict[str, str]
) -> None:
    # No network is needed before the link: the printed URL is exactly what the provider would receive.
    proc = cli.run("connect", *args, "--client-id", "cid-123", "--no-browser", "--timeout", "0.5")
    assert proc.returncode == 1 and "No answer from the browser" in one_failure_line(proc)
    url = printed_url(proc.stderr)
    assert url.split("?")[0] == authorize
    q = query(url)
    assert q["client_id"] == "cid-123" and q["code_challenge_method"] == "S256"
    assert httpx.URL(q["redirect_uri"]).host == redirect_host
    assert extra.items() <= q.items()
    assert cli.accounts() == []
