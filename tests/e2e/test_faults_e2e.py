"""The engine's failure paths end to end: real provider (rotating, reuse-detecting), keychain, processes, signals.

Recorded in docs/reliability.md (scripts/reliability runs these and the property test)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from desktop_app.core.accounts import AccountState
from desktop_app.core.errors import TokendeskError
from desktop_app.core.events import AccountChanged
from desktop_app.core.service import ConnectRequest, Service
from tests.clock import SimClock
from tests.core.test_engine_faults import engines_quiet
from tests.e2e.conftest import Consent, close_rig_service, rig_service
from tests.e2e.test_cli_e2e import Cli, cli, connect, expire_access_token, stored_tokens
from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider

pytestmark = pytest.mark.e2e
__all__ = ["cli"]  # the fixture, shared with the CLI tests


# --- signals between the provider's answer and the keychain ----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_refresh_waits_for_the_rotated_token_to_reach_the_keychain(
    cli: Cli, oidc_provider: OidcProvider, signum: signal.Signals
) -> None:
    assert connect(cli, oidc_provider, "--name", "Sig").returncode == 0
    [account] = cli.accounts()
    before = stored_tokens(str(account["id"]))["tokens"]["refresh_token"]  # type: ignore[index]
    expire_access_token(str(account["id"]))
    oidc_provider.reset()
    oidc_provider.hold_token()
    proc = cli.start("token", "Sig")
    try:
        assert oidc_provider.wait_held() == 1  # the provider rotated; the answer is on hold
        proc.send_signal(signum)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)  # it must not die with the new refresh token in flight
        assert oidc_provider.release() == 1
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signum, err
    assert f"stopped by {signum.name}" in err and err.count("\n") == 1
    after = stored_tokens(str(account["id"]))["tokens"]["refresh_token"]  # type: ignore[index]
    assert after != before  # the rotated token reached the keychain
    assert cli.run("refresh", "Sig").returncode == 0  # and the next refresh uses it
    stats = oidc_provider.stats()
    assert stats["token_errors"].get("invalid_grant", 0) == 0
    assert stats["token"]["refresh_token"] == 2


def test_a_signal_before_anything_was_sent_ends_at_once(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Quick").returncode == 0
    proc = cli.start("connect", "--issuer", oidc_provider.issuer, "--client-id", "x", "--no-browser")
    assert proc.stderr is not None
    assert "visit:" in proc.stderr.readline() + proc.stderr.readline()  # waiting for the browser
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and "stopped by SIGTERM" in err


# --- the provider's clock binds scripts -------------------------------------------------------------------------


def test_retry_after_binds_every_script_call(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Busy").returncode == 0
    [account] = cli.accounts()
    expire_access_token(str(account["id"]))
    oidc_provider.reset()
    oidc_provider.fail_token(429, retry_after=3600)
    first = cli.run("token", "Busy")
    assert first.returncode == 4 and "HTTP 429" in first.stderr
    for _ in range(3):
        again = cli.run("token", "Busy")
        assert again.returncode == 4 and "next attempt is due at" in again.stderr, again.stderr
        assert again.stderr.count("\n") == 1
    assert oidc_provider.stats()["token_requests"] == 1  # one request, however often scripts ask
    assert cli.accounts()[0]["retry_at"] is not None
    forced = cli.run("refresh", "Busy")  # the user asks explicitly: one try
    assert forced.returncode == 0, forced.stderr
    assert oidc_provider.stats()["token_requests"] == 2
    assert cli.run("token", "Busy").returncode == 0


# --- one damaged record ---------------------------------------------------------------------------------------------


def test_a_record_with_a_refused_endpoint_among_good_ones(cli: Cli, oidc_provider: OidcProvider) -> None:
    assert connect(cli, oidc_provider, "--name", "Good").returncode == 0
    assert connect(cli, oidc_provider, "--name", "Old").returncode == 0
    path = cli.home / "config" / "tokendesk" / "accounts.json"
    data = json.loads(path.read_text())
    for record in data["accounts"]:
        if record["name"] == "Old":  # saved before the endpoint rules got stricter
            record["provider"]["token_endpoint"] = "http://idp.example.com/token"
            record["provider"]["revocation_endpoint"] = "http://idp.example.com/revoke"
    path.write_text(json.dumps(data))

    listed = {str(a["name"]): a for a in cli.accounts()}
    assert listed["Good"]["state"] == "valid"
    assert listed["Old"]["state"] == "config_error" and "HTTPS" in str(listed["Old"]["last_error"])
    assert cli.run("list").returncode == 0
    [good] = [a for a in cli.accounts() if a["name"] == "Good"]
    expire_access_token(str(good["id"]))
    oidc_provider.reset()
    assert cli.run("token", "Good").returncode == 0  # the others keep working
    assert oidc_provider.stats()["token"]["refresh_token"] == 1
    reconnect = cli.run("reconnect", "Old")
    assert reconnect.returncode == 2 and "HTTPS" in reconnect.stderr
    gone = cli.run("disconnect", "Old")
    assert gone.returncode == 0 and "Not revoked" in gone.stderr
    assert oidc_provider.stats()["revocation"] == 0  # no token went to a plain-HTTP endpoint
    assert [a["name"] for a in cli.accounts()] == ["Good"]


# --- the running app's engine -------------------------------------------------------------------------------------


class App:
    """The app's core as the GUI runs it: a Service whose background loop runs, on a simulated clock."""

    def __init__(self, service: Service, clock: SimClock, consent: Consent, provider: OidcProvider) -> None:
        self.service = service
        self.clock = clock
        self.consent = consent
        self.provider = provider
        self.loop_task: asyncio.Task[None] | None = None
        self.spawned = 0
        self.keychain_calls = 0

    def request(self, name: str) -> ConnectRequest:
        return ConnectRequest(client_id=self.provider.native_rotating, issuer=self.provider.issuer, name=name)

    def start_loop(self) -> None:
        engine = self.service._engine  # the loop itself: counted spawns, run without the app
        spawn = engine._spawn

        def counting(coro: Any) -> None:
            self.spawned += 1
            spawn(coro)

        engine._spawn = counting  # type: ignore[method-assign]
        self.loop_task = asyncio.ensure_future(engine.run())

    async def quiet(self) -> None:
        async with asyncio.timeout(60):
            while not engines_quiet(self.clock, [self.service._engine]):  # noqa: ASYNC110
                await asyncio.sleep(0.005)


