"""Desktop notifications through org.freedesktop.Notifications on the session bus, with actions; no tray needed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from . import icons

if TYPE_CHECKING:
    from jeepney.io.asyncio import DBusConnection, DBusRouter
    from jeepney.low_level import Message

log = logging.getLogger(__name__)

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
CALL_TIMEOUT_S = 5.0  # a notification service that does not answer is treated as absent for that message
URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2
SESSION = "session"  # the user's session bus, found the way libdbus finds it
_MEMBER, _ERROR_NAME = 3, 4  # D-Bus header field codes (jeepney's HeaderFields is an IntEnum of these)


def session_bus_address() -> str | None:
    """DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket; None when there is no session bus."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "bus").exists():
        return f"unix:path={Path(runtime) / 'bus'}"
    return None


class DesktopNotifications(QObject):
    """Sends notifications and reports their actions; `notify` says whether a service took the message.

    PySide's QtDBus cannot marshal the UINT32 that Notify takes (a Python int becomes INT32 or, through
    QDBusArgument, UINT16), and GLib-based daemons reject the call over that, so this speaks D-Bus with
    jeepney (already there on Linux as keyring's Secret Service transport) on the qasync event loop.
    """

    actionInvoked = Signal(str, str)  # the tag given to notify(), the action key ("default", "reconnect", …)

    def __init__(self, address: str | None = SESSION, *, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._address = session_bus_address() if address == SESSION else address
        self._conn: DBusConnection | None = None
        self._router: DBusRouter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._opening: asyncio.Lock | None = None
        self._tags: dict[int, str] = {}  # notification id -> tag, for ours only (the signals are broadcast)
        self._capabilities: frozenset[str] = frozenset()
        self._broken = address is None

    @property
    def actions_supported(self) -> bool:
        """Known after the first successful notify(): whether buttons and a default click are possible."""
        return "actions" in self._capabilities

    async def _open(self) -> DBusRouter | None:
        if self._router is not None or self._broken:
            return self._router
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._router is None and not self._broken:
                try:
                    await asyncio.wait_for(self._connect(), CALL_TIMEOUT_S)
                except (OSError, EOFError, ValueError, KeyError, StopIteration, TimeoutError, ImportError) as exc:
                    log.info("no session bus for notifications (%s)", type(exc).__name__)
                    self._broken = True
                    await self._drop()
        return self._router

    async def _connect(self) -> None:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.asyncio import DBusRouter, open_dbus_connection

        assert self._address is not None
        self._conn = await open_dbus_connection(self._address)
        self._router = DBusRouter(self._conn)
        for member in ("ActionInvoked", "NotificationClosed"):
            rule = MatchRule(type="signal", interface=NAME, path=PATH, member=member)
            await self._router.send_and_get_reply(message_bus.AddMatch(rule))
        queue: asyncio.Queue[Message] = asyncio.Queue(64)
        self._listener = asyncio.ensure_future(self._listen(MatchRule(type="signal", interface=NAME), queue))

    async def _listen(self, rule: Any, queue: asyncio.Queue[Message]) -> None:
        assert self._router is not None
        with self._router.filter(rule, queue=queue):
            while True:
                message = await queue.get()
                if not shiboken6.isValid(self):  # deleted with its tray without aclose(): nobody listens
                    return
                member = message.header.fields.get(_MEMBER)
                body = message.body
                if member == "ActionInvoked" and len(body) == 2 and body[0] in self._tags:
                    log.debug("notification action %r", body[1])
                    self.actionInvoked.emit(self._tags[body[0]], str(body[1]))
                elif member == "NotificationClosed" and body:
                    self._tags.pop(body[0], None)

    async def notify(
        self,
        title: str,
        body: str,
        *,
        tag: str = "",
        actions: Sequence[tuple[str, str]] = (),
        urgency: int = URGENCY_NORMAL,
        timeout_ms: int = -1,
    ) -> bool:
        """Show a notification; False when there is no service (the caller falls back to the tray)."""
        from jeepney import DBusAddress, MessageType, new_method_call

        router = await self._open()
        if router is None:
            return False
        address = DBusAddress(PATH, bus_name=NAME, interface=NAME)
        try:
            if not self._capabilities:
                reply = await asyncio.wait_for(
                    router.send_and_get_reply(new_method_call(address, "GetCapabilities")), CALL_TIMEOUT_S
                )
                if reply.header.message_type is MessageType.error:
                    log.info("no notification service: %s", reply.header.fields.get(_ERROR_NAME, "error"))
                    return False
                self._capabilities = frozenset(str(c) for c in reply.body[0])
            flat: list[str] = []
            if self.actions_supported:
                for key, label in actions:
                    flat += [key, label]
            hints = {"desktop-entry": ("s", icons.APP_ID), "urgency": ("y", urgency)}
            call = new_method_call(
                address,
                "Notify",
                "susssasa{sv}i",
                ("Tokendesk", 0, icons.APP_ID, title, body, flat, hints, timeout_ms),
            )
            reply = await asyncio.wait_for(router.send_and_get_reply(call), CALL_TIMEOUT_S)
        except Exception as exc:  # OSError, EOFError, TimeoutError, jeepney's RouterClosed: the bus went away
            log.info("notification not delivered (%s)", type(exc).__name__)
            return False
        if reply.header.message_type is MessageType.error:
            log.info("notification refused: %s", reply.header.fields.get(_ERROR_NAME, "error"))
            return False
        self._tags[int(reply.body[0])] = tag
        return True

    async def _drop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        router, self._router = self._router, None
        if router is not None:
            with contextlib.suppress(Exception):
                await router.__aexit__(None, None, None)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def aclose(self) -> None:
        self._broken = True
        await self._drop()
