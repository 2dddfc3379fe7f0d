"""A private D-Bus session bus, and a notification service on it that records Notify and can click actions.

The service implements the parts of the Desktop Notifications spec an app sees (GetCapabilities,
GetServerInformation, Notify, CloseNotification, the ActionInvoked and NotificationClosed signals); it runs
on its own thread with its own connection, so the app under test talks to it over a real socket, and it
checks each call's D-Bus signature the way GLib-based daemons (dunst, GNOME Shell) do.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, open_dbus_connection

from tests.rig import daemon
from tests.rig.daemon import START_TIMEOUT, RigPiece

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
NOTIFY_SIGNATURE = "susssasa{sv}i"


class PrivateBus(RigPiece):
    """A dbus-daemon of its own in a temp dir; `address` is what DBUS_SESSION_BUS_ADDRESS would hold."""

    def __init__(self) -> None:
        self.address = ""
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        if shutil.which("dbus-daemon") is None:
            raise RuntimeError("dbus-daemon not found; run `scripts/bootstrap test`")
        self._tmp = Path(tempfile.mkdtemp(prefix="tokendesk-bus-"))
        try:
            self._proc, self.address = daemon.dbus_daemon(self._tmp)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        daemon.stop(self._proc)
        self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


@dataclass(frozen=True)
class Notification:
    id: int
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: dict[str, str]  # key -> label
    hints: dict[str, Any]
    expire_timeout: int


@dataclass
class NotificationService(RigPiece):
    """Owns org.freedesktop.Notifications on `address` until stop(); `notes` lists every Notify received."""

    address: str
    capabilities: tuple[str, ...] = ("actions", "body", "persistence")
    notes: list[Notification] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # calls refused (bad signature, unknown method)

    def __post_init__(self) -> None:
        self._conn: DBusConnection | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._next_id = 1

    def start(self) -> Self:
        self._conn = open_dbus_connection(self.address)
        reply = self._call(message_bus.RequestName(NAME, 4))  # DBUS_NAME_FLAG_DO_NOT_QUEUE
        if reply.body != (1,):  # PRIMARY_OWNER
            raise RuntimeError(f"could not own {NAME}: {reply.body}")
        self._thread = threading.Thread(target=self._serve, name="rig-notifications", daemon=True)
        self._thread.start()
        return self

    def _call(self, message: Any) -> Any:
        # Before the serving thread starts, this thread may read replies itself.
        assert self._conn is not None
        self._conn.send(message)
        while True:
            reply = self._conn.receive(timeout=START_TIMEOUT)
            if reply.header.message_type in (MessageType.method_return, MessageType.error):
                return reply

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- the service --------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._conn is not None
        while not self._stop.is_set():
            try:
                message = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except (OSError, EOFError):
                return
            if message.header.message_type is MessageType.method_call:
                self._conn.send(self._answer(message))

    def _answer(self, message: Any) -> Any:
        fields = message.header.fields
        member = fields.get(3)
        signature = fields.get(8, "")
        if member == "GetCapabilities":
            return new_method_return(message, "as", (list(self.capabilities),))
        if member == "GetServerInformation":
            return new_method_return(message, "ssss", ("rig-notifications", "tokendesk-tests", "1", "1.2"))
        if member == "Notify":
            if signature != NOTIFY_SIGNATURE:
                # What GLib's GDBus answers when the signature does not match the introspection data.
                text = f"Type of message, '({signature})', does not match expected type '({NOTIFY_SIGNATURE})'"
                self.errors.append(text)
                return new_error(message, "org.freedesktop.DBus.Error.InvalidArgs", "s", (text,))
            app, replaces, icon, summary, body, actions, hints, timeout = message.body
            note_id = replaces or self._next_id
            self._next_id += 0 if replaces else 1
            note = Notification(
                id=note_id,
                app_name=app,
                replaces_id=replaces,
                app_icon=icon,
                summary=summary,
                body=body,
                actions=dict(zip(actions[::2], actions[1::2], strict=True)),
                hints={k: v[1] for k, v in hints.items()},
                expire_timeout=timeout,
            )
            with self._changed:
                self.notes.append(note)
                self._changed.notify_all()
            return new_method_return(message, "u", (note_id,))
        if member == "CloseNotification":
            self._emit("NotificationClosed", "uu", (message.body[0], 3))
            return new_method_return(message)
        self.errors.append(f"unknown method {member}")
        return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),))

    def _emit(self, member: str, signature: str, body: tuple[Any, ...]) -> None:
        assert self._conn is not None
        self._conn.send(new_signal(DBusAddress(PATH, interface=NAME), member, signature, body))

    # --- what a user does -----------------------------------------------------------------------------

    def invoke(self, note: Notification, action: str) -> None:
        """Click an action (or the notification itself, "default"), as the daemon reports it: then it closes."""
        assert action in note.actions, f"{action!r} is not one of {sorted(note.actions)}"
        self._emit("ActionInvoked", "us", (note.id, action))
        self._emit("NotificationClosed", "uu", (note.id, 2))

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Notification]:
        """Block until `count` notifications arrived (for tests not on an event loop)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.notes) >= count, timeout_s):
                raise AssertionError(f"{len(self.notes)} notifications arrived, expected {count}")
            return list(self.notes)
