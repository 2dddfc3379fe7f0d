"""Qt's network reachability backend (3.7 MiB) is loaded once an account is offline, not at every start."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtNetwork import QNetworkInformation

from desktop_app.core.events import AccountChanged
from tests.ui.conftest import make_record, until
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
    controller.watch_network_when_needed()
    fake.bus.emit(AccountChanged(make_record(1, last_error="nothing to do with the network")))
    qloop.run_until_complete(until(lambda: controller.model.record("acct1").last_error, what="the change shown"))
    assert loads == [], "no account offline: nothing for the network's return to wake"

    fake.bus.emit(AccountChanged(make_record(1, offline=True)))
    qloop.run_until_complete(until(lambda: loads == [True], what="the network watch"))
    fake.bus.emit(AccountChanged(make_record(2, offline=True)))
    qloop.run_until_complete(until(lambda: controller.model.record("acct2") is not None, what="the second account"))
    assert loads == [True], "watched once"


def test_an_account_offline_at_start_is_watched_for(app_ctl: tuple[Any, FakeService], loads: list[bool]) -> None:
    controller, _ = app_ctl
    controller.model.set_records([make_record(1), make_record(2, offline=True)])
    controller.watch_network_when_needed()
    assert loads == [True]
