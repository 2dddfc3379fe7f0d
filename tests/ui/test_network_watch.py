"""Qt's network reachability backend (3.7-6.5 MiB) is loaded once a refresh in this run finds the network down, not
at every start, nor for a mark an earlier run left."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtNetwork import QNetworkInformation

from desktop_app.core.accounts import AccountState, AccountStore
from desktop_app.core.events import AccountChanged
from desktop_app.core.paths import AppPaths
from desktop_app.ui import startup
from desktop_app.ui.notifications import DesktopNotifications
from tests.ui.conftest import DRIVEN, NOW, make_record, until
from tests.ui.fakes import FakeService


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each load of the reachability backend (none is available offscreen: it reports False)."""
    calls: list[bool] = []

    def load() -> bool:
        calls.append(True)
        return False

    monkeypatch.setattr(QNetworkInformation, "loadDefaultBackend", staticmethod(load))
    return calls


def test_the_network_is_watched_once_an_account_goes_offline(
    app_ctl: tuple[Any, FakeService], qloop: asyncio.AbstractEventLoop, loads: list[bool]
) -> None:
    controller, fake = app_ctl
    controller.model.set_records([make_record(1)])
    fake.bus.emit(AccountChanged(make_record(1, last_error="nothing to do with the network")))
    qloop.run_until_complete(until(lambda: controller.model.record("acct1").last_error, what="the change shown"))
    assert loads == [], "no account offline: nothing for the network's return to wake"

    fake.bus.emit(AccountChanged(make_record(1, offline=True)))
    qloop.run_until_complete(until(lambda: loads == [True], what="the network watch"))
    fake.bus.emit(AccountChanged(make_record(2, offline=True)))
    qloop.run_until_complete(until(lambda: controller.model.record("acct2") is not None, what="the second account"))
    assert loads == [True], "watched once"


def test_an_account_left_offline_by_an_earlier_run_waits_for_this_runs_verdict(
    qloop: asyncio.AbstractEventLoop, paths: AppPaths, loads: list[bool]
) -> None:
    """The engine retries it at its retry_at (at most offline_cap_s after that failure); only a retry that finds the
    network down again starts the watch."""
    from desktop_app.ui.app import Controller

    AccountStore(paths.accounts_file)._write({r.id: r for r in (make_record(1), make_record(2, offline=True))})
    controller = Controller(paths, now=lambda: NOW, timers=DRIVEN, notifications=DesktopNotifications(None))
    fake = FakeService(paths)
    try:
        shown = controller.model.record("acct2")
        assert shown is not None and shown.offline  # shown as offline from the file
        # What start-up runs once the window has painted, with the fake service in place of the real one.
        controller.load_service_soon = lambda: controller.attach(fake)  # type: ignore[method-assign,assignment]
        startup.after_first_paint(controller)
        qloop.run_until_complete(until(lambda: fake.engine.running, what="the engine to start"))
        assert loads == []
        # The retry starts: the engine's REFRESH_STARTED keeps the earlier run's mark while it runs.
        fake.bus.emit(AccountChanged(make_record(2, offline=True, state=AccountState.REFRESHING)))
        qloop.run_until_complete(
            until(lambda: _state(controller, "acct2") is AccountState.REFRESHING, what="the retry shown")
        )
        assert loads == [], "a retry starting is no verdict yet"
        fake.bus.emit(AccountChanged(make_record(2, offline=True, failures=2, state=AccountState.RETRYING)))
        qloop.run_until_complete(until(lambda: loads == [True], what="the network watch"))
    finally:
        del controller.load_service_soon  # the lambda holds the controller
        qloop.run_until_complete(controller.aclose())


def _state(controller: Any, account_id: str) -> AccountState | None:
    record = controller.model.record(account_id)
    return None if record is None else record.state
