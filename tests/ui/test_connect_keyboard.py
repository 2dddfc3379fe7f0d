"""Connect dialog from the keyboard: Enter connects, nothing typed is lost to a keystroke, a slow issuer shows
that it is being checked (with Cancel), the cursor goes to the first bad field, and https:// is completed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton

from desktop_app.core.errors import AuthorizationDenied
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog, with_scheme
from tests.ui.conftest import FakeService, until


class Recorder(FakeService):
    """Records what the dialog asks for; resolving the provider waits until the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []
        self.release = asyncio.Event()

    async def resolve_provider(self, request: Any) -> Any:
        self.requests.append(request)
        await self.release.wait()
        raise AuthorizationDenied("Access was denied at the provider.")


@pytest.fixture
def fake() -> Recorder:
    return Recorder()


@pytest.fixture
def dialog(qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: Recorder) -> ConnectDialog:
    d = ConnectDialog(Bridge(fake))  # type: ignore[arg-type]
    qtbot.addWidget(d)
    d.show()
    d.activateWindow()
    d.select_provider(CUSTOM)
    return d


def _type(qtbot: Any, dialog: ConnectDialog, issuer: str = "login.example.com", client: str = "my-client") -> None:
    qtbot.keyClicks(dialog.issuer.editor, issuer)
    qtbot.keyClicks(dialog.client_id.editor, client)
    qtbot.keyClicks(dialog.name.editor, "Work")


def test_only_connect_is_a_default_button(dialog: ConnectDialog) -> None:
    defaults = [b.text() for b in dialog.findChildren(QPushButton) if b.isDefault() or b.autoDefault()]
    assert defaults == ["Connect"]


@pytest.mark.parametrize("where", ["issuer", "client_id", "name"])
def test_enter_in_any_field_connects_and_keeps_the_input(
    dialog: ConnectDialog, qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: Recorder, where: str
) -> None:
    _type(qtbot, dialog)
    editor = getattr(dialog, where).editor
    editor.setFocus()

    async def go() -> None:
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        await until(lambda: fake.requests, what="the connect request")

    qloop.run_until_complete(go())
    assert dialog.isVisible()
    [request] = fake.requests
    assert request.issuer == "https://login.example.com" and request.client_id == "my-client"
    assert request.name == "Work"
    # While the issuer is checked the dialog says so, and Cancel stops the check, not the dialog.
    assert dialog.checking.isVisible() and "Checking login.example.com" in dialog.checking_label.text()
    assert not dialog.connect_button.isEnabled()
    dialog.cancel_button.click()
    assert dialog.isVisible() and not dialog.checking.isVisible() and dialog.connect_button.isEnabled()
    assert "Stopped checking the issuer" in dialog.form_error.text()
    assert (dialog.issuer.editor.text(), dialog.client_id.editor.text(), dialog.name.editor.text()) == (
        "https://login.example.com",
        "my-client",
        "Work",
    )


