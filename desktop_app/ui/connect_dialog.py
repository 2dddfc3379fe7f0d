"""Connect (or reconnect) an account: provider preset or custom, checked input, then the browser sign-in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.accounts import AccountRecord
from desktop_app.core.errors import (
    AuthorizationDenied,
    AuthorizationTimeout,
    DiscoveryError,
    InvalidEndpoint,
    TokendeskError,
    TransientError,
    UsageError,
)
from desktop_app.core.providers import PRESETS
from desktop_app.core.secrets import Secret
from desktop_app.core.urls import check_endpoint

from . import icons
from .advanced_fields import AdvancedFields
from .badges import Tone
from .delegate import tone_colors
from .device_panel import DevicePanel, offer_device

if TYPE_CHECKING:
    from desktop_app.core.device import DeviceCode
    from desktop_app.core.providers import ProviderSpec
    from desktop_app.core.service import ConnectRequest

    from .bridge import Bridge

log = logging.getLogger(__name__)


def _confirm_discard(parent: QWidget) -> bool:
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Discard what you typed?",
        "Close the dialog and discard what you typed?",
        QMessageBox.StandardButton.Cancel,
        parent,
    )
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is discard


def with_scheme(text: str) -> str:
    """`login.example.com/x` -> `https://login.example.com/x`; anything with a scheme (or nothing) unchanged."""
    text = text.strip()
    if not text or "://" in text or " " in text or text.startswith("/"):
        return text
    host = urlsplit(f"https://{text}").hostname or ""
    return f"https://{text}" if "." in host or host == "localhost" else text


CUSTOM = "custom"
CUSTOM_LABEL = "Custom OpenID Connect / OAuth 2.0"


class Field(QWidget):
    """An input with its own error line underneath, so each message sits next to its field."""

    def __init__(self, editor: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        layout.addWidget(self.error)
        editor.textEdited.connect(self._edited)
        self.url = False  # an endpoint field: a host typed without a scheme is completed to https://
        editor.editingFinished.connect(self._complete_scheme)

    def _edited(self, _text: str) -> None:
        self.set_error(None)

    def _complete_scheme(self) -> None:
        if self.url:
            completed = with_scheme(self.editor.text())
            if completed != self.editor.text().strip():
                self.editor.setText(completed)

    def set_error(self, text: str | None) -> None:
        if text:
            fg, _ = tone_colors(Tone.BAD, self.palette())
            self.error.setStyleSheet(f"color: {fg.name()};")
            self.error.setText(text)
            self.error.show()
            self.editor.setAccessibleDescription(text)
        else:
            self.error.hide()
            self.error.clear()
            self.editor.setAccessibleDescription("")

    @property
    def text(self) -> str:
        return self.editor.text().strip()


def _line(placeholder: str = "", name: str = "", *, password: bool = False, url: bool = False) -> Field:
    editor = QLineEdit()
    editor.setPlaceholderText(placeholder)
    editor.setAccessibleName(name)
    editor.setClearButtonEnabled(not password)
    if password:
        editor.setEchoMode(QLineEdit.EchoMode.Password)
    field = Field(editor)
    field.url = url
    return field


class ConnectDialog(QDialog):
    connected = Signal(object)  # AccountRecord
    finished_with = Signal(str)  # the final message, for tests and the status bar

    def __init__(
        self, bridge: Bridge, *, reconnect: AccountRecord | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.reconnecting = reconnect
        self._task: asyncio.Task[Any] | None = None
        self._url: str | None = None
        self._request: ConnectRequest | None = None
        self._spec: ProviderSpec | None = None  # of the sign-in under way: does it offer the device flow?
        # Opens the device flow's verification page; tests replace it.
        self.open_link: Callable[[str], object] = lambda url: QDesktopServices.openUrl(QUrl(url))
        self.setWindowTitle(f"Reconnect {reconnect.name}" if reconnect else "Connect account")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(12)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)
        self._build_form()
        self._build_waiting()
        self._build_result()
        self.device_panel = DevicePanel(lambda url: self.open_link(url))
        self.device_panel.cancel_button.clicked.connect(self.cancel_sign_in)
        self.stack.addWidget(self.device_panel)
        # Enter anywhere in the form means Connect: only that button is a default. Every other button
        # would otherwise be an "auto default" a dialog may pick (Cancel was, and Enter threw input away).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
        self.connect_button.setAutoDefault(True)
        self.connect_button.setDefault(True)
        self.confirm_discard: Callable[[QWidget], bool] = _confirm_discard
        bridge.browserFailed.connect(self.browser_failed)
        if reconnect is not None:
            QTimer.singleShot(0, self._start_reconnect)

    # --- pages ------------------------------------------------------------------------------------

    def _build_form(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(12)
        self.form_error = QLabel()
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        v.addWidget(self.form_error)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form = form
        self.provider = QComboBox()
        self.provider.setAccessibleName("Provider")
        for key, p in PRESETS.items():
            self.provider.addItem(icons.provider_icon(key, p.display_name), p.display_name, key)
        self.provider.insertSeparator(self.provider.count())
        self.provider.addItem(icons.provider_icon(CUSTOM, "Custom"), CUSTOM_LABEL, CUSTOM)
        form.addRow("&Provider:", self.provider)

        # Preset parameters (tenant, domain, realm): one field per parameter, rebuilt on provider change.
        self.params_box = QWidget()
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        self.params_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.param_fields: dict[str, Field] = {}
        form.addRow(self.params_box)

        # Custom provider: issuer with discovery, or endpoints by hand.
        self.custom_box = QWidget()
        custom = QFormLayout(self.custom_box)
        custom.setContentsMargins(0, 0, 0, 0)
        custom.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        mode = QHBoxLayout()
        self.use_issuer = QRadioButton("Issuer URL (discovery)")
        self.use_endpoints = QRadioButton("Endpoints by hand")
        self.use_issuer.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.use_issuer)
        group.addButton(self.use_endpoints)
        mode.addWidget(self.use_issuer)
        mode.addWidget(self.use_endpoints)
        mode.addStretch(1)
        custom.addRow("Find endpoints:", mode)
        self.issuer = _line("https://login.example.com", "Issuer URL", url=True)
        self.auth_endpoint = _line("https://login.example.com/oauth2/authorize", "Authorization endpoint", url=True)
        self.token_endpoint = _line("https://login.example.com/oauth2/token", "Token endpoint", url=True)
        self.revocation_endpoint = _line("Optional", "Revocation endpoint", url=True)
        custom.addRow("&Issuer URL:", self.issuer)
        custom.addRow("&Authorization endpoint:", self.auth_endpoint)
        custom.addRow("&Token endpoint:", self.token_endpoint)
        custom.addRow("Re&vocation endpoint:", self.revocation_endpoint)
        self._custom_form = custom
        form.addRow(self.custom_box)

        self.client_id = _line("From the app registration at the provider", "Client ID")
        self.client_secret = _line("", "Client secret", password=True)
        self.scopes = _line("", "Scopes")
        self.name = _line("Optional; e.g. Work GitHub", "Display name")
        form.addRow("&Client ID:", self.client_id)
        form.addRow("Client &secret:", self.client_secret)
        form.addRow("Sco&pes:", self.scopes)
        form.addRow("Display &name:", self.name)
        self.use_device = QCheckBox("Sign in on another &device (shows a code to enter there)")
        form.addRow(self.use_device)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(self.hint.foregroundRole())
        form.addRow(self.hint)
        self.advanced = AdvancedFields(_line, self._fit)
        form.addRow(self.advanced)
        v.addLayout(form)
        v.addStretch(1)

        # While the issuer is checked: say so, with the form's Cancel stopping the check (not the dialog).
        self.checking = QWidget()
        checking = QHBoxLayout(self.checking)
        checking.setContentsMargins(0, 0, 0, 0)
        self.checking_label = QLabel()
        self.checking_label.setWordWrap(True)
        checking_bar = QProgressBar()
        checking_bar.setRange(0, 0)
        checking_bar.setTextVisible(False)
        checking_bar.setMaximumWidth(120)
        checking_bar.setAccessibleName("Checking the issuer")
        checking.addWidget(self.checking_label, 1)
        checking.addWidget(checking_bar)
        self.checking.hide()
        v.addWidget(self.checking)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.submit)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.connect_button)
        v.addLayout(buttons)
        self.form_page = page
        self.stack.addWidget(page)

        self.provider.currentIndexChanged.connect(self._provider_changed)
        self.use_issuer.toggled.connect(self._mode_changed)
        self._provider_changed()

    def _build_waiting(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 12, 0, 0)
        v.setSpacing(12)
        self.waiting_title = QLabel()
        font = self.waiting_title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setWeight(font.Weight.DemiBold)
        self.waiting_title.setFont(font)
        self.waiting_title.setWordWrap(True)
        self.waiting_text = QLabel(
            "Sign in and approve access in your browser, then come back here. If the browser did not open, "
            "copy the link and paste it into your browser."
        )
        self.waiting_text.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setAccessibleName("Waiting for the browser sign-in")
        v.addWidget(self.waiting_title)
        v.addWidget(self.waiting_text)
        v.addWidget(bar)
        v.addStretch(1)
        buttons = QHBoxLayout()
        self.copy_link_button = QPushButton("Copy link")
        self.copy_link_button.setEnabled(False)
        self.copy_link_button.clicked.connect(self.copy_link)
        # Offered when the browser did not open and the provider has a device flow.
        self.device_instead_button = QPushButton("Sign in with a code instead")
        self.device_instead_button.hide()
        self.device_instead_button.clicked.connect(self.device_instead)
        self.wait_cancel_button = QPushButton("Cancel")
        self.wait_cancel_button.clicked.connect(self.cancel_sign_in)
        buttons.addWidget(self.copy_link_button)
        buttons.addWidget(self.device_instead_button)
        buttons.addStretch(1)
        buttons.addWidget(self.wait_cancel_button)
        v.addLayout(buttons)
        self.waiting_page = page
        self.stack.addWidget(page)

    def _build_result(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 12, 0, 0)
        self.result_text = QLabel()
        self.result_text.setWordWrap(True)
        self.result_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.result_text)
        v.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(self._start_reconnect)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(close)
        v.addLayout(buttons)
        self.result_page = page
        self.stack.addWidget(page)

    # --- form behaviour ---------------------------------------------------------------------------

    @property
    def provider_key(self) -> str:
        return str(self.provider.currentData())

    def select_provider(self, key: str) -> None:
        self.provider.setCurrentIndex(self.provider.findData(key))

    def _provider_changed(self, *_: Any) -> None:
        key = self.provider_key
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.param_fields = {}
        custom = key == CUSTOM
        self.custom_box.setVisible(custom)
        if custom:
            self.params_box.hide()
            self.scopes.editor.setPlaceholderText("Default: from discovery (openid email profile offline_access)")
            self.client_secret.editor.setPlaceholderText("Only for confidential clients")
            self.hint.setText("")
            self._mode_changed()
        else:
            preset = PRESETS[key]
            for param in preset.params:  # labels, hints and defaults from the preset's declarations
                field = _line(param.help if param.required else f"Default: {param.default}", param.label)
                field.editor.setToolTip(param.help.capitalize() + ".")
                self.param_fields[param.name] = field
                self.params_form.addRow(f"{param.label}:", field)
            self.params_box.setVisible(bool(preset.params))
            spec_scopes = " ".join(preset.template.default_scopes) or "the app's configured scopes"
            self.scopes.editor.setPlaceholderText(f"Default: {spec_scopes}")
            requires = preset.template.requires_secret
            self.client_secret.editor.setPlaceholderText("Required" if requires else "Only for confidential clients")
            self.hint.setText(preset.help.capitalize() + "." if preset.help else "")
        self.hint.setVisible(bool(self.hint.text()))
        self._device_offered()
        self._clear_errors()
        self._fit()

    def _show_page(self, page: QWidget) -> None:
        self.stack.setCurrentWidget(page)
        self._fit()

    def _fit(self) -> None:
        """Size the dialog to what it shows now: no room kept for hidden pages or the other provider's fields."""
        for i in range(self.stack.count()):
            page = self.stack.widget(i)
            if page is None:
                continue
            policy = QSizePolicy.Policy.Preferred if page is self.stack.currentWidget() else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        layout = self.layout()
        if layout is None or not self.isVisible():
            return  # before the first show every child still counts as shown; showEvent fits it
        layout.activate()
        self.resize(max(self.width(), self.minimumSizeHint().width()), self.sizeHint().height())

    def _mode_changed(self, *_: Any) -> None:
        issuer = self.use_issuer.isChecked()
        for field, show in (
            (self.issuer, issuer),
            (self.auth_endpoint, not issuer),
            (self.token_endpoint, not issuer),
            (self.revocation_endpoint, not issuer),
        ):
            field.setVisible(show)
            label = self._custom_form.labelForField(field)
            if label is not None:
                label.setVisible(show)
        self._device_offered()
        self._fit()

    def _device_offered(self) -> None:
        offer_device(self.use_device, None if self.provider_key == CUSTOM else self.provider_key, self.use_issuer)

    def _fields(self) -> list[Field]:
        """Every field, top to bottom as the form shows them."""
        return [
            *self.param_fields.values(),
            self.issuer,
            self.auth_endpoint,
            self.token_endpoint,
            self.revocation_endpoint,
            self.client_id,
            self.client_secret,
            self.scopes,
            self.name,
            *self.advanced.fields(),
        ]

    def _typed(self) -> bool:
        return any(field.editor.text().strip() for field in self._fields())

    def _clear_errors(self) -> None:
        for field in self._fields():
            field.set_error(None)
        self.form_error.hide()

    def _set_form_error(self, text: str) -> None:
        fg, bg = tone_colors(Tone.BAD, self.palette())
        self.form_error.setStyleSheet(
            f"QLabel {{ color: {fg.name()}; background: {bg.name()}; border-radius: 6px; padding: 8px; }}"
        )
        self.form_error.setText(text)
        self.form_error.show()

    def validate(self) -> ConnectRequest | None:
        """Check everything that can be checked without the network; mark each bad field. None if invalid."""
        from desktop_app.core.service import ConnectRequest

        self._clear_errors()
        for field in self._fields():
            field._complete_scheme()
        ok = True
        marked: list[Field] = []

        def bad(field: Field, text: str) -> None:
            nonlocal ok
            ok = False
            marked.append(field)
            field.set_error(text)

        key = self.provider_key
        secret = self.client_secret.editor.text()
        if not self.client_id.text:
            bad(self.client_id, "Enter the client ID of your app registration.")
        kwargs: dict[str, Any] = {}
        if key == CUSTOM:
            if self.use_issuer.isChecked():
                try:
                    kwargs["issuer"] = check_endpoint(self.issuer.text, what="issuer")
                except InvalidEndpoint as exc:
                    bad(self.issuer, str(exc))
            else:
                for field, what, arg, required in (
                    (self.auth_endpoint, "authorization endpoint", "authorization_endpoint", True),
                    (self.token_endpoint, "token endpoint", "token_endpoint", True),
                    (self.revocation_endpoint, "revocation endpoint", "revocation_endpoint", False),
                ):
                    if not field.text and not required:
                        continue
                    try:
                        kwargs[arg] = check_endpoint(field.text, what=what)
                    except InvalidEndpoint as exc:
                        bad(field, str(exc))
        else:
            preset = PRESETS[key]
            params = {name: field.text for name, field in self.param_fields.items() if field.text}
            for param in preset.params:
                if param.required and not self.param_fields[param.name].text:
                    bad(self.param_fields[param.name], f"Required: {param.help}.")
            if ok:
                try:
                    spec = preset.build(params)
                except UsageError as exc:
                    target = next((f for n, f in self.param_fields.items() if n in str(exc)), None)
                    bad(target or self.client_id, str(exc).replace("--", ""))
                else:
                    if spec.requires_secret and not secret:
                        bad(self.client_secret, f"{spec.display_name} requires the client secret of your app.")
            kwargs["preset"] = key
            kwargs["preset_params"] = params
        kwargs.update(self.advanced.request_kwargs(bad))
        name = self.name.text
        taken = self._taken_names()
        if name and name.casefold() in taken:
            bad(self.name, f"An account named {name!r} already exists; pick another name.")
        if not ok:
            first = next(f for f in self._fields() if f in marked)  # the topmost, not the first checked
            first.editor.setFocus(Qt.FocusReason.OtherFocusReason)
            first.editor.selectAll()
            return None
        return ConnectRequest(
            client_id=self.client_id.text,
            client_secret=Secret(secret) if secret else None,
            scopes=tuple(self.scopes.text.replace(",", " ").split()),
            name=name or None,
            **kwargs,
        )

    def _taken_names(self) -> set[str]:
        parent = self.parent()
        model = getattr(parent, "model", None)
        records = model.records() if model is not None else []
        return {r.name.casefold() for r in records}

    # --- running ----------------------------------------------------------------------------------

    def submit(self) -> None:
        if self._task is not None and not self._task.done():
            return  # already checking the issuer
        request = self.validate()
        if request is None:
            return
        self.form_error.hide()
        self.connect_button.setEnabled(False)
        if request.issuer:
            host = urlsplit(request.issuer).netloc
            self.checking_label.setText(f"Checking {host}… (Cancel stops)")
            self.checking.setAccessibleName(f"Checking {host}")
            self.checking.show()
        self._task = self.bridge.spawn(self._connect(request), "Connecting", on_error=self._failed)

    async def _connect(self, request: ConnectRequest, device: bool | None = None) -> None:
        service = self.bridge.service
        try:
            spec = await service.resolve_provider(request)
        except (DiscoveryError, TransientError, InvalidEndpoint) as exc:
            if request.issuer:
                self._task = None
                self.checking.hide()
                self.issuer.set_error(str(exc))
                self.issuer.editor.setFocus(Qt.FocusReason.OtherFocusReason)
                self.connect_button.setEnabled(True)
                return
            raise
        finally:
            self.checking.hide()
        self._request, self._spec = request, spec
        device = self.use_device.isChecked() if device is None else device
        self._show_waiting(spec.display_name, device=device)
        record = await service.connect(request, on_url=self._got_url, **self._device_kwargs(device))
        self._succeeded(record, "connected")

    def _device_kwargs(self, device: bool) -> dict[str, Any]:
        return {"device": True, "on_code": self._got_code} if device else {}

    def _got_code(self, code: DeviceCode) -> None:
        self.device_panel.show_code(code)
        self._show_page(self.device_panel)

    def device_instead(self) -> None:
        """The browser did not open: cancel its sign-in and start one on another device."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        record, request = self.reconnecting, self._request
        if record is not None:
            self._task = self.bridge.spawn(self._reconnect(record, device=True), "Reconnecting", on_error=self._failed)
        elif request is not None:
            self._task = self.bridge.spawn(self._connect(request, True), "Connecting", on_error=self._failed)

    def _start_reconnect(self) -> None:
        record = self.reconnecting
        assert record is not None
        self._spec = record.provider
        self._show_waiting(record.provider.display_name)
        self._task = self.bridge.spawn(self._reconnect(record), "Reconnecting", on_error=self._failed)

    async def _reconnect(self, record: AccountRecord, *, device: bool = False) -> None:
        if device:
            self._show_waiting(record.provider.display_name, device=True)
        updated = await self.bridge.service.reconnect(record.id, on_url=self._got_url, **self._device_kwargs(device))
        self._succeeded(updated, "reconnected")

    def _show_waiting(self, provider: str, *, device: bool = False) -> None:
        self._url = None
        self.device_instead_button.hide()
        if device:
            self.device_panel.preparing(provider)
            return self._show_page(self.device_panel)
        self.copy_link_button.setEnabled(False)
        self.waiting_title.setText(f"Continue in your browser to sign in to {provider}…")
        self._show_page(self.waiting_page)
        self.wait_cancel_button.setFocus()

    def _got_url(self, url: str) -> None:
        self._url = url
        self.copy_link_button.setEnabled(True)

    def browser_failed(self) -> None:
        self.waiting_text.setText(
            "The browser did not open. Copy the link, paste it into your browser, and sign in there."
        )
        if self._spec is not None and self._spec.device_authorization_endpoint is not None:
            self.device_instead_button.show()

    def copy_link(self) -> None:
        if self._url:
            QGuiApplication.clipboard().setText(self._url)
            self.copy_link_button.setText("Link copied")

    def _cancel_clicked(self) -> None:
        if self.checking.isVisible():
            self.cancel_check()
        else:
            self.reject()

    def cancel_check(self) -> None:
        """Stop checking the issuer; everything typed stays."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.checking.hide()
        self.connect_button.setEnabled(True)
        self._set_form_error("Stopped checking the issuer. Nothing was sent to sign in.")
        self.issuer.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self.finished_with.emit("check cancelled")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Escape: stop a running check instead of closing; never silently drop a filled-in form.
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() is self.form_page:
            if self.checking.isVisible():
                self.cancel_check()
                return
            if self._typed() and not self.confirm_discard(self):
                return
        super().keyPressEvent(event)

    def cancel_sign_in(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if self.reconnecting is not None:
            self.reject()
            return
        self._show_page(self.form_page)
        self.connect_button.setEnabled(True)
        self._set_form_error("Sign-in cancelled. Nothing was saved.")
        self.finished_with.emit("cancelled")

    def _succeeded(self, record: AccountRecord, verb: str) -> None:
        self._task = None
        self.connected.emit(record)
        self.finished_with.emit(f"{record.name} {verb}.")
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        if isinstance(exc, AuthorizationDenied | AuthorizationTimeout):
            text = str(exc).rstrip(".") + ". Nothing was saved."  # the core's text says what happened
        elif isinstance(exc, TokendeskError):
            text = str(exc)
        else:
            log.error("connecting failed unexpectedly", exc_info=exc)
            text = f"Connecting failed unexpectedly ({type(exc).__name__}); see the log."
        self.finished_with.emit(text)
        if self.reconnecting is not None:
            self.result_text.setText(text)
            self._show_page(self.result_page)
            return
        self._show_page(self.form_page)
        self.connect_button.setEnabled(True)
        self._set_form_error(text)

    def reject(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().reject()
