"""The start-up order: the window paints from metadata on Qt's own loop first; asyncio, qasync, the service
(httpx, the keychain probe, the engine, the agent socket) and the tray menu come right after the first paint."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer

if TYPE_CHECKING:
    from .app import Controller
    from .window import MainWindow

FIRST_PAINT_TIMEOUT_MS = 10_000  # a window that never paints (no compositor yet) must not hold up the rest

# Loaded only after the first paint (tests/ui/test_startup.py checks them; the probe mode reports them).
AFTER_FIRST_PAINT = (
    "asyncio",
    "qasync",
    "ssl",
    "httpx",
    "keyring",
    "secretstorage",
    "jeepney",
    "cryptography",
    "joserfc",
    "desktop_app.cli",
    "desktop_app.core.service",
    "desktop_app.core.vault",
    "desktop_app.core.agent",
    "desktop_app.core.device",
    "desktop_app.core.revocation",
    "desktop_app.ui.bridge",
)


def loaded_heavy_modules() -> dict[str, bool]:
    return {name: name in sys.modules for name in AFTER_FIRST_PAINT}


def wait_for_first_paint(window: MainWindow, timeout_ms: int = FIRST_PAINT_TIMEOUT_MS) -> bool:
    """Runs Qt's event loop (no asyncio yet) until the window, just shown, has painted once; False on time-out."""
    painted = False
    loop = QEventLoop()

    def done() -> None:
        nonlocal painted
        painted = True
        loop.quit()

    window.firstPainted.connect(done)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(timeout_ms)
    try:
        loop.exec()
    finally:
        timer.stop()
        window.firstPainted.disconnect(done)
    return painted


def after_first_paint(controller: Controller) -> None:
    """What start-up defers past the first paint; call with the asyncio loop set (it runs these on its first turn).

    The service's creation starts the keychain probe, the engine (due accounts refresh; httpx loads with the
    first request) and the agent socket; the tray menu gets its one action per account. The network is
    watched once a refresh finds it down (Controller._watch_network_if_offline)."""
    controller.tray.release_menu()
    controller.tray.start_sending()
    controller.load_service_soon()
