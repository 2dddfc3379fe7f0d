"""The tray icon (worst account state), its menu, and one notification per needs-sign-in transition."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.core.accounts import AccountRecord

from . import icons
from .badges import Badge, Tone
from .delegate import _LIGHT
from .notifications import URGENCY_CRITICAL, URGENCY_NORMAL, DesktopNotifications

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

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
            glyph = icons.state_pixmap(worst.icon, color, int(half) - 2, pm.devicePixelRatio())
            p.drawPixmap(int(size - half) + 1, int(size - half) + 1, glyph)
        out.addPixmap(pm)
    return out


class Tray(QObject):
    """The tray icon when there is a tray, and the app's notifications whether or not there is one."""

    openRequested = Signal(str)  # account id, or "" for just the window
    reconnectRequested = Signal(str)  # account id: a notification's Reconnect action
    copyRequested = Signal(str)  # account id
    refreshAllRequested = Signal()
    quitRequested = Signal()
    notified = Signal(str, str, str)  # title, body, how ("desktop", "tray" or "none"): every notification

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        notifications: DesktopNotifications | None = None,
        available: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable() if available is None else available
        self.notifications = notifications or DesktopNotifications(None)
        self.notifications.setParent(self)
        self.notifications.actionInvoked.connect(self._action_invoked)
        self._icon = QSystemTrayIcon(self)
        self._icon.setIcon(icons.app_icon())
        self._icon.setToolTip("Tokendesk")
        self._menu = QMenu()
        self._menu.triggered.connect(self._menu_triggered)
        self._icon.setContextMenu(self._menu)
        self._icon.activated.connect(self._activated)
        self._icon.messageClicked.connect(self._message_clicked)
        self._pending: list[tuple[AccountRecord, str]] = []
        self._clicked_target = ""
        self._sending: set[asyncio.Task[None]] = set()
        self._unsent: list[tuple[str, str, str, str, tuple[tuple[str, str], ...], int]] = []
        self._notify_timer_ms = QTimer(self)
        self._notify_timer_ms.setSingleShot(True)
        self._notify_timer_ms.setInterval(NOTIFY_COALESCE_MS)
        self._notify_timer_ms.timeout.connect(self._flush)
        self._entries: list[tuple[str, str]] | None = None
        self._refresh_action: QAction | None = None
        # The menu is built when someone can see it: at once with a tray, unless held (the app holds it
        # until the window's first paint: 1,000 accounts are 1,000 actions); without a tray, on first use.
        self._held = False
        self._records: list[AccountRecord] = []
        self._worst: Badge | None = None
        self._menu_stale = True
        self.rebuild([], None)

    def show(self) -> None:
        if self.available:
            self._icon.show()

    def hide(self) -> None:
        self._icon.hide()

    @property
    def menu(self) -> QMenu:
        self._build_menu()
        return self._menu

    @property
    def refresh_all_action(self) -> QAction | None:
        """The menu's "Refresh all" entry."""
        self._build_menu()
        return self._refresh_action

    def hold_menu(self) -> None:
        """Build no menu until release_menu(): the start-up holds it until after the first paint."""
        self._held = True

    def release_menu(self) -> None:
        self._held = False
        if self.available:
            self._build_menu()

    def rebuild(self, records: list[AccountRecord], worst: Badge | None) -> None:
        self._icon.setToolTip("Tokendesk" + (f" — {worst.text}" if worst and worst.rank > 0 else ""))
        self._records, self._worst, self._menu_stale = records, worst, True
        if self.available and not self._held:
            self._build_menu()

    def _paint_icon(self) -> None:
        """The badged icon (SVG renders at six sizes): painted with the menu, when someone can see it."""
        self._icon.setIcon(_tray_icon(self._worst))

    def _build_menu(self) -> None:
        if not self._menu_stale:
            return
        self._menu_stale = False
        self._paint_icon()
        records = self._records
        entries = [(r.id, r.name) for r in records]
        refreshable = any(not r.state.is_terminal for r in records)
        if entries == self._entries and self._refresh_action is not None:
            self._refresh_action.setEnabled(refreshable)
            return  # only badges changed: the menu itself is the same
        self._entries = entries
        self._menu.clear()
        self._action("Open Tokendesk", ("open", ""))
        self._menu.addSeparator()
        for record in records:
            self._action(f"Copy token: {record.name}", ("copy", record.id))
        if records:
            self._menu.addSeparator()
        self._refresh_action = self._action("Refresh all", ("refresh_all", ""))
        self._refresh_action.setEnabled(refreshable)
        self._menu.addSeparator()
        self._action("Quit", ("quit", ""))

    def _action(self, text: str, what: tuple[str, str]) -> QAction:
        # One bound slot on the menu dispatches on the action's data: a lambda per action, held by the
        # menu, would keep this tray (and the window that owns it) alive forever.
        action = QAction(text, self._menu)
        action.setData(list(what))
        self._menu.addAction(action)
        return action

    def _menu_triggered(self, action: QAction) -> None:
        kind, account_id = action.data()
        if kind == "open":
            self.openRequested.emit("")
        elif kind == "copy":
            self.copyRequested.emit(account_id)
        elif kind == "refresh_all":
            self.refreshAllRequested.emit()
        elif kind == "quit":
            self.quitRequested.emit()

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
            self._send(
                title,
                reason,
                "Click to reconnect.",
                tag=record.id,
                actions=(("default", "Reconnect"), ("reconnect", "Reconnect")),
                urgency=URGENCY_CRITICAL,
            )
            return
        names = [r.name for r, _ in pending]
        title = f"{len(pending)} accounts need sign-in"
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        self._send(
            title,
            f"{shown}.",
            "Click to open Tokendesk.",
            tag="",
            actions=(("default", "Open Tokendesk"),),
            urgency=URGENCY_CRITICAL,
        )

    @property
    def pending(self) -> bool:
        """A notification is waiting to be coalesced or is being sent."""
        return self._notify_timer_ms.isActive() or bool(self._sending) or bool(self._unsent)

    def notify(self, title: str, body: str) -> None:
        """An informational notification; clicking it just opens the window."""
        self._send(title, body, "", tag="", actions=(("default", "Open Tokendesk"),), urgency=URGENCY_NORMAL)

    def _send(
        self,
        title: str,
        body: str,
        click_hint: str,
        *,
        tag: str,
        actions: tuple[tuple[str, str], ...],
        urgency: int,
    ) -> None:
        message = (title, body, click_hint, tag, actions, urgency)
        if "asyncio" not in sys.modules or not _loop_running():
            # The window is up before the app's asyncio loop runs, and can be closed then. ensure_future would
            # put the task on a loop of its own that never runs: the message waits for start_sending().
            self._unsent.append(message)
            return
        self._start(*message)

    def _start(
        self, title: str, body: str, click_hint: str, tag: str, actions: tuple[tuple[str, str], ...], urgency: int
    ) -> None:
        import asyncio

        task = asyncio.ensure_future(self._deliver(title, body, click_hint, tag, actions, urgency))
        self._sending.add(task)  # strong reference until it is sent
        task.add_done_callback(self._sending.discard)

    def start_sending(self) -> None:
        """The app's asyncio loop is set: what was said before it ran goes out on its first turn."""
        import asyncio

        asyncio.get_event_loop().call_soon(self._send_unsent)

    def _send_unsent(self) -> None:
        unsent, self._unsent = self._unsent, []
        for message in unsent:
            self._start(*message)

    async def _deliver(
        self, title: str, body: str, click_hint: str, tag: str, actions: tuple[tuple[str, str], ...], urgency: int
    ) -> None:
        # The desktop's notification service first: it works without a tray and has buttons. The tray's
        # balloon only where that is all there is (a tray host, no service).
        ok = False
        try:
            ok = await self.notifications.notify(title, body, tag=tag, actions=actions, urgency=urgency)
        except Exception:
            log.exception("sending a notification failed")
        if not shiboken6.isValid(self):  # the window (and with it this tray) went away meanwhile
            return
        if ok:
            self.notified.emit(title, body, "desktop")
            return
        text = f"{body}\n{click_hint}" if click_hint else body
        self._clicked_target = tag
        if self.available and self._icon.isVisible():
            kind = (
                QSystemTrayIcon.MessageIcon.Warning
                if urgency == URGENCY_CRITICAL
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._icon.showMessage(title, text, kind, NOTIFY_TIMEOUT_MS)
            self.notified.emit(title, text, "tray")
        else:
            self.notified.emit(title, text, "none")

    def _action_invoked(self, tag: str, action: str) -> None:
        if action == "reconnect" or (action == "default" and tag):
            self.reconnectRequested.emit(tag)
        else:
            self.openRequested.emit(tag)

    def _message_clicked(self) -> None:
        self.openRequested.emit(self._clicked_target)

    def simulate_message_click(self) -> None:
        """What clicking the last balloon does (the offscreen platform has no tray to click)."""
        self._message_clicked()

    async def aclose(self) -> None:
        import asyncio

        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self.notifications.aclose()


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
