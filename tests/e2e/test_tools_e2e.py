"""Tokens for other tools on the rig: `token --format`, `exec` and `git-credential`, with the app and without."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountRecord
from tests.e2e.conftest import Rig, rig_cli
from tests.e2e.test_cli_e2e import Cli, cli, connect, stored_tokens
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e
__all__ = ["cli"]  # the fixture, imported for the fallback tests below

# The child of `tokendesk exec`: calls the provider's userinfo endpoint with the token from its environment.
USERINFO = """
import json, os, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["ACCESS_TOKEN"]})
with urllib.request.urlopen(request, timeout=20) as response:
    print(json.load(response)["sub"])
"""


async def tool(rig: Rig, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`tokendesk ARGS` beside the rig's app; its D-Bus leads nowhere, so only the app can answer."""
    return await rig_cli(rig, *args, stdin=stdin)


@pytest_asyncio.fixture
async def app(rig: Rig) -> AsyncIterator[AccountRecord]:
    """The rig's app with one account ("Work", alice) and its agent listening."""
    record = await rig.service.connect(rig.request(name="Work"))
    server = rig.service.agent_server()
    await server.start()
    try:
        yield record
    finally:
        await server.close()


def iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def userinfo_sub(provider: OidcProvider, token: str) -> str:
    response = httpx.get(provider.userinfo_endpoint, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return str(response.json()["sub"])


GET = "protocol=https\nhost=git.example.test\npath=team/repo.git\ncapability[]=authtype\n\n"


async def test_formats_come_from_the_app(rig: Rig, app: AccountRecord) -> None:
    tokens = await rig.service.token("Work")
    token = tokens.access_token.reveal()
    code, out, err = await tool(rig, "token", "Work", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == {
        "access_token": token,
        "token_type": tokens.token_type,
        "expires_at": iso(tokens.expires_at),
        "scopes": list(tokens.scopes or app.scopes),
    }
    code, out, err = await tool(rig, "token", "Work", "--format", "xoauth2")
    assert code == 0, err
    assert base64.b64decode(out) == f"user=alice@example.test\x01auth=Bearer {token}\x01\x01".encode()
    code, out, err = await tool(rig, "token", "Work", "--format", "oauthbearer", "--user", "a,b=c@example.test")
    assert base64.b64decode(out) == f"n,a=a=2Cb=3Dc@example.test,\x01auth=Bearer {token}\x01\x01".encode()


async def test_exec_childs_token_is_accepted_by_the_provider(rig: Rig, app: AccountRecord) -> None:
    code, out, err = await tool(
        rig, "exec", "Work", "--", sys.executable, "-c", USERINFO, rig.provider.userinfo_endpoint
    )
    assert code == 0, err
    assert out.strip() == "alice"


async def test_git_credential_get_through_the_app(rig: Rig, app: AccountRecord) -> None:
    code, out, err = await tool(rig, "git-credential", "--account", "Work", "get", stdin=GET)
    assert code == 0, err
    tokens = await rig.service.token("Work", min_valid_s=300)
    assert tokens.expires_at is not None
    expected = (
        f"username=oauth2\npassword={tokens.access_token.reveal()}\npassword_expiry_utc={int(tokens.expires_at)}\n"
    )
    assert out == expected
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "--username", "alice", "get", stdin=GET)
    assert out.startswith("username=alice\n")
    # Not for us: another host, or plain HTTP to a remote host.
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "--host", "other.test", "get", stdin=GET)
    assert (code, out) == (0, "")
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "get", stdin=GET.replace("https", "http"))
    assert (code, out) == (0, "")
    # A failure: a message on stderr, non-zero, nothing on stdout.
    code, out, err = await tool(rig, "git-credential", "--account", "Nobody", "get", stdin=GET)
    assert code != 0 and out == "" and "No account named" in err


def password(answer: str) -> str:
    return dict(line.split("=", 1) for line in answer.splitlines())["password"]


async def test_erase_then_get_serves_a_refreshed_token(rig: Rig, app: AccountRecord) -> None:
    code, out, err = await tool(rig, "git-credential", "--account", "Work", "get", stdin=GET)
    assert code == 0, err
    first = password(out)
    rig.provider.reset()
    erase = GET.rstrip("\n") + f"\nusername=oauth2\npassword={first}\n\n"
    code, out, err = await tool(rig, "git-credential", "--account", "Work", "erase", stdin=erase)
    assert (code, out) == (0, ""), err
    assert rig.provider.stats()["token"].get("refresh_token", 0) == 0  # erase only marks; the next get refreshes
    rig.clock.advance(1)  # tokens are told apart by when they were issued: the app's clock is a fake one
    code, out, err = await tool(rig, "git-credential", "--account", "Work", "get", stdin=GET)
    assert code == 0, err
    second = password(out)
    assert second != first
    assert rig.provider.stats()["token"]["refresh_token"] == 1
    assert userinfo_sub(rig.provider, second) == "alice"
    # git reports the old token again (a stale erase): the current one is not touched.
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "erase", stdin=erase)
    assert (code, out) == (0, "")
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "get", stdin=GET)
    assert password(out) == second
    assert rig.provider.stats()["token"]["refresh_token"] == 1
    # store is a no-op.
    code, out, _ = await tool(rig, "git-credential", "--account", "Work", "store", stdin=erase)
    assert (code, out) == (0, "")


# --- without the app: the CLI's keychain and engine paths ------------------------------------------------


def test_without_the_app_the_cli_answers_every_tool(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Solo").returncode == 0
    [account] = cli.accounts()
    stored = stored_tokens(str(account["id"]))["tokens"]
    assert isinstance(stored, dict)
    token = str(stored["access_token"])

    proc = cli.run("token", "Solo", "--format", "json", secret_stdout=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["access_token"] == token and data["token_type"].lower() == "bearer"
    assert data["expires_at"] == iso(float(stored["expires_at"]))  # type: ignore[arg-type]
    assert "openid" in data["scopes"]
    proc = cli.run("token", "Solo", "--format", "xoauth2", secret_stdout=True)
    assert base64.b64decode(proc.stdout) == f"user=alice@example.test\x01auth=Bearer {token}\x01\x01".encode()

    proc = cli.run(
        "exec", "Solo", "--", sys.executable, "-c", USERINFO, oidc_provider.userinfo_endpoint, secret_stdout=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "alice"

    proc = cli.run("git-credential", "--account", "Solo", "get", stdin=GET, secret_stdout=True)
    assert proc.returncode == 0, proc.stderr
    assert password(proc.stdout) == token
    oidc_provider.reset()
    erase = GET.rstrip("\n") + f"\nusername=oauth2\npassword={token}\n\n"
    proc = cli.run("git-credential", "--account", "Solo", "erase", stdin=erase)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    proc = cli.run("git-credential", "--account", "Solo", "get", stdin=GET, secret_stdout=True)
    assert proc.returncode == 0, proc.stderr
    refreshed = password(proc.stdout)
    assert refreshed != token and oidc_provider.stats()["token"]["refresh_token"] == 1
    assert userinfo_sub(oidc_provider, refreshed) == "alice"
    proc = cli.run("token", "Solo", secret_stdout=True)
    assert proc.stdout.strip() == refreshed and oidc_provider.stats()["token"]["refresh_token"] == 1
