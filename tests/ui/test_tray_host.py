"""The real app on a real X screen (Xvfb, the xcb platform), with and without a real system tray (trayer).

What a user sees is read from the X server: the icon docked in the tray's panel, the main window shown or
not. What a user does is done there too: the close button (WM_DELETE_WINDOW, as a window manager sends it),
a click on the tray icon, starting Tokendesk again. The session bus is private, with the rig's notification
service on it and no StatusNotifierWatcher, so Qt docks its icon the XEmbed way (as on a desktop whose panel
has only a legacy tray, or with no tray at all, as on stock GNOME).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.ui.window import BACKGROUND_TITLE
from tests.rig.notifications import Notification, NotificationService, PrivateBus
from tests.rig.xserver import Trayer, Xvfb, XWindow, wait_for
from tests.ui.appproc import Lines, app_env, seed, start_app, stop_app

APP_TIMEOUT_S = 30.0  # the app's start on a loaded machine; every wait ends as soon as its condition holds

# The unmodified app, observed: it says when its service is attached, that is when its asyncio loop runs. The
# tray test closes the window only after that; the no-tray test closes it as soon as it shows, maybe before the
# loop runs (the notice given then must still go out, see Tray.start_sending).
OBSERVED_MAIN = """
import json, sys
from desktop_app.ui import app

attach = app.Controller.attach

def observed_attach(self, service):
    bridge = attach(self, service)
    print(json.dumps({"event": "service"}), flush=True)
    return bridge

app.Controller.attach = observed_attach
sys.exit(app.main([]))
"""


@pytest.fixture
def screen() -> Iterator[Xvfb]:
    with Xvfb() as xvfb:
        yield xvfb


@pytest.fixture
def notifications() -> Iterator[NotificationService]:
    with PrivateBus() as bus, NotificationService(bus.address) as service:
        yield service


def _env(tmp_path: Path, screen: Xvfb, bus_address: str) -> dict[str, str]:
    seed(tmp_path)
    return {
        **app_env(tmp_path),
        **screen.env,
        "QT_QPA_PLATFORM": "xcb",
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        # No keychain on this bus: the window says it waits for one, which is not what these tests look at.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    """The app, once its event loop runs (a user closing the window takes longer than that)."""
    app = start_app(env, OBSERVED_MAIN)
    try:
        Lines(app).until_event("service")
    except BaseException:
        stop_app(app)
        raise
    return app


def _main_window(screen: Xvfb, pid: int) -> XWindow | None:
    """The app's main window when it is shown: its one visible top-level window titled Tokendesk."""
    shown = screen.visible_windows_of(pid)
    windows = [w for w in screen.tree() if w.id in shown and w.name == "Tokendesk"]
    return windows[0] if len(windows) == 1 else None


def _still_running(notifications: NotificationService) -> Notification:
    notes = notifications.wait_for(1)
    assert [n.summary for n in notes] == [BACKGROUND_TITLE]
    return notes[0]


def test_the_icon_docks_in_a_real_tray_and_a_click_on_it_brings_the_closed_window_back(
    tmp_path: Path, screen: Xvfb, notifications: NotificationService
) -> None:
    with Trayer(screen) as tray:
        app = _start(_env(tmp_path, screen, notifications.address))
        try:

            def docked() -> XWindow | None:
                ours = [w for w in tray.docked() if w.id in screen.windows_of(app.pid)]
                return ours[0] if ours else None

            icon = wait_for(docked, "the app's icon in trayer's panel", APP_TIMEOUT_S)
            main = wait_for(lambda: _main_window(screen, app.pid), "the main window", APP_TIMEOUT_S)
            panel = tray.panel()
            assert panel.x <= icon.x and icon.x + icon.width <= panel.x + panel.width  # inside the panel, on screen
            assert icon.y + icon.height <= screen.height

            # Closing the window (Preferences: keep running, the default) leaves the app in the tray.
            screen.close_window(main.id)
            wait_for(lambda: main.id not in screen.visible_windows_of(app.pid), "the window to go", APP_TIMEOUT_S)
            note = _still_running(notifications)
            assert "from the tray" in note.body and "Quit in the tray menu" in note.body, note.body
            assert app.poll() is None
            assert docked() is not None, "the icon left the tray"

            screen.click(icon.id)
            wait_for(lambda: _main_window(screen, app.pid), "the window back after a click on the icon", APP_TIMEOUT_S)
            assert app.poll() is None
        finally:
            stderr = stop_app(app)
    assert app.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


def test_without_a_tray_closing_says_how_to_get_the_window_back(
    tmp_path: Path, screen: Xvfb, notifications: NotificationService
) -> None:
    """As on stock GNOME: notifications but no tray. The app keeps running and says so; starting it again
    shows the window, as the notification says."""
    env = _env(tmp_path, screen, notifications.address)
    app = start_app(env, OBSERVED_MAIN)  # closed as soon as it shows, whether or not the asyncio loop runs yet
    try:
        main = wait_for(lambda: _main_window(screen, app.pid), "the main window", APP_TIMEOUT_S)
        assert screen.selection_owner("_NET_SYSTEM_TRAY_S0") == 0  # there really is no tray
        assert screen.visible_windows_of(app.pid) == {main.id}  # no icon window anywhere

        screen.close_window(main.id)
        wait_for(lambda: not screen.visible_windows_of(app.pid), "the window to go", APP_TIMEOUT_S)
        note = _still_running(notifications)
        assert "Open Tokendesk again to show the window" in note.body, note.body
        assert app.poll() is None

        again = subprocess.run(
            [sys.executable, "-m", "desktop_app.ui.app"], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0 and "already running" in again.stderr, again.stderr
        wait_for(lambda: _main_window(screen, app.pid), "the window back after a second start", APP_TIMEOUT_S)
    finally:
        stderr = stop_app(app)
    assert app.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


def test_without_a_tray_or_notifications_closing_shows_a_note_in_a_window(tmp_path: Path, screen: Xvfb) -> None:
    """Nothing to show a notification either: the note comes as a small dialog of the app's own."""
    with PrivateBus() as bus:
        app = _start(_env(tmp_path, screen, bus.address))
        try:
            main = wait_for(lambda: _main_window(screen, app.pid), "the main window", APP_TIMEOUT_S)
            screen.close_window(main.id)

            def notice() -> list[XWindow] | None:
                shown = screen.visible_windows_of(app.pid)
                windows = [w for w in screen.tree() if w.id in shown]
                return windows if main.id not in shown and windows else None

            windows = wait_for(notice, "a note after closing the window", APP_TIMEOUT_S)
            assert [w.name for w in windows] == [f"{BACKGROUND_TITLE} — Tokendesk"], windows
            assert app.poll() is None
        finally:
            stderr = stop_app(app)
        assert app.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
