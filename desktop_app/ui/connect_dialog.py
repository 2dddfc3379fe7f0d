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
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.accounts import AccountRecord
from desktop_app.core.errors import (
    AuthorizationDenied,
    AuthorizationTimeout,
    Input,
    InvalidEndpoint,
    TokendeskError,
    UsageError,
)
from desktop_app.core.providers import PRESETS
from desktop_app.core.secrets import Secret
from desktop_app.core.urls import check_endpoint

from . import icons
from .advanced_fields import AdvancedFields
from .badges import Tone
from .connect_fields import CUSTOM, CUSTOM_LABEL, CustomProviderBox, Field, confirm_discard, line_field, with_scheme
from .connect_pages import CheckingStrip, ResultPage, WaitingPage
from .delegate import tone_colors
from .device_panel import DevicePanel, offer_device
from .error_words import in_words

if TYPE_CHECKING:
    from desktop_app.core.device import DeviceCode
    from desktop_app.core.providers import ProviderSpec
    from desktop_app.core.service import ConnectRequest

    from .bridge import Bridge

log = logging.getLogger(__name__)


__all__ = ["CUSTOM", "ConnectDialog", "Field", "with_scheme"]  # the tests import these from here


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
        self.device_panel = DevicePanel()
        self.device_panel.link_activated.connect(self._device_link_activated)
        self.device_panel.cancel_button.clicked.connect(self.cancel_sign_in)
        self.stack.addWidget(self.device_panel)
        # Enter anywhere in the form means Connect: only that button is a default. Every other button
        # would otherwise be an "auto default" a dialog may pick (Cancel was, and Enter threw input away).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
        self.connect_button.setAutoDefault(True)
        self.connect_button.setDefault(True)
        self.confirm_discard: Callable[[QWidget], bool] = confirm_discard
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
        self.custom_box = box = CustomProviderBox()
        self.use_issuer, self.use_endpoints = box.use_issuer, box.use_endpoints
        self.issuer, self.auth_endpoint = box.issuer, box.auth_endpoint
        self.token_endpoint, self.revocation_endpoint = box.token_endpoint, box.revocation_endpoint
        form.addRow(box)

        self.client_id = line_field("From the app registration at the provider", "Client ID")
        self.client_secret = line_field("", "Client secret", password=True)
        self.scopes = line_field("", "Scopes")
        self.name = line_field("Optional; e.g. Work GitHub", "Display name")
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
        self.advanced = AdvancedFields(line_field)
        self.advanced.resized.connect(self._fit)
        form.addRow(self.advanced)
        v.addLayout(form)
        v.addStretch(1)

        # While the issuer is checked: say so, with the form's Cancel stopping the check (not the dialog).
        self.checking = CheckingStrip()
        self.checking_label = self.checking.label
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
        page = self.waiting_page = WaitingPage()
        self.waiting_title, self.waiting_text = page.title, page.text
        self.copy_link_button = page.copy_link_button
        self.copy_link_button.clicked.connect(self.copy_link)
        self.device_instead_button = page.device_instead_button
        self.device_instead_button.clicked.connect(self.device_instead)
        self.wait_cancel_button = page.cancel_button
        self.wait_cancel_button.clicked.connect(self.cancel_sign_in)
        self.stack.addWidget(page)

    def _build_result(self) -> None:
        page = self.result_page = ResultPage()
        self.result_text, self.retry_button = page.text, page.retry_button
        self.retry_button.clicked.connect(self._start_reconnect)
        page.close_button.clicked.connect(self.reject)
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
                field = line_field(param.help if param.required else f"Default: {param.default}", param.label)
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

    def _device_link_activated(self, url: str) -> None:
        self.open_link(url)  # looked up per call: tests replace open_link

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
        self.custom_box.show_mode()
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
                    bad(self.field_for(exc.input) or self.client_id, in_words(exc))
                else:
                    if spec.requires_secret and not secret:
                        bad(self.client_secret, f"{spec.display_name} requires the client secret of your app.")
            kwargs["preset"] = key
            kwargs["preset_params"] = params
        kwargs.update(self.advanced.request_kwargs(bad))
        name = self.name.text
        taken = self._taken_names()
        if name and name.casefold() in taken:
            bad(self.name, f"An account named {name!r} already exists. Choose another display name.")
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

    def field_for(self, which: Input | None) -> Field | None:
        """The field where an error about `which` input belongs (errors name inputs, never fields or flags)."""
        fields: dict[str, Field] = {
            Input.ISSUER: self.issuer,
            Input.AUTHORIZATION_ENDPOINT: self.auth_endpoint,
            Input.TOKEN_ENDPOINT: self.token_endpoint,
            Input.REVOCATION_ENDPOINT: self.revocation_endpoint,
            Input.CLIENT_ID: self.client_id,
            Input.CLIENT_SECRET: self.client_secret,
            Input.SCOPES: self.scopes,
            Input.NAME: self.name,
            Input.REDIRECT_PORT: self.advanced.port,
            Input.REDIRECT_PATH: self.advanced.path,
            **self.param_fields,  # keyed by parameter name, which is its Input's value
        }
        return None if which is None else fields.get(which)

    def _mark(self, exc: TokendeskError) -> bool:
        """Show an error of a submitted request at the field it is about; False when no field on show is."""
        field = self.field_for(exc.input)
        if field is None:
            return False
        if field in self.advanced.fields():
            self.advanced.toggle.setChecked(True)  # folded away: open it, or the message would be hidden
        if not field.isVisibleTo(self.form_page):  # not the other mode's fields (the page may be hidden now)
            return False
        self._task = None
        self._show_page(self.form_page)
        field.set_error(in_words(exc))
        field.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self.connect_button.setEnabled(True)
        return True

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
        except TokendeskError as exc:
            if self._mark(exc):  # about one input (the issuer that did not answer, a port): said next to it
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
            text = in_words(exc).rstrip(".") + ". Nothing was saved."  # the core's text says what happened
        elif isinstance(exc, TokendeskError):
            text = in_words(exc)
            if self.reconnecting is None and self._mark(exc):  # about one input: said next to it
                self.finished_with.emit(text)
                return
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
