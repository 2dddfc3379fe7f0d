"""Notifications inside a Flatpak: the portal's org.freedesktop.portal.Notification (jeepney, asyncio).

Inside the sandbox the notification portal is the desktop's own way in: it needs no talk-name, and the
desktop knows which app sent what (its settings, its icon). Outside a sandbox nothing uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .notify import URGENCY_CRITICAL, URGENCY_LOW, URGENCY_NORMAL, BusClient

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
INTERFACE = "org.freedesktop.portal.Notification"
FLATPAK_INFO = Path("/.flatpak-info")  # flatpak puts it at the root of every sandbox, and only there
DEFAULT_ACTION = "default"  # the action key (as org.freedesktop.Notifications names it) of a click on the body
PRIORITIES = {URGENCY_LOW: "low", URGENCY_NORMAL: "normal", URGENCY_CRITICAL: "urgent"}


def in_flatpak(info: Path = FLATPAK_INFO) -> bool:
    return info.exists()


def portal_notification(
    title: str, body: str, *, priority: str, actions: Sequence[tuple[str, str]]
) -> dict[str, tuple[str, Any]]:
    """AddNotification's a{sv}: the "default" action becomes the click on the notification, the rest buttons.

    Only keys every portal version accepts (it refuses a notification with a key it does not know), and
    action names without "app.": those come back as the ActionInvoked signal instead of activating the app.
    """
    notification: dict[str, tuple[str, Any]] = {
        "title": ("s", title),
        "body": ("s", body),
        "priority": ("s", priority),
    }
    if any(key == DEFAULT_ACTION for key, _ in actions):
        notification["default-action"] = ("s", DEFAULT_ACTION)
    buttons = [{"label": ("s", label), "action": ("s", key)} for key, label in actions if key != DEFAULT_ACTION]
    if buttons:
        notification["buttons"] = ("aa{sv}", buttons)
    return notification


class PortalNotificationClient(BusClient):
    """Adds notifications through the portal; `on_action(id, key)` hears the actions clicked on them.

    The ids are ours: adding one with an id already shown replaces that notification. The portal says
    nothing of whether one was shown; it only sends ActionInvoked to the app that added the notification.
    `notify` returns None when the portal did not take the message (no portal, no Notification backend
    behind it, an error), as NotificationClient does.
    """

    SIGNALS = (INTERFACE, PORTAL_PATH)

    def __init__(self, address: str | None, on_action: Callable[[str, str], None]) -> None:
        super().__init__(address)
        self._on_action = on_action
        self._ours: set[str] = set()  # ids we added: only those are ours to report

    def _signal(self, member: str, body: tuple[Any, ...]) -> None:
        # ActionInvoked(s id, s action, av parameter): the parameter is the action's target, which we never set.
        if member == "ActionInvoked" and len(body) == 3 and body[0] in self._ours:
            self._on_action(str(body[0]), str(body[1]))

    async def notify(
        self, note_id: str, title: str, body: str, *, priority: str = "normal", actions: Sequence[tuple[str, str]] = ()
    ) -> str | None:
        """`note_id` once the portal took it, else None."""
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=INTERFACE)
        notification = portal_notification(title, body, priority=priority, actions=actions)
        call = new_method_call(address, "AddNotification", "sa{sv}", (note_id, notification))
        # Ours before the reply comes (the portal answers before it shows anything); an earlier one with this
        # id stays ours if the new one is refused, as it may still be on screen.
        known = note_id in self._ours
        self._ours.add(note_id)
        if await self._call(call, "the notification portal refused it") is None:
            if not known:
                self._ours.discard(note_id)
            return None
        return note_id
