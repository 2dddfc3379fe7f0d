"""The account list model: Qt's model tester, roles, row-level updates and per-row badge ticking."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from PySide6.QtCore import QIdentityProxyModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from desktop_app.core.accounts import AccountState
from desktop_app.ui.model import AccountListModel, Role
from tests.ui.conftest import NOW, make_record


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def test_model_passes_qt_model_tester(qtmodeltester: ModelTester) -> None:
    model = AccountListModel(lambda: NOW)
    model.set_records([make_record(1), make_record(2), make_record(3)])
    # The tester stays connected after check(), verifying every insert, removal and change below.
    qtmodeltester.check(model, force_py=True)
    model.set_records([make_record(3), make_record(4, AccountState.NEEDS_SIGN_IN)])
    model.upsert(replace(make_record(3), state=AccountState.REFRESHING))
    model.upsert(make_record(0))
    model.remove("acct4")
    model.tick()
    model.set_records([])
    assert model.rowCount() == 0


def test_roles() -> None:
    model = AccountListModel(lambda: NOW)
    record = make_record(7, AccountState.EXPIRING, expires_at=NOW + 235, last_error="slow provider")
    model.set_records([record])
    index = model.index(0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "GitHub – user7@example.test"  # the name: the CLI takes it
    assert index.data(Role.IDENTITY) == "user7@example.test"
    assert index.data(Role.PROVIDER_NAME) == "GitHub"
    assert index.data(Role.PROVIDER_KEY) == "github"
    assert index.data(Role.BADGE_TEXT) == "Expires in 4 min"
    assert index.data(Role.BADGE_TONE) == "warn"
    assert index.data(Role.BADGE_ICON) == "expiring"
    assert index.data(Role.STATE) == "expiring"
    assert index.data(Role.ACCOUNT_ID) == "acct7"
    assert index.data(Role.RECORD) == record
    assert "slow provider" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == "GitHub – user7@example.test, Expires in 4 min"
    assert b"badge_text" in [bytes(v.data()) for v in model.roleNames().values()]


def test_set_records_keeps_rows_and_orders_by_creation(qtbot: QtBot) -> None:
    model = AccountListModel(lambda: NOW)
    model.set_records([make_record(2), make_record(1)])
    assert [r.id for r in model.records()] == ["acct1", "acct2"]
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as changed:
        model.set_records([make_record(1), make_record(2, AccountState.REFRESHING)])
    assert changed.args[0].row() == 1
    with qtbot.waitSignal(model.rowsRemoved, timeout=1000):
        model.set_records([make_record(2, AccountState.REFRESHING)])
    assert resets == [] and model.rowCount() == 1


def test_tick_updates_only_rows_whose_badge_text_changed() -> None:
    clock = Clock()
    model = AccountListModel(clock)
    model.set_records(
        [
            make_record(1, AccountState.EXPIRING, expires_at=NOW + 240),  # ticks minute by minute
            make_record(2),  # Valid: nothing to tick
            make_record(3, AccountState.RETRYING, offline=True, retry_at=NOW + 30),  # ticks by the second
        ]
    )
    rows: list[int] = []
    model.dataChanged.connect(lambda top, bottom, roles: rows.extend(range(top.row(), bottom.row() + 1)))
    clock.now += 1
    assert model.tick() == 1 and rows == [2]
    assert model.index(2).data(Role.BADGE_TEXT) == "Offline · retrying in 29 s"
    rows.clear()
    clock.now += 60
    model.tick()
    assert sorted(rows) == [0, 2]
    assert model.index(0).data(Role.BADGE_TEXT) == "Expires in 3 min"
    rows.clear()
    assert model.tick() == 0 and rows == []


def test_worst_badge() -> None:
    model = AccountListModel(lambda: NOW)
    assert model.worst() is None
    model.set_records([make_record(1), make_record(2, AccountState.NEEDS_SIGN_IN)])
    worst = model.worst()
    assert worst is not None and worst.text == "Needs sign-in"


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="None is immortal from Python 3.12 (PEP 683): a lost reference can neither crash nor be measured",
)
def test_reading_an_unset_role_keeps_none_alive(qapp: object) -> None:
    """Guards the pin below PySide6 6.12.0 on Python 3.11 (the supported floor), where None is not immortal.

    6.12.0 dropped a reference to None each time QModelIndex.data() had no value, and Python 3.11 aborts once
    None's count reaches zero. The project's model answers an unknown role with no value, both when Python
    reads it and when C++ does (a proxy model in between, as views and delegates read it). A sentinel cannot
    stand in for None here: "no value" is an invalid QVariant, which PySide always turns into None.
    """
    model = AccountListModel(lambda: NOW)
    model.set_records([make_record(1)])
    proxy = QIdentityProxyModel()
    proxy.setSourceModel(model)
    unset_role = int(Qt.ItemDataRole.UserRole) + 500
    assert model.index(0).data(unset_role) is None and proxy.index(0, 0).data(unset_role) is None
    reads = 500  # few enough that a buggy build fails here instead of aborting the whole run
    before = sys.getrefcount(None)
    for _ in range(reads):
        model.index(0).data(unset_role)
        proxy.index(0, 0).data(unset_role)
    after = sys.getrefcount(None)
    # Other code may take or drop a few references meanwhile; the bug drops one (or two) per read.
    assert after - before > -reads // 10, f"None lost {before - after} references in {2 * reads} reads"


def test_reading_a_record_keeps_it_alive(qapp: object) -> None:
    """The same kind of bug for a value that is there, on every Python version: the record is mortal."""
    record = make_record(1)
    model = AccountListModel(lambda: NOW)
    model.set_records([record])
    held = model.records()[0]
    proxy = QIdentityProxyModel()
    proxy.setSourceModel(model)
    before = sys.getrefcount(held)
    for _ in range(2000):
        assert proxy.index(0, 0).data(Role.RECORD) is held
        assert model.index(0).data(Role.RECORD) is held
    assert sys.getrefcount(held) == before
