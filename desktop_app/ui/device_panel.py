"""The connect dialog's page for signing in on another device (RFC 8628): the code, its page, Copy, Cancel."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.providers import PRESETS

from .connect_pages import page_title

if TYPE_CHECKING:
    from desktop_app.core.device import DeviceCode

SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard


def offer_device(box: QCheckBox, preset: str | None, use_issuer: QRadioButton) -> None:
    """Enable the form's "another device" box only where the provider has a device flow; for a custom
    issuer discovery will tell (and connecting says so if it has none)."""
    if preset is None:
        offered = use_issuer.isChecked()
        why = "If the issuer's metadata names a device authorization endpoint (RFC 8628)."
    else:
        offered = bool(PRESETS[preset].template.device_authorization_endpoint)
        why = "Shows a code to enter in a browser elsewhere." if offered else "This provider has no device flow."
    box.setEnabled(offered)
    if not offered:
        box.setChecked(False)
    box.setToolTip(why)


class DevicePanel(QWidget):
    """Shows what the user types elsewhere. The user code is meant to be read out and typed, so it is shown
    and copied as plain text (the device code, the actual secret, never reaches this widget)."""

    # The sign-in page's link was activated. A signal, not a stored callback: a callable kept here that
    # refers to the dialog would tie the dialog's life to the garbage collector (tests/ui/test_lifetime.py).
    link_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code: DeviceCode | None = None
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 12, 0, 0)
        v.setSpacing(10)
        self.title = page_title()
        font = self.title.font()
        self.instructions = QLabel()
        self.instructions.setWordWrap(True)
        self.link = QLabel()
        self.link.setAccessibleName("Sign-in page")
        self.link.setTextFormat(Qt.TextFormat.RichText)
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.link.setOpenExternalLinks(False)  # through the dialog's opener, which tests replace
        self.link.linkActivated.connect(self.link_activated)
        self.link.setWordWrap(True)

        self.user_code = QLabel()
        self.user_code.setAccessibleName("Code")
        code_font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        code_font.setPointSizeF(max(code_font.pointSizeF(), font.pointSizeF()) * 2.2)
        code_font.setWeight(code_font.Weight.Bold)
        code_font.setLetterSpacing(code_font.SpacingType.PercentageSpacing, 110)
        self.user_code.setFont(code_font)
        self.user_code.setTextInteractionFlags(SELECTABLE)
        self.user_code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.copy_button = QPushButton("Copy code")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_code)
        code_row = QHBoxLayout()
        code_row.addStretch(1)
        code_row.addWidget(self.user_code)
        code_row.addSpacing(12)
        code_row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignVCenter)
        code_row.addStretch(1)

        self.status = QLabel()
        self.status.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setAccessibleName("Waiting for the sign-in on the other device")
        for widget in (self.title, self.instructions, self.link):
            v.addWidget(widget)
        v.addLayout(code_row)
        v.addWidget(self.status)
        v.addWidget(bar)
        v.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        buttons.addWidget(self.cancel_button)
        v.addLayout(buttons)

    def preparing(self, provider: str) -> None:
        """Before the provider answered with a code."""
        self.code = None
        self.title.setText(f"Sign in to {provider} on another device")
        self.instructions.setText(f"Asking {provider} for a code…")
        self.link.clear()
        self.user_code.clear()
        self.status.clear()
        self.copy_button.setEnabled(False)
        self.copy_button.setText("Copy code")
        self.cancel_button.setFocus()

    def show_code(self, code: DeviceCode, now: float | None = None) -> None:
        self.code = code
        self.instructions.setText("On a phone or any computer with a browser, open this page and enter the code below:")
        url = html.escape(code.verification_uri, quote=True)
        text = f'<a href="{url}">{url}</a>'
        if code.verification_uri_complete:
            full = html.escape(code.verification_uri_complete, quote=True)
            text += f'<br><small>or <a href="{full}">open it with the code filled in</a></small>'
        self.link.setText(text)
        self.user_code.setText(code.user_code)
        self.copy_button.setEnabled(True)
        minutes = max(1, round((code.expires_at - (time.time() if now is None else now)) / 60))
        self.status.setText(
            f"Waiting for you to approve the sign-in there. The code expires in {minutes} "
            f"minute{'s' if minutes != 1 else ''}."
        )
        self.copy_button.setFocus()

    def copy_code(self) -> None:
        if self.code is not None:
            QGuiApplication.clipboard().setText(self.code.user_code)
            self.copy_button.setText("Code copied")
