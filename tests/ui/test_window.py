"""Main window: empty state, list, per-account actions, copy to clipboard, keychain banner, reloads."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from PySide6.QtGui import QGuiApplication

from desktop_app.core.accounts import AccountState, AccountStore
from desktop_app.core.errors import NeedsSignIn, VaultLocked
from desktop_app.core.events import AccountChanged, AccountRemoved
from desktop_app.core.paths import AppPaths
from desktop_app.ui.app import Controller
from desktop_app.ui.model import Role
from desktop_app.ui.notifications import DesktopNotifications
from tests.ui.conftest import DRIVEN, NOW, BackgroundErrors, FakeService, make_record, make_tokens, settle, until


def test_empty_state_then_list(app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = app_ctl
    window = controller.window
    window.show()
    assert window.windowTitle() == "Tokendesk"
    assert window.stack.currentWidget() is window.empty
    assert window.empty.button.isEnabled()
    fake.bus.emit(AccountChanged(make_record(1)))
    assert window.stack.currentWidget() is window.list_page
    assert window.list.currentIndex().data(Role.BADGE_TEXT) == "Valid"
    assert all(a.isEnabled() for a in window.account_actions)
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN)))
    assert not window.copy_action.isEnabled() and window.reconnect_action.isEnabled()
    assert window.button(window.reconnect_action).isDefault()
    # Each button follows its action, whatever its label says.
    assert [b.isEnabled() for b in window.account_buttons] == [a.isEnabled() for a in window.account_actions]
    assert (
        not window.button(window.copy_action).isEnabled() and window.button(window.copy_action).text() == "Copy token"
    )
    fake.bus.emit(AccountRemoved("acct1"))
    assert window.stack.currentWidget() is window.empty


def test_metadata_paints_before_any_service(paths: AppPaths, qtbot: Any) -> None:
    AccountStore(paths.accounts_file).add(make_record(3, AccountState.EXPIRING, expires_at=NOW + 235))
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    qtbot.addWidget(controller.window)
    assert controller.bridge is None
    assert controller.model.index(0).data(Role.BADGE_TEXT) == "Expires in 4 min"
    assert controller.window.details_action.isEnabled() and not controller.window.copy_action.isEnabled()


def test_copy_token_and_header(app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = app_ctl
    window = controller.window
    controller.settings.copy_min_valid_s = 600
    fake.bus.emit(AccountChanged(make_record(1)))
    token = "tok-" + "x" * 30
    fake.tokens["acct1"] = make_tokens(token)

    async def go() -> None:
        window.copy_action.trigger()
        await settle(controller.bridge)
        clip = QGuiApplication.clipboard()
        assert clip.text() == token
        mime = clip.mimeData()
        assert bytes(mime.data("x-kde-passwordManagerHint").data()) == b"secret"
        assert mime.hasFormat("CanIncludeInClipboardHistory")
        assert fake.token_calls == [("acct1", 600)]
        assert window.countdown_label.text() == "Clipboard clears in 45 s"
        window.copy_header_action.trigger()
        await settle(controller.bridge)
        assert clip.text() == f"Authorization: Bearer {token}"  # as `tokendesk token --header` prints it
        assert window.button(window.copy_header_action).text() == "Copy Authorization header"

    qloop.run_until_complete(go())
    # No token in any window title, tooltip or accessible name.
    for widget in [window, *window.findChildren(object)]:
        for getter in ("windowTitle", "toolTip", "accessibleName", "accessibleDescription"):
            value = getattr(widget, getter, None)
            if callable(value):
                assert token not in str(value())


def test_copy_asks_for_five_minutes_by_default_and_counts_down(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    """The default: the token must stay valid 300 s (the service refreshes first otherwise), cleared after 45 s."""
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    token = "tok-" + "d" * 30
    fake.tokens["acct1"] = make_tokens(token)

    async def go() -> None:
        controller.window.copy_action.trigger()
        await settle(controller.bridge)

    qloop.run_until_complete(go())
    assert fake.token_calls == [("acct1", 300)]
    clip = QGuiApplication.clipboard()
    assert clip.text() == token
    for _ in range(44):
        controller.clipboard.tick()
    assert controller.window.countdown_label.text() == "Clipboard clears in 1 s" and clip.text() == token
    controller.clipboard.tick()
    assert clip.text() == "" and controller.window.countdown_label.text() == ""


def test_tick_moves_badges_with_the_clock(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, fake = app_ctl
    clock = [NOW]
    controller.window._now = controller.model._now = lambda: clock[0]
    fake.bus.emit(AccountChanged(make_record(1, AccountState.EXPIRING, expires_at=NOW + 240)))
    assert controller.model.index(0).data(Role.BADGE_TEXT) == "Expires in 4 min"
    clock[0] += 61
    assert controller.model.index(0).data(Role.BADGE_TEXT) == "Expires in 4 min"  # nothing moves on its own
    clock[0] -= 61
    for _ in range(61):  # a minute of one-second ticks, as the timer would give
        clock[0] += 1
        controller.window.tick()
    assert controller.model.index(0).data(Role.BADGE_TEXT) == "Expires in 3 min"
    assert fake.engine.wakes == 0  # steady ticks are no clock jump


def test_copy_refuses_a_token_that_cannot_be_made_valid(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop, background_errors: BackgroundErrors
) -> None:
    controller, fake = app_ctl
    background_errors.expect(r"^taskFailed Copying the token of .*sign in again")
    fake.bus.emit(AccountChanged(make_record(1)))
    QGuiApplication.clipboard().setText("something the user copied")
    fake.errors["acct1"] = NeedsSignIn("GitHub – user1 needs you to sign in again.")
    messages: list[str] = []
    controller.window.messageShown.connect(messages.append)

    async def go() -> None:
        controller.window.copy_token("acct1")
        await settle(controller.bridge)

    qloop.run_until_complete(go())
    assert QGuiApplication.clipboard().text() == "something the user copied"
    assert any("Not copied" in m and "sign in again" in m for m in messages)
    # The remedy in the app's words (its Reconnect action), never the command line's.
    assert any(m.endswith("Choose Reconnect to sign in again.") and "tokendesk " not in m for m in messages)


def test_disconnect_asks_first(app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop) -> None:
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    asked: list[str] = []
    calls: list[str] = []

    async def disconnect(account_id: str) -> object:
        calls.append(account_id)
        fake.bus.emit(AccountRemoved(account_id))
        return type("R", (), {"revoked": True, "note": None})()

    fake.disconnect = disconnect  # type: ignore[attr-defined]
    controller.window.confirm = lambda parent, title, text, yes: asked.append(text) or False  # type: ignore[func-returns-value]
    controller.window.disconnect_action.trigger()
    assert len(asked) == 1 and "revokes its access at GitHub" in asked[0] and calls == []
    controller.window.confirm = lambda *a: True

    async def go() -> None:
        controller.window.disconnect_action.trigger()
        await settle(controller.bridge)

    qloop.run_until_complete(go())
    assert calls == ["acct1"] and controller.model.rowCount() == 0


def test_keychain_locked_shows_a_banner_and_waits(
    qloop: asyncio.AbstractEventLoop, paths: AppPaths, qtbot: Any
) -> None:
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    qtbot.addWidget(controller.window)
    fake = FakeService()
    fake.probe_errors = [VaultLocked("locked"), VaultLocked("locked")]

    async def go() -> None:
        bridge = controller.attach(fake)  # type: ignore[arg-type]
        bridge._keychain_retry_s = 0.01
        await until(lambda: not controller.window.banner.isHidden(), what="the banner")
        assert "Waiting for the keychain to be unlocked" in controller.window.banner.label.text()
        await until(lambda: fake.engine.running, what="the engine")
        assert controller.window.banner.isHidden()
        await controller.aclose()

    qloop.run_until_complete(go())


def test_reloads_when_another_process_changes_accounts(
    app_ctl: tuple[Controller, FakeService], qloop: asyncio.AbstractEventLoop, paths: AppPaths
) -> None:
    controller, _ = app_ctl
    store = AccountStore(paths.accounts_file)

    async def go() -> None:
        await asyncio.to_thread(store.add, make_record(1))
        await until(lambda: controller.model.rowCount() == 1, what="the new account")
        await asyncio.to_thread(store.update, "acct1", lambda r: replace(r, state=AccountState.NEEDS_SIGN_IN))
        await until(lambda: controller.model.index(0).data(Role.STATE) == "needs_sign_in", what="the change")
        await asyncio.to_thread(store.remove, "acct1")
        await until(lambda: controller.model.rowCount() == 0, what="the removal")

    qloop.run_until_complete(go())


def test_clock_jump_wakes_the_engine(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, fake = app_ctl
    controller.window._now = lambda: NOW + 3600  # resumed after an hour
    controller.window.tick()
    assert fake.engine.wakes == 1
    controller.window.tick()
    assert fake.engine.wakes == 1


def test_geometry_is_remembered(paths: AppPaths, qtbot: Any) -> None:
    first = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    qtbot.addWidget(first.window)
    first.window.resize(640, 410)
    first.window.save_state()
    second = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    qtbot.addWidget(second.window)
    assert (second.window.width(), second.window.height()) == (640, 410)
