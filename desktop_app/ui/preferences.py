"""Preferences: running in the background, start at login, clipboard export times."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from . import autostart
from .settings import Settings


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._settings = settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        form = QFormLayout()
        self.close_to_tray = QCheckBox("Keep running in the background when the window is closed")
        self.close_to_tray.setChecked(settings.close_to_tray)
        self.autostart = QCheckBox("Start Tokendesk at login (in the background)")
        self.autostart.setChecked(autostart.is_enabled())
        reason = autostart.unsupported_reason()
        if reason is not None:
            self.autostart.setEnabled(False)
            self.autostart.setToolTip(reason)
        self.min_valid = QSpinBox()
        self.min_valid.setRange(0, 60)
        self.min_valid.setSuffix(" min")
        self.min_valid.setValue(settings.copy_min_valid_s // 60)
        self.min_valid.setAccessibleName("Copied tokens stay valid for at least")
        self.clear_after = QSpinBox()
        self.clear_after.setRange(0, 600)
        self.clear_after.setSuffix(" s")
        self.clear_after.setSpecialValueText("Never")
        self.clear_after.setValue(settings.clear_after_s)
        self.clear_after.setAccessibleName("Clear the clipboard after")
        form.addRow(self.close_to_tray)
        form.addRow(self.autostart)
        form.addRow("Copied tokens stay valid for at least:", self.min_valid)
        form.addRow("Clear the clipboard after:", self.clear_after)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        self._settings.close_to_tray = self.close_to_tray.isChecked()
        self._settings.copy_min_valid_s = self.min_valid.value() * 60
        self._settings.clear_after_s = self.clear_after.value()
        self._settings.sync()
        if self.autostart.isEnabled() and self.autostart.isChecked() != autostart.is_enabled():
            try:
                autostart.set_enabled(self.autostart.isChecked())
            except (OSError, NotImplementedError) as exc:
                QMessageBox.warning(self, "Start at login", f"Could not change the login item: {exc}")
                return
        super().accept()
