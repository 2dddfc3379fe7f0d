"""Notifications go through a real notification service on a private session bus, with and without a tray.

The service (tests/rig/notifications.py) records each Notify call and checks its D-Bus signature as GLib's
daemons do; clicking an action is the ActionInvoked signal it emits, as a desktop would. Inside a Flatpak
(a flatpak-info file the test makes) the notification portal on the same bus is used first, likewise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.accounts import AccountState
from desktop_app.core.events import AccountChanged, NeedsSignInRaised
from desktop_app.core.paths import AppPaths
from desktop_app.ui import icons
from desktop_app.ui.app import Controller
from desktop_app.ui.connect_dialog import ConnectDialog
from desktop_app.ui.notifications import DesktopNotifications
from tests.rig.notifications import NotificationService, PortalService, PrivateBus
from tests.ui.conftest import DRIVEN, NOW, FakeService, make_record, until


@pytest.fixture
def bus() -> Iterator[PrivateBus]:
    with PrivateBus() as private:
        yield private


@pytest.fixture
def service(bus: PrivateBus) -> Iterator[NotificationService]:
    with NotificationService(bus.address) as running:
        yield running


def _controller(
    loop: asyncio.AbstractEventLoop, paths: AppPaths, address: str | None, *, tray: bool, flatpak_info: Path | None
) -> tuple[Controller, FakeService]:
    # flatpak_info: the file whose presence says "inside a Flatpak"; None leaves the real check (/.flatpak-info).
    notifications = (
        DesktopNotifications(address)
        if flatpak_info is None
        else DesktopNotifications(address, flatpak_info=flatpak_info)
    )
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=notifications, tray_available=tray)
    fake = FakeService()

    async def start() -> None:
        controller.attach(fake)  # type: ignore[arg-type]
        await until(lambda: fake.engine.running, what="the engine to start")

    loop.run_until_complete(start())
    return controller, fake


@pytest.fixture
def running(qloop: asyncio.AbstractEventLoop, paths: AppPaths, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A controller factory; everything it made is closed at the end."""
    made: list[Controller] = []

    def make(address: str | None, *, tray: bool, flatpak_info: Path | None = None) -> tuple[Controller, FakeService]:
        controller, fake = _controller(qloop, paths, address, tray=tray, flatpak_info=flatpak_info)
        made.append(controller)
        return controller, fake

    yield make
    for controller in made:
        qloop.run_until_complete(controller.aclose())


def _routes(controller: Controller) -> list[tuple[str, str, str]]:
    routes: list[tuple[str, str, str]] = []
    controller.tray.notified.connect(lambda title, body, how: routes.append((title, body, how)))
    return routes


def _revoke(fake: FakeService, n: int = 2) -> None:
    fake.bus.emit(AccountChanged(make_record(1)))
    dead = make_record(n, AccountState.NEEDS_SIGN_IN, last_error="invalid_grant")
    fake.bus.emit(AccountChanged(dead))
    fake.bus.emit(NeedsSignInRaised(dead, "The grant was revoked at GitHub."))


async def _default_action_reconnects(controller: Controller, fake: FakeService, routes: list[Any], click: Any) -> None:
    """A revoked grant's notification, clicked (its default action): the reconnect starts; then the dialog is
    cancelled and the window hidden again."""
    _revoke(fake)
    await until(lambda: routes, what="the notification")
    click()
    await until(lambda: fake.reconnect_calls, what="the reconnect")
    [dialog] = [d for d in controller.window.findChildren(ConnectDialog) if d.isVisible()]
    dialog.cancel_sign_in()
    controller.window.hide()


