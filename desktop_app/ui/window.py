"""The main window: account list (or a call to action), per-account actions, banner and status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.accounts import AccountRecord, AccountState

from . import icons
from .clipboard import SecretClipboard
from .delegate import AccountDelegate
from .error_words import in_words
from .flow import FlowLayout
from .model import AccountListModel, Role
from .settings import Settings
from .tray import Tray
from .window_parts import MARGIN_PX, ActionButton, Banner, EmptyState, ask

if TYPE_CHECKING:
    from desktop_app.core.tokens import TokenSet

    from .bridge import Bridge

log = logging.getLogger(__name__)

TICK_INTERVAL_MS = 1000
CLOCK_JUMP_S = 20.0  # the wall clock moved this much more than the tick timer: suspend/resume or a clock change
BACKGROUND_TITLE = "Tokendesk is still running"


class MainWindow(QMainWindow):
    firstPainted = Signal()
    clockJumped = Signal()
    quitRequested = Signal()
    messageShown = Signal(str)

    def __init__(
        self,
        *,
        model: AccountListModel,
        settings: Settings,
        clipboard: SecretClipboard,
        tray: Tray,
        now: Callable[[], float],
        parent: QWidget | None = None,
        tick_interval_ms: int = TICK_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tokendesk")
        self.setWindowIcon(icons.app_icon())
        self.model = model
        self.settings = settings
        self.clipboard = clipboard
        self.tray = tray
        tray.setParent(self)  # the window owns the tray: its close handling always has one to ask
        self._now = now
        self.bridge: Bridge | None = None
        self.preview = False  # screenshots: show the actions enabled without a service
        self.confirm: Callable[[QWidget, str, str, str], bool] = ask
        self._painted = False
        self._quitting = False

        self._build_actions()
        self._build_ui()
        self._restore_geometry()

        self._tray_timer_ms = QTimer(self)
        self._tray_timer_ms.setSingleShot(True)
        self._tray_timer_ms.setInterval(0)
        self._tray_timer_ms.timeout.connect(self._rebuild_tray)
        self._tick_timer_ms = QTimer(self)
        self._tick_timer_ms.setInterval(tick_interval_ms)
        self._tick_timer_ms.timeout.connect(self.tick)
        self._last_tick_s = now()
        if tick_interval_ms > 0:  # 0: the caller (a test) drives tick() itself
            self._tick_timer_ms.start()

        model.rowsInserted.connect(self._rows_changed)
        model.rowsRemoved.connect(self._rows_changed)
        model.modelReset.connect(self._rows_changed)
        model.dataChanged.connect(self._data_changed)
        model.modelReset.connect(self._rows_changed)
        tray.notified.connect(self._notified)
        clipboard.countdown.connect(self._clipboard_countdown)
        clipboard.cleared.connect(self._clipboard_cleared)
        self._rows_changed()

    # --- construction -----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        Shortcut = QKeySequence | QKeySequence.StandardKey | str | None

        def act(text: str, slot: Callable[[], Any], shortcut: Shortcut = None, tip: str = "") -> QAction:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(tip or text)
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.connect_action = act("Connect account…", self.open_connect, QKeySequence.StandardKey.New)
        self.refresh_all_action = act("Refresh all", self.refresh_all, "Ctrl+Shift+R")
        self.preferences_action = act("Preferences…", self.open_preferences, QKeySequence.StandardKey.Preferences)
        self.quit_action = act("Quit", self.request_quit, QKeySequence.StandardKey.Quit)
        self.reconnect_action = act("Reconnect", self.reconnect_current, "Ctrl+R", "Sign in again in your browser")
        self.refresh_action = act("Refresh now", self.refresh_current, "F5")
        self.copy_action = act("Copy access token", self.copy_current_token, QKeySequence.StandardKey.Copy)
        self.copy_header_action = act(
            "Copy Authorization header",
            self.copy_current_header,
            "Ctrl+Shift+C",
            "Copy “Authorization: Bearer <token>”, as tokendesk token --header prints it",
        )
        self.details_action = act("Details", self.details_current, "Ctrl+I")
        self.disconnect_action = act("Disconnect…", self.disconnect_current, QKeySequence.StandardKey.Delete)
        self.header_actions = [self.preferences_action, self.refresh_all_action, self.connect_action]
        self.account_actions = [
            self.reconnect_action,
            self.refresh_action,
            self.copy_action,
            self.copy_header_action,
            self.details_action,
            self.disconnect_action,
        ]

    def _build_ui(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(MARGIN_PX, MARGIN_PX, MARGIN_PX, MARGIN_PX)
        outer.setSpacing(MARGIN_PX)
        header = QHBoxLayout()
        header.setSpacing(6)
        title = QLabel("Accounts")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setWeight(font.Weight.DemiBold)
        title.setFont(font)
        self.header_title = title
        header.addWidget(title)
        header.addStretch(1)
        # Buttons are found by their action (button()), never by their label.
        self._buttons: dict[QAction, ActionButton] = {}
        for action in self.header_actions:
            button = ActionButton(action)
            button.setAutoDefault(False)
            header.addWidget(button)
            self._buttons[action] = button
        outer.addLayout(header)
        self.banner = Banner()
        outer.addWidget(self.banner)

        self.stack = QStackedWidget()
        self.empty = EmptyState(self.connect_action)
        self.stack.addWidget(self.empty)

        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.setSpacing(MARGIN_PX)
        self.list = QListView()
        self.list.setObjectName("accounts")
        self.list.setAccessibleName("Accounts")
        self.list.setModel(self.model)
        self.list.setItemDelegate(AccountDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        # Bound slots only: a lambda capturing self in a child's connection keeps the window alive forever.
        self.list.activated.connect(self._row_activated)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        page_layout.addWidget(self.list, 1)

        buttons = FlowLayout(spacing_px=6)  # wraps when narrow: every button stays on screen
        for action in self.account_actions:
            button = ActionButton(action, "Copy token" if action is self.copy_action else None)
            self._buttons[action] = button
            if action is self.disconnect_action:
                buttons.add_right_aligned(button)
            else:
                buttons.addWidget(button)
        page_layout.addLayout(buttons)
        self.stack.addWidget(page)
        self.list_page = page
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.countdown_label = QLabel()
        self.countdown_label.setContentsMargins(0, 0, MARGIN_PX, 0)
        self.countdown_label.setAccessibleName("Clipboard countdown")
        self.statusBar().addPermanentWidget(self.countdown_label)
        self.statusBar().setSizeGripEnabled(False)

    def button(self, action: QAction) -> QPushButton:
        """The push button that shows `action` (a header or account action) in the window."""
        return self._buttons[action]

    @property
    def account_buttons(self) -> list[QPushButton]:
        return [self._buttons[action] for action in self.account_actions]

    def _row_activated(self, *_: Any) -> None:
        self.details_current()

    def _current_changed(self, *_: Any) -> None:
        self._update_actions()

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(760, 500)
        self.clamp_to_screen()

    def clamp_to_screen(self) -> None:
        """Fit the window into the available area of its screen (a geometry saved at another scale factor or
        on a bigger monitor would put its buttons off-screen)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        width = max(min(self.width(), area.width() - extra_w), self.minimumSizeHint().width())
        height = max(min(self.height(), area.height() - extra_h), self.minimumSizeHint().height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        x = min(max(frame.x(), area.left()), max(area.left(), area.right() + 1 - frame.width()))
        y = min(max(frame.y(), area.top()), max(area.top(), area.bottom() + 1 - frame.height()))
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    # --- state ------------------------------------------------------------------------------------

    def attach(self, bridge: Bridge) -> None:
        self.bridge = bridge
        bridge.taskFailed.connect(self._task_failed)  # bound: dropped when this window is deleted
        bridge.keychainWaiting.connect(self._keychain_waiting)
        self._update_actions()

    def _task_failed(self, what: str, text: str) -> None:
        self.show_message(text)

    def _keychain_waiting(self, waiting: bool) -> None:
        if waiting:
            self.banner.show_text("Waiting for the keychain to be unlocked… Accounts refresh as soon as it is.")
        else:
            self.banner.hide()

    def _rows_changed(self, *_: Any) -> None:
        self.stack.setCurrentWidget(self.list_page if self.model.rowCount() else self.empty)
        if self.model.rowCount() and not self.list.currentIndex().isValid():
            self.list.setCurrentIndex(self.model.index(0))
        self._update_actions()
        self._update_tray()

    def _data_changed(self, *_: Any) -> None:
        self._update_actions()
        self._update_tray()

    def _update_tray(self) -> None:
        # Coalesced: a tick or a reload changes many rows in one turn of the loop; the tray follows once.
        self._tray_timer_ms.start()

    def _rebuild_tray(self) -> None:
        self.tray.rebuild(self.model.records(), self.model.worst())

    def current_record(self) -> AccountRecord | None:
        index = self.list.currentIndex()
        if not index.isValid():
            return None
        record = index.data(Role.RECORD)
        return record if isinstance(record, AccountRecord) else None

    def _update_actions(self) -> None:
        record = self.current_record()
        ready = self.bridge is not None or self.preview
        for action in self.account_actions:
            action.setEnabled(record is not None and (ready or action is self.details_action))
        if record is not None and record.state.is_terminal:
            for action in (self.copy_action, self.copy_header_action, self.refresh_action):
                action.setEnabled(False)
        refreshable = any(not r.state.is_terminal for r in self.model.records())
        self.refresh_all_action.setEnabled(ready and refreshable)  # nothing to send when all need sign-in
        # The buttons follow their actions by themselves (ActionButton).
        self.button(self.reconnect_action).setDefault(record is not None and record.state is AccountState.NEEDS_SIGN_IN)

    def tick(self) -> None:
        """Badges follow the clock; a wall-clock jump (suspend/resume) wakes the engine."""
        now = self._now()
        if abs(now - self._last_tick_s) > CLOCK_JUMP_S + TICK_INTERVAL_MS / 1000:
            log.info("wall clock jumped by %.0f s (suspend/resume?)", now - self._last_tick_s)
            self.clockJumped.emit()
        self._last_tick_s = now
        self.model.tick()

    def select_account(self, account_id: str, *, reconnect: bool = False) -> None:
        """Bring the window up on `account_id`; with reconnect, the Reconnect button has focus."""
        self.show_and_raise()
        row = self.model.row_of(account_id)
        if row < 0:
            return
        self.list.setCurrentIndex(self.model.index(row))
        self.list.selectionModel().select(self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_actions()
        if reconnect:
            self.button(self.reconnect_action).setFocus(Qt.FocusReason.OtherFocusReason)

    def show_and_raise(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_message(self, text: str, timeout_ms: int = 10_000) -> None:
        self.statusBar().showMessage(text, timeout_ms)
        self.messageShown.emit(text)

    def _notified(self, title: str, body: str, how: str) -> None:
        if how == "none" and title == BACKGROUND_TITLE and not self.isVisible():
            self._background_notice(body)
            return
        # Also in the status bar: a notification can be missed, or there may be no way to show one.
        self.show_message(f"{title}.", 30_000)

    def _clipboard_countdown(self, seconds_left: int) -> None:
        self.countdown_label.setText(f"Clipboard clears in {seconds_left} s" if seconds_left > 0 else "")

    def _clipboard_cleared(self, ours: bool) -> None:
        if ours:
            self.show_message("Clipboard cleared.", 4000)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        if not index.isValid():
            return
        self.list.setCurrentIndex(index)
        menu = QMenu(self)
        for action in self.account_actions:
            if action is self.disconnect_action or action is self.details_action:
                menu.addSeparator()
            menu.addAction(action)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    # --- events -----------------------------------------------------------------------------------

    def paintEvent(self, e: Any) -> None:
        super().paintEvent(e)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.firstPainted.emit)

    def save_state(self) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        if self._quitting or not self.settings.close_to_tray:
            event.accept()
            if not self._quitting:
                self.request_quit()
            return
        # Keep running (refreshing, answering `tokendesk token`) with or without a tray; say so once.
        event.ignore()
        self.hide()
        if self.settings.tray_hint_shown:
            return
        self.settings.tray_hint_shown = True
        if self.tray.available:
            text = "It keeps your tokens fresh from the tray. Choose Quit in the tray menu to exit"
        else:
            text = "It keeps your tokens fresh. Open Tokendesk again to show the window and press Ctrl+Q there to quit"
        self.tray.notify(BACKGROUND_TITLE, f"{text}, or change this in Preferences.")

    def _background_notice(self, body: str) -> None:
        # No tray and no notification service: a notification would go nowhere, so a small dialog says it.
        box = QMessageBox(QMessageBox.Icon.Information, BACKGROUND_TITLE, body, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("background-notice")
        box.show()

    def close_for_quit(self) -> None:
        """The app is quitting: close without the keep-running-in-the-background behaviour."""
        self._quitting = True
        self.close()

    def request_quit(self) -> None:
        self._quitting = True
        self.save_state()
        self.quitRequested.emit()

    # --- account actions --------------------------------------------------------------------------

    def _need_bridge(self) -> Bridge | None:
        if self.bridge is None:
            self.show_message("Tokendesk is still starting; try again in a moment.")
        return self.bridge

    def open_connect(self) -> None:
        bridge = self._need_bridge()
        if bridge is None:
            return
        from .connect_dialog import ConnectDialog

        dialog = ConnectDialog(bridge, parent=self)
        self._keep(dialog)
        dialog.connected.connect(self._connected)
        dialog.open()

    def _connected(self, record: AccountRecord) -> None:
        from .connect_dialog import ConnectDialog

        dialog = self.sender()
        verb = "reconnected" if isinstance(dialog, ConnectDialog) and dialog.reconnecting else "connected"
        self.model.upsert(record)
        self.select_account(record.id)
        self.show_message(f"{record.name} {verb}.")

    def reconnect_current(self) -> None:
        record = self.current_record()
        bridge = self._need_bridge()
        if record is None or bridge is None:
            return
        from .connect_dialog import ConnectDialog

        dialog = ConnectDialog(bridge, reconnect=record, parent=self)
        self._keep(dialog)
        dialog.connected.connect(self._connected)
        dialog.open()

    @staticmethod
    def _keep(dialog: QWidget) -> None:
        # The window (its Qt parent) keeps the dialog alive until it closes, then Qt deletes it.
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def refresh_current(self) -> None:
        record = self.current_record()
        bridge = self._need_bridge()
        if record is None or bridge is None:
            return
        self.show_message(f"Refreshing {record.name}…", 3000)
        bridge.spawn(
            bridge.service.refresh(record.id),
            f"Refreshing {record.name}",
            on_done=lambda _t: self.show_message(f"{record.name} refreshed.", 4000),
        )

    def refresh_all(self) -> None:
        bridge = self._need_bridge()
        if bridge is None:
            return
        records = [r for r in self.model.records() if not r.state.is_terminal]
        for record in records:
            bridge.spawn(bridge.service.refresh(record.id), f"Refreshing {record.name}")
        skipped = self.model.rowCount() - len(records)
        if not records:
            self.show_message("Nothing to refresh: every account needs you to sign in again (Reconnect).", 8000)
        elif skipped:
            self.show_message(f"Refreshing {len(records)} accounts; {skipped} need sign-in first…", 5000)
        else:
            self.show_message("Refreshing all accounts…", 3000)

    def copy_current_token(self) -> None:
        record = self.current_record()
        if record is not None:
            self.copy_token(record.id, header=False)

    def copy_current_header(self) -> None:
        record = self.current_record()
        if record is not None:
            self.copy_token(record.id, header=True)

    def copy_token(self, account_id: str, *, header: bool = False) -> None:
        """Make sure the token stays valid long enough (refreshing if needed), then copy it as a secret."""
        bridge = self._need_bridge()
        record = self.model.record(account_id)
        if bridge is None or record is None:
            return
        min_valid_s = self.settings.copy_min_valid_s
        name = record.name

        def copied(tokens: TokenSet) -> None:
            # Exactly what `tokendesk token --header` prints, so it pastes into `curl -H` as is.
            text = f"Authorization: {tokens.authorization_header()}" if header else tokens.access_token.reveal()
            clear_s = self.settings.clear_after_s
            self.clipboard.copy(text, clear_after_s=clear_s)
            what = "Authorization header" if header else "Access token"
            self.show_message(f"{what} for {name} copied.", 4000)

        def failed(exc: BaseException) -> None:
            bridge.report(f"Copying the token of {name}", exc)
            text = in_words(exc)  # with the remedy in the app's words (Reconnect), not the command line's
            self.show_message(f"Not copied: {text}" if text else f"Could not copy the token of {name}.", 15_000)

        bridge.spawn(
            bridge.service.token(account_id, min_valid_s=min_valid_s),
            f"Copying the token of {name}",
            on_done=copied,
            on_error=failed,
        )

    def details_current(self) -> None:
        record = self.current_record()
        if record is None:
            return
        from .details import DetailsDialog

        dialog = DetailsDialog(record, now=self._now, parent=self)
        self._keep(dialog)
        dialog.follow(self.model)
        dialog.open()

    def disconnect_current(self) -> None:
        record = self.current_record()
        bridge = self._need_bridge()
        if record is None or bridge is None:
            return
        provider = record.provider.display_name
        if not self.confirm(
            self,
            "Disconnect account?",
            f"Disconnect {record.name}?\n\nTokendesk revokes its access at {provider} and deletes the tokens "
            "from your keychain. You can connect the account again later.",
            "Disconnect",
        ):
            return
        self.show_message(f"Disconnecting {record.name}…", 3000)

        def done(result: Any) -> None:
            self.model.remove(record.id)
            note = getattr(result, "note", None)
            revoked = getattr(result, "revoked", False)
            text = f"{record.name} disconnected" + (f" and its access revoked at {provider}." if revoked else ".")
            self.show_message(text + (f" {note}" if note else ""), 15_000)
            if note:  # something to do at the provider: keep it on screen until read
                from .notices import show_disconnect_notice

                show_disconnect_notice(self, record.name, note)

        def failed(exc: BaseException) -> None:
            from desktop_app.core.errors import Hint, TokendeskError

            if not (isinstance(exc, TokendeskError) and exc.hint is Hint.KEEP_GRANT_TO_FORGET_LOCALLY):
                bridge.report(f"Disconnecting {record.name}", exc)
                return
            # The provider is out of reach: the grant cannot end from here now. Offer what the CLI's
            # --keep-grant does, saying plainly that the access stays granted at the provider.
            if self.confirm(
                self,
                "Provider out of reach",
                f"{exc}\n\nTry again when {provider} can be reached, or forget {record.name} on this computer "
                f"only: its tokens are deleted from your keychain, but the access stays granted at {provider} "
                "until you remove it there.",
                "Forget on this computer",
            ):
                bridge.spawn(
                    bridge.service.disconnect(record.id, keep_grant=True),
                    f"Forgetting {record.name}",
                    on_done=done,
                )

        bridge.spawn(
            bridge.service.disconnect(record.id), f"Disconnecting {record.name}", on_done=done, on_error=failed
        )

    def open_preferences(self) -> None:
        from .preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, parent=self)
        self._keep(dialog)
        dialog.open()
