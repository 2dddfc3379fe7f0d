"""Desktop notifications as Qt sees them: core's D-Bus clients, their action clicks as a Qt signal."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Signal

from desktop_app.core.notify import URGENCY_CRITICAL, URGENCY_NORMAL, NotificationClient
from desktop_app.core.portal_notify import FLATPAK_INFO, PRIORITIES, PortalNotificationClient, in_flatpak
from desktop_app.core.sessionbus import session_bus_address

from . import icons

__all__ = ["SESSION", "URGENCY_CRITICAL", "URGENCY_NORMAL", "DesktopNotifications"]

SESSION = "session"  # the user's session bus, found the way libdbus finds it


class DesktopNotifications(QObject):
    """`notify` says whether the desktop's notification service took the message; no tray needed.

    Inside a Flatpak (`flatpak_info` exists) the notification portal goes first; the freedesktop service,
    which the manifest also lets the sandbox reach, only when the portal does not take the message (a
    desktop whose portal has no Notification backend).
    """

    actionInvoked = Signal(str, str)  # the tag given to notify(), the action key ("default", "reconnect", …)

    def __init__(
        self, address: str | None = SESSION, *, flatpak_info: Path = FLATPAK_INFO, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        bus = session_bus_address() if address == SESSION else address
        self._client = NotificationClient(bus, "Tokendesk", self._action)
        self._portal = PortalNotificationClient(bus, self._action) if in_flatpak(flatpak_info) else None
        self._tags: dict[int | str, str] = {}  # the freedesktop service's ids and our portal ids -> tag
        # Portal ids outlive the app (an earlier run's may still be on screen): untagged ones carry this run's mark.
        self._run = os.urandom(4).hex()
        self._count = itertools.count(1)
        self._via_portal = False

    @property
    def actions_supported(self) -> bool:
        # The portal always takes buttons (its backend shows them or does without); the service says.
        return self._via_portal or self._client.actions_supported

    async def notify(
        self,
        title: str,
        body: str,
        *,
        tag: str = "",
        actions: Sequence[tuple[str, str]] = (),
        urgency: int = URGENCY_NORMAL,
    ) -> bool:
        """Show a notification; False when there is no service (the caller falls back to the tray).

        Through the portal a tagged notification replaces the one shown before with the same tag (one per
        account, not a stack of them); the freedesktop service gets each as a new one, as before.
        """
        if self._portal is not None:
            note = f"tag:{tag}" if tag else f"note:{self._run}:{next(self._count)}"
            priority = PRIORITIES.get(urgency, "normal")
            if await self._portal.notify(note, title, body, priority=priority, actions=actions) is not None:
                self._tags[note] = tag
                self._via_portal = True
                return True
        hints = {"desktop-entry": ("s", icons.APP_ID), "urgency": ("y", urgency)}
        note_id = await self._client.notify(title, body, icon=icons.APP_ID, hints=hints, actions=actions)
        if note_id is None:
            return False
        self._tags[note_id] = tag
        return True

    def _action(self, note: int | str, key: str) -> None:
        if shiboken6.isValid(self) and note in self._tags:  # deleted with its tray: nobody listens
            self.actionInvoked.emit(self._tags[note], key)

    async def aclose(self) -> None:
        if self._portal is not None:
            await self._portal.aclose()
        await self._client.aclose()
