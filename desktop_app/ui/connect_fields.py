"""The connect dialog's inputs: a line edit with its own error line, and the small helpers around it."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from .badges import Tone
from .delegate import tone_colors

CUSTOM = "custom"
CUSTOM_LABEL = "Custom OpenID Connect / OAuth 2.0"


def confirm_discard(parent: QWidget) -> bool:
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


def line_field(placeholder: str = "", name: str = "", *, password: bool = False, url: bool = False) -> Field:
    editor = QLineEdit()
    editor.setPlaceholderText(placeholder)
    editor.setAccessibleName(name)
    editor.setClearButtonEnabled(not password)
    if password:
        editor.setEchoMode(QLineEdit.EchoMode.Password)
    field = Field(editor)
    field.url = url
    return field


class CustomProviderBox(QWidget):
    """A provider without a preset: its issuer URL (endpoints by discovery), or the endpoints typed by hand."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = custom = QFormLayout(self)
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
        self.issuer = line_field("https://login.example.com", "Issuer URL", url=True)
        self.auth_endpoint = line_field(
            "https://login.example.com/oauth2/authorize", "Authorization endpoint", url=True
        )
        self.token_endpoint = line_field("https://login.example.com/oauth2/token", "Token endpoint", url=True)
        self.revocation_endpoint = line_field("Optional", "Revocation endpoint", url=True)
        custom.addRow("&Issuer URL:", self.issuer)
        custom.addRow("&Authorization endpoint:", self.auth_endpoint)
        custom.addRow("&Token endpoint:", self.token_endpoint)
        custom.addRow("Re&vocation endpoint:", self.revocation_endpoint)

    def show_mode(self) -> None:
        """Show the issuer field or the endpoint fields (with their labels), as the mode says."""
        issuer = self.use_issuer.isChecked()
        for field, show in (
            (self.issuer, issuer),
            (self.auth_endpoint, not issuer),
            (self.token_endpoint, not issuer),
            (self.revocation_endpoint, not issuer),
        ):
            field.setVisible(show)
            label = self.form.labelForField(field)
            if label is not None:
                label.setVisible(show)