@pytest.mark.parametrize("tray", [False, True], ids=["no tray host", "tray host"])
def test_needs_sign_in_goes_to_the_notification_service_and_reconnect_works_over_dbus(
    running: Any, service: NotificationService, bus: PrivateBus, qloop: asyncio.AbstractEventLoop, tray: bool
) -> None:
    controller, fake = running(bus.address, tray=tray)
    routes = _routes(controller)
    controller.window.hide()

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the notification")

    qloop.run_until_complete(go())
    assert service.errors == []
    [note] = service.notes
    assert note.summary == "GitHub – user2@example.test needs sign-in"
    assert note.body == "The grant was revoked at GitHub."  # the button says what a click does
    assert note.actions == {"default": "Reconnect", "reconnect": "Reconnect"}
    assert note.hints == {"desktop-entry": icons.APP_ID, "urgency": 2}
    assert note.app_name == "Tokendesk"
    assert routes == [(note.summary, note.body, "desktop")]  # not the tray's balloon as well
    assert controller.window.statusBar().currentMessage() == f"{note.summary}."

    _reconnect_starts(controller, fake, qloop, lambda: service.invoke(note, "reconnect"))


def test_the_default_action_reconnects_too_and_a_summary_opens_the_window(
    running: Any, service: NotificationService, bus: PrivateBus, qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = running(bus.address, tray=False)
    controller.window.hide()
    # Click only once the app has the notification's id back (the service records it before replying).
    routes = _routes(controller)

    async def go() -> None:
        await _default_action_reconnects(controller, fake, routes, lambda: service.invoke(service.notes[0], "default"))
        for n in (3, 4, 5):
            record = make_record(n, AccountState.NEEDS_SIGN_IN)
            fake.bus.emit(AccountChanged(record))
            fake.bus.emit(NeedsSignInRaised(record, "revoked"))
        await until(lambda: len(routes) == 2, what="the summary")
        service.invoke(service.notes[1], "default")
        await until(controller.window.isVisible, what="the window")

    qloop.run_until_complete(go())
    summary = service.notes[1]
    assert summary.summary == "3 accounts need sign-in"
    assert summary.actions == {"default": "Open Tokendesk"}
    assert fake.reconnect_calls == ["acct2"]  # the summary only opened the window


def test_actions_of_other_apps_notifications_are_ignored(
    running: Any, service: NotificationService, bus: PrivateBus, qloop: asyncio.AbstractEventLoop
) -> None:
    """ActionInvoked is broadcast to every client on the bus; only ids Tokendesk got back count."""
    from tests.rig.notifications import Notification

    controller, _fake = running(bus.address, tray=False)
    controller.window.hide()
    opened: list[str] = []
    controller.tray.openRequested.connect(opened.append)
    controller.tray.reconnectRequested.connect(opened.append)
    routes = _routes(controller)

    async def go() -> None:
        controller.tray.notify("Hello", "first")
        await until(lambda: routes, what="our notification")
        stranger = Notification(999, "other", 0, "", "x", "y", {"default": "Open"}, {}, -1)
        service.invoke(stranger, "default")
        service.invoke(service.notes[0], "default")
        await until(lambda: opened, what="our action")

    qloop.run_until_complete(go())
    assert opened == [""]


def test_with_a_tray_and_no_notification_service_the_balloon_is_used(
    running: Any, bus: PrivateBus, qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = running(bus.address, tray=True)  # a bus, but nobody owns the notification name
    controller.tray.show()
    routes = _routes(controller)

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the notification")

    qloop.run_until_complete(go())
    assert routes == [
        (
            "GitHub – user2@example.test needs sign-in",
            "The grant was revoked at GitHub.\nClick to reconnect.",
            "tray",
        )
    ]
    controller.window.hide()
    controller.tray.simulate_message_click()
    assert controller.window.isVisible()
    assert controller.window.current_record().id == "acct2"  # type: ignore[union-attr]


def test_with_neither_the_status_bar_still_says_it(running: Any, qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = running(None, tray=False)
    routes = _routes(controller)

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the attempt")

    qloop.run_until_complete(go())
    assert [how for _, _, how in routes] == ["none"]
    assert controller.window.statusBar().currentMessage() == "GitHub – user2@example.test needs sign-in."


def test_without_a_tray_closing_keeps_running_and_says_so_once(
    running: Any, service: NotificationService, bus: PrivateBus, qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = running(bus.address, tray=False)
    window = controller.window
    quits: list[bool] = []
    controller.quitting.connect(lambda: quits.append(True))
    routes = _routes(controller)

    async def go() -> None:
        for _ in range(2):
            window.show()
            window.close()
        controller.tray.notify("Sentinel", "sent after both closes")  # a second notice would come before it
        await until(lambda: any(title == "Sentinel" for title, _, _ in routes), what="the sentinel")

    qloop.run_until_complete(go())
    assert not window.isVisible() and not quits and fake.engine.running
    note, _sentinel = service.notes
    assert note.summary == "Tokendesk is still running"
    assert "Open Tokendesk again to show the window and press Ctrl+Q there to quit" in note.body


def test_without_tray_or_service_the_notice_is_a_dialog(running: Any, qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = running(None, tray=False)
    window = controller.window
    window.show()

    async def go() -> None:
        window.close()
        await until(lambda: window.findChild(object, "background-notice") is not None, what="the notice")

    qloop.run_until_complete(go())
    notice = window.findChild(object, "background-notice")
    assert notice.isVisible() and "keeps your tokens fresh" in notice.text()
    notice.close()
    assert fake.engine.running


def test_preference_off_closing_quits(running: Any, qloop: asyncio.AbstractEventLoop) -> None:
    controller, _ = running(None, tray=False)
    controller.settings.close_to_tray = False
    quits: list[bool] = []
    controller.quitting.connect(lambda: quits.append(True))
    controller.window.show()
    controller.window.close()
    assert quits == [True]


def test_an_unreachable_bus_is_no_service(running: Any, tmp_path: Any, qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = running(f"unix:path={tmp_path}/no-such-bus", tray=False)
    routes = _routes(controller)

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the attempt")

    qloop.run_until_complete(go())
    assert [how for _, _, how in routes] == ["none"]


# --- inside a Flatpak: the notification portal -----------------------------------------------------------------


@pytest.fixture
def flatpak_info(tmp_path: Path) -> Path:
    info = tmp_path / ".flatpak-info"
    info.write_text("[Application]\nname=dev.tokendesk.Tokendesk\n")
    return info


@pytest.fixture
def portal(bus: PrivateBus) -> Iterator[PortalService]:
    with PortalService(bus.address) as running:
        yield running


def test_in_flatpak_needs_sign_in_goes_to_the_portal_and_its_reconnect_button_works(
    running: Any,
    portal: PortalService,
    service: NotificationService,
    bus: PrivateBus,
    flatpak_info: Path,
    qloop: asyncio.AbstractEventLoop,
) -> None:
    controller, fake = running(bus.address, tray=True, flatpak_info=flatpak_info)
    routes = _routes(controller)
    controller.window.hide()

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the notification")

    qloop.run_until_complete(go())
    assert portal.errors == []
    [note] = portal.notes
    assert service.notes == []  # the portal took it: nothing through org.freedesktop.Notifications as well
    assert note.id == "tag:acct2"  # one id per account: a later one for it replaces this one
    assert note.notification == {
        "title": ("s", "GitHub – user2@example.test needs sign-in"),
        "body": ("s", "The grant was revoked at GitHub."),
        "priority": ("s", "urgent"),
        "default-action": ("s", "default"),
        "buttons": ("aa{sv}", [{"label": ("s", "Reconnect"), "action": ("s", "reconnect")}]),
    }
    assert routes == [("GitHub – user2@example.test needs sign-in", "The grant was revoked at GitHub.", "desktop")]

    _reconnect_starts(controller, fake, qloop, lambda: portal.invoke(note, "reconnect"))

    async def again() -> None:
        _revoke(fake)
        await until(lambda: len(routes) == 2, what="the second notification")

    qloop.run_until_complete(again())
    assert [n.id for n in portal.notes] == ["tag:acct2", "tag:acct2"]  # the portal replaces, no stack


def test_in_flatpak_the_default_action_reconnects_and_untagged_notes_get_ids_of_their_own(
    running: Any, portal: PortalService, bus: PrivateBus, flatpak_info: Path, qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = running(bus.address, tray=False, flatpak_info=flatpak_info)
    controller.window.hide()
    routes = _routes(controller)

    async def go() -> None:
        await _default_action_reconnects(controller, fake, routes, lambda: portal.invoke(portal.notes[0], "default"))
        controller.tray.notify("Hello", "first")
        controller.tray.notify("Hello", "second")
        await until(lambda: len(routes) == 3, what="the informational ones")
        portal.invoke(portal.notes[2], "default")
        await until(controller.window.isVisible, what="the window")

    qloop.run_until_complete(go())
    assert portal.errors == []
    first, second = portal.notes[1:]
    assert first.id != second.id and not first.id.startswith("tag:")  # two notes, not one replacing the other
    assert first.notification == {
        "title": ("s", "Hello"),
        "body": ("s", "first"),
        "priority": ("s", "normal"),
        "default-action": ("s", "default"),
    }
    assert fake.reconnect_calls == ["acct2"]  # the informational one only opened the window


def test_in_flatpak_a_portal_without_notifications_falls_back_to_the_service(
    running: Any, service: NotificationService, bus: PrivateBus, flatpak_info: Path, qloop: asyncio.AbstractEventLoop
) -> None:
    with PortalService(bus.address, backend=False) as portal:
        controller, fake = running(bus.address, tray=True, flatpak_info=flatpak_info)
        routes = _routes(controller)

        async def go() -> None:
            _revoke(fake)
            await until(lambda: routes, what="the notification")

        qloop.run_until_complete(go())
    assert len(portal.errors) == 1 and portal.notes == []
    [note] = service.notes
    assert note.actions == {"default": "Reconnect", "reconnect": "Reconnect"}
    assert routes == [(note.summary, note.body, "desktop")]


def test_in_flatpak_with_neither_the_tray_balloon_is_used(
    running: Any, bus: PrivateBus, flatpak_info: Path, qloop: asyncio.AbstractEventLoop
) -> None:
    controller, fake = running(bus.address, tray=True, flatpak_info=flatpak_info)
    controller.tray.show()
    routes = _routes(controller)

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the notification")

    qloop.run_until_complete(go())
    assert [how for _, _, how in routes] == ["tray"]


def test_outside_flatpak_the_portal_is_not_used(
    running: Any,
    portal: PortalService,
    service: NotificationService,
    bus: PrivateBus,
    tmp_path: Path,
    qloop: asyncio.AbstractEventLoop,
) -> None:
    controller, fake = running(bus.address, tray=False, flatpak_info=tmp_path / "no-flatpak-info")
    routes = _routes(controller)

    async def go() -> None:
        _revoke(fake)
        await until(lambda: routes, what="the notification")

    qloop.run_until_complete(go())
    assert portal.notes == [] and portal.errors == []
    assert [n.summary for n in service.notes] == ["GitHub – user2@example.test needs sign-in"]


def _reconnect_starts(controller: Any, fake: Any, qloop: asyncio.AbstractEventLoop, click: Any) -> None:
    """A click on the notification's Reconnect raises the window on that account and opens its reconnect."""

    async def clicked() -> None:
        click()
        await until(lambda: fake.reconnect_calls, what="the reconnect to start")

    qloop.run_until_complete(clicked())
    window = controller.window
    assert window.isVisible()
    assert fake.reconnect_calls == ["acct2"]
    assert window.current_record() is not None and window.current_record().id == "acct2"
    [dialog] = [d for d in window.findChildren(ConnectDialog) if d.isVisible()]
    assert dialog.reconnecting is not None and dialog.reconnecting.id == "acct2"
    dialog.cancel_sign_in()
