"""Lifetime: a closed controller frees its window, tray and dialogs by reference counting alone.

Anything Qt left to the cyclic garbage collector is destroyed whenever and on whichever thread the collector
next runs (a keychain or to_thread worker included), long after its test: the prime suspect for the Qt suite
crashing when it shared a process with the rest. So no cycles through Qt objects at all.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QDialogButtonBox

from desktop_app.core.accounts import AccountState
from desktop_app.core.events import AccountChanged, NeedsSignInRaised
from desktop_app.core.paths import AppPaths
from desktop_app.ui.app import Controller
from desktop_app.ui.connect_dialog import ConnectDialog
from desktop_app.ui.details import DetailsDialog
from desktop_app.ui.notifications import DesktopNotifications
from tests.ui.conftest import DRIVEN, NOW, FakeService, make_record, make_tokens, settle, until


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _exercise(controller: Controller, fake: FakeService, loop: asyncio.AbstractEventLoop) -> None:
    """Everything that creates connections: rows, tray menu, details, connect and reconnect dialogs, copy."""
    window = controller.window
    fake.bus.emit(AccountChanged(make_record(1)))
    fake.bus.emit(AccountChanged(make_record(2)))
    fake.tokens["acct1"] = make_tokens()

    async def go() -> None:
        await until(lambda: len(controller.tray.menu.actions()) > 4, what="the tray menu")
        window.details_action.trigger()
        [details] = window.findChildren(DetailsDialog)
        details.findChild(QDialogButtonBox).rejected.emit()
        window.connect_action.trigger()
        [connect] = window.findChildren(ConnectDialog)
        connect.reject()
        window.select_account("acct1")
        window.copy_action.trigger()
        [copy] = [a for a in controller.tray.menu.actions() if a.text().startswith("Copy token: GitHub – user1")]
        copy.trigger()
        assert controller.bridge is not None
        await settle(controller.bridge)
        dead = make_record(2, AccountState.NEEDS_SIGN_IN)
        fake.bus.emit(AccountChanged(dead))
        fake.bus.emit(NeedsSignInRaised(dead, "revoked"))
        await until(lambda: not controller.tray.pending, what="the notification")
        await asyncio.sleep(0)
        window.select_account("acct2")
        window.reconnect_action.trigger()
        await until(lambda: fake.reconnect_calls, what="the reconnect")
        [reconnect] = [d for d in window.findChildren(ConnectDialog) if d.reconnecting is not None]
        reconnect.cancel_sign_in()
        await settle(controller.bridge)

    loop.run_until_complete(go())
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def test_closed_controller_is_freed_without_the_garbage_collector(
    qloop: asyncio.AbstractEventLoop, paths: AppPaths, qtbot: Any, no_gc: None
) -> None:
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    fake = FakeService()
    qloop.run_until_complete(_start(controller, fake))
    _exercise(controller, fake, qloop)
    qloop.run_until_complete(controller.aclose())
    refs = {
        name: weakref.ref(obj)
        for name, obj in (
            ("controller", controller),
            ("window", controller.window),
            ("tray", controller.tray),
            ("model", controller.model),
            ("bridge", controller.bridge),
        )
    }
    del controller
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    alive = [name for name, ref in refs.items() if ref() is not None]
    if alive:
        holders = {name: [type(r).__name__ for r in gc.get_referrers(refs[name]())] for name in alive}
        pytest.fail(f"still alive after the controller was dropped: {alive}; held by {holders}")


def test_a_window_outliving_its_controller_closes_cleanly(
    qloop: asyncio.AbstractEventLoop, paths: AppPaths, qtbot: Any
) -> None:
    """The window owns the tray: closing it later (as qtbot does) never reaches a deleted tray icon."""
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    window = controller.window
    window.show()
    del controller
    gc.collect()
    window.close()  # asks the tray whether it is available; would raise if the tray had been deleted
    assert not window.isVisible()


async def _start(controller: Controller, fake: FakeService) -> None:
    controller.attach(fake)  # type: ignore[arg-type]
    await until(lambda: fake.engine.running, what="the engine to start")
