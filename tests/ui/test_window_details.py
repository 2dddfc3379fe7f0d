"""Smaller things a new user met: Refresh all with nothing to refresh, rows told apart by name, buttons that
wrap in a narrow window (the window fitting a small screen: test_window_fits_screen.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from desktop_app.core.accounts import AccountState, Identity
from desktop_app.core.events import AccountChanged
from desktop_app.ui.app import Controller
from desktop_app.ui.delegate import second_line
from tests.ui.conftest import FakeService, make_record, settle, until


def test_refresh_all_is_off_when_every_account_needs_sign_in(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = app_ctl
    window = controller.window
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN)))
    fake.bus.emit(AccountChanged(make_record(2, AccountState.CONFIG_ERROR)))

    def tray_refresh_enabled() -> bool:
        action = controller.tray.refresh_all_action
        return action is not None and action.isEnabled()

    async def go() -> None:
        await until(lambda: len(controller.tray.menu.actions()) > 4, what="the tray menu")
        assert not window.refresh_all_action.isEnabled() and not window.button(window.refresh_all_action).isEnabled()
        assert not tray_refresh_enabled()
        window.refresh_all()  # from the tray, which may still show it: says why nothing happens
        assert "Nothing to refresh" in window.statusBar().currentMessage()
        assert fake.refresh_calls == []
        fake.bus.emit(AccountChanged(make_record(3)))
        assert window.refresh_all_action.isEnabled()
        await until(tray_refresh_enabled, what="the tray's Refresh all")
        window.refresh_all_action.trigger()
        assert controller.bridge is not None
        await settle(controller.bridge)
        assert fake.refresh_calls == ["acct3"]
        assert window.statusBar().currentMessage() == "Refreshing 1 accounts; 2 need sign-in first…"

    qloop.run_until_complete(go())


def test_two_rows_for_one_identity_differ_on_their_first_line(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, fake = app_ctl
    who = Identity(subject="1", email="user1@example.test")
    fake.bus.emit(AccountChanged(make_record(1, identity=who)))
    fake.bus.emit(AccountChanged(make_record(2, identity=who, name="Work")))
    first, second = controller.model.index(0), controller.model.index(1)
    assert first.data() == "GitHub – user1@example.test" and second.data() == "Work"
    assert second_line(first) == "github.com"  # the name says identity and provider already: the host
    assert second_line(second) == "user1@example.test · GitHub"


def test_account_buttons_wrap_instead_of_leaving_the_window(
    app_ctl: tuple[Controller, FakeService], qtbot: Any
) -> None:
    """At QT_SCALE_FACTOR=2 on 1280x800 the screen is 640x400: one row of buttons was wider than that."""
    controller, fake = app_ctl
    window = controller.window
    fake.bus.emit(AccountChanged(make_record(1)))
    window.show()
    qtbot.waitExposed(window)
    assert window.minimumSizeHint().width() <= 620
    window.resize(600, 380)
    qtbot.waitUntil(lambda: window.width() == 600)
    rows = set()
    for button in window.account_buttons:
        box = button.geometry()
        assert window.list_page.rect().contains(box), button.text()
        rows.add(box.y())
    assert len(rows) == 2  # wrapped onto a second line
    disconnect = window.button(window.disconnect_action)
    assert disconnect.geometry().right() == window.list_page.rect().right()  # still at the right end
