"""Through the GUI on the real rig: Connect -> Valid; grant revoked -> Needs sign-in and exactly one notification."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.errors import NeedsSignIn
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.refresh import RefreshPolicy
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from desktop_app.ui.app import Controller
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from desktop_app.ui.model import Role
from tests.clock import FakeClock
from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider
from tests.ui.conftest import settle, until

pytestmark = pytest.mark.e2e


def test_connect_then_revoke_through_the_gui(
    qloop: asyncio.AbstractEventLoop, qtbot: Any, tmp_path: Path, oidc_provider: OidcProvider, keychain: Keychain
) -> None:
    oidc_provider.reset()
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
        http=new_http_client(),
        clock=clock,
        opener=opener,
        policy=RefreshPolicy(max_jitter_s=0),
        flow_timeout_s=30,
    )
    controller = Controller(paths, now=clock.now)
    qtbot.addWidget(controller.window)
    notes: list[tuple[str, str]] = []
    controller.tray.notified.connect(lambda title, body: notes.append((title, body)))

    async def scenario() -> None:
        await browser.start()
        bridge = controller.attach(service)
        await until(lambda: bridge.engine_running, 30, "the keychain probe and the engine")
        window = controller.window
        window.show()
        window.open_connect()
        dialog = window.findChild(ConnectDialog)
        assert dialog is not None
        dialog.select_provider(CUSTOM)
        dialog.issuer.editor.setText(oidc_provider.issuer)
        dialog.client_id.editor.setText(oidc_provider.native_rotating)
        dialog.name.editor.setText("Rig alice")
        dialog.connect_button.click()
        await until(lambda: controller.model.rowCount() == 1, 60, "the connected account")
        index = controller.model.index(0)
        assert index.data(Role.BADGE_TEXT) == "Valid"
        assert index.data(Role.IDENTITY) == "alice@example.test"
        assert window.stack.currentWidget() is window.list_page
        await asyncio.gather(*consents)

        # The grant dies at the provider; the background refresh ahead of expiry finds out by itself.
        assert oidc_provider.revoke_all() >= 1
        oidc_provider.reset()
        clock.advance(240)  # past 75% of the 300 s access token
        service.engine.wake()
        await until(lambda: controller.model.index(0).data(Role.BADGE_TEXT) == "Needs sign-in", 30, "Needs sign-in")
        await settle(bridge)
        await until(lambda: notes, 10, "the notification")
        # More failed attempts raise no further notifications.
        for _ in range(2):
            with pytest.raises(NeedsSignIn):
                await service.refresh(index.data(Role.ACCOUNT_ID))
        await until(lambda: not controller.tray._notify_timer_ms.isActive(), 10, "nothing pending")
        assert len(notes) == 1
        # The engine stopped on invalid_grant: one refresh request, then nothing however long we wait.
        replanned = clock.next_sleep()
        clock.advance(3600)
        service.engine.wake()
        await replanned  # the engine looked at every account again and went back to sleep
        await asyncio.gather(*service.engine._background)
        assert oidc_provider.stats()["token_requests"] == 1
        title, body = notes[0]
        assert title == "Rig alice needs sign-in" and "Click to reconnect" in body
        assert not window.copy_action.isEnabled() and window.reconnect_action.isEnabled()

    try:
        qloop.run_until_complete(scenario())
    finally:

        async def cleanup() -> None:
            for task in consents:
                task.cancel()
            await asyncio.gather(*consents, return_exceptions=True)
            for record in service.accounts():
                await vault.delete(record.id)
            await controller.aclose()
            await browser.stop()

        qloop.run_until_complete(cleanup())
