"""The `tokendesk` command line as scripts use it: real processes, provider, keychain and browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import pytest

from tests.e2e.leaks import assert_no_secret_seen_by_the_provider
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BROWSER_CLI = ROOT / "tests" / "rig" / "browser_cli.py"


@dataclass
class Cli:
    env: dict[str, str]
    home: Path
    outputs: list[str] = field(default_factory=list)  # everything printed that must never hold a secret

    def run(
        self, *args: str, stdin: str | None = None, secret_stdout: bool = False, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "desktop_app", *args],
            input=stdin or "",
            capture_output=True,
            text=True,
            env={**self.env, **(extra_env or {})},
            timeout=120,
            cwd=self.home,
        )
        self.outputs.append(proc.stderr)
        if not secret_stdout:
            self.outputs.append(proc.stdout)
        return proc

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "desktop_app", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.home,
        )

    def accounts(self) -> list[dict[str, object]]:
        proc = self.run("list", "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def files(self) -> list[Path]:
        return [p for p in self.home.rglob("*") if p.is_file()]


@pytest.fixture
def cli(tmp_path: Path, keychain: Keychain, oidc_provider: OidcProvider) -> Iterator[Cli]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TOKENDESK_LOG_LEVEL")}
    env.update(keychain.env)
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        BROWSER=f"{sys.executable} {BROWSER_CLI} %s",
        PYTHONPATH=str(ROOT),
    )
    oidc_provider.reset()
    c = Cli(env=env, home=tmp_path)
    yield c
    for account in c.accounts():
        c.run("disconnect", str(account["name"]), "--keep-grant")


def connect(
    cli: Cli, provider: OidcProvider, *extra: str, client: str | None = None
) -> subprocess.CompletedProcess[str]:
    client = client or provider.native_rotating
    secret = provider.client_secrets[client]
    args = ["connect", "--issuer", provider.issuer, "--client-id", client, *extra]
    if secret:
        args.append("--client-secret-stdin")
    return cli.run(*args, stdin=(secret + "\n") if secret else None)


def stored_tokens(account_id: str) -> dict[str, object]:
    text = keyring.get_password("tokendesk", account_id)
    assert text is not None
    return json.loads(text)  # type: ignore[no-any-return]


def expire_access_token(account_id: str) -> None:
    """Make the stored access token look expired, as after a night's sleep (the refresh token is untouched)."""
    data = json.loads(keyring.get_password("tokendesk", account_id) or "{}")
    data["tokens"]["expires_at"] = time.time() - 10
    keyring.set_password("tokendesk", account_id, json.dumps(data))


def test_connect_list_token_refresh_disconnect(cli: Cli, oidc_provider: OidcProvider) -> None:
    proc = connect(cli, oidc_provider, "--name", "Rig")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Connected Rig (alice@example.test)."
    assert "visit:" in proc.stderr and "http://127.0.0.1:" in proc.stderr

    [account] = cli.accounts()
    assert account["name"] == "Rig" and account["state"] == "valid"
    assert account["identity"] == {
        "subject": "alice",
        "email": "alice@example.test",
        "name": "Rig User alice",
        "username": None,
    }
    assert account["issuer"] == oidc_provider.issuer and account["provider"] == "custom"
    assert str(account["expires_at"]).endswith("+00:00")
    assert set(account) == {
        "name",
        "id",
        "provider",
        "provider_name",
        "issuer",
        "identity",
        "state",
        "scopes",
        "expires_at",
        "refresh_expires_at",
        "last_refresh_at",
        "retry_at",
        "last_error",
        "advice",
    }

    table = cli.run("list")
    assert table.returncode == 0 and "Rig" in table.stdout and "alice@example.test" in table.stdout

    token = cli.run("token", "Rig", secret_stdout=True)
    assert token.returncode == 0
    stored = stored_tokens(str(account["id"]))["tokens"]
    assert token.stdout == f"{stored['access_token']}\n"  # type: ignore[index]
    header = cli.run("token", "Rig", "--header", secret_stdout=True)
    assert header.stdout == f"Authorization: Bearer {stored['access_token']}\n"  # type: ignore[index]
    assert oidc_provider.stats()["token"]["refresh_token"] == 0

    refreshed = cli.run("refresh", "Rig")
    assert refreshed.returncode == 0 and "valid until" in refreshed.stdout
    assert stored_tokens(str(account["id"]))["tokens"]["refresh_token"] != stored["refresh_token"]  # type: ignore[index]

    gone = cli.run("disconnect", "Rig")
    assert gone.returncode == 0 and "revoked" in gone.stdout
    assert oidc_provider.stats()["revocation"] == 1
    assert cli.accounts() == []
    assert keyring.get_password("tokendesk", str(account["id"])) is None


