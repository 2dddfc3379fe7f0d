"""The desktop app: QApplication, single instance, wiring; asyncio, qasync and the service load after first paint."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication

from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore
from desktop_app.core.errors import StoreError
from desktop_app.core.paths import AppPaths

from . import icons, startup
from .clipboard import TICK_MS as CLIPBOARD_TICK_MS
from .clipboard import SecretClipboard
from .model import AccountListModel
from .notifications import DesktopNotifications
from .settings import Settings
from .single_instance import SingleInstance, instance_name
from .tray import Tray
from .window import TICK_INTERVAL_MS, MainWindow

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from types import TracebackType

    from desktop_app.core.facade import AccountService

    from .bridge import Bridge

log = logging.getLogger(__name__)

RELOAD_DEBOUNCE_MS = 150
STARTUP_PROBE_ENV = "TOKENDESK_STARTUP_PROBE"  # print which heavy modules were loaded at first paint, then quit


class QtOpener(QObject):
    """The system browser through Qt (xdg-open, LaunchServices, ShellExecute)."""

    failed = Signal(str)

    async def __call__(self, url: str) -> bool:
        ok = QDesktopServices.openUrl(QUrl(url))
        if not ok:
            log.warning("the system browser did not open")
            self.failed.emit(url)
        return ok


@dataclass(frozen=True)
class UiTimers:
    """The GUI's timer intervals, injectable so tests never wait on real seconds (0 = the test drives it)."""

    window_tick_ms: int = TICK_INTERVAL_MS
    clipboard_tick_ms: int = CLIPBOARD_TICK_MS
    reload_debounce_ms: int = RELOAD_DEBOUNCE_MS


