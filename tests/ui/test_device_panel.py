"""The connect dialog's sign-in on another device, with a scripted device flow: the code, its page, Copy."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from desktop_app.core.device import DeviceCode
from desktop_app.core.errors import DeviceCodeExpired, TokendeskError
from desktop_app.core.providers import preset
from desktop_app.core.secrets import Secret
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from tests.ui.conftest import FakeService, make_record, until

CODE = DeviceCode(
    Secret("device-code-never-shown-01"),
    "WDJB-MJHT",
    "https://github.com/login/device",
    "https://github.com/login/device?user_code=WDJB-MJHT",
    0.0,  # set when handed out: the panel reads the wall clock, and a whole-suite run reaches this test minutes
    5,  # after this module was imported
)


class DeviceFlow(FakeService):
    """Hands out CODE, then waits for the test to approve (a record) or fail (an error)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []
        self.outcome: asyncio.Future[Any] | None = None

    async def resolve_provider(self, request: Any) -> Any:
        return preset("github")

    async def connect(self, request: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        self.outcome = asyncio.get_running_loop().create_future()
        if kwargs.get("device"):
            kwargs["on_code"](replace(CODE, expires_at=time.time() + 900 - 10))  # 14 min 50 s reads as 15 minutes
        result = await self.outcome
        if isinstance(result, TokendeskError):
            raise result
        return result


@pytest.fixture
def fake() -> DeviceFlow:
    return DeviceFlow()


@pytest.fixture
def dialog(qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: DeviceFlow) -> ConnectDialog:
    d = ConnectDialog(Bridge(fake))  # type: ignore[arg-type]
    qtbot.addWidget(d)
    d.show()
    return d


def test_the_choice_is_offered_only_where_a_device_flow_exists(dialog: ConnectDialog) -> None:
    for key, offered in (("github", True), ("microsoft", True), ("slack", False), ("dropbox", False)):
        dialog.select_provider(key)
        assert dialog.use_device.isEnabled() is offered, key
    dialog.select_provider("github")
    dialog.use_device.setChecked(True)
    dialog.select_provider("slack")
    assert not dialog.use_device.isChecked()  # never carried over to a provider without one
    dialog.select_provider(CUSTOM)
    assert dialog.use_device.isEnabled()  # discovery will tell
    dialog.use_endpoints.setChecked(True)
    assert not dialog.use_device.isEnabled()


def _submit_github(dialog: ConnectDialog) -> None:
    dialog.select_provider("github")
    dialog.client_id.editor.setText("Iv1.abc")
    dialog.client_secret.editor.setText("github-secret-0001")
    dialog.use_device.setChecked(True)
    dialog.submit()


def test_the_code_its_page_and_copy(qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: DeviceFlow) -> None:
    opened: list[str] = []
    dialog.open_link = opened.append
    panel = dialog.device_panel

    async def scenario() -> None:
        _submit_github(dialog)
        await until(lambda: panel.user_code.text() == "WDJB-MJHT", 10, "the code")
        assert dialog.stack.currentWidget() is panel and panel.isVisible()
        assert fake.calls[0]["device"] is True
        assert "https://github.com/login/device" in panel.link.text()
        assert "The code expires in 15 minutes." in panel.status.text()
        assert "device-code-never-shown-01" not in " ".join(
            w.text() for w in (panel.title, panel.instructions, panel.link, panel.user_code, panel.status)
        )
        panel.copy_button.click()
        assert QGuiApplication.clipboard().text() == "WDJB-MJHT"
        assert panel.copy_button.text() == "Code copied"
        panel.link.linkActivated.emit(CODE.verification_uri)
        assert opened == ["https://github.com/login/device"]
        assert fake.outcome is not None
        fake.outcome.set_result(make_record())
        await until(lambda: dialog.result() == 1, 10, "the dialog to finish")

    qloop.run_until_complete(scenario())


def test_an_expired_code_is_shown_like_other_connect_errors(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: DeviceFlow
) -> None:
    async def scenario() -> None:
        _submit_github(dialog)
        await until(lambda: fake.outcome is not None, 10, "the sign-in")
        assert fake.outcome is not None
        fake.outcome.set_result(DeviceCodeExpired("The code WDJB-MJHT expired; run the sign-in again."))
        await until(lambda: dialog.stack.currentWidget() is dialog.form_page, 10, "the form")
        assert "expired" in dialog.form_error.text() and dialog.connect_button.isEnabled()

    qloop.run_until_complete(scenario())


def test_cancel_while_the_code_is_shown(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: DeviceFlow
) -> None:
    async def scenario() -> None:
        _submit_github(dialog)
        await until(lambda: dialog.device_panel.copy_button.isEnabled(), 10, "the code")
        dialog.device_panel.cancel_button.click()
        assert dialog.stack.currentWidget() is dialog.form_page
        assert "cancelled" in dialog.form_error.text()
        await until(lambda: fake.outcome is not None and fake.outcome.cancelled(), 10, "the flow to stop")

    qloop.run_until_complete(scenario())


def test_when_the_browser_fails_a_code_is_offered(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: DeviceFlow
) -> None:
    async def scenario() -> None:
        dialog.select_provider("github")
        dialog.client_id.editor.setText("Iv1.abc")
        dialog.client_secret.editor.setText("github-secret-0001")
        dialog.submit()
        await until(lambda: len(fake.calls) == 1, 10, "the browser sign-in")
        assert "device" not in fake.calls[0]
        dialog.browser_failed()
        assert dialog.device_instead_button.isVisibleTo(dialog)
        dialog.device_instead_button.click()
        await until(lambda: dialog.device_panel.user_code.text() == "WDJB-MJHT", 10, "the code")
        assert fake.calls[1]["device"] is True

    qloop.run_until_complete(scenario())