def test_eight_processes_share_one_refresh(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Shared").returncode == 0
    [account] = cli.accounts()
    expire_access_token(str(account["id"]))
    oidc_provider.reset()
    procs = [cli.start("token", "Shared") for _ in range(8)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in results]
    tokens = {out for out, _ in results}
    assert len(tokens) == 1
    assert oidc_provider.stats()["token"]["refresh_token"] == 1
    assert oidc_provider.stats()["token_requests"] == 1
    assert tokens == {stored_tokens(str(account["id"]))["tokens"]["access_token"] + "\n"}  # type: ignore[index, operator]


def test_exit_codes(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert cli.run("token", "nobody").returncode == 1
    assert cli.run("connect", "--client-id", "x").returncode == 2
    bad = cli.run("connect", "--issuer", "http://idp.example.com", "--client-id", "x")
    assert bad.returncode == 2 and "only HTTPS" in bad.stderr
    assert connect(cli, oidc_provider, "--name", "Codes").returncode == 0
    [account] = cli.accounts()

    oidc_provider.fail_token(503, retry_after=30)
    transient = cli.run("refresh", "Codes")
    assert transient.returncode == 4 and "HTTP 503" in transient.stderr
    assert cli.accounts()[0]["state"] == "retrying"

    locked = cli.run("token", "Codes", extra_env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    assert locked.returncode == 5 and "keychain" in locked.stderr.lower()
    insecure = cli.run("token", "Codes", extra_env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert insecure.returncode == 5 and "No secure keychain" in insecure.stderr

    oidc_provider.revoke_all()
    oidc_provider.reset()
    dead = cli.run("refresh", "Codes")
    assert dead.returncode == 3 and "invalid_grant" in dead.stderr
    expire_access_token(str(account["id"]))
    again = cli.run("token", "Codes")
    assert again.returncode == 3 and "sign in again" in again.stderr
    assert oidc_provider.stats()["token_requests"] == 1
    assert cli.accounts()[0]["state"] == "needs_sign_in"


def test_denied_consent_exit_code(cli: Cli, oidc_provider: OidcProvider) -> None:
    cli.env["TOKENDESK_RIG_APPROVE"] = "0"
    proc = connect(cli, oidc_provider)
    assert proc.returncode == 1 and "denied" in proc.stderr
    assert cli.accounts() == []


def test_locked_keychain_fails_before_the_browser_opens(
    cli: Cli, oidc_provider: OidcProvider, keychain: Keychain
) -> None:
    keychain.lock()
    try:
        proc = connect(cli, oidc_provider)
    finally:
        keychain.unlock()
    assert proc.returncode == 5 and "locked" in proc.stderr
    assert "visit:" not in proc.stderr
    assert oidc_provider.stats()["token_requests"] == 0


def test_no_secret_leaks_anywhere(cli: Cli, oidc_provider: OidcProvider) -> None:
    """One whole lifecycle at DEBUG: no token or client secret in any output, log or file but the keychain."""
    cli.env["TOKENDESK_LOG_LEVEL"] = "DEBUG"
    secrets: set[str] = {oidc_provider.confidential_post_secret}

    def harvest(account_id: str) -> None:
        tokens = stored_tokens(account_id)["tokens"]
        secrets.update(str(tokens[k]) for k in ("access_token", "refresh_token") if tokens[k])  # type: ignore[index]

    assert connect(cli, oidc_provider, "--name", "Leak", client=oidc_provider.confidential_post).returncode == 0
    [account] = cli.accounts()
    account_id = str(account["id"])
    harvest(account_id)
    cli.run("list")
    cli.run("token", "Leak", secret_stdout=True)
    cli.run("token", "Leak", "--header", secret_stdout=True)
    assert cli.run("refresh", "Leak").returncode == 0
    harvest(account_id)
    expire_access_token(account_id)
    assert cli.run("token", "Leak", secret_stdout=True).returncode == 0
    harvest(account_id)
    oidc_provider.fail_token(500, html=True)
    assert cli.run("refresh", "Leak").returncode == 4
    oidc_provider.revoke_all()
    assert cli.run("refresh", "Leak").returncode == 3
    assert cli.run("reconnect", "Leak").returncode == 0
    harvest(account_id)
    assert cli.run("disconnect", "Leak").returncode == 0

    log_files = list((cli.home / "state").rglob("*.log"))
    assert log_files, "the CLI should have written a log file"
    log_text = "".join(p.read_text(errors="replace") for p in log_files)
    assert "DEBUG" in log_text and "POST" in log_text  # the log really recorded the HTTP traffic
    haystacks = {f"output {i}": text for i, text in enumerate(cli.outputs)}
    haystacks.update({str(p): p.read_text(errors="replace") for p in cli.files()})
    assert len(secrets) >= 7
    assert_no_secret_seen_by_the_provider(oidc_provider, haystacks, also=secrets, need=("client_secret",))
