"""Connect dialog: every input problem gets its own message next to its field, before anything is sent."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import PRESETS
from desktop_app.core.service import Service
from desktop_app.core.vault import Vault
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.connect_dialog import CUSTOM, ConnectDialog
from tests.ui.conftest import FakeService


@pytest.fixture
def dialog(qtbot: Any) -> ConnectDialog:
    d = ConnectDialog(Bridge(FakeService()))  # type: ignore[arg-type]
    qtbot.addWidget(d)
    d.show()
    return d


def _custom(d: ConnectDialog, *, issuer: str | None = None) -> None:
    d.select_provider(CUSTOM)
    d.client_id.editor.setText("my-client")
    if issuer is not None:
        d.use_issuer.setChecked(True)
        d.issuer.editor.setText(issuer)


def test_client_id_is_required(dialog: ConnectDialog) -> None:
    _custom(dialog, issuer="https://login.example.com")
    dialog.client_id.editor.setText("")
    assert dialog.validate() is None
    assert "client ID" in dialog.client_id.error.text() and dialog.client_id.error.isVisibleTo(dialog)
    assert dialog.issuer.error.isHidden()


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("not a url", "is not an http(s) URL with a host name"),
        ("http://login.example.com", "uses plain HTTP; only HTTPS is allowed"),
        ("https://login.example.com:99999", "is malformed"),
        ("https://user:pw@login.example.com", "must not contain a user name or password"),
        ("", "The issuer URL is empty."),
    ],
)
def test_bad_issuer_urls(dialog: ConnectDialog, issuer: str, message: str) -> None:
    _custom(dialog, issuer=issuer)
    assert dialog.validate() is None
    assert message in dialog.issuer.error.text()
    assert dialog.issuer.editor.accessibleDescription() == dialog.issuer.error.text()


def test_loopback_http_is_allowed(dialog: ConnectDialog) -> None:
    _custom(dialog, issuer="http://127.0.0.1:8080/realms/x")
    request = dialog.validate()
    assert request is not None and request.issuer == "http://127.0.0.1:8080/realms/x"
    assert request.client_id == "my-client" and request.client_secret is None


def test_endpoints_by_hand(dialog: ConnectDialog) -> None:
    _custom(dialog)
    dialog.use_endpoints.setChecked(True)
    assert dialog.issuer.isHidden() and not dialog.token_endpoint.isHidden()
    dialog.auth_endpoint.editor.setText("https://login.example.com/authorize")
    dialog.token_endpoint.editor.setText("http://login.example.com/token")
    dialog.revocation_endpoint.editor.setText("ftp://x")
    assert dialog.validate() is None
    assert dialog.auth_endpoint.error.isHidden()
    assert "token endpoint" in dialog.token_endpoint.error.text() and "plain HTTP" in dialog.token_endpoint.error.text()
    assert "revocation endpoint" in dialog.revocation_endpoint.error.text()
    dialog.token_endpoint.editor.setText("https://login.example.com/token")
    dialog.revocation_endpoint.editor.setText("")
    request = dialog.validate()
    assert request is not None and request.token_endpoint == "https://login.example.com/token"
    assert request.revocation_endpoint is None


def test_preset_parameters_and_secret(dialog: ConnectDialog) -> None:
    dialog.select_provider("auth0")
    dialog.client_id.editor.setText("abc")
    assert set(dialog.param_fields) == {"domain"}
    assert dialog.validate() is None
    assert "Auth0 tenant domain" in dialog.param_fields["domain"].error.text()
    dialog.param_fields["domain"].editor.setText("https://acme.eu.auth0.com/")
    request = dialog.validate()
    assert request is not None and request.preset == "auth0"
    dialog.select_provider("github")
    dialog.client_id.editor.setText("abc")
    assert dialog.validate() is None
    assert "requires the client secret" in dialog.client_secret.error.text()
    dialog.client_secret.editor.setText("s3cret-value")
    dialog.scopes.editor.setText("repo, read:user")
    request = dialog.validate()
    assert request is not None and request.scopes == ("repo", "read:user")
    assert request.client_secret is not None and request.client_secret.reveal() == "s3cret-value"


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_preset_parameter_fields_follow_the_declarations(dialog: ConnectDialog, key: str) -> None:
    params = PRESETS[key].params
    dialog.select_provider(key)
    dialog.client_id.editor.setText("abc")
    dialog.client_secret.editor.setText("s3cret-value")
    assert list(dialog.param_fields) == [p.name for p in params]
    assert dialog.params_box.isVisibleTo(dialog) == bool(params)
    for p in params:
        field = dialog.param_fields[p.name]
        assert dialog.params_form.labelForField(field).text() == f"{p.label}:"  # type: ignore[attr-defined]
        assert field.editor.placeholderText() == (p.help if p.required else f"Default: {p.default}")
    request = dialog.validate()
    if any(p.required for p in params):
        assert request is None
    else:  # optional parameters left empty take their defaults
        assert request is not None and request.preset == key and request.preset_params == {}
    for p in params:
        error = dialog.param_fields[p.name].error
        assert (f"Required: {p.help}." == error.text()) if p.required else error.isHidden()


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><body>Welcome to our portal</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_issuer_answering_html_is_reported_next_to_the_field(
    qloop: asyncio.AbstractEventLoop, qtbot: Any, paths: AppPaths, html_server: str
) -> None:
    opened: list[str] = []

    async def opener(url: str) -> bool:
        opened.append(url)
        return True

    service = Service(
        paths=paths, vault=Vault(service="tokendesk-ui-test-unused"), http=new_http_client(), opener=opener
    )
    d = ConnectDialog(Bridge(service))
    qtbot.addWidget(d)
    d.show()
    _custom(d, issuer=html_server)

    async def go() -> None:
        d.submit()
        assert d._task is not None
        await asyncio.wait_for(d._task, 15)
        await service.aclose()

    qloop.run_until_complete(go())
    assert "an HTML page" in d.issuer.error.text()
    assert d.stack.currentWidget() is d.form_page and d.connect_button.isEnabled()
    assert opened == []  # nothing reached the browser