def test_escape_stops_the_check_then_asks_before_discarding(
    dialog: ConnectDialog, qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: Recorder
) -> None:
    asked: list[bool] = []
    answer = [False]
    dialog.confirm_discard = lambda _parent: asked.append(True) or answer[0]
    _type(qtbot, dialog)

    async def go() -> None:
        qtbot.keyClick(dialog.client_id.editor, Qt.Key.Key_Enter)
        await until(lambda: fake.requests, what="the check")

    qloop.run_until_complete(go())
    qtbot.keyClick(dialog.client_id.editor, Qt.Key.Key_Escape)
    assert dialog.isVisible() and not dialog.checking.isVisible() and asked == []
    qtbot.keyClick(dialog.client_id.editor, Qt.Key.Key_Escape)
    assert asked == [True] and dialog.isVisible() and dialog.client_id.editor.text() == "my-client"
    answer[0] = True
    qtbot.keyClick(dialog.client_id.editor, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_escape_on_an_empty_form_just_closes(dialog: ConnectDialog, qtbot: Any) -> None:
    dialog.confirm_discard = lambda _parent: pytest.fail("nothing was typed; nothing to confirm")
    qtbot.keyClick(dialog.issuer.editor, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_failed_validation_puts_the_cursor_in_the_topmost_bad_field(dialog: ConnectDialog, qtbot: Any) -> None:
    dialog.name.editor.setFocus()
    qtbot.keyClick(dialog.name.editor, Qt.Key.Key_Return)  # issuer and client ID both missing
    assert not dialog.issuer.error.isHidden() and not dialog.client_id.error.isHidden()
    assert QApplication.focusWidget() is dialog.issuer.editor
    qtbot.keyClicks(dialog.issuer.editor, "https://login.example.com")
    qtbot.keyClick(dialog.issuer.editor, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is dialog.client_id.editor


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("login.example.com", "https://login.example.com"),
        ("login.example.com/realms/x", "https://login.example.com/realms/x"),
        ("localhost:8080", "https://localhost:8080"),
        ("https://login.example.com", "https://login.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("not a url", "not a url"),
        ("intranet", "intranet"),
        ("", ""),
    ],
)
def test_issuer_without_a_scheme_is_completed_to_https(
    dialog: ConnectDialog, qtbot: Any, typed: str, completed: str
) -> None:
    assert with_scheme(typed) == completed
    dialog.issuer.editor.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.issuer.editor)
    qtbot.keyClicks(dialog.issuer.editor, typed)
    dialog.client_id.editor.setFocus()  # leaving the field completes it
    assert dialog.issuer.editor.text() == completed


def test_consent_denied_is_said_once(
    dialog: ConnectDialog, qtbot: Any, qloop: asyncio.AbstractEventLoop, fake: Recorder
) -> None:
    _type(qtbot, dialog)

    async def go() -> None:
        dialog.submit()
        await until(lambda: fake.requests, what="the check")
        fake.release.set()
        await until(lambda: not dialog.form_error.isHidden(), what="the message")

    qloop.run_until_complete(go())
    assert dialog.form_error.text() == "Access was denied at the provider. Nothing was saved."


class SilentIssuer:
    """Accepts connections and never answers (what made the dialog sit for 13 s without a word)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        self._held.append(conn)
        self.connected.set()

    def close(self) -> None:
        self.server.close()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent_issuer() -> Iterator[SilentIssuer]:
    issuer = SilentIssuer()
    try:
        yield issuer
    finally:
        issuer.close()


def test_a_silent_issuer_shows_checking_and_cancel_stops_it(
    qloop: asyncio.AbstractEventLoop, qtbot: Any, paths: AppPaths, silent_issuer: SilentIssuer
) -> None:
    service = Service(paths=paths, vault=Vault(service="tokendesk-ui-test-unused"), http=new_http_client())
    d = ConnectDialog(Bridge(service))
    qtbot.addWidget(d)
    d.show()
    d.select_provider(CUSTOM)
    d.issuer.editor.setText(silent_issuer.url)
    d.client_id.editor.setText("my-client")

    async def go() -> None:
        d.submit()
        task = d._task
        assert task is not None
        await until(silent_issuer.connected.is_set, what="the discovery request to reach the issuer")
        assert not task.done()
        assert d.checking.isVisible() and f"Checking {silent_issuer.url.split('//')[1]}" in d.checking_label.text()
        d.cancel_button.click()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        await service.aclose()

    qloop.run_until_complete(go())
    assert d.isVisible() and d.connect_button.isEnabled() and d.issuer.editor.text() == silent_issuer.url


@pytest.fixture
def untrusted_tls(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose self-signed certificate nobody trusts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
            pass  # the client gives up during the handshake

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("issuer", "words"),
    [
        ("http://127.0.0.1:1", "Cannot reach 127.0.0.1:1: the connection was refused."),
        ("https://no-such-host.invalid", "Cannot reach no-such-host.invalid: no such host."),
        ("tls", "its TLS certificate was not accepted (self-signed certificate)."),
    ],
)
def test_network_failures_are_said_in_words(
    qloop: asyncio.AbstractEventLoop, qtbot: Any, paths: AppPaths, issuer: str, words: str, request: Any
) -> None:
    """It used to say "Cannot reach 127.0.0.1:1: ConnectError." (a library class, nothing a user can act on)."""
    if issuer == "tls":
        issuer = request.getfixturevalue("untrusted_tls")
    service = Service(paths=paths, vault=Vault(service="tokendesk-ui-test-unused"), http=new_http_client())
    d = ConnectDialog(Bridge(service))
    qtbot.addWidget(d)
    d.show()
    d.select_provider(CUSTOM)
    d.issuer.editor.setText(issuer)
    d.client_id.editor.setText("my-client")

    async def go() -> None:
        d.submit()
        assert d._task is not None
        await asyncio.wait_for(asyncio.gather(d._task, return_exceptions=True), 30)
        await service.aclose()

    qloop.run_until_complete(go())
    assert d.issuer.error.text().endswith(words), d.issuer.error.text()
    assert not d.checking.isVisible() and d.connect_button.isEnabled()
