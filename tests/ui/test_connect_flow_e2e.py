"""The connect dialog's waiting state on the real rig: the browser did not open, so the user copies the link
into a browser; and Cancel leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtGui import QGuiApplication

from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from tests.clock import FakeClock
from tests.rig.browser import RigBrowser
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider
from tests.ui.conftest import until

pytestmark = pytest.mark.e2e


@pytest.fixture
def dialog(qtbot: Any, tmp_path: Path, oidc_provider: OidcProvider, keychain: Keychain) -> ConnectDialog:
    """A connect dialog on a real Service whose system browser fails to open, as xdg-open sometimes does."""
    paths = AppPaths(config_dir=tmp_path / "config", state_dir=tmp_path / "state", log_dir=tmp_path / "log")
    holder: list[Bridge] = []

    async def broken_browser(url: str) -> bool:
        holder[0].browserFailed.emit()  # what QtOpener does when xdg-open fails
        return False

    service = Service(
        paths=paths,
        vault=Vault(service=f"tokendesk-ui-e2e-{uuid.uuid4().hex[:8]}"),
        http=new_http_client(),
        clock=FakeClock(start=time.time()),
        opener=broken_browser,
        flow_timeout_s=60,
    )
    holder.append(Bridge(service))
    d = ConnectDialog(holder[0])
    qtbot.addWidget(d)
    d.show()
    d.select_provider(CUSTOM)
    d.issuer.editor.setText(oidc_provider.issuer)
    d.client_id.editor.setText(oidc_provider.native_rotating)
    return d


def test_copy_link_when_the_browser_does_not_open(qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog) -> None:
    bridge = dialog.bridge
    service = bridge.service
    dialog.name.editor.setText("Pasted")
    browser = RigBrowser()

    async def scenario() -> None:
        await browser.start()
        dialog.submit()
        await until(lambda: dialog.copy_link_button.isEnabled(), 30, "the sign-in link")
        assert dialog.stack.currentWidget() is dialog.waiting_page
        assert "did not open" in dialog.waiting_text.text()
        dialog.copy_link_button.click()
        link = QGuiApplication.clipboard().text()
        assert httpx.URL(link).params["redirect_uri"].startswith("http://127.0.0.1:")
        # The user pastes the link into a browser by hand.
        page = await browser.complete_consent(link)
        assert "Signed in" in page
        await until(lambda: dialog.result() == 1, 30, "the dialog to finish")
        [record] = service.accounts()
        assert record.name == "Pasted" and record.identity.email == "alice@example.test"

    try:
        qloop.run_until_complete(scenario())
    finally:

        async def cleanup() -> None:
            for record in service.accounts():
                await service._vault.delete(record.id)
            await bridge.aclose()
            await browser.stop()

        qloop.run_until_complete(cleanup())


def test_cancel_while_waiting_leaves_nothing_behind(qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog) -> None:
    bridge = dialog.bridge
    service = bridge.service

    async def scenario() -> None:
        dialog.submit()
        await until(lambda: dialog.copy_link_button.isEnabled(), 30, "the sign-in link")
        dialog.copy_link_button.click()
        redirect = httpx.URL(QGuiApplication.clipboard().text()).params["redirect_uri"]
        dialog.wait_cancel_button.click()
        assert dialog.stack.currentWidget() is dialog.form_page and dialog.connect_button.isEnabled()
        await until(lambda: not bridge.tasks, 10, "the sign-in task to end")
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(redirect)  # the loopback listener is gone
        assert service.accounts() == []

    try:
        qloop.run_until_complete(scenario())
    finally:
        qloop.run_until_complete(bridge.aclose())