@pytest_asyncio.fixture
async def app(
    oidc_provider: OidcProvider, keychain: Keychain, rig_browser: RigBrowser, tmp_path: Path
) -> AsyncIterator[App]:
    clock = SimClock(start=time.time())
    consent = Consent(rig_browser)
    service, vault, _ = rig_service(tmp_path, clock, consent)
    app = App(service, clock, consent, oidc_provider)
    load = vault.load

    async def counting_load(account_id: str) -> Any:
        app.keychain_calls += 1
        return await load(account_id)

    vault.load = counting_load  # type: ignore[method-assign]
    oidc_provider.reset()
    yield app
    if app.loop_task is not None:
        app.loop_task.cancel()
        await asyncio.gather(app.loop_task, return_exceptions=True)
    await close_rig_service(service, vault, consent)


async def test_twelve_accounts_due_at_once_refresh_once_each_then_the_app_idles(app: App) -> None:
    for i in range(12):
        await app.service.connect(app.request(f"Due {i}"))
    issued = {r.id: r.issued_at for r in app.service.accounts()}
    app.provider.reset()
    all_fresh = asyncio.Event()

    def watch(event: object) -> None:
        records = app.service.accounts()
        if isinstance(event, AccountChanged) and all(
            r.state is AccountState.VALID and r.issued_at != issued[r.id] for r in records
        ):
            all_fresh.set()

    app.service.subscribe(watch)
    app.start_loop()
    app.clock.advance(280)  # every access token (300 s) is past its refresh point
    await asyncio.wait_for(all_fresh.wait(), 120)
    await app.quiet()
    stats = app.provider.stats()
    assert stats["token"]["refresh_token"] == 12 and stats["token_requests"] == 12
    assert stats["token_errors"] == {}
    assert app.spawned == 12  # one task per account, however long they waited for a slot

    # Idle: the loop sleeps until the next refresh point; nothing runs meanwhile.
    calls, cpu = app.keychain_calls, time.process_time()
    await asyncio.sleep(1.0)
    assert time.process_time() - cpu < 0.2
    app.clock.advance(60)
    await app.quiet()
    assert app.keychain_calls == calls and app.provider.stats()["token_requests"] == 12


async def test_keychain_locked_while_the_app_runs(app: App, keychain: Keychain) -> None:
    record = await app.service.connect(app.request("Locked"))
    app.provider.reset()
    app.start_loop()
    await app.quiet()
    keychain.lock()
    try:
        app.clock.advance(230)  # due
        for _ in range(30):  # five minutes in 10 s steps
            await app.quiet()
            app.clock.advance(10)
        await app.quiet()
        assert app.provider.stats()["token_requests"] == 0  # nothing is sent without the keychain
        assert 3 <= app.keychain_calls <= 15, app.keychain_calls  # growing pauses, capped at a minute
        with pytest.raises(TokendeskError, match="locked"):
            await app.service.token("Locked", min_valid_s=3600)
    finally:
        keychain.unlock()
    for _ in range(7):  # within the capped pause after the unlock
        app.clock.advance(10)
        await app.quiet()
    fresh = app.service.find(record.id)
    assert fresh.state is AccountState.VALID and fresh.issued_at != record.issued_at
    assert app.provider.stats()["token"]["refresh_token"] == 1


async def test_a_grant_of_the_wrong_user_is_revoked_on_reconnect(app: App) -> None:
    await app.service.connect(app.request("Alice"))
    app.provider.reset()
    await app.consent.browser.clear_cookies()  # a new browser session: sign in as someone else
    app.consent.login = "bob"
    with pytest.raises(TokendeskError, match="belongs to"):
        await app.service.reconnect("Alice")
    assert app.provider.stats()["revocation"] == 1  # bob's new grant does not stay alive
    assert app.service.find("Alice").identity.subject == "alice"
