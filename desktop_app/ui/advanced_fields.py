"""The connect dialog's Advanced part: the redirect port and path for registrations matched exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop_app.core.errors import UsageError
from desktop_app.core.providers import MAX_REDIRECT_PORT, MIN_REDIRECT_PORT, check_redirect_path

if TYPE_CHECKING:
    from .connect_fields import Field


class AdvancedFields(QWidget):
    """Folded away by default: most servers accept any loopback port (RFC 8252 §7.3)."""

    # Folded or unfolded: the dialog refits. A signal rather than a stored callback, which would keep the dialog
    # alive in a reference cycle only the garbage collector breaks (tests/ui/test_lifetime.py).
    resized = Signal()

    def __init__(self, make_field: Callable[[str, str], Field], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.toggle = QToolButton()
        self.toggle.setText("Advanced")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        layout.addWidget(self.toggle)
        self.body = QWidget()
        form = QFormLayout(self.body)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.port = make_field("Any free port", "Redirect port")
        self.path = make_field("/callback", "Redirect path")
        form.addRow("Redirect p&ort:", self.port)
        form.addRow("Redirect pa&th:", self.path)
        note = QLabel(
            "Only if the app registration names one exact redirect URI, such as http://127.0.0.1:8765/callback: "
            f"enter its port ({MIN_REDIRECT_PORT}-{MAX_REDIRECT_PORT}) and path."
        )
        note.setWordWrap(True)
        form.addRow(note)
        self.body.hide()
        layout.addWidget(self.body)
        self.toggle.toggled.connect(self._expand)

    def _expand(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.body.setVisible(shown)
        self.resized.emit()

    def fields(self) -> list[Field]:
        return [self.port, self.path]

    def request_kwargs(self, bad: Callable[[Field, str], None]) -> dict[str, Any]:
        """ConnectRequest arguments for what was typed; each bad value is marked (and the part unfolded)."""
        kwargs: dict[str, Any] = {}
        if self.port.text:
            try:
                port = int(self.port.text)
            except ValueError:
                port = 0
            if MIN_REDIRECT_PORT <= port <= MAX_REDIRECT_PORT:
                kwargs["redirect_port"] = port
            else:
                bad(
                    self.port,
                    f"Enter a port from {MIN_REDIRECT_PORT} to {MAX_REDIRECT_PORT}; lower ports can only be opened "
                    "by root.",
                )
        if self.path.text:
            try:
                kwargs["redirect_path"] = check_redirect_path(self.path.text)
            except UsageError as exc:
                bad(self.path, str(exc))
        if len(kwargs) < sum(1 for f in self.fields() if f.text):
            self.toggle.setChecked(True)
        return kwargs
