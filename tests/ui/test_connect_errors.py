"""The connect dialog puts an error next to the input it names (exc.input), never by matching its words, and
words the remedy in the app's terms (no command-line flags)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from desktop_app.core.errors import (
    Hint,
    Input,
    NeedsSignIn,
    RedirectPortBusy,
    TokendeskError,
    TransientError,
    UsageError,
)
from desktop_app.core.providers import preset
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import ConnectDialog
from desktop_app.ui.error_words import in_words
from tests.ui.conftest import FakeService


class Refusing(FakeService):
    """Resolves GitHub, then fails the sign-in with the error the test gives."""

    def __init__(self) -> None:
        super().__init__()
        self.error: TokendeskError = TokendeskError("unset")
        self.at_resolve = False

    async def resolve_provider(self, request: Any) -> Any:
        if self.at_resolve:
            raise self.error
        return preset("github")

    async def connect(self, request: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.fixture
def fake() -> Refusing:
    return Refusing()


@pytest.fixture
def dialog(qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: Refusing) -> ConnectDialog:
    d = ConnectDialog(Bridge(fake))  # type: ignore[arg-type]
    qtbot.addWidget(d)
    d.show()
    d.select_provider("github")
    d.client_id.editor.setText("abc")
    d.client_secret.editor.setText("s3cret-value")
    return d


def _submit(qloop: asyncio.AbstractEventLoop, d: ConnectDialog) -> None:
    async def go() -> None:
        d.submit()
        assert d._task is not None
        await asyncio.wait_for(asyncio.gather(d._task, return_exceptions=True), 10)

    qloop.run_until_complete(go())


@pytest.mark.parametrize(("which", "field"), [(Input.CLIENT_SECRET, "client_secret"), (Input.NAME, "name")])
def test_an_error_lands_on_the_field_its_input_names(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: Refusing, which: Input, field: str
) -> None:
    # The words share nothing with the field's name or label: only exc.input can place it.
    fake.error = UsageError("Refused for reasons.", input=which)
    _submit(qloop, dialog)
    marked = getattr(dialog, field)
    assert marked.error.text() == "Refused for reasons." and marked.error.isVisibleTo(dialog)
    assert dialog.form_error.isHidden() and dialog.stack.currentWidget() is dialog.form_page
    assert dialog.connect_button.isEnabled() and marked.editor.hasFocus()
    others = [f for f in dialog._fields() if f is not marked]
    assert all(f.error.isHidden() for f in others)


def test_a_busy_redirect_port_opens_the_advanced_part_and_marks_the_port(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: Refusing
) -> None:
    fake.error = RedirectPortBusy("Port 8765 is in use.", port=8765, input=Input.REDIRECT_PORT)
    assert not dialog.advanced.port.isVisibleTo(dialog)
    _submit(qloop, dialog)
    assert dialog.advanced.port.isVisibleTo(dialog) and "8765 is in use" in dialog.advanced.port.error.text()


def test_an_input_error_while_resolving_marks_the_field_before_the_browser(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: Refusing
) -> None:
    fake.at_resolve = True
    fake.error = UsageError("GitHub requires a client secret.", input=Input.CLIENT_SECRET, hint=Hint.GIVE_INPUT)
    _submit(qloop, dialog)
    assert dialog.client_secret.error.text() == "GitHub requires a client secret."
    assert dialog.stack.currentWidget() is dialog.form_page and dialog.connect_button.isEnabled()


def test_an_error_about_no_input_is_said_above_the_form_in_the_apps_words(
    qloop: asyncio.AbstractEventLoop, dialog: ConnectDialog, fake: Refusing
) -> None:
    fake.error = TransientError("GitHub is out of reach.", hint=Hint.RETRY_LATER)
    _submit(qloop, dialog)
    assert dialog.form_error.text() == "GitHub is out of reach. Try again later."
    assert all(f.error.isHidden() for f in dialog._fields())


def test_a_preset_parameter_error_is_marked_by_its_input(dialog: ConnectDialog) -> None:
    dialog.select_provider("okta")
    dialog.client_id.editor.setText("abc")
    dialog.param_fields["domain"].editor.setText("http://okta.example")
    assert dialog.validate() is None
    text = dialog.param_fields["domain"].error.text()
    assert "is not a domain name" in text and "--" not in text


def test_the_apps_words_name_no_flag() -> None:
    for hint in Hint:
        text = in_words(NeedsSignIn("Gone.", hint=hint, account="W"))
        assert "--" not in text and "tokendesk " not in text
    assert in_words(NeedsSignIn("W needs you to sign in again.")).endswith("Choose Reconnect to sign in again.")


def test_a_background_failure_is_reported_with_the_apps_remedy(qtbot: Any, background_errors: Any) -> None:
    """A refresh started from the window that ends in needs-sign-in says what to do in the app's words."""
    background_errors.expect(r"taskFailed Refreshing Work: The grant was revoked\. Choose Reconnect")
    bridge = Bridge(FakeService())  # type: ignore[arg-type]
    heard: list[str] = []
    bridge.taskFailed.connect(lambda what, message: heard.append(message))
    bridge.report("Refreshing Work", NeedsSignIn("The grant was revoked.", account="Work"))
    assert heard == ["The grant was revoked. Choose Reconnect to sign in again."]
    assert "--" not in heard[0] and "tokendesk" not in heard[0]
