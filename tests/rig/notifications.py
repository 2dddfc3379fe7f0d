"""A private D-Bus session bus, and a notification service on it that records Notify and can click actions.

The service implements the parts of the Desktop Notifications spec an app sees (GetCapabilities,
GetServerInformation, Notify, CloseNotification, the ActionInvoked and NotificationClosed signals); it runs
on its own thread with its own connection, so the app under test talks to it over a real socket, and it
checks each call's D-Bus signature the way GLib-based daemons (dunst, GNOME Shell) do. PortalService is the
same for the notification portal a Flatpak app uses (AddNotification, RemoveNotification, ActionInvoked).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.threading import DBusConnection, open_dbus_connection

from tests.rig import daemon
from tests.rig.daemon import START_TIMEOUT, ProcessPiece, RigPiece

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
NOTIFY_SIGNATURE = "susssasa{sv}i"


class PrivateBus(ProcessPiece):
    """A dbus-daemon of its own in a temp dir; `address` is what DBUS_SESSION_BUS_ADDRESS would hold."""

    tmp_prefix = "tokendesk-bus-"

    def __init__(self) -> None:
        self.address = ""

    def launch(self, tmp: Path) -> subprocess.Popen[bytes]:
        if shutil.which("dbus-daemon") is None:
            raise RuntimeError("dbus-daemon not found; run `scripts/bootstrap test`")
        proc, self.address = daemon.dbus_daemon(tmp)
        return proc


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


class _BusService(RigPiece):
    """Owns `name` on the bus at `address` until stop(), answering method calls on a thread of its own."""

    def __init__(self, address: str, name: str, thread_name: str) -> None:
        self.address = address
        self._name = name
        self._thread_name = thread_name
        self._conn: DBusConnection | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()

    def start(self) -> Self:
        self._conn = open_dbus_connection(self.address)
        reply = self._call(message_bus.RequestName(self._name, 4))  # DBUS_NAME_FLAG_DO_NOT_QUEUE
        if reply.body != (1,):  # PRIMARY_OWNER
            raise RuntimeError(f"could not own {self._name}: {reply.body}")
        self._thread = threading.Thread(target=self._serve, name=self._thread_name, daemon=True)
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
        raise NotImplementedError

    def _send(self, message: Any) -> None:
        assert self._conn is not None
        self._conn.send(message)

    def _wait(self, count: int, notes: list[Any], timeout_s: float) -> list[Any]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(notes) >= count, timeout_s):
                raise AssertionError(f"{len(notes)} notifications arrived, expected {count}")
            return list(notes)

    def _record(self, notes: list[Any], note: Any) -> None:
        with self._changed:
            notes.append(note)
            self._changed.notify_all()


@dataclass
class NotificationService(_BusService):
    """Owns org.freedesktop.Notifications on `address` until stop(); `notes` lists every Notify received."""

    address: str
    capabilities: tuple[str, ...] = ("actions", "body", "persistence")
    notes: list[Notification] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # calls refused (bad signature, unknown method)

    def __post_init__(self) -> None:
        super().__init__(self.address, NAME, "rig-notifications")
        self._next_id = 1

    # --- the service --------------------------------------------------------------------------------

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
            self._record(self.notes, note)
            return new_method_return(message, "u", (note_id,))
        if member == "CloseNotification":
            self._emit("NotificationClosed", "uu", (message.body[0], 3))
            return new_method_return(message)
        self.errors.append(f"unknown method {member}")
        return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),))

    def _emit(self, member: str, signature: str, body: tuple[Any, ...]) -> None:
        self._send(new_signal(DBusAddress(PATH, interface=NAME), member, signature, body))

    # --- what a user does -----------------------------------------------------------------------------

    def invoke(self, note: Notification, action: str) -> None:
        """Click an action (or the notification itself, "default"), as the daemon reports it: then it closes."""
        assert action in note.actions, f"{action!r} is not one of {sorted(note.actions)}"
        self._emit("ActionInvoked", "us", (note.id, action))
        self._emit("NotificationClosed", "uu", (note.id, 2))

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Notification]:
        """Block until `count` notifications arrived (for tests not on an event loop)."""
        return self._wait(count, self.notes, timeout_s)


# --- the notification portal, as a Flatpak app sees it -------------------------------------------------------

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
PORTAL_INTERFACE = "org.freedesktop.portal.Notification"
ADD_SIGNATURE = "sa{sv}"
PRIORITIES = ("low", "normal", "high", "urgent")
_INVALID = "org.freedesktop.portal.Error.InvalidArgument"


@dataclass(frozen=True)
class PortalNotification:
    sender: str  # the app's unique bus name: ActionInvoked goes to it alone
    id: str
    notification: dict[str, tuple[str, Any]]  # key -> (D-Bus signature, value), exactly as sent

    def value(self, key: str) -> Any:
        return self.notification[key][1]

    @property
    def actions(self) -> set[str]:
        """What a click can invoke: the default action and each button's."""
        found = {self.value("default-action")} if "default-action" in self.notification else set()
        return found | {b["action"][1] for b in self.notification.get("buttons", ("", []))[1]}


