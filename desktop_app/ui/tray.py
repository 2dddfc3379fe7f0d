"""The tray icon (worst account state), its menu, and one notification per needs-sign-in transition."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.core.accounts import AccountRecord

from . import icons
from .badges import Badge, Tone
from .delegate import _LIGHT

NOTIFY_COALESCE_MS = 300  # needs-sign-in events this close together become one summary
NOTIFY_TIMEOUT_MS = 10_000


def _tray_icon(worst: Badge | None) -> QIcon:
    base = icons.app_icon()
    if worst is None or worst.tone in (Tone.OK, Tone.BUSY):
        return base
    out = QIcon()
    color = QColor(_LIGHT[worst.tone])
    for size in (16, 22, 24, 32, 48, 64):
        pm = base.pixmap(size, size)
        with QPainter(pm) as p:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            half = size * 0.55
            p.setBrush(QColor("white"))
            p.setPen(QColor("white"))
            p.drawEllipse(int(size - half), int(size - half), int(half), int(half))
            icons.state_icon(worst.icon, color).paint(
                p, int(size - half) + 1, int(size - half) + 1, int(half) - 2, int(half) - 2
            )
        out.addPixmap(pm)
    return out


class Tray(QObject):
    openRequested = Signal(str)  # account id, or "" for just the window
    copyRequested = Signal(str)  # account id
    refreshAllRequested = Signal()
    quitRequested = Signal()
    notified = Signal(str, str)  # title, body: every notification shown (tests and the window banner listen)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self._icon = QSystemTrayIcon(self)
        self._icon.setIcon(icons.app_icon())
        self._icon.setToolTip("Tokendesk")
        self._menu = QMenu()
        self._icon.setContextMenu(self._menu)
        self._icon.activated.connect(self._activated)
        self._icon.messageClicked.connect(self._message_clicked)
        self._pending: list[tuple[AccountRecord, str]] = []
        self._clicked_target = ""
        self._notify_timer_ms = QTimer(self)
        self._notify_timer_ms.setSingleShot(True)
        self._notify_timer_ms.setInterval(NOTIFY_COALESCE_MS)
        self._notify_timer_ms.timeout.connect(self._flush)
        self._entries: list[tuple[str, str]] | None = None
        self.rebuild([], None)

    def show(self) -> None:
        if self.available:
            self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    @property
    def menu(self) -> QMenu:
        return self._menu

    def rebuild(self, records: list[AccountRecord], worst: Badge | None) -> None:
        self._icon.setIcon(_tray_icon(worst))
        self._icon.setToolTip("Tokendesk" + (f" — {worst.text}" if worst and worst.rank > 0 else ""))
        entries = [(r.id, r.name) for r in records]
        if entries == self._entries:
            return  # only badges changed: the menu itself is the same
        self._entries = entries
        self._menu.clear()
        self._action("Open Tokendesk", lambda: self.openRequested.emit(""))
        self._menu.addSeparator()
        for record in records:
            self._action(f"Copy token: {record.name}", lambda rid=record.id: self.copyRequested.emit(rid))
        if records:
            self._menu.addSeparator()
        refresh = self._action("Refresh all", self.refreshAllRequested.emit)
        refresh.setEnabled(bool(records))
        self._menu.addSeparator()
        self._action("Quit", self.quitRequested.emit)

    def _action(self, text: str, slot: object) -> QAction:
        action = QAction(text, self._menu)
        action.triggered.connect(slot)
        self._menu.addAction(action)
        return action

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit("")

    # --- notifications ----------------------------------------------------------------------------

    def needs_sign_in(self, record: AccountRecord, reason: str) -> None:
        """Queue a notification; the core raises this once per transition, several at once are summarised."""
        self._pending = [(r, why) for r, why in self._pending if r.id != record.id]
        self._pending.append((record, reason))
        self._notify_timer_ms.start()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if len(pending) == 1:
            record, reason = pending[0]
            title = f"{record.name} needs sign-in"
            body = f"{reason}\nClick to reconnect."
        else:
            names = [r.name for r, _ in pending]
            title = f"{len(pending)} accounts need sign-in"
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            body = f"{shown}.\nClick to open Tokendesk."
        self._clicked_target = pending[0][0].id
        self._show(title, body, QSystemTrayIcon.MessageIcon.Warning)

    def notify(self, title: str, body: str) -> None:
        """An informational notification; clicking it just opens the window."""
        self._clicked_target = ""
        self._show(title, body, QSystemTrayIcon.MessageIcon.Information)

    def _show(self, title: str, body: str, kind: QSystemTrayIcon.MessageIcon) -> None:
        if self.available and self._icon.isVisible():
            self._icon.showMessage(title, body, kind, NOTIFY_TIMEOUT_MS)
        self.notified.emit(title, body)

    def _message_clicked(self) -> None:
        self.openRequested.emit(self._clicked_target)

    def simulate_message_click(self) -> None:
        """What clicking the last notification does (the offscreen platform has no tray to click)."""
        self._message_clicked()
