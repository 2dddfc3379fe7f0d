"""`tokendesk token` without the app: a valid token comes from the keychain without loading httpx or the engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.test_cli_e2e import Cli, cli, connect, expire_access_token
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e
__all__ = ["cli"]  # the fixture, imported for the tests below


def loaded(cli: Cli, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Runs the command with -X importtime; returns its result and every module it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "desktop_app", *args],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=120,
        cwd=cli.home,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, modules


def test_a_valid_token_needs_no_http_stack(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Fast").returncode == 0
    [account] = cli.accounts()
    refreshes = oidc_provider.stats()["token"]["refresh_token"]

    proc, modules = loaded(cli, "token", "Fast", "--header")
    assert proc.returncode == 0
    assert proc.stdout.startswith("Authorization: Bearer ") and len(proc.stdout.strip()) > 30
    assert not {"httpx", "desktop_app.core.refresh", "desktop_app.core.service"} & modules
    assert oidc_provider.stats()["token"]["refresh_token"] == refreshes

    # Not valid long enough: the engine runs (and with it httpx), refreshes once, and the next call is quick again.
    expire_access_token(str(account["id"]))
    proc, modules = loaded(cli, "token", "Fast")
    assert proc.returncode == 0 and {"httpx", "desktop_app.core.refresh"} <= modules
    assert oidc_provider.stats()["token"]["refresh_token"] == refreshes + 1
    proc, modules = loaded(cli, "token", "Fast")
    assert proc.returncode == 0 and "httpx" not in modules
    assert oidc_provider.stats()["token"]["refresh_token"] == refreshes + 1


def test_an_account_needing_sign_in_is_explained_by_the_engine(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Gone").returncode == 0
    [account] = cli.accounts()
    oidc_provider.revoke_all()
    expire_access_token(str(account["id"]))
    assert cli.run("token", "Gone").returncode == 3
    proc, _ = loaded(cli, "token", "Gone")
    assert proc.returncode == 3 and "Reconnect it" in proc.stderr
    assert cli.run("token", "Nobody").returncode == 1
