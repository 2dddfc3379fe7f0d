"""The account list model: AccountRecords with custom roles; badges tick per row, never by a reset."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from desktop_app.core.accounts import AccountRecord

from .badges import Badge, badge_for

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    RECORD = Qt.ItemDataRole.UserRole + 1
    ACCOUNT_ID = Qt.ItemDataRole.UserRole + 2
    IDENTITY = Qt.ItemDataRole.UserRole + 3
    PROVIDER_NAME = Qt.ItemDataRole.UserRole + 4
    PROVIDER_KEY = Qt.ItemDataRole.UserRole + 5
    BADGE_TEXT = Qt.ItemDataRole.UserRole + 6
    BADGE_TONE = Qt.ItemDataRole.UserRole + 7
    BADGE_ICON = Qt.ItemDataRole.UserRole + 8
    STATE = Qt.ItemDataRole.UserRole + 9
    ACCOUNT_NAME = Qt.ItemDataRole.UserRole + 10
    BADGE_RANK = Qt.ItemDataRole.UserRole + 11


class AccountListModel(QAbstractListModel):
    def __init__(self, now: Callable[[], float], parent: Any = None) -> None:
        super().__init__(parent)
        self._now = now
        self._records: list[AccountRecord] = []
        self._badges: list[Badge] = []

    # --- Qt model API -----------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._records)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(role.name.lower().encode()) for role in Role})
        return names

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid() or not 0 <= index.row() < len(self._records):
            return None
        record, badge = self._records[index.row()], self._badges[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return record.name  # what tells two rows apart, and what the CLI takes
        if role == Role.IDENTITY:
            return record.identity.label()
        if role == Qt.ItemDataRole.ToolTipRole:
            # Never a token here: only the state and the user-facing error text.
            lines = [record.name, badge.text]
            if record.last_error:
                lines.append(record.last_error)
            if record.advice:
                lines.append(record.advice)
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            who = record.identity.label()
            return ", ".join([record.name, *([who] if who not in record.name else []), badge.text])
        return {
            Role.RECORD: record,
            Role.ACCOUNT_ID: record.id,
            Role.ACCOUNT_NAME: record.name,
            Role.PROVIDER_NAME: record.provider.display_name,
            Role.PROVIDER_KEY: record.provider.key,
            Role.BADGE_TEXT: badge.text,
            Role.BADGE_TONE: badge.tone.value,
            Role.BADGE_ICON: badge.icon,
            Role.BADGE_RANK: badge.rank,
            Role.STATE: record.state.value,
        }.get(role)  # type: ignore[call-overload]

    # --- updates ----------------------------------------------------------------------------------

    def records(self) -> list[AccountRecord]:
        return list(self._records)

    def row_of(self, account_id: str) -> int:
        for row, record in enumerate(self._records):
            if record.id == account_id:
                return row
        return -1

    def record(self, account_id: str) -> AccountRecord | None:
        row = self.row_of(account_id)
        return None if row < 0 else self._records[row]

    def set_records(self, records: Iterable[AccountRecord]) -> None:
        """Bring the model to `records` with row-level inserts, removals and changes (views keep selection)."""
        wanted = list(records)
        if not self._records:
            # First load (start-up): one reset instead of a signal per row.
            now = self._now()
            self.beginResetModel()
            self._records = sorted(wanted, key=lambda r: r.created_at)
            self._badges = [badge_for(r, now) for r in self._records]
            self.endResetModel()
            return
        wanted_ids = {r.id for r in wanted}
        for row in reversed(range(len(self._records))):
            if self._records[row].id not in wanted_ids:
                self._remove_row(row)
        for record in wanted:
            self.upsert(record)

    def upsert(self, record: AccountRecord) -> None:
        row = self.row_of(record.id)
        badge = badge_for(record, self._now())
        if row >= 0:
            if self._records[row] == record and self._badges[row] == badge:
                return
            self._records[row], self._badges[row] = record, badge
            self.dataChanged.emit(self.index(row), self.index(row))
            return
        # Keep creation order, like the store does.
        row = len(self._records)
        while row > 0 and self._records[row - 1].created_at > record.created_at:
            row -= 1
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.insert(row, record)
        self._badges.insert(row, badge)
        self.endInsertRows()

    def remove(self, account_id: str) -> None:
        row = self.row_of(account_id)
        if row >= 0:
            self._remove_row(row)

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._records[row]
        del self._badges[row]
        self.endRemoveRows()

    def tick(self) -> int:
        """Recompute every badge; emit dataChanged only for rows whose badge changed. Returns that count."""
        now = self._now()
        changed = 0
        for row, record in enumerate(self._records):
            badge = badge_for(record, now)
            if badge != self._badges[row]:
                self._badges[row] = badge
                changed += 1
                index = self.index(row)
                roles = [Role.BADGE_TEXT, Role.BADGE_TONE, Role.BADGE_ICON, Role.BADGE_RANK]
                extra = [Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole]
                self.dataChanged.emit(index, index, [int(r) for r in roles] + [int(r) for r in extra])
        return changed

    def worst(self) -> Badge | None:
        return max(self._badges, key=lambda b: b.rank, default=None)
