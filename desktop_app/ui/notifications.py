"""Desktop notifications as Qt sees them: core.notify's D-Bus client, its action clicks as a Qt signal."""

from __future__ import annotations

from collections.abc import Sequence

import shiboken6
from PySide6.QtCore import QObject, Signal

from desktop_app.core.notify import URGENCY_CRITICAL, URGENCY_NORMAL, NotificationClient, session_bus_address

from . import icons

__all__ = ["SESSION", "URGENCY_CRITICAL", "URGENCY_NORMAL", "DesktopNotifications"]

SESSION = "session"  # the user's session bus, found the way libdbus finds it


class DesktopNotifications(QObject):
    """`notify` says whether the desktop's notification service took the message; no tray needed."""

    actionInvoked = Signal(str, str)  # the tag given to notify(), the action key ("default", "reconnect", …)

    def __init__(self, address: str | None = SESSION, *, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = NotificationClient(
            session_bus_address() if address == SESSION else address, "Tokendesk", self._action
        )
        self._tags: dict[int, str] = {}

    @property
    def actions_supported(self) -> bool:
        return self._client.actions_supported

    async def notify(
        self,
        title: str,
        body: str,
        *,
        tag: str = "",
        actions: Sequence[tuple[str, str]] = (),
        urgency: int = URGENCY_NORMAL,
    ) -> bool:
        """Show a notification; False when there is no service (the caller falls back to the tray)."""
        hints = {"desktop-entry": ("s", icons.APP_ID), "urgency": ("y", urgency)}
        note_id = await self._client.notify(title, body, icon=icons.APP_ID, hints=hints, actions=actions)
        if note_id is None:
            return False
        self._tags[note_id] = tag
        return True

    def _action(self, note_id: int, key: str) -> None:
        if shiboken6.isValid(self) and note_id in self._tags:  # deleted with its tray: nobody listens
            self.actionInvoked.emit(self._tags[note_id], key)

    async def aclose(self) -> None:
        await self._client.aclose()
