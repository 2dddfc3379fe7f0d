"""Tokendesk as real tools use it: git asks `tokendesk git-credential` for a password, mail clients log in
with the SASL string `tokendesk token --format xoauth2|oauthbearer` prints. Against the rig's git-over-HTTP,
IMAP and SMTP servers, which take only tokens the rig provider honours; with the app answering, and without."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import os
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.conftest import ROOT, Rig, rig_cli, rig_cli_env
from tests.rig.githttp import GitHttpServer, git_env, make_bare_repo
from tests.rig.keychain import Keychain
from tests.rig.mailsasl import ImapServer, SmtpServer, imap_login, smtp_login
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e

EMAIL = "alice@example.test"
OTHER = "bob@example.test"
BROWSER_CLI = ROOT / "tests" / "rig" / "browser_cli.py"

RunCli = Callable[..., Awaitable[tuple[int, str, str]]]


async def run(argv: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    """A process run without blocking the event loop (the app's agent answers from this loop)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def fields(text: str) -> dict[str, str]:
    """git credential `key=value` lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@dataclass
class Git:
    """git with a home of its own whose only configuration is the credential helpers for the rig's server;
    a first helper writes down each action git asks of helpers (get, store, erase)."""

    home: Path
    env: dict[str, str]
    server: GitHttpServer
    clones: int = 0

    @classmethod
    async def make(cls, tmp_path: Path, server: GitHttpServer, tokendesk_env: dict[str, str], account: str) -> Git:
        home = tmp_path / "git-home"
        home.mkdir()
        git = cls(home, git_env(home, tokendesk_env), server)
        key = f"credential.{server.base_url}.helper"
        log = shlex.quote(str(git.log_path))
        helper = f"!{shlex.quote(sys.executable)} -m desktop_app git-credential --account {shlex.quote(account)}"
        for value in (f'!f() {{ echo "$1" >> {log}; cat >/dev/null; }}; f', helper):
            code, _, err = await git.run("config", "--global", "--add", key, value)
            assert code == 0, err
        return git

    @property
    def log_path(self) -> Path:
        return self.home / "helper-actions.log"

    def actions(self) -> list[str]:
        return self.log_path.read_text().split() if self.log_path.exists() else []

    async def run(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        return await run(["git", *args], self.env, self.home, stdin)

    async def fill(self) -> dict[str, str]:
        host = self.server.base_url.removeprefix("http://")
        code, out, err = await self.run("credential", "fill", stdin=f"protocol=http\nhost={host}\n\n")
        assert code == 0, err
        return fields(out)

    async def clone(self) -> tuple[int, str]:
        self.clones += 1
        dest = self.home / f"clone{self.clones}"
        code, _, err = await self.run("clone", "-q", self.server.url(), str(dest))
        if code == 0:
            assert (dest / "README").read_text() == "hello from the rig\n"
        return code, err


@pytest.fixture
def git_server(tmp_path: Path, oidc_provider: OidcProvider) -> Iterator[GitHttpServer]:
    make_bare_repo(tmp_path / "srv")
    with GitHttpServer(tmp_path / "srv", oidc_provider.userinfo_endpoint) as server:
        yield server


async def clone_erase_refresh(git: Git, provider: OidcProvider, current_token: Callable[[], Awaitable[str]]) -> None:
    """git gets the account's token, clones; once the server refuses that token git erases it, and the next
    clone comes with a fresh one that works."""
    creds = await git.fill()
    first = creds["password"]
    assert creds["username"] == "oauth2"
    assert first == await current_token()
    assert git.actions() == ["get"]

    code, err = await git.clone()
    assert code == 0, err
    assert set(git.server.accepted) == {first}
    assert git.actions()[-2:] == ["get", "store"]
    assert (await git.fill())["password"] == first  # still fresh: nothing refreshes without a reason

    git.server.reject(first)  # the server stops trusting it while the provider still honours it
    code, err = await git.clone()
    assert code != 0
    assert "Authentication failed" in err
    assert git.server.refused[-1] == first
    assert git.actions()[-2:] == ["get", "erase"]

    provider.reset()
    code, err = await git.clone()
    assert code == 0, err
    second = git.server.accepted[-1]
    assert second != first
    assert provider.stats()["token"].get("refresh_token") == 1
    assert git.actions()[-2:] == ["get", "store"]
    assert second == await current_token()


async def mail_logins(cli: RunCli, name: str, provider: OidcProvider) -> None:
    """The SASL strings the CLI prints carry the account's current token and log in to IMAP and SMTP."""
    code, out, err = await cli("token", name)
    assert code == 0, err
    token = out.strip()
    code, out, err = await cli("token", name, "--format", "token")
    assert (code, out.strip()) == (0, token), err
    code, out, err = await cli("token", name, "--format", "header")
    assert (code, out.strip()) == (0, f"Authorization: Bearer {token}"), err

    sasl: dict[str, str] = {}
    expected = {
        "XOAUTH2": f"user={EMAIL}\x01auth=Bearer {token}\x01\x01",
        "OAUTHBEARER": f"n,a={EMAIL},\x01auth=Bearer {token}\x01\x01",
    }
    for mechanism, plain in expected.items():
        code, out, err = await cli("token", name, "--format", mechanism.lower())
        assert code == 0, err
        sasl[mechanism] = out.strip()
        assert base64.b64decode(sasl[mechanism], validate=True).decode() == plain
    code, out, err = await cli("token", name, "--format", "xoauth2", "--user", OTHER)
    assert code == 0, err
    for_other = out.strip()
    assert base64.b64decode(for_other).decode() == f"user={OTHER}\x01auth=Bearer {token}\x01\x01"

    userinfo = provider.userinfo_endpoint
    with ImapServer(userinfo, EMAIL) as imap, SmtpServer(userinfo, EMAIL) as smtp:
        for mechanism, message in sasl.items():
            assert await asyncio.to_thread(imap_login, imap.port, mechanism, message) == "OK"
            code, _ = await asyncio.to_thread(smtp_login, smtp.port, mechanism, message, EMAIL)
            assert code == 235
        # The servers check the address against the token's owner: the same token for bob gets nowhere.
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            await asyncio.to_thread(imap_login, imap.port, "XOAUTH2", for_other)
        assert [ok for _, _, ok in imap.logins] == [True, True, False]
        assert [m for m, _, _ in smtp.logins] == ["XOAUTH2", "OAUTHBEARER"]
        assert len(smtp.messages) == 2


# --- with the app running: the CLI has no keychain, only the app's agent can answer -------------------------


@pytest_asyncio.fixture
async def app(rig: Rig) -> AsyncIterator[Rig]:
    server = rig.service.agent_server()
    await server.start()
    try:
        yield rig
    finally:
        await server.close()


async def test_git_through_the_app(app: Rig, git_server: GitHttpServer, tmp_path: Path) -> None:
    record = await app.service.connect(app.request(name="Forge"))
    assert record.identity.email == EMAIL
    app.clock.advance(1)  # the app's clock is fake: let time pass, so a refresh is later than the sign-in
    env = rig_cli_env(app, keychain=False)
    git = await Git.make(tmp_path, git_server, env, "Forge")

    async def current() -> str:
        return (await app.service.token("Forge")).access_token.reveal()

    # The helper itself, as git calls it: unknown lines are ignored, the answer carries the expiry.
    host = git_server.base_url.removeprefix("http://")
    request = f'protocol=http\nhost={host}\nwwwauth[]=Basic realm="rig"\ncapability[]=authtype\nnonsense\n\n'
    helper = [sys.executable, "-m", "desktop_app", "git-credential", "--account", "Forge"]
    code, out, err = await run([*helper, "--username", "me", "get"], env, tmp_path, request)
    assert code == 0, err
    answer = fields(out)
    tokens = await app.service.token("Forge")
    assert (answer["username"], answer["password"]) == ("me", tokens.access_token.reveal())
    assert tokens.expires_at is not None
    assert abs(int(answer["password_expiry_utc"]) - tokens.expires_at) <= 1
    assert int(answer["password_expiry_utc"]) > time.time() + 60
    code, out, err = await run([*helper, "store"], env, tmp_path, request.replace("\n\n", "\npassword=x\n\n"))
    assert (code, out) == (0, ""), err

    await clone_erase_refresh(git, app.provider, current)


async def test_mail_through_the_app(app: Rig) -> None:
    record = await app.service.connect(app.request(name="Mail"))
    assert record.identity.email == EMAIL

    async def cli(*args: str) -> tuple[int, str, str]:
        return await rig_cli(app, *args, keychain=False)

    await mail_logins(cli, "Mail", app.provider)


# --- without the app: the CLI connects, keeps and refreshes the tokens itself in the keychain ---------------


@dataclass
class Standalone:
    env: dict[str, str]
    home: Path
    names: list[str] = field(default_factory=list)

    async def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        return await run([sys.executable, "-m", "desktop_app", *args], self.env, self.home, stdin)

    async def connect(self, provider: OidcProvider, name: str) -> None:
        code, out, err = await self("connect", "--issuer", provider.issuer, "--client-id", provider.native_rotating,
                                    "--name", name)  # fmt: skip
        assert code == 0, err
        assert out.strip() == f"Connected {name} ({EMAIL})."
        self.names.append(name)


@pytest_asyncio.fixture
async def standalone(tmp_path: Path, keychain: Keychain, oidc_provider: OidcProvider) -> AsyncIterator[Standalone]:
    base = tmp_path / "cli"
    (base / "run").mkdir(parents=True, mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TOKENDESK_LOG_LEVEL")}
    env.update(keychain.env)
    env.update(
        HOME=str(base),
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_STATE_HOME=str(base / "state"),
        XDG_CACHE_HOME=str(base / "cache"),
        XDG_RUNTIME_DIR=str(base / "run"),  # no app's socket here
        BROWSER=f"{sys.executable} {BROWSER_CLI} %s",
        PYTHONPATH=str(ROOT),
    )
    oidc_provider.reset()
    cli = Standalone(env, base)
    yield cli
    for name in cli.names:
        await cli("disconnect", name, "--keep-grant")


async def test_git_without_the_app(
    standalone: Standalone, oidc_provider: OidcProvider, git_server: GitHttpServer, tmp_path: Path
) -> None:
    await standalone.connect(oidc_provider, "Forge")
    git = await Git.make(tmp_path, git_server, standalone.env, "Forge")

    async def current() -> str:
        code, out, err = await standalone("token", "Forge")
        assert code == 0, err
        return out.strip()

    await clone_erase_refresh(git, oidc_provider, current)


async def test_mail_without_the_app(standalone: Standalone, oidc_provider: OidcProvider) -> None:
    await standalone.connect(oidc_provider, "Mail")
    await mail_logins(standalone, "Mail", oidc_provider)
