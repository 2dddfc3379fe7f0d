"""Details: what it shows (never a token), live updates while open, and nothing after it is closed."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from desktop_app.core.accounts import AccountState, Attempt
from desktop_app.core.events import AccountChanged
from desktop_app.ui.app import Controller
from desktop_app.ui.details import DetailsDialog
from tests.ui.conftest import NOW, FakeService, make_record


def _open_details(controller: Controller) -> DetailsDialog:
    controller.window.details_action.trigger()
    dialogs = [d for d in controller.window.findChildren(DetailsDialog) if d.isVisible()]
    assert len(dialogs) == 1
    return dialogs[0]


def _field(dialog: DetailsDialog, key: str) -> str:
    return dialog._fields[key].text()


def test_details_shows_the_account_and_follows_updates(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, fake = app_ctl
    history = (Attempt(at=NOW - 30, outcome="retrying", detail="HTTP 503 from the token endpoint"),)
    fake.bus.emit(AccountChanged(make_record(1, expires_at=NOW + 600, history=history)))
    dialog = _open_details(controller)
    assert dialog.windowTitle() == "GitHub – user1@example.test — Details"
    assert _field(dialog, "Signed in as") == "user1@example.test"
    assert _field(dialog, "Provider") == "GitHub (client ID client1)"
    assert _field(dialog, "Scopes") == "repo"
    assert _field(dialog, "Access token").endswith("(in 10 min)")
    assert dialog.history.item(0, 1).text() == "Will retry"
    assert dialog.history.item(0, 2).text() == "HTTP 503 from the token endpoint"
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN, last_error="The grant was revoked.")))
    assert _field(dialog, "Status") == "Needs sign-in\nThe grant was revoked."


def test_details_closed_then_updates_raise_nothing(app_ctl: tuple[Controller, FakeService]) -> None:
    """The dialog deletes itself on close; later updates must not reach it (it used to raise RuntimeError)."""
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    dialog = _open_details(controller)
    dialog.findChild(QDialogButtonBox).rejected.emit()  # Close
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert not shiboken6.isValid(dialog), "Close should delete the dialog"
    assert controller.window.findChildren(DetailsDialog) == []
    for n in range(3):
        fake.bus.emit(AccountChanged(make_record(1, last_error=f"update {n}")))
    controller.model.tick()
    QCoreApplication.processEvents()
    # The guard fixture fails this test on any exception in a slot.


def test_after_revocation_details_say_what_is_true_now(app_ctl: tuple[Controller, FakeService]) -> None:
    """It used to say the access token expires in 47 s and the refresh token is present, after the grant died."""
    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1, expires_at=NOW + 47)))
    dialog = _open_details(controller)
    assert _field(dialog, "Access token").endswith("(in 47 s)")
    assert _field(dialog, "Refresh token") == "Present; its expiry is not known"
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN, expires_at=NOW + 47)))
    assert _field(dialog, "Access token").endswith("(in 47 s); the provider may have revoked it with the grant")
    assert _field(dialog, "Refresh token") == "Refused by the provider; Reconnect to sign in again"
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN, expires_at=NOW - 600)))
    assert _field(dialog, "Access token").startswith("Expired ")
    assert _field(dialog, "Access token").endswith("(10 min ago)")


def test_long_name_and_reason_wrap_instead_of_being_cut(app_ctl: tuple[Controller, FakeService], qtbot: Any) -> None:
    controller, fake = app_ctl
    long_name = "Slack – katherine.johnson-with-a-really-long-workspace-name@acme-corporation.slack.test " * 2
    reason = "The grant was revoked at Slack (invalid_grant): the workspace administrator removed the app. " * 3
    fake.bus.emit(AccountChanged(make_record(1, AccountState.NEEDS_SIGN_IN, name=long_name, last_error=reason)))
    dialog = _open_details(controller)
    qtbot.waitExposed(dialog)
    for key in ("Account", "Status"):
        label = dialog._fields[key]
        assert label.height() >= label.heightForWidth(label.width()) > label.fontMetrics().height() * 1.5, key
        assert label.geometry().right() <= dialog.rect().right(), key
    endpoint = dialog.findChild(QLineEdit, "")
    assert endpoint is not None and endpoint.isReadOnly()  # long URLs scroll inside the dialog
