"""End-to-end pieces: a Service on the real provider, keychain and Chromium."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from desktop_app.core.clock import Clock
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.refresh import RefreshPolicy
from desktop_app.core.secrets import Secret
from desktop_app.core.service import ConnectRequest, Service
from desktop_app.core.vault import Vault
from tests.clock import FakeClock
from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider

TEARDOWN_STEP_S = 90.0  # Service.aclose drains a refresh for at most 75 s


@dataclass
class Consent:
    """The "system browser": opens each URL in headless Chromium and logs in / consents like a user."""

    browser: RigBrowser
    login: str = "alice"
    approve: bool = True
    urls: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[str]] = field(default_factory=list)

    async def __call__(self, url: str) -> bool:
        self.urls.append(url)
        # Like a real browser: opening returns at once, the user acts later.
        self.tasks.append(
            asyncio.ensure_future(self.browser.complete_consent(url, login=self.login, approve=self.approve))
        )
        return True

    async def pages(self) -> list[str]:
        return list(await asyncio.gather(*self.tasks))


@dataclass
class Rig:
    service: Service
    consent: Consent
    provider: OidcProvider
    keychain: Keychain
    paths: AppPaths
    clock: FakeClock
    vault: Vault

    def request(self, client_id: str | None = None, **kwargs: Any) -> ConnectRequest:
        client_id = client_id or self.provider.native_rotating
        secret = self.provider.client_secrets[client_id]
        return ConnectRequest(
            client_id=client_id, client_secret=Secret(secret) if secret else None, issuer=self.provider.issuer, **kwargs
        )


ROOT = Path(__file__).resolve().parents[2]


async def rig_cli(
    rig: Rig, *args: str, keychain: bool = False, extra_env: dict[str, str] | None = None, stdin: str = ""
) -> tuple[int, str, str]:
    """`tokendesk ARGS` in a process that shares the rig Service's config, state and runtime dirs (so it
    finds the app's agent socket). Without `keychain`, its D-Bus leads nowhere: only the app can answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app",
        *args,
        env=rig_cli_env(rig, keychain=keychain, extra_env=extra_env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def rig_cli_env(rig: Rig, *, keychain: bool = False, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment rig_cli runs tokendesk in; also for tools (git) that run tokendesk themselves."""
    base = rig.paths.config_dir.parent.parent
    (base / "run").mkdir(mode=0o700, exist_ok=True)
    (base / "run").chmod(0o700)  # platformdirs ignores a runtime dir others can read
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_STATE_HOME=str(base / "state"),
        XDG_RUNTIME_DIR=str(base / "run"),
        PYTHONPATH=str(ROOT),
        **(extra_env or {}),
    )
    if not keychain:
        env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    return env


def rig_service(tmp_path: Path, clock: Clock, consent: Consent) -> tuple[Service, Vault, AppPaths]:
    """A Service as the app builds it, on the rig: private paths, a keychain collection of its own."""
    paths = AppPaths(
        config_dir=tmp_path / "config" / "tokendesk",
        state_dir=tmp_path / "state" / "tokendesk",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "run" / "tokendesk",
    )
    vault = Vault(service=f"tokendesk-e2e-{uuid.uuid4().hex[:8]}")
    service = Service(
        paths=paths,
        vault=vault,
        http=new_http_client(),
        clock=clock,
        opener=consent,
        policy=RefreshPolicy(max_jitter_s=0),
        flow_timeout_s=30,
    )
    return service, vault, paths


async def close_rig_service(service: Service, vault: Vault, consent: Consent) -> None:
    for task in consent.tasks:
        task.cancel()
    # Bounded, each step named: a teardown that hangs must fail saying where, not wait for pytest's timeout.
    try:
        await asyncio.wait_for(asyncio.gather(*consent.tasks, return_exceptions=True), 30)
    except TimeoutError:
        pytest.fail("the browser's consent tasks did not end when cancelled")
    for record in service.accounts():
        await vault.delete(record.id)
    try:
        await asyncio.wait_for(service.aclose(), TEARDOWN_STEP_S)
    except TimeoutError:
        pytest.fail("Service.aclose() did not finish")


@pytest_asyncio.fixture
async def rig(
    oidc_provider: OidcProvider, keychain: Keychain, rig_browser: RigBrowser, tmp_path: Path
) -> AsyncIterator[Rig]:
    clock = FakeClock(start=time.time())
    consent = Consent(rig_browser)
    service, vault, paths = rig_service(tmp_path, clock, consent)
    oidc_provider.reset()
    yield Rig(service, consent, oidc_provider, keychain, paths, clock, vault)
    await close_rig_service(service, vault, consent)
