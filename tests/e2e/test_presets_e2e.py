"""Presets through a real sign-in, refresh, token and disconnect: `--provider keycloak`, `okta`, `auth0`
and `gitlab` against the rig imitating each (HTTPS, the issuer where the preset expects it, the server's
paths, refresh tokens without prompt=consent). The other presets have fixed hosts (Google, Microsoft,
GitHub, Slack, Dropbox); their URLs are checked in test_cli_options_e2e.py and their quirks in tests/core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_cli_e2e import Cli, stored_tokens
from tests.e2e.test_cli_e2e import cli as cli  # the fixture
from tests.e2e.test_cli_options_e2e import printed_url, query
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e


PRESET_ARGS = {
    "keycloak": ("--realm", "rig"),
    "okta": (),  # --server defaults to "default"
    "auth0": (),
    "gitlab": (),
}
AUTHORIZE_PATHS = {
    "keycloak": "/realms/rig/protocol/openid-connect/auth",
    "okta": "/oauth2/default/v1/authorize",
    "auth0": "/authorize",
    "gitlab": "/oauth/authorize",
}


@pytest.fixture(scope="module", params=sorted(PRESET_ARGS))
def imitation(request: pytest.FixtureRequest) -> Iterator[tuple[str, OidcProvider]]:
    with OidcProvider(preset=request.param) as provider:
        yield request.param, provider


def test_preset_signs_in_refreshes_and_disconnects(cli: Cli, imitation: tuple[str, OidcProvider]) -> None:
    key, provider = imitation
    assert provider.ca_file is not None
    cli.env["SSL_CERT_FILE"] = str(provider.ca_file)  # trust the rig's certificate, as a company CA would be
    domain = httpx.URL(provider.issuer).netloc.decode()
    provider.reset()
    proc = cli.run(
        "connect", "--provider", key, "--domain", domain, *PRESET_ARGS[key], "--client-id", "native-rotating"
    )
    assert proc.returncode == 0, proc.stderr
    url = printed_url(proc.stderr)
    assert url.startswith(f"https://{domain}{AUTHORIZE_PATHS[key]}?")
    assert "prompt" not in query(url)  # these presets need no forced consent for offline use

    [account] = cli.accounts()
    assert account["provider"] == key and account["issuer"] == provider.issuer
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
    assert provider.stats()["token"] == {"authorization_code": 1, "refresh_token": 1}

    gone = cli.run("disconnect", name)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    assert provider.stats()["revocation"] == 1
    assert cli.accounts() == []