@dataclass
class PortalService(_BusService):
    """Owns org.freedesktop.portal.Desktop on `address`; `notes` lists every AddNotification it accepted.

    It checks each notification as xdg-desktop-portal's frontend does before passing it to the desktop
    (known keys only, each of its type, a known priority, buttons with a label and an action) and sends
    ActionInvoked(s id, s action, av parameter) to the app that added the notification, not to everyone.
    With `backend=False` it is a portal with no Notification backend behind it, which does not export the
    interface, so GDBus refuses the call as an unknown method.
    """

    address: str
    backend: bool = True
    notes: list[PortalNotification] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # calls refused

    def __post_init__(self) -> None:
        super().__init__(self.address, PORTAL_NAME, "rig-portal")

    def _answer(self, message: Any) -> Any:
        fields = message.header.fields
        interface, member, signature = fields.get(2), fields.get(3), fields.get(8, "")
        if interface != PORTAL_INTERFACE or not self.backend:
            text = f"No such interface “{interface}” on object at path {fields.get(1)}"
            self.errors.append(text)
            return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (text,))
        if member not in ("AddNotification", "RemoveNotification"):
            text = f"No such method “{member}”"
            self.errors.append(text)
            return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (text,))
        expected = ADD_SIGNATURE if member == "AddNotification" else "s"
        if signature != expected:
            text = f"Type of message, '({signature})', does not match expected type '({expected})'"
            self.errors.append(text)
            return new_error(message, "org.freedesktop.DBus.Error.InvalidArgs", "s", (text,))
        if member == "RemoveNotification":
            return new_method_return(message)
        note_id, notification = message.body
        problem = _check_notification(notification)
        if problem:
            self.errors.append(problem)
            return new_error(message, _INVALID, "s", (f"invalid notification: {problem}",))
        self._record(self.notes, PortalNotification(str(fields[HeaderFields.sender]), note_id, dict(notification)))
        return new_method_return(message)

    # --- what a user does -----------------------------------------------------------------------------

    def invoke(self, note: PortalNotification, action: str) -> None:
        """Click the notification (its default action) or one of its buttons."""
        assert action in note.actions, f"{action!r} is not one of {sorted(note.actions)}"
        emitter = DBusAddress(PORTAL_PATH, interface=PORTAL_INTERFACE)
        signal = new_signal(emitter, "ActionInvoked", "ssav", (note.id, action, []))  # no target: no parameter
        signal.header.fields[HeaderFields.destination] = note.sender
        self._send(signal)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[PortalNotification]:
        return self._wait(count, self.notes, timeout_s)


def _check_notification(notification: dict[str, tuple[str, Any]]) -> str:
    """What xdg-desktop-portal finds wrong with an AddNotification vardict, or ""."""
    for key, (signature, value) in notification.items():
        if key in ("title", "body", "priority", "default-action") and signature != "s":
            return f"expected type for key {key} is s, found {signature}"
        if key == "priority" and value not in PRIORITIES:
            return f"{value} not a priority"
        if key == "buttons":
            if signature != "aa{sv}":
                return f"expected type for key buttons is aa{{sv}}, found {signature}"
            for button in value:
                if set(button) - {"label", "action", "target"}:
                    return f"invalid button: {sorted(set(button) - {'label', 'action', 'target'})} not valid key"
                if "label" not in button or "action" not in button:
                    return "invalid button: label or action key is missing"
        elif key not in ("title", "body", "icon", "priority", "default-action", "default-action-target"):
            return f"{key} not valid key"
    return ""
