"""Account details: scopes, expiries, endpoints and the last refresh attempts. Never a token value."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.accounts import AccountRecord

from .badges import badge_for, duration
from .model import AccountListModel

_OUTCOMES = {
    "ok": "Refreshed",
    "retrying": "Will retry",
    "needs_sign_in": "Needs sign-in",
    "config_error": "Configuration error",
    "error": "Error",
}


def when(at: float | None, now: float) -> str:
    if at is None:
        return "Unknown"
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
    delta = at - now
    if abs(delta) < 1:
        return f"{stamp} (now)"
    return f"{stamp} (in {duration(delta)})" if delta > 0 else f"{stamp} ({duration(-delta)} ago)"


class DetailsDialog(QDialog):
    def __init__(self, record: AccountRecord, *, now: Callable[[], float], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._now = now
        self._model: AccountListModel | None = None
        self.account_id = record.id
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(12)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._fields: dict[str, QLabel] = {}
        for key in (
            "Account",
            "Signed in as",
            "Provider",
            "Status",
            "Scopes",
            "Access token",
            "Refresh token",
            "Last refresh",
        ):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._fields[key] = label
            self.form.addRow(f"{key}:", label)
        layout.addLayout(self.form)

        endpoints = QGroupBox("Provider endpoints")
        self.endpoints = QFormLayout(endpoints)
        layout.addWidget(endpoints)

        history = QGroupBox("Last refresh attempts")
        hl = QVBoxLayout(history)
        self.history = QTableWidget(0, 3)
        self.history.setHorizontalHeaderLabels(["Time", "Outcome", "Details"])
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.setWordWrap(True)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.history.setAccessibleName("Last refresh attempts")
        self.history.setMinimumHeight(160)
        hl.addWidget(self.history)
        layout.addWidget(history, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.show_record(record)

    def show_record(self, record: AccountRecord) -> None:
        now = self._now()
        self.setWindowTitle(f"{record.name} — Details")
        f = self._fields
        f["Account"].setText(record.name)
        f["Signed in as"].setText(record.identity.label())
        f["Provider"].setText(f"{record.provider.display_name} (client ID {record.client_id})")
        status = badge_for(record, now).text
        for extra in (record.last_error, record.advice):
            if extra:
                status += f"\n{extra}"
        f["Status"].setText(status)
        f["Scopes"].setText(" ".join(record.scopes) or "None requested")
        f["Access token"].setText("Expires " + when(record.expires_at, now) if record.expires_at else "No expiry given")
        if not record.has_refresh_token:
            f["Refresh token"].setText("None (the provider issued no refresh token)")
        elif record.refresh_expires_at is not None:
            f["Refresh token"].setText("Expires " + when(record.refresh_expires_at, now))
        else:
            f["Refresh token"].setText("Present; its expiry is not known")
        f["Last refresh"].setText(when(record.last_refresh_at, now) if record.last_refresh_at else "Never")

        while self.endpoints.rowCount():
            self.endpoints.removeRow(0)
        spec = record.provider
        for label, url in (
            ("Issuer", spec.issuer),
            ("Authorization", spec.authorization_endpoint),
            ("Token", spec.token_endpoint),
            ("Revocation", spec.revocation_endpoint),
            ("User info", spec.userinfo_endpoint),
        ):
            value = QLabel(url or "—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.endpoints.addRow(f"{label}:", value)

        attempts = list(reversed(record.history[-20:]))
        self.history.setRowCount(len(attempts))
        for row, attempt in enumerate(attempts):
            cells = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(attempt.at)),
                _OUTCOMES.get(attempt.outcome, attempt.outcome),
                attempt.detail or "",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.history.setItem(row, col, item)
        if not attempts:
            self.history.setRowCount(1)
            self.history.setItem(0, 2, QTableWidgetItem("No refresh attempts yet."))
        self.history.resizeRowsToContents()

    def follow(self, model: AccountListModel) -> None:
        """Show this account's updates while open.

        The slot is a bound method of the dialog, so Qt drops the connection when the dialog is deleted;
        a closure would outlive it and touch a deleted C++ object on the next update.
        """
        self._model = model
        model.dataChanged.connect(self._model_changed)

    def _model_changed(self, *_: Any) -> None:
        record = self._model.record(self.account_id) if self._model is not None else None
        if record is not None and self.isVisible():
            self.show_record(record)
