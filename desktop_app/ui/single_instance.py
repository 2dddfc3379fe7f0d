"""One app per user: a second start asks the running one (over a per-user local socket) to show its window.

On POSIX this is Python's own AF_UNIX socket watched by a QSocketNotifier: QtNetwork's QLocalServer cost about
3 MiB of RSS and 5 ms before the first paint for this one socket. The socket is where QLocalServer put it (the
name itself when absolute, else in QDir.tempPath()) and speaks the same bytes, so versions using either find
each other. Windows (named pipes) keeps QLocalServer."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from typing import TYPE_CHECKING

from PySide6.QtCore import QDir, QObject, QSocketNotifier, QTimer, Signal

from desktop_app.core import digest

from .icons import APP_ID

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 500
MAX_PENDING = 16  # connections read at once; more wait in the listen backlog until one is done
ACTIVATE = b"activate\n"
_POSIX = os.name == "posix"


def instance_name() -> str:
    """A per-user server name: a socket in $XDG_RUNTIME_DIR (user-only) when there is one."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, f"{APP_ID}.instance")
    user = digest.sha256(getpass.getuser().encode()).hex()[:12]
    return f"{APP_ID}-{user}"


class _Knock(QObject):
    """One second start's connection, read when its bytes arrive: never a blocking read on the GUI thread, so a
    client that connects and says nothing costs the window nothing. Dropped after CONNECT_TIMEOUT_MS."""

    done = Signal(object, bool)  # this knock, and whether it asked to activate

    def __init__(self, client: socket.socket, parent: QObject) -> None:
        super().__init__(parent)
        client.setblocking(False)
        self._client: socket.socket | None = client
        self._data = b""
        self._notifier = QSocketNotifier(client.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self.read)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.finish)
        self._timer.start(CONNECT_TIMEOUT_MS)

    def read(self) -> None:
        if self._client is None:
            return
        try:
            chunk = self._client.recv(len(ACTIVATE))
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        self._data += chunk
        if not chunk or self._data.endswith(b"\n") or len(self._data) >= len(ACTIVATE):
            self.finish()

    def finish(self) -> None:
        if self._client is None:
            return
        self._timer.stop()
        self._notifier.setEnabled(False)
        self._client.close()
        self._client = None
        self.done.emit(self, self._data.startswith(ACTIVATE.strip()))


class SingleInstance(QObject):
    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._path = name if os.path.isabs(name) else os.path.join(QDir.tempPath(), name)
        self._server: QLocalServer | None = None
        self._sockets: list[QLocalSocket] = []  # owned by the server; kept until read
        self._listening: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._knocks: set[_Knock] = set()

    def notify_running(self) -> bool:
        """True if another instance answered (and was asked to come to the front)."""
        if not _POSIX:
            return self._qt_notify_running()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(CONNECT_TIMEOUT_MS / 1000)
        try:
            try:
                client.connect(self._path)
            except OSError:  # nobody listens (or a stale socket file): this is the first instance
                return False
            with contextlib.suppress(OSError):  # it answered: it runs, even if it went away meanwhile
                client.sendall(ACTIVATE)
            return True
        finally:
            client.close()

    def listen(self) -> bool:
        if not _POSIX:
            return self._qt_listen()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                server.bind(self._path)
            except OSError:
                # A stale socket from a crashed instance (nobody answered notify_running): take it over.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._path)
                server.bind(self._path)
            os.chmod(self._path, 0o600)  # the user's only, as QLocalServer's UserAccessOption
            server.listen(8)
            server.setblocking(False)
        except OSError:
            server.close()
            return False
        self._listening = server
        self._notifier = QSocketNotifier(server.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._accept)
        return True

    def _accept(self) -> None:
        while self._listening is not None and len(self._knocks) < MAX_PENDING:
            try:
                client, _ = self._listening.accept()
            except BlockingIOError:  # none left
                return
            except OSError:
                # Out of file descriptors (EMFILE, ENFILE): the socket stays readable, so waiting for the
                # notifier again would spin. Pause until the pending knocks have given theirs back.
                self._accepting(False)
                QTimer.singleShot(CONNECT_TIMEOUT_MS, self, lambda: self._accepting(True))
                return
            knock = _Knock(client, self)
            knock.done.connect(self._knocked)
            self._knocks.add(knock)
            knock.read()  # a second start writes at once: its bytes are usually here already
        self._accepting(len(self._knocks) < MAX_PENDING)

    def _accepting(self, on: bool) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(on)

    def _knocked(self, knock: _Knock, activate: bool) -> None:
        self._knocks.discard(knock)
        knock.deleteLater()
        self._accepting(True)
        if activate:
            self.activated.emit()

    def close(self) -> None:
        for knock in list(self._knocks):  # an app that quits raises no window: finish them unheard
            knock.done.disconnect(self._knocked)
            knock.finish()
            knock.deleteLater()
        self._knocks.clear()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._listening is not None:
            self._listening.close()
            self._listening = None
            with contextlib.suppress(OSError):
                os.unlink(self._path)
        self._qt_close()

    # --- Windows: QtNetwork's named pipes --------------------------------------------------------------------

    def _qt_notify_running(self) -> bool:
        from PySide6.QtNetwork import QLocalSocket

        peer = QLocalSocket()
        peer.connectToServer(self.name)
        if not peer.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        peer.write(ACTIVATE)
        peer.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        peer.disconnectFromServer()
        if peer.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            peer.waitForDisconnected(CONNECT_TIMEOUT_MS)
        return True

    def _qt_listen(self) -> bool:
        from PySide6.QtNetwork import QLocalServer

        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A stale server from a crashed instance (nobody answered notify_running): take it over.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return False
        server.newConnection.connect(self._qt_accept)
        self._server = server
        return True

    def _qt_accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            peer = self._server.nextPendingConnection()
            self._sockets.append(peer)
            peer.readyRead.connect(self._qt_read)
            self._qt_read()  # the client may have written (and left) before we accepted

    def _qt_read(self) -> None:
        from PySide6.QtNetwork import QLocalSocket

        for peer in list(self._sockets):
            if peer.bytesAvailable() and bytes(peer.readAll().data()).startswith(ACTIVATE.strip()):
                self.activated.emit()
            if peer.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                self._sockets.remove(peer)

    def _qt_close(self) -> None:
        self._sockets.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