class Controller(QObject):
    """Owns the window, tray, model and (once loaded) the service; nothing here talks to httpx or keyring."""

    quitting = Signal()

    def __init__(
        self,
        paths: AppPaths,
        *,
        now: Callable[[], float] = time.time,
        settings: Settings | None = None,
        timers: UiTimers | None = None,
        notifications: DesktopNotifications | None = None,
        tray_available: bool | None = None,
    ):
        """`notifications` defaults to the session bus's service; `tray_available` to asking Qt."""
        super().__init__()
        timers = timers or UiTimers()
        self.paths = paths
        # Read for the first paint, before the service exists; then handed to it (one store per process).
        self._store: AccountStore | None = AccountStore(paths.accounts_file)
        self.settings = settings or Settings(paths.config_dir / "tokendesk-ui.ini")
        self.model = AccountListModel(now)
        self.clipboard = SecretClipboard(parent=self, tick_interval_ms=timers.clipboard_tick_ms)
        # Ownership: the controller holds the window (a top-level widget) and nothing else holds the
        # controller; the window owns the tray, so neither can outlive the other's use of it.
        self.window = MainWindow(
            model=self.model,
            settings=self.settings,
            clipboard=self.clipboard,
            tray=Tray(notifications=notifications or DesktopNotifications(), available=tray_available),
            now=now,
            tick_interval_ms=timers.window_tick_ms,
        )
        self.tray = self.window.tray
        self.bridge: Bridge | None = None
        self._done: asyncio.Future[None] | None = None
        self._closing = False
        self._watched: tuple[Path, ...] = ()
        self._watching_network = False

        self.tray.openRequested.connect(self._open_from_tray)
        self.tray.reconnectRequested.connect(self._reconnect_from_notification)
        # Only bound methods here: a lambda capturing self, kept by a child's connection, would keep the
        # controller (and every widget) alive forever.
        self.tray.copyRequested.connect(self.window.copy_token)
        self.tray.refreshAllRequested.connect(self.window.refresh_all)
        self.tray.quitRequested.connect(self.quit)
        self.window.quitRequested.connect(self.quit)
        self.window.clockJumped.connect(self._wake_engine)

        self._reload_timer_ms = QTimer(self)
        self._reload_timer_ms.setSingleShot(True)
        self._reload_timer_ms.setInterval(timers.reload_debounce_ms)
        self._reload_timer_ms.timeout.connect(self.reload)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._files_changed)
        self.watcher.directoryChanged.connect(self._files_changed)
        self.load_metadata()

    # --- metadata (no keychain, no httpx) ---------------------------------------------------------

    def load_metadata(self) -> None:
        """The accounts as stored, read on the GUI thread: only before the service exists (first paint)."""
        if self._store is None:
            return
        try:
            self.model.set_records(self._store.all())
        except StoreError as exc:
            self.window.banner.show_text(str(exc), "error")

    def _watch(self) -> None:
        for path in self._watched:
            # An atomic replace drops the watch on the old inode: add the file again each time it exists.
            text = str(path)
            if path.exists() and text not in self.watcher.files() and text not in self.watcher.directories():
                self.watcher.addPath(text)

    def _files_changed(self, *_: Any) -> None:
        self._watch()
        # Debounced: a write also makes lock and temp files come and go in the directory.
        self._reload_timer_ms.start()

    def reload(self) -> None:
        """Pick up changes made by other processes (the CLI refreshing or disconnecting)."""
        if self.bridge is None:
            self.load_metadata()
            return

        def apply(records: list[AccountRecord] | None) -> None:
            if records is not None:  # None: the accounts are as last shown (lock or temp files changed)
                self.model.set_records(records)

        self.bridge.spawn(self.bridge.service.reload_if_changed(), "Reading accounts", on_done=apply)

    # --- the service ------------------------------------------------------------------------------

    def load_service(self) -> None:
        """Import and create the real service (httpx, and later keyring): after the window has painted."""
        from desktop_app.core.service import Service

        opener = QtOpener(self)
        service = Service.create(self.paths, store=self._store, opener=opener)
        bridge = self.attach(service)
        opener.failed.connect(bridge.browser_failed)
        self.reload()  # what changed between the first paint and the watch

    def attach(self, service: AccountService) -> Bridge:
        from .bridge import Bridge  # asyncio and the agent: after the first paint

        bridge = Bridge(service, self)
        self.bridge = bridge
        self._store = None  # the service's own store from now on
        self._watched = service.watch()
        self._watch()
        bridge.accountChanged.connect(self.model.upsert)
        bridge.accountRemoved.connect(self.model.remove)
        bridge.needsSignIn.connect(self._needs_sign_in)
        bridge.accountChanged.connect(self._watch_network_if_offline)
        self.window.attach(bridge)
        bridge.start()
        return bridge

    def _needs_sign_in(self, record: AccountRecord, reason: str) -> None:
        self.model.upsert(record)
        self.tray.needs_sign_in(record, reason)

    def _open_from_tray(self, account_id: str) -> None:
        if account_id:
            self.window.select_account(account_id, reconnect=True)
        else:
            self.window.show_and_raise()

    def _reconnect_from_notification(self, account_id: str) -> None:
        self.window.select_account(account_id)
        record = self.window.current_record()
        if record is not None and record.id == account_id:  # the account may be gone by now
            self.window.reconnect_current()

    def _wake_engine(self) -> None:
        if self.bridge is not None:
            self.bridge.wake()

    def _watch_network_if_offline(self, record: AccountRecord) -> None:
        """Watch the network once a refresh in this run found it down: until then there is nothing for its return
        to wake, and Qt's reachability backend (on Linux NetworkManager's, over QtDBus) costs 3.7-6.5 MiB. An
        account an earlier run left offline needs no watch to be retried: its retry_at is at most
        RefreshPolicy.offline_cap_s after that failure (already past after any longer pause), and if that retry
        finds the network down, the watch starts then. A refresh starting keeps the earlier mark (REFRESHING with
        offline still set): that is not this run's verdict yet."""
        if record.offline and record.state is not AccountState.REFRESHING:
            self.watch_network()

    def watch_network(self) -> None:
        """Wake the engine when the network comes back (it marks accounts offline meanwhile)."""
        if self._watching_network:
            return
        self._watching_network = True
        from PySide6.QtNetwork import QNetworkInformation

        if not QNetworkInformation.loadDefaultBackend():
            log.info("no network reachability backend; relying on periodic retries")
            return
        info = QNetworkInformation.instance()
        if info is None:
            return
        info.reachabilityChanged.connect(self._reachability_changed)

    def _reachability_changed(self, reachability: Any) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        if reachability == QNetworkInformation.Reachability.Online:
            log.info("network is back; refreshing due accounts")
            self._wake_engine()

    def load_service_soon(self) -> None:
        """After the first paint: the import of httpx and the keychain probe must not delay it."""
        QTimer.singleShot(0, self.load_service)

    # --- lifetime ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until Quit."""
        import asyncio

        self._done = asyncio.get_running_loop().create_future()
        await self._done
        await self.aclose()

    def quit_on_signal(self, signum: int) -> None:
        """SIGTERM, SIGINT or SIGHUP: the normal quit, after telling the engine to send nothing new (a refresh
        already sent still reaches the keychain: aclose drains it, bounded by the engine's drain timeout)."""
        log.warning("quitting on %s", signal.Signals(signum).name)  # at the default level: worth a bug report line
        if self.bridge is not None:
            self.bridge.service.stop_sending()
        self.quit()

    def quit(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.quitting.emit()
        self.window.save_state()
        self.clipboard.clear_now() if self.clipboard.holds_ours() else None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def aclose(self) -> None:
        self._reload_timer_ms.stop()
        self.tray.hide()
        self.window.close_for_quit()
        await self.tray.aclose()
        if self.bridge is not None:
            await self.bridge.aclose()


def log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook for the app: an exception escaping a Qt slot goes to the log (redacted), not just stderr.

    PySide prints such exceptions through sys.excepthook and carries on, so without this they never reach
    the log file a user would attach to a bug report.
    """
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.error("uncaught exception in a Qt slot or callback", exc_info=(exc_type, exc, tb))


QUIT_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")


def _handle_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]) -> list[int]:
    handled = []
    for name in QUIT_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows; not the main thread
            continue
        handled.append(signum)
    return handled


def _split_args(argv: list[str]) -> tuple[list[str], bool]:
    hidden = "--hidden" in argv[1:]
    return [a for i, a in enumerate(argv) if i == 0 or a != "--hidden"], hidden


def main(argv: list[str] | None = None) -> int:
    from desktop_app.core.logsetup import configure_logging

    qt_argv, hidden = _split_args([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    QGuiApplication.setDesktopFileName(icons.APP_ID)
    QApplication.setApplicationName("tokendesk")
    QApplication.setOrganizationName("tokendesk")
    qapp = QApplication.instance() or QApplication(qt_argv)
    assert isinstance(qapp, QApplication)
    qapp.setApplicationDisplayName("Tokendesk")
    qapp.setWindowIcon(icons.app_icon())
    qapp.setQuitOnLastWindowClosed(False)

    probe = os.environ.get(STARTUP_PROBE_ENV) == "1"
    instance = SingleInstance(os.environ.get("TOKENDESK_INSTANCE_NAME") or instance_name())
    if not probe and instance.notify_running():
        print("Tokendesk is already running; brought its window to the front.", file=sys.stderr)
        return 0
    if not probe:
        instance.listen()

    paths = AppPaths.default()
    configure_logging(paths.log_file)
    previous_hook, sys.excepthook = sys.excepthook, log_uncaught
    controller = Controller(paths)
    controller.tray.hold_menu()  # its 1,000 actions (at 1,000 accounts) wait for the first paint
    instance.activated.connect(controller.window.show_and_raise)
    controller.tray.show()
    if not (hidden and controller.tray.available):
        controller.window.show()
        startup.wait_for_first_paint(controller.window)  # on Qt's own loop: asyncio is not even imported yet
    if probe:
        print(json.dumps({"painted": True, "loaded": startup.loaded_heavy_modules()}), flush=True)
        controller.window.close_for_quit()
        sys.excepthook = previous_hook
        return 0

    import asyncio

    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    startup.after_first_paint(controller)
    # The self-pipe of qasync's selector loop wakes Qt's event loop on a signal (signal.set_wakeup_fd
    # behind loop.add_signal_handler, read through a QSocketNotifier), so the handler runs promptly
    # even while Qt is idle inside its own loop.
    handled = _handle_signals(loop, controller.quit_on_signal)
    try:
        with loop:
            loop.run_until_complete(controller.run())
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        instance.close()
        asyncio.set_event_loop(None)
        sys.excepthook = previous_hook
    return 0


if __name__ == "__main__":
    sys.exit(main())
