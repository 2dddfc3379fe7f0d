"""Desktop notifications: org.freedesktop.Notifications on the session bus (jeepney, asyncio), with actions."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import asyncio

    from jeepney.io.asyncio import DBusConnection, DBusRouter
    from jeepney.low_level import Message

log = logging.getLogger(__name__)

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
CALL_TIMEOUT_S = 5.0  # a notification service that does not answer is treated as absent for that message
URGENCY_LOW = 0
URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2
_MEMBER, _ERROR_NAME = 3, 4  # D-Bus header field codes (jeepney's HeaderFields is an IntEnum of these)


class BusClient:
    """A session-bus connection, opened on first use, that hears one interface's signals on one object.

    Subclasses name the interface and object path in `SIGNALS`, handle each signal in `_signal`, and send
    calls with `_call`, which gives None whenever no service took the call (no session bus, nobody owning
    the name, an error reply, no answer in time), so the caller can fall back.
    """

    SIGNALS: ClassVar[tuple[str, str]]  # (interface, object path) of the signals this client hears

    def __init__(self, address: str | None) -> None:
        self._address = address
        self._conn: DBusConnection | None = None
        self._router: DBusRouter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = address is None

    async def _open(self) -> DBusRouter | None:
        import asyncio

        if self._router is not None or self._closed:
            return self._router
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._router is None and not self._closed:
                try:
                    await asyncio.wait_for(self._connect(), CALL_TIMEOUT_S)
                except Exception as exc:  # no bus, refused, garbage address, jeepney missing: no notifications
                    log.info("no session bus for notifications (%s)", type(exc).__name__)
                    self._closed = True
                    await self._drop()
        return self._router

    async def _connect(self) -> None:
        import asyncio

        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.asyncio import DBusRouter, open_dbus_connection

        assert self._address is not None
        self._conn = await open_dbus_connection(self._address)
        self._router = DBusRouter(self._conn)
        interface, path = self.SIGNALS
        rule = MatchRule(type="signal", interface=interface, path=path)
        await self._router.send_and_get_reply(message_bus.AddMatch(rule))
        queue: asyncio.Queue[Message] = asyncio.Queue(64)
        self._listener = asyncio.ensure_future(self._listen(rule, queue))

    async def _listen(self, rule: Any, queue: asyncio.Queue[Message]) -> None:
        assert self._router is not None
        with self._router.filter(rule, queue=queue):
            while True:
                message = await queue.get()
                try:
                    self._signal(str(message.header.fields.get(_MEMBER, "")), tuple(message.body))
                except Exception:
                    log.exception("handling a notification action failed")

    def _signal(self, member: str, body: tuple[Any, ...]) -> None:
        raise NotImplementedError

    async def _call(self, message: Message, refused: str) -> tuple[Any, ...] | None:
        """The reply's body; None (logged, with `refused` saying what an error reply means) when there is none."""
        import asyncio  # here, not at the top: the GUI imports this module before asyncio (after its first paint)

        from jeepney import MessageType

        router = await self._open()
        if router is None:
            return None
        try:
            reply = await asyncio.wait_for(router.send_and_get_reply(message), CALL_TIMEOUT_S)
        except Exception as exc:  # OSError, EOFError, TimeoutError, jeepney's RouterClosed: the bus went away
            log.info("notification not delivered (%s)", type(exc).__name__)
            return None
        if reply.header.message_type is MessageType.error:
            log.info("%s: %s", refused, reply.header.fields.get(_ERROR_NAME, "error"))
            return None
        return tuple(reply.body)

    async def _drop(self) -> None:
        import asyncio

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
        self._closed = True
        await self._drop()


class NotificationClient(BusClient):
    """Sends notifications; `on_action(id, key)` hears the actions clicked on the ones it sent.

    Connects on first use; `notify` returns None whenever there is no service to take the message (no
    session bus, nobody owning the name, an error), so the caller can fall back. PySide's QtDBus cannot
    send the UINT32 that Notify takes (a Python int becomes INT32, or UINT16 through QDBusArgument) and
    GLib-based daemons refuse such calls, hence jeepney, which keyring's Secret Service backend uses too.
    """

    SIGNALS = (NAME, PATH)

    def __init__(self, address: str | None, app_name: str, on_action: Callable[[int, str], None]) -> None:
        super().__init__(address)
        self._app_name = app_name
        self._on_action = on_action
        self._ours: set[int] = set()  # ids we were given: ActionInvoked is broadcast to every client
        self._capabilities: frozenset[str] | None = None

    @property
    def actions_supported(self) -> bool:
        """Known after the first notify(): whether the service shows buttons and reports clicks."""
        return self._capabilities is not None and "actions" in self._capabilities

    def _signal(self, member: str, body: tuple[Any, ...]) -> None:
        if member == "ActionInvoked" and len(body) == 2 and body[0] in self._ours:
            self._on_action(int(body[0]), str(body[1]))
        elif member == "NotificationClosed" and body:
            self._ours.discard(body[0])

    async def notify(
        self,
        title: str,
        body: str,
        *,
        icon: str = "",
        hints: dict[str, tuple[str, Any]] | None = None,
        actions: Sequence[tuple[str, str]] = (),
        timeout_ms: int = -1,
    ) -> int | None:
        """The notification's id, or None when no service took it."""
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(PATH, bus_name=NAME, interface=NAME)
        if self._capabilities is None:
            capabilities = await self._call(new_method_call(address, "GetCapabilities"), "no notification service")
            if capabilities is None:
                return None
            self._capabilities = frozenset(str(c) for c in capabilities[0])
        flat: list[str] = []
        if self.actions_supported:
            for key, label in actions:
                flat += [key, label]
        call = new_method_call(
            address,
            "Notify",
            "susssasa{sv}i",
            (self._app_name, 0, icon, title, body, flat, hints or {}, timeout_ms),
        )
        reply = await self._call(call, "notification refused")
        if reply is None:
            return None
        note_id = int(reply[0])
        self._ours.add(note_id)
        return note_id
