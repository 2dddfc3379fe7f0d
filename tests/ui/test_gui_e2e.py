"""Through the GUI on the real rig: Connect -> Valid; grant revoked -> Needs sign-in and exactly one notification;
reconnect and revoke again -> exactly one more. And no secret the flow saw reaches the log or settings files."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import httpx
import pytest
from PySide6.QtGui import QGuiApplication

from desktop_app.core.errors import NeedsSignIn
from desktop_app.core.logsetup import configure_logging
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.refresh import RefreshPolicy
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from desktop_app.ui.app import Controller
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from desktop_app.ui.model import Role
from desktop_app.ui.notifications import DesktopNotifications
from tests.clock import FakeClock
from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider
from tests.ui.conftest import DRIVEN, settle, until

pytestmark = pytest.mark.e2e


@dataclass
class Gui:
    controller: Controller
    service: Service
    clock: FakeClock
    paths: AppPaths
    notes: list[tuple[str, str]] = field(default_factory=list)
    consents: list[asyncio.Task[str]] = field(default_factory=list)

    def badge(self) -> str:
        return str(self.controller.model.index(0).data(Role.BADGE_TEXT))

    async def connect(self, issuer: str, client_id: str, name: str, secret: str = "") -> None:
        window = self.controller.window
        window.open_connect()
        dialog = window.findChild(ConnectDialog)
        assert dialog is not None
        dialog.select_provider(CUSTOM)
        dialog.issuer.editor.setText(issuer)
        dialog.client_id.editor.setText(client_id)
        dialog.client_secret.editor.setText(secret)
        dialog.name.editor.setText(name)
        dialog.connect_button.click()
        await until(lambda: self.controller.model.rowCount() == 1, 60, "the connected account")
        assert self.badge() == "Valid"
        await asyncio.gather(*self.consents)

    async def reconnect(self) -> None:
        window = self.controller.window
        window.select_account(str(self.controller.model.index(0).data(Role.ACCOUNT_ID)))
        window.reconnect_action.trigger()
        [dialog] = [d for d in window.findChildren(ConnectDialog) if d.reconnecting is not None]
        reconnected: list[object] = []
        dialog.connected.connect(reconnected.append)
        await until(lambda: reconnected, 60, "the reconnect to finish")
        assert self.badge() == "Valid"
        await asyncio.gather(*self.consents)

    async def lose_the_grant(self, provider: OidcProvider) -> None:
        """The grant dies at the provider; the background refresh ahead of expiry finds out by itself."""
        assert provider.revoke_all() >= 1
        self.clock.advance(240)  # past 75% of the 300 s access token
        self.service.wake()
        await until(lambda: self.badge() == "Needs sign-in", 30, "Needs sign-in")
        assert self.controller.bridge is not None
        await settle(self.controller.bridge)
        await self.quiet()

    async def quiet(self) -> None:
        await until(lambda: not self.controller.tray.pending, 10, "no notification pending")


@asynccontextmanager
async def running_gui(qtbot: Any, tmp_path: Path, http: httpx.AsyncClient | None = None) -> AsyncIterator[Gui]:
    paths = AppPaths(config_dir=tmp_path / "config", state_dir=tmp_path / "state", log_dir=tmp_path / "log")
    clock = FakeClock(start=time.time())
    vault = Vault(service=f"tokendesk-ui-e2e-{uuid.uuid4().hex[:8]}")
    browser = RigBrowser()
    consents: list[asyncio.Task[str]] = []

    async def opener(url: str) -> bool:
        # The "system browser": headless Chromium logs in and consents, like a user would, a moment later.
        consents.append(asyncio.ensure_future(browser.complete_consent(url, login="alice")))
        return True

    service = Service(
        paths=paths,
        vault=vault,
        http=http or new_http_client(),
        clock=clock,
        opener=opener,
        policy=RefreshPolicy(max_jitter_s=0),
        flow_timeout_s=30,
    )
    controller = Controller(paths, now=clock.now, timers=DRIVEN, notifications=DesktopNotifications(None))
    qtbot.addWidget(controller.window)
    gui = Gui(controller, service, clock, paths, consents=consents)
    notes = gui.notes  # the lambda must not capture gui: the tray would keep gui, and so the controller, alive
    controller.tray.notified.connect(lambda title, body: notes.append((title, body)))
    await browser.start()
    try:
        bridge = controller.attach(service)
        await until(lambda: bridge.engine_running, 30, "the keychain probe and the engine")
        controller.window.show()
        yield gui
    finally:
        for task in consents:
            task.cancel()
        await asyncio.gather(*consents, return_exceptions=True)
        for record in service.accounts():
            await vault.delete(record.id)
        await controller.aclose()
        await browser.stop()


def test_one_notification_per_transition_through_the_gui(
    qloop: asyncio.AbstractEventLoop, qtbot: Any, tmp_path: Path, oidc_provider: OidcProvider, keychain: Keychain
) -> None:
    oidc_provider.reset()

    async def scenario() -> None:
        async with running_gui(qtbot, tmp_path) as gui:
            await gui.connect(oidc_provider.issuer, oidc_provider.native_rotating, "Rig alice")
            window = gui.controller.window
            assert window.stack.currentWidget() is window.list_page
            account_id = str(gui.controller.model.index(0).data(Role.ACCOUNT_ID))

            oidc_provider.reset()
            await gui.lose_the_grant(oidc_provider)
            assert len(gui.notes) == 1
            title, body = gui.notes[0]
            assert title == "Rig alice needs sign-in" and "Click to reconnect" in body
            assert not window.copy_action.isEnabled() and window.reconnect_action.isEnabled()
            # More failed attempts within the same state raise no further notifications.
            for _ in range(2):
                with pytest.raises(NeedsSignIn):
                    await gui.service.refresh(account_id)
            await gui.quiet()
            assert len(gui.notes) == 1
            # The engine stopped on invalid_grant: one refresh request, then nothing however long we wait.
            replanned = gui.clock.next_sleep()
            gui.clock.advance(3600)
            gui.service.wake()
            await replanned  # the engine looked at every account again and went back to sleep
            await asyncio.gather(*gui.service._engine._background)  # any refresh it started has ended
            assert oidc_provider.stats()["token_requests"] == 1

            # Reconnect through the window: a new grant, the account is Valid, nothing more is announced.
            # The rig's ID tokens live 300 s of real time: bring the fake wall clock back to real time first
            # (as NTP would after a drift), or the fresh ID token would look expired.
            gui.clock._now = time.time()
            await gui.reconnect()
            await gui.quiet()
            assert len(gui.notes) == 1
            assert window.copy_action.isEnabled()

            # The new grant dies too: a new transition, so exactly one more notification.
            await gui.lose_the_grant(oidc_provider)
            assert [title for title, _ in gui.notes] == ["Rig alice needs sign-in"] * 2
            with pytest.raises(NeedsSignIn):
                await gui.service.refresh(account_id)
            await gui.quiet()
            assert len(gui.notes) == 2

    qloop.run_until_complete(scenario())


class SecretHarvest:
    """httpx event hooks that collect every secret crossing the wire: what the leak check searches for."""

    FIELDS = ("access_token", "refresh_token", "id_token", "code", "code_verifier", "client_secret")

    def __init__(self) -> None:
        self.found: dict[str, set[str]] = {name: set() for name in self.FIELDS}

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.request], "response": [self.response]}

    async def request(self, request: httpx.Request) -> None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":  # client_secret_basic: form-encoded id and secret (RFC 6749 2.3.1)
            _, _, secret = base64.b64decode(credentials).decode().partition(":")
            self.found["client_secret"].add(unquote_plus(secret))
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            for key, value in parse_qsl(request.content.decode()):
                if key in self.found and value:
                    self.found[key].add(value)

    async def response(self, response: httpx.Response) -> None:
        if response.request.method != "POST":
            return
        await response.aread()
        try:
            body = json.loads(response.content)
        except ValueError:
            return
        if isinstance(body, dict):
            for key, value in body.items():
                if key in self.found and isinstance(value, str) and value:
                    self.found[key].add(value)


@pytest.fixture
def debug_log_file(tmp_path: Path) -> Any:
    """The app's logging (redacting filter, file handler) at DEBUG, removed again afterwards."""
    root = logging.getLogger()
    level = root.level
    log_file = tmp_path / "log" / "tokendesk.log"
    configure_logging(log_file, level="DEBUG")
    try:
        yield log_file
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_tokendesk", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def test_no_secret_reaches_the_gui_log_or_settings(
    qloop: asyncio.AbstractEventLoop,
    qtbot: Any,
    tmp_path: Path,
    oidc_provider: OidcProvider,
    keychain: Keychain,
    debug_log_file: Path,
) -> None:
    """Connect (confidential client), refresh, copy token and header, reconnect: at DEBUG, no secret in any file."""
    harvest = SecretHarvest()
    http = new_http_client()
    http.event_hooks = harvest.hooks()

    async def scenario() -> None:
        async with running_gui(qtbot, tmp_path, http) as gui:
            await gui.connect(
                oidc_provider.issuer,
                oidc_provider.confidential_post,
                "Leak",
                secret=oidc_provider.confidential_post_secret,
            )
            window = gui.controller.window
            bridge = gui.controller.bridge
            assert bridge is not None
            window.select_account(str(gui.controller.model.index(0).data(Role.ACCOUNT_ID)))
            gui.clock.advance(5)  # "Refresh now" skips tokens issued at the very moment it was asked
            window.refresh_action.trigger()
            await settle(bridge)
            window.copy_action.trigger()
            await settle(bridge)
            copied = QGuiApplication.clipboard().text()
            window.copy_header_action.trigger()
            await settle(bridge)
            assert copied in harvest.found["access_token"]
            # What `tokendesk token NAME --header` prints: pasted into `curl -H` it authenticates.
            assert QGuiApplication.clipboard().text() == f"Authorization: Bearer {copied}"
            await gui.reconnect()
            gui.controller.window.save_state()
            gui.controller.clipboard.clear_now()

    qloop.run_until_complete(scenario())
    found = harvest.found
    # The flow really saw each kind of secret (two sign-ins, a refresh), so the search below means something.
    assert len(found["code"]) == 2 and len(found["code_verifier"]) == 2
    assert len(found["access_token"]) >= 3 and found["refresh_token"] and len(found["id_token"]) >= 2
    assert found["client_secret"] == {oidc_provider.confidential_post_secret}

    log_text = debug_log_file.read_text(errors="replace")
    assert "DEBUG" in log_text and "POST" in log_text  # the log really recorded the traffic
    settings_file = tmp_path / "config" / "tokendesk-ui.ini"
    assert settings_file.exists()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert debug_log_file in files and settings_file in files
    leaks = [
        (str(path.relative_to(tmp_path)), kind)  # names only: the failure message must not print the secret
        for path in files
        for kind, values in found.items()
        for secret in values
        if secret in path.read_text(errors="replace")
    ]
    assert leaks == []
