"""A preset through a real sign-in, refresh, token and disconnect: `--provider keycloak` against the rig
imitating a Keycloak realm (HTTPS, issuer under /realms/rig, Keycloak's paths, refresh tokens without
prompt=consent). Other presets' hosts are fixed (Google, Microsoft, GitHub, Slack, Dropbox) or need
quirks the rig does not imitate; their URLs are checked in test_cli_options_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_cli_e2e import Cli, stored_tokens
from tests.e2e.test_cli_e2e import cli as cli  # the fixture
from tests.e2e.test_cli_options_e2e import printed_url, query
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def keycloak() -> Iterator[OidcProvider]:
    with OidcProvider(preset="keycloak") as provider:
        yield provider


def test_keycloak_preset_signs_in_refreshes_and_disconnects(cli: Cli, keycloak: OidcProvider) -> None:
    assert keycloak.ca_file is not None
    cli.env["SSL_CERT_FILE"] = str(keycloak.ca_file)  # trust the rig's certificate, as a company CA would be
    domain = httpx.URL(keycloak.issuer).netloc.decode()
    keycloak.reset()
    proc = cli.run(
        "connect", "--provider", "keycloak", "--domain", domain, "--realm", "rig", "--client-id", "native-rotating"
    )
    assert proc.returncode == 0, proc.stderr
    url = printed_url(proc.stderr)
    assert url.startswith(f"https://{domain}/realms/rig/protocol/openid-connect/auth?")
    assert "prompt" not in query(url)  # the preset's quirk: Keycloak needs no forced consent for offline use

    [account] = cli.accounts()
    assert account["provider"] == "keycloak" and account["issuer"] == keycloak.issuer
    assert account["state"] == "valid"
    assert account["identity"]["email"] == "alice@example.test"  # type: ignore[index]
    before = stored_tokens(str(account["id"]))["tokens"]
    assert before["refresh_token"]  # type: ignore[index]

    name = str(account["name"])
    refreshed = cli.run("refresh", name)
    assert refreshed.returncode == 0, refreshed.stderr
    after = stored_tokens(str(account["id"]))["tokens"]
    assert after["refresh_token"] != before["refresh_token"]  # type: ignore[index]
    token = cli.run("token", name, secret_stdout=True)
    assert token.returncode == 0 and token.stdout.strip() == after["access_token"]  # type: ignore[index]
    assert keycloak.stats()["token"] == {"authorization_code": 1, "refresh_token": 1}

    gone = cli.run("disconnect", name)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    assert keycloak.stats()["revocation"] == 1
    assert cli.accounts() == []
