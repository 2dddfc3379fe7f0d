"""Tray: menu entries, worst-state icon, one notification per needs-sign-in transition, summaries, click-through."""

from __future__ import annotations

import asyncio
from typing import Any

from desktop_app.core.accounts import AccountState
from desktop_app.core.events import AccountChanged, NeedsSignInRaised
from desktop_app.ui.app import Controller
from desktop_app.ui.notifications import DesktopNotifications
from desktop_app.ui.tray import Tray
from tests.ui.conftest import FakeService, make_record, until


def _menu_texts(controller: Controller) -> list[str]:
    return [a.text() for a in controller.tray.menu.actions() if not a.isSeparator()]


def test_menu_has_open_copy_per_account_refresh_all_quit(app_ctl: tuple[Controller, FakeService], qtbot: Any) -> None:
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    fake.bus.emit(AccountChanged(make_record(2)))
    # The tray follows the list once per turn of the event loop, however many rows changed.
    qtbot.waitUntil(lambda: len(_menu_texts(controller)) == 5, timeout=5000)
    assert _menu_texts(controller) == [
        "Open Tokendesk",
        "Copy token: GitHub – user1@example.test",
        "Copy token: GitHub – user2@example.test",
        "Refresh all",
        "Quit",
    ]


def test_one_notification_per_transition_and_click_opens_reconnect(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = app_ctl
    notes: list[tuple[str, str]] = []
    controller.tray.notified.connect(lambda title, body: notes.append((title, body)))
    fake.bus.emit(AccountChanged(make_record(1)))
    fake.bus.emit(AccountChanged(make_record(2)))
    dead = make_record(2, AccountState.NEEDS_SIGN_IN, last_error="invalid_grant")

    async def go() -> None:
        # The core raises NeedsSignInRaised once per transition, among several AccountChanged events.
        fake.bus.emit(AccountChanged(dead))
        fake.bus.emit(NeedsSignInRaised(dead, "The grant was revoked at GitHub."))
        fake.bus.emit(AccountChanged(dead))
        fake.bus.emit(AccountChanged(dead))
        await until(lambda: notes, what="the notification")
        await until(lambda: not controller.tray.pending, what="nothing pending")

    qloop.run_until_complete(go())
    assert notes == [
        ("GitHub – user2@example.test needs sign-in", "The grant was revoked at GitHub.\nClick to reconnect.")
    ]
    assert "Needs sign-in" in controller.tray._icon.toolTip()
    controller.window.hide()
    controller.tray.simulate_message_click()
    window = controller.window
    assert window.isVisible()
    assert window.current_record() is not None and window.current_record().id == "acct2"  # type: ignore[union-attr]
    assert window.reconnect_action.isEnabled()
    assert window.button(window.reconnect_action).isDefault()


def test_several_at_once_are_summarised(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = app_ctl
    notes: list[tuple[str, str]] = []
    controller.tray.notified.connect(lambda title, body: notes.append((title, body)))

    async def go() -> None:
        for n in range(1, 6):
            record = make_record(n, AccountState.NEEDS_SIGN_IN)
            fake.bus.emit(AccountChanged(record))
            fake.bus.emit(NeedsSignInRaised(record, "revoked"))
        await until(lambda: notes, what="the summary")
        await until(lambda: not controller.tray.pending, what="nothing pending")

    qloop.run_until_complete(go())
    assert len(notes) == 1
    title, body = notes[0]
    assert title == "5 accounts need sign-in"
    assert "user1@example.test" in body and "and 2 more" in body


def _texts(tray: Tray) -> list[str]:
    return [a.text() for a in tray._menu.actions() if not a.isSeparator()]  # the menu as it is, not building it


def test_a_held_menu_is_built_only_when_released(qapp: Any) -> None:
    """The start-up holds the menu (one action per account) until after the first paint."""
    tray = Tray(notifications=DesktopNotifications(None), available=True)
    tray.hold_menu()
    tray.rebuild([make_record(n) for n in range(3)], None)
    assert _texts(tray) == ["Open Tokendesk", "Refresh all", "Quit"]  # the empty menu from before
    tray.release_menu()
    assert _texts(tray) == [
        "Open Tokendesk",
        *(f"Copy token: GitHub – user{n}@example.test" for n in range(3)),
        "Refresh all",
        "Quit",
    ]


def test_without_a_tray_the_menu_is_built_on_first_use(qapp: Any) -> None:
    tray = Tray(notifications=DesktopNotifications(None), available=False)
    tray.rebuild([make_record(1)], None)
    assert _texts(tray) == []  # nobody can see it
    assert [a.text() for a in tray.menu.actions() if not a.isSeparator()][
        1
    ] == "Copy token: GitHub – user1@example.test"
    assert tray.refresh_all_action is not None and tray.refresh_all_action.isEnabled()


def test_a_notice_given_before_the_asyncio_loop_runs_goes_out_when_it_does(
    qloop: asyncio.AbstractEventLoop,
) -> None:
    """The window paints, and can be closed ("still running" notice), before the app has an asyncio loop. A task
    made then landed on a loop of its own that never ran: the notice was lost and quitting raised."""
    tray = Tray(notifications=DesktopNotifications(None), available=False)
    routes: list[tuple[str, str]] = []
    tray.notified.connect(lambda title, body, how: routes.append((title, how)))
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(None)  # as in the app before the first paint: no loop was ever set
    try:
        tray.notify("Tokendesk is still running", "Open Tokendesk again to show the window.")
    finally:
        asyncio.set_event_loop_policy(policy)
        asyncio.set_event_loop(qloop)
    assert routes == [] and tray.pending
    tray.start_sending()  # what start-up does once the app's loop is set
    qloop.run_until_complete(until(lambda: routes, what="the notice"))
    assert routes == [("Tokendesk is still running", "none")] and not tray.pending
    qloop.run_until_complete(tray.aclose())
