"""A throwaway Secret Service keychain: private D-Bus session bus + gnome-keyring-daemon in a temp dir.

Nothing touches the user's real keyring: the daemon's HOME and XDG dirs live in the temp dir, and the bus
has no service directories, so nothing is ever D-Bus-activated on it (no second gnome-keyring, and no
gcr-prompter: an unlock that would need a GUI prompt is dismissed at once instead of hanging on a
display).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

import secretstorage
from jeepney import DBusAddress, DBusErrorResponse, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from secretstorage.util import format_secret, open_session

from tests.rig import daemon
from tests.rig.daemon import START_TIMEOUT, DaemonError, RigPiece, dbus_daemon

SECRETS_NAME = "org.freedesktop.secrets"
SECRETS_PATH = "/org/freedesktop/secrets"
# gnome-keyring's private interface: the only way to unlock without a prompter (seahorse and
# gnome-keyring's own tests use it).
GUILT_IFACE = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"


class KeychainError(DaemonError):
    pass


class Keychain(RigPiece):
    """Start with start() (or `with`); `env` holds what a child process needs to use this keychain."""

    def __init__(self, password: str = "rig-keychain-password") -> None:
        self.password = password
        self.env: dict[str, str] = {}
        self._tmp: Path | None = None
        self._bus: subprocess.Popen[bytes] | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self._conn: DBusConnection | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Self:
        for tool in ("dbus-daemon", "gnome-keyring-daemon"):
            if shutil.which(tool) is None:
                raise KeychainError(f"{tool} not found; run `scripts/bootstrap test`")
        self._tmp = Path(tempfile.mkdtemp(prefix="tokendesk-keychain-"))
        try:
            self._start_processes(self._tmp)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_processes(self, tmp: Path) -> None:
        dirs = {name: tmp / name for name in ("home", "data", "config", "cache", "run")}
        for d in dirs.values():
            d.mkdir(mode=0o700)
        self._bus, address = dbus_daemon(tmp)
        self.env = {"DBUS_SESSION_BUS_ADDRESS": address, "XDG_RUNTIME_DIR": str(dirs["run"])}
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(dirs["home"]),
            "XDG_DATA_HOME": str(dirs["data"]),
            "XDG_CONFIG_HOME": str(dirs["config"]),
            "XDG_CACHE_HOME": str(dirs["cache"]),
            **self.env,
        }
        # --unlock reads the login keyring's password from stdin and creates that keyring (alias
        # "default") on first run.
        with (tmp / "keyring.log").open("wb") as log:
            self._daemon = daemon.spawn(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                env=daemon_env,
                stdin=subprocess.PIPE,
                stdout=log,  # readiness is seen on the bus, not in its output
                stderr=subprocess.STDOUT,
            )
        assert self._daemon.stdin is not None
        self._daemon.stdin.write(self.password.encode())
        self._daemon.stdin.close()

    def _wait_ready(self) -> None:
        assert self._tmp is not None
        assert self._daemon is not None
        deadline = time.monotonic() + START_TIMEOUT
        last = "secret service name not owned"
        while time.monotonic() < deadline:
            if self._daemon.poll() is not None:
                raise KeychainError(
                    f"gnome-keyring-daemon exited with status {self._daemon.returncode}:\n{self._log('keyring.log')}"
                )
            try:
                conn = self._connection()
                if conn.send_and_get_reply(message_bus.NameHasOwner(SECRETS_NAME)).body[0]:
                    collection = secretstorage.get_default_collection(conn)
                    if not collection.is_locked():
                        return
                    last = "default collection is locked"
            except (
                secretstorage.exceptions.SecretServiceNotAvailableException,
                secretstorage.exceptions.ItemNotFoundException,
                DBusErrorResponse,
            ) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise KeychainError(
            f"gnome-keyring did not become ready in {START_TIMEOUT:.0f}s ({last}):\n{self._log('keyring.log')}"
        )

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        daemon.stop(self._daemon)
        daemon.stop(self._bus)
        self._daemon = self._bus = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # --- operations ------------------------------------------------------------------------------------

    def _connection(self) -> DBusConnection:
        if self._conn is None:
            if not self.env:
                raise KeychainError("Keychain is not started")
            self._conn = open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"])
        return self._conn

    def _default(self) -> secretstorage.Collection:
        return secretstorage.get_default_collection(self._connection())

    def is_locked(self) -> bool:
        return bool(self._default().is_locked())

    def lock(self) -> None:
        """Lock the default (login) collection, as a screen lock or `seahorse` would."""
        self._default().lock()
        if not self.is_locked():
            raise KeychainError("default collection still unlocked after Lock()")

    def unlock(self) -> None:
        """Unlock the default collection with the master password, no prompt involved."""
        conn = self._connection()
        session = open_session(conn)
        secret = format_secret(session, self.password.encode(), "text/plain")
        addr = DBusAddress(SECRETS_PATH, bus_name=SECRETS_NAME, interface=GUILT_IFACE)
        msg = new_method_call(addr, "UnlockWithMasterPassword", "o(oayays)", (self._default().collection_path, secret))
        conn.send_and_get_reply(msg)
        if self.is_locked():
            raise KeychainError("default collection still locked after UnlockWithMasterPassword")

    def items(self) -> list[dict[str, Any]]:
        """Every item in every collection: {"collection", "label", "attributes"} (secrets not read)."""
        out: list[dict[str, Any]] = []
        for collection in secretstorage.get_all_collections(self._connection()):
            for item in collection.get_all_items():
                out.append(
                    {
                        "collection": collection.collection_path,
                        "label": item.get_label(),
                        "attributes": dict(item.get_attributes()),
                    }
                )
        return out

    def _log(self, name: str) -> str:
        assert self._tmp is not None
        path = self._tmp / name
        return path.read_text(errors="replace") if path.exists() else ""
