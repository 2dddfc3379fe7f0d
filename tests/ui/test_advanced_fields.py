"""The connect dialog's Advanced part (redirect port and path) and what a disconnect tells and offers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from desktop_app.ui.notices import linkify
from tests.ui.conftest import FakeService


@pytest.fixture
def dialog(qtbot: Any) -> ConnectDialog:
    d = ConnectDialog(Bridge(FakeService()))  # type: ignore[arg-type]
    qtbot.addWidget(d)
    d.show()
    d.select_provider(CUSTOM)
    d.client_id.editor.setText("my-client")
    d.issuer.editor.setText("https://login.example.com")
    return d


def test_folded_by_default_and_nothing_sent_when_empty(dialog: ConnectDialog) -> None:
    assert not dialog.advanced.body.isVisibleTo(dialog)
    request = dialog.validate()
    assert request is not None and request.redirect_port is None and request.redirect_path is None


def test_port_and_path_reach_the_request(dialog: ConnectDialog) -> None:
    dialog.advanced.toggle.setChecked(True)
    assert dialog.advanced.body.isVisibleTo(dialog)
    dialog.advanced.port.editor.setText("8765")
    dialog.advanced.path.editor.setText("/cb/exact")
    request = dialog.validate()
    assert request is not None and (request.redirect_port, request.redirect_path) == (8765, "/cb/exact")


@pytest.mark.parametrize(
    ("port", "path", "field", "message"),
    [
        ("80", "", "port", "Enter a port from 1024 to 65535; lower ports can only be opened by root."),
        ("http", "", "port", "Enter a port from 1024 to 65535"),
        ("", "callback", "path", "must start with a single '/'"),
        ("", "/cb?x=1", "path", "must not contain a query (?) or fragment (#)"),
    ],
)
def test_bad_values_are_marked_and_unfolded(
    dialog: ConnectDialog, port: str, path: str, field: str, message: str
) -> None:
    dialog.advanced.port.editor.setText(port)
    dialog.advanced.path.editor.setText(path)
    assert dialog.validate() is None
    marked = getattr(dialog.advanced, field)
    assert message in marked.error.text() and marked.error.isVisibleTo(dialog)
    assert dialog.advanced.body.isVisibleTo(dialog)  # unfolded so the message is seen


def test_linkify_escapes_and_links() -> None:
    text = linkify("Remove <it> at https://github.com/settings/applications.")
    assert text == (
        'Remove &lt;it&gt; at <a href="https://github.com/settings/applications">'
        "https://github.com/settings/applications</a>."
    )


def test_disconnect_note_stays_on_screen(app_ctl: tuple[Any, FakeService], qloop: asyncio.AbstractEventLoop) -> None:
    from desktop_app.core.events import AccountChanged, AccountRemoved
    from tests.ui.conftest import make_record, settle

    controller, fake = app_ctl
    fake.bus.emit(AccountChanged(make_record(1)))
    note = "GitHub refused the revocation (HTTP 401). Remove the app's access yourself at https://github.com/x."

    async def disconnect(account_id: str) -> object:
        fake.bus.emit(AccountRemoved(account_id))
        return type("R", (), {"revoked": False, "note": note})()

    fake.disconnect = disconnect  # type: ignore[attr-defined]
    controller.window.confirm = lambda *a: True

    async def go() -> None:
        controller.window.disconnect_action.trigger()
        await settle(controller.bridge)

    qloop.run_until_complete(go())
    box = controller.window.findChild(QMessageBox, "disconnect-notice")
    assert box is not None and box.isVisible()
    assert "Remove the app's access yourself" in box.text() and 'href="https://github.com/x"' in box.text()
    box.close()


def test_details_show_the_client_s_revocation_url_and_the_redirect(
    app_ctl: tuple[Any, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    from dataclasses import replace

    from PySide6.QtWidgets import QLineEdit

    from desktop_app.core.events import AccountChanged
    from desktop_app.ui.details import DetailsDialog
    from tests.ui.conftest import make_record

    controller, fake = app_ctl
    record = make_record(1)
    record = replace(record, provider=replace(record.provider, redirect_port=8765, redirect_path="/cb"))
    fake.bus.emit(AccountChanged(record))
    controller.window.details_action.trigger()
    [dialog] = [d for d in controller.window.findChildren(DetailsDialog) if d.isVisible()]
    shown = {e.accessibleName(): e.text() for e in dialog.findChildren(QLineEdit)}
    assert shown["Revocation endpoint"] == "https://api.github.com/applications/client1/grant"
    assert shown["Redirect endpoint"] == "http://127.0.0.1:8765/cb"
    dialog.close()


def test_a_provider_out_of_reach_offers_to_forget_on_this_computer_only(
    app_ctl: tuple[Any, FakeService], qloop: asyncio.AbstractEventLoop
) -> None:
    """Revocation cannot be sent: nothing is deleted, and the user may choose to forget the account here only,
    told that the access stays granted at the provider (the CLI's --keep-grant)."""
    from desktop_app.core.errors import Hint, TransientError
    from desktop_app.core.events import AccountChanged, AccountRemoved
    from tests.ui.conftest import make_record, settle

    controller, fake = app_ctl
    record = make_record(1)
    fake.bus.emit(AccountChanged(record))
    calls: list[bool] = []
    note = "The access stays granted at GitHub. Remove the app's access yourself at https://github.com/x."

    async def disconnect(account_id: str, *, keep_grant: bool = False) -> object:
        calls.append(keep_grant)
        if not keep_grant:
            raise TransientError(
                "Could not revoke the grant at GitHub (connection refused); nothing was deleted.",
                hint=Hint.KEEP_GRANT_TO_FORGET_LOCALLY,
            )
        fake.bus.emit(AccountRemoved(account_id))
        return type("R", (), {"revoked": False, "note": note})()

    fake.disconnect = disconnect  # type: ignore[method-assign]
    questions: list[tuple[str, str, str]] = []
    answers = [True, False]  # "Disconnect?" yes; "Forget on this computer?" no, the first time

    def confirm(parent: Any, title: str, text: str, yes: str) -> bool:
        questions.append((title, text, yes))
        return answers.pop(0)

    controller.window.confirm = confirm

    async def go() -> None:
        controller.window.disconnect_action.trigger()
        await settle(controller.bridge)

    qloop.run_until_complete(go())
    assert calls == [False] and len(questions) == 2
    title, text, yes = questions[1]
    assert title == "Provider out of reach" and yes == "Forget on this computer" and "nothing was deleted" in text
    assert "the access stays granted at" in text
    assert controller.model.rowCount() == 1  # kept: the user said no

    answers[:] = [True, True]
    qloop.run_until_complete(go())
    assert calls == [False, False, True]
    assert controller.model.rowCount() == 0
    box = controller.window.findChild(QMessageBox, "disconnect-notice")
    assert box is not None and box.isVisible() and "The access stays granted" in box.text()
    box.close()
