"""One app per user: a second start asks the running one (over a per-user local socket) to show its window."""

from __future__ import annotations

import getpass
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app.core import digest

from .icons import APP_ID

CONNECT_TIMEOUT_MS = 500
ACTIVATE = b"activate\n"


def instance_name() -> str:
    """A per-user server name: a socket in $XDG_RUNTIME_DIR (user-only) when there is one."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, f"{APP_ID}.instance")
    user = digest.sha256(getpass.getuser().encode()).hex()[:12]
    return f"{APP_ID}-{user}"


class SingleInstance(QObject):
    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None
        self._sockets: list[QLocalSocket] = []  # owned by the server; kept until read

    def notify_running(self) -> bool:
        """True if another instance answered (and was asked to come to the front)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(ACTIVATE)
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
        return True

    def listen(self) -> bool:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A stale socket from a crashed instance (nobody answered notify_running): take it over.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._sockets.append(socket)
            socket.readyRead.connect(self._read)
            self._read()  # the client may have written (and left) before we accepted

    def _read(self) -> None:
        for socket in list(self._sockets):
            if socket.bytesAvailable() and bytes(socket.readAll().data()).startswith(ACTIVATE.strip()):
                self.activated.emit()
            if socket.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                self._sockets.remove(socket)

    def close(self) -> None:
        self._sockets.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
