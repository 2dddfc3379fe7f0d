"""The main window's parts: the empty state, the banner, buttons that follow their QAction, a confirmation."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from . import icons
from .badges import Tone
from .delegate import tone_colors

MARGIN_PX = 12


class ActionButton(QPushButton):
    """A push button for a QAction: triggers it, and follows its enabled state; the tooltip names the shortcut.

    The window keeps its actions as attributes and finds a button by its action (MainWindow.button), never by
    the label, which may differ from the action's text ("Copy token")."""

    def __init__(self, action: QAction, text: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(text or action.text(), parent)
        self.action = action
        self.clicked.connect(action.trigger)
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.setToolTip(f"{action.toolTip()} ({shortcut})" if shortcut else action.toolTip())
        self.setAccessibleName(action.text().rstrip("…"))
        action.changed.connect(self._follow)  # bound: dropped with the button
        self._follow()

    def _follow(self) -> None:
        self.setEnabled(self.action.isEnabled())


def ask(parent: QWidget, title: str, text: str, yes: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    confirm = box.addButton(yes, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is confirm


class EmptyState(QWidget):
    def __init__(self, connect: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addStretch(1)
        glyph = QLabel()
        glyph.setPixmap(icons.app_icon().pixmap(64, 64))
        glyph.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("No accounts yet")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setWeight(font.Weight.DemiBold)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "Connect an OAuth 2.0 or OpenID Connect account, and Tokendesk keeps its access token fresh "
            "in the background. Tokens stay in your system keychain."
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setFixedWidth(380)
        button = ActionButton(connect)
        button.setDefault(True)
        layout.addWidget(glyph)
        layout.addSpacing(8)
        layout.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addSpacing(8)
        brow = QHBoxLayout()
        brow.addStretch(1)
        brow.addWidget(button)
        brow.addStretch(1)
        layout.addLayout(brow)
        layout.addStretch(2)
        self.button = button


class Banner(QFrame):
    """A calm, dismissable-by-itself notice above the list (e.g. waiting for the keychain)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(self.backgroundRole().AlternateBase)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(MARGIN_PX, 8, MARGIN_PX, 8)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout.addWidget(self.icon)
        layout.addWidget(self.label, 1)
        self.hide()

    def show_text(self, text: str, icon_name: str = "retrying") -> None:
        fg, _ = tone_colors(Tone.MUTED, self.palette())
        self.icon.setPixmap(icons.state_pixmap(icon_name, fg, 16, self.devicePixelRatioF()))
        self.label.setText(text)
        self.setAccessibleName(text)
        self.show()
