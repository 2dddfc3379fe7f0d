"""Account details: scopes, expiries, endpoints and the last refresh attempts. Never a token value."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.accounts import AccountRecord, AccountState
from desktop_app.core.revocation import revocation_url

from .badges import badge_for, duration
from .model import AccountListModel

HISTORY_MAX_PX = 240

# Attempt.outcome: "ok", "retrying", or the state a failure led to (its words, from core's table).
_OUTCOMES = {
    "ok": "Refreshed",
    "retrying": "Will retry",
    **{s.value: s.words for s in (AccountState.NEEDS_SIGN_IN, AccountState.CONFIG_ERROR, AccountState.ERROR)},
}


def when(at: float | None, now: float) -> str:
    if at is None:
        return "Unknown"
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
    delta = at - now
    if abs(delta) < 1:
        return f"{stamp} (now)"
    return f"{stamp} (in {duration(delta)})" if delta > 0 else f"{stamp} ({duration(-delta)} ago)"


def _expiry(at: float, now: float) -> str:
    return ("Expires " if at > now else "Expired ") + when(at, now)


def access_token_text(record: AccountRecord, now: float) -> str:
    """What is true now: a past expiry says Expired, and after a refused grant the token is not vouched for."""
    text = "No expiry given" if record.expires_at is None else _expiry(record.expires_at, now)
    if record.state is AccountState.NEEDS_SIGN_IN and (record.expires_at is None or record.expires_at > now):
        text += "; the provider may have revoked it with the grant"
    return text


def refresh_token_text(record: AccountRecord, now: float) -> str:
    if not record.has_refresh_token:
        return "None (the provider issued no refresh token)"
    if record.state is AccountState.NEEDS_SIGN_IN:
        return "Refused by the provider; Reconnect to sign in again"
    if record.refresh_expires_at is not None:
        return _expiry(record.refresh_expires_at, now)
    return "Present; its expiry is not known"


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
        self.history.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
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
        f["Access token"].setText(access_token_text(record, now))
        f["Refresh token"].setText(refresh_token_text(record, now))
        f["Last refresh"].setText(when(record.last_refresh_at, now) if record.last_refresh_at else "Never")

        while self.endpoints.rowCount():
            self.endpoints.removeRow(0)
        spec = record.provider
        for label, url in (
            ("Issuer", spec.issuer),
            ("Authorization", spec.authorization_endpoint),
            ("Token", spec.token_endpoint),
            ("Revocation", revocation_url(spec, record.client_id)),
            ("User info", spec.userinfo_endpoint),
            ("Redirect", f"http://{spec.redirect_host}:{spec.redirect_port or '<any port>'}{spec.redirect_path}"),
        ):
            # A read-only line: a long URL has no word breaks to wrap at, so it scrolls instead of
            # running off the dialog's edge, and it can still be selected and copied.
            value = QLineEdit(url or "—")
            value.setReadOnly(True)
            value.setFrame(False)
            value.setCursorPosition(0)
            value.setAccessibleName(f"{label} endpoint")
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
        # As tall as its rows (up to a cap, then it scrolls): no large empty box for a new account.
        rows = sum(self.history.rowHeight(r) for r in range(self.history.rowCount()))
        chrome = self.history.horizontalHeader().height() + 2 * self.history.frameWidth() + 4
        self.history.setMinimumHeight(min(chrome + rows, HISTORY_MAX_PX))
        self._fit_wrapped()

    def _fit_wrapped(self) -> None:
        # WORKAROUND: QFormLayout gives a word-wrapped QLabel the height of its unwrapped text, cutting a
        # long name or reason off below the first line; pin each label's height to what its width needs.
        changed = False
        for label in self._fields.values():
            width = label.width() if label.width() > 0 else label.sizeHint().width()
            needed = label.heightForWidth(width)
            if needed > 0 and label.minimumHeight() != needed:
                label.setMinimumHeight(needed)
                changed = True
        if changed and self.isVisible():
            self.adjustSize()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_wrapped()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_wrapped()

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
