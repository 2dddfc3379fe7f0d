"""The connect dialog's pages after the form: waiting for the browser, and the result of a reconnect; and the
strip the form shows while the issuer is checked."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


def page_title() -> QLabel:
    """A page's heading: a little larger than the text, demi-bold, wrapped."""
    title = QLabel()
    font = title.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)
    font.setWeight(font.Weight.DemiBold)
    title.setFont(font)
    title.setWordWrap(True)
    return title


class CheckingStrip(QWidget):
    """While the issuer is checked: says so, with a busy bar (the form's Cancel stops the check)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setMaximumWidth(120)
        bar.setAccessibleName("Checking the issuer")
        layout.addWidget(self.label, 1)
        layout.addWidget(bar)
        self.hide()


class WaitingPage(QWidget):
    """Waiting for the sign-in in the browser: the link to copy, a way to a device code, Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 12, 0, 0)
        v.setSpacing(12)
        self.title = page_title()
        self.text = QLabel(
            "Sign in and approve access in your browser, then come back here. If the browser did not open, "
            "copy the link and paste it into your browser."
        )
        self.text.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setAccessibleName("Waiting for the browser sign-in")
        v.addWidget(self.title)
        v.addWidget(self.text)
        v.addWidget(bar)
        v.addStretch(1)
        buttons = QHBoxLayout()
        self.copy_link_button = QPushButton("Copy link")
        self.copy_link_button.setEnabled(False)
        # Offered when the browser did not open and the provider has a device flow.
        self.device_instead_button = QPushButton("Sign in with a code instead")
        self.device_instead_button.hide()
        self.cancel_button = QPushButton("Cancel")
        buttons.addWidget(self.copy_link_button)
        buttons.addWidget(self.device_instead_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        v.addLayout(buttons)


class ResultPage(QWidget):
    """How a reconnect ended, with Try again and Close."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 12, 0, 0)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.text)
        v.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.retry_button = QPushButton("Try again")
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.close_button)
        v.addLayout(buttons)
