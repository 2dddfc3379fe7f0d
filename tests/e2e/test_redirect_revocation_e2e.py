"""Registrations that match the redirect URI exactly (fixed port and path), and a server that refuses
revocation: against the real rig, keychain and browser."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import httpx
import keyring
import pytest

from desktop_app.core.accounts import AccountStore
from desktop_app.core.errors import AuthorizationTimeout, RedirectPortBusy
from tests.e2e.conftest import Rig
from tests.e2e.test_cli_e2e import Cli, connect
from tests.e2e.test_cli_e2e import cli as cli  # the fixture
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e

PATH = OidcProvider.exact_redirect_path


@pytest.fixture
def port_taken(oidc_provider: OidcProvider) -> Iterator[socket.socket]:
    """Another program listening on the registered port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: an earlier test's connections to this port may still be in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", oidc_provider.exact_port))
        sock.listen(1)
        yield sock


def redirect_uris(rig: Rig) -> list[str]:
    return [httpx.URL(url).params["redirect_uri"] for url in rig.consent.urls]


async def test_connect_with_the_registered_port_and_path_then_reconnect_on_it(rig: Rig) -> None:
    port = rig.provider.exact_port
    record = await rig.service.connect(rig.request(rig.provider.web_exact_port, redirect_port=port, redirect_path=PATH))
    pages = await rig.consent.pages()
    assert "Signed in" in pages[0]
    assert redirect_uris(rig) == [f"http://127.0.0.1:{port}{PATH}"]
    # Remembered in accounts.json: a fresh read (as after a restart) has the port and path.
    [reloaded] = AccountStore(rig.paths.accounts_file).all()
    assert (reloaded.provider.redirect_port, reloaded.provider.redirect_path) == (port, PATH)
    stored = json.loads(rig.paths.accounts_file.read_text())["accounts"][0]["provider"]
    assert stored["redirect_port"] == port and stored["redirect_path"] == PATH

    # Reconnecting right away binds the same port again (the last sign-in's connections are in TIME_WAIT).
    await rig.service.reconnect(record.name)
    await rig.consent.pages()
    assert redirect_uris(rig)[1] == f"http://127.0.0.1:{port}{PATH}"
    assert rig.provider.stats()["token"]["authorization_code"] == 2


async def test_without_the_port_the_provider_refuses_the_redirect_uri(rig: Rig) -> None:
    rig.service._flow_timeout_s = 5  # the provider shows its error in the browser and never redirects
    with pytest.raises(AuthorizationTimeout, match="fixed port"):
        await rig.service.connect(rig.request(rig.provider.web_exact_port, redirect_path=PATH))
    [failed] = await asyncio.gather(*rig.consent.tasks, return_exceptions=True)
    assert isinstance(failed, RuntimeError)
    assert "redirect_uri did not match any of the client's registered redirect_uris" in str(failed)
    assert rig.service.accounts() == []
    assert rig.provider.stats()["token_requests"] == 0


async def test_a_taken_port_fails_before_the_browser_opens(rig: Rig, port_taken: socket.socket) -> None:
    port = rig.provider.exact_port
    with pytest.raises(RedirectPortBusy) as caught:
        await rig.service.connect(rig.request(rig.provider.web_exact_port, redirect_port=port, redirect_path=PATH))
    message = str(caught.value)
    assert f"Port {port} on 127.0.0.1 is already in use by another program" in message
    assert "register a redirect URI with another port" in message
    assert rig.consent.urls == []  # no browser
    assert rig.service.accounts() == []


def test_cli_connect_with_redirect_port_then_reconnect(cli: Cli, oidc_provider: OidcProvider) -> None:
    port = oidc_provider.exact_port
    uri = f"http://127.0.0.1:{port}{PATH}"
    extra = ("--name", "Exact", "--redirect-port", str(port), "--redirect-path", PATH)
    proc = connect(cli, oidc_provider, *extra, client=oidc_provider.web_exact_port)
    assert proc.returncode == 0, proc.stderr
    assert httpx.URL(proc.stderr.split("visit:", 1)[1].split()[0]).params["redirect_uri"] == uri
    [accounts_file] = cli.home.rglob("accounts.json")
    provider = json.loads(accounts_file.read_text())["accounts"][0]["provider"]
    assert (provider["redirect_port"], provider["redirect_path"]) == (port, PATH)

    again = cli.run("reconnect", "Exact")
    assert again.returncode == 0, again.stderr
    assert httpx.URL(again.stderr.split("visit:", 1)[1].split()[0]).params["redirect_uri"] == uri


def test_cli_connect_on_a_taken_port(cli: Cli, oidc_provider: OidcProvider, port_taken: socket.socket) -> None:
    port = oidc_provider.exact_port
    extra = ("--redirect-port", str(port), "--redirect-path", PATH)
    proc = connect(cli, oidc_provider, *extra, client=oidc_provider.web_exact_port)
    assert proc.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use by another program" in proc.stderr
    assert "visit:" not in proc.stderr  # failed before any sign-in link existed
    assert cli.accounts() == []


def test_cli_refuses_a_privileged_port(cli: Cli, oidc_provider: OidcProvider) -> None:
    proc = connect(cli, oidc_provider, "--redirect-port", "443", client=oidc_provider.web_exact_port)
    assert proc.returncode == 2
    assert "outside 1024-65535 (ports below 1024 can only be opened by root)" in proc.stderr


async def test_disconnect_when_the_server_refuses_revocation(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(rig.provider.native_no_revoke))
    result = await rig.service.disconnect(record.name)
    assert not result.revoked
    assert rig.provider.stats()["revocation"] == 1  # it was asked, and said no
    assert result.note is not None
    assert "refused the revocation" in result.note and "only confidential clients may revoke" in result.note
    assert "Remove the app's access yourself in your account settings at" in result.note
    # Forgotten here all the same.
    assert rig.service.accounts() == []
    assert await rig.vault.load(record.id) is None


def test_cli_disconnect_prints_the_note_when_revocation_is_refused(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "NoRevoke", client=oidc_provider.native_no_revoke).returncode == 0
    [account] = cli.accounts()
    assert keyring.get_password("tokendesk", str(account["id"])) is not None
    proc = cli.run("disconnect", "NoRevoke")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Disconnected NoRevoke."
    assert "refused the revocation" in proc.stderr and "Remove the app's access yourself" in proc.stderr
    assert cli.accounts() == []
    assert keyring.get_password("tokendesk", str(account["id"])) is None
