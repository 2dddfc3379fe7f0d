"""The README's keyboard shortcuts, typed into the account list: each reaches its action, and only it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop_app.core.events import AccountChanged
from desktop_app.ui.app import Controller
from desktop_app.ui.connect_dialog import ConnectDialog
from desktop_app.ui.details import DetailsDialog
from tests.ui.conftest import FakeService, make_record, make_tokens, settle, until

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier
TOKEN = "tok-" + "k" * 30


@pytest.fixture
def window_with_account(
    app_ctl: tuple[Controller, FakeService], qtbot: Any, qloop: asyncio.AbstractEventLoop
) -> tuple[Controller, FakeService]:
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    fake.tokens["acct1"] = make_tokens(TOKEN)
    window = controller.window
    window.show_and_raise()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.list.setFocus()
    qtbot.waitUntil(window.list.hasFocus, timeout=5000)
    return controller, fake


def _type(controller: Controller, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> list[str]:
    """Type the key into the list; return the texts of the actions it triggered."""
    fired: list[str] = []
    window = controller.window
    actions: list[QAction] = [*window.account_actions, *window.header_actions, window.quit_action]
    slots: list[tuple[QAction, Callable[..., None]]] = []
    for action in actions:

        def slot(*_: Any, text: str = action.text()) -> None:
            fired.append(text)

        action.triggered.connect(slot)
        slots.append((action, slot))
    try:
        QTest.keyClick(window.list, key, modifiers)
    finally:
        for action, slot in slots:
            action.triggered.disconnect(slot)
    return fired


def test_ctrl_c_copies_the_token(window_with_account: tuple[Controller, FakeService], qloop: Any) -> None:
    controller, fake = window_with_account
    QGuiApplication.clipboard().setText("before")
    assert _type(controller, Qt.Key.Key_C, CTRL) == ["Copy access token"]
    qloop.run_until_complete(settle(controller.bridge))
    assert QGuiApplication.clipboard().text() == TOKEN
    assert fake.token_calls == [("acct1", 300)]


def test_ctrl_shift_c_copies_the_header(window_with_account: tuple[Controller, FakeService], qloop: Any) -> None:
    controller, _ = window_with_account
    assert _type(controller, Qt.Key.Key_C, CTRL | SHIFT) == ["Copy Authorization header"]
    qloop.run_until_complete(settle(controller.bridge))
    assert QGuiApplication.clipboard().text() == f"Authorization: {make_tokens(TOKEN).authorization_header()}"


def test_f5_refreshes(window_with_account: tuple[Controller, FakeService], qloop: Any) -> None:
    controller, fake = window_with_account
    assert _type(controller, Qt.Key.Key_F5, NONE) == ["Refresh now"]
    qloop.run_until_complete(settle(controller.bridge))
    assert fake.refresh_calls == ["acct1"]


def test_ctrl_i_opens_details(window_with_account: tuple[Controller, FakeService]) -> None:
    controller, _ = window_with_account
    assert _type(controller, Qt.Key.Key_I, CTRL) == ["Details"]
    [dialog] = controller.window.findChildren(DetailsDialog)
    assert dialog.isVisible() and dialog.account_id == "acct1"
    dialog.reject()


def test_ctrl_r_reconnects(window_with_account: tuple[Controller, FakeService], qloop: Any) -> None:
    controller, fake = window_with_account
    assert _type(controller, Qt.Key.Key_R, CTRL) == ["Reconnect"]
    [dialog] = controller.window.findChildren(ConnectDialog)
    assert dialog.isVisible() and dialog.windowTitle() == "Reconnect GitHub – user1@example.test"

    async def started() -> None:
        await until(lambda: fake.reconnect_calls == ["acct1"], what="the reconnect to start")

    qloop.run_until_complete(started())
    dialog.reject()


def test_delete_asks_before_disconnecting(window_with_account: tuple[Controller, FakeService]) -> None:
    controller, _ = window_with_account
    asked: list[str] = []

    def confirm(parent: Any, title: str, text: str, yes: str) -> bool:
        asked.append(title)
        return False

    controller.window.confirm = confirm
    assert _type(controller, Qt.Key.Key_Delete, NONE) == ["Disconnect…"]
    assert asked == ["Disconnect account?"]
    assert controller.model.rowCount() == 1


def test_tooltips_name_the_shortcuts(window_with_account: tuple[Controller, FakeService]) -> None:
    controller, _ = window_with_account
    window = controller.window

    def tip(action: QAction) -> str:
        return window.button(action).toolTip()

    assert tip(window.reconnect_action).endswith("(Ctrl+R)")
    assert tip(window.refresh_action).endswith("(F5)")
    assert tip(window.copy_action).endswith("(Ctrl+C)")
    assert tip(window.copy_header_action).endswith("(Ctrl+Shift+C)")
    assert tip(window.details_action).endswith("(Ctrl+I)")
    assert tip(window.disconnect_action).endswith("(Del)")
    assert tip(window.refresh_all_action).endswith("(Ctrl+Shift+R)")
