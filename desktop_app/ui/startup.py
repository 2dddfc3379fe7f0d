"""The start-up order: the window paints from metadata on Qt's own loop first; asyncio, qasync, the service
(httpx, the keychain probe, the engine, the agent socket) and the tray menu come right after the first paint."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec

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
    first request) and the agent socket; the tray menu gets its one action per account; the network is
    watched once an account is offline."""
    controller.tray.release_menu()
    controller.load_service_soon()
    controller.watch_network_when_needed()


# asyncio's modules that take ssl at their import (CPython 3.11-3.13), and what sslproto derives from it then.
_ASYNCIO_SSL_USERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


def import_asyncio() -> None:
    """asyncio without ssl: importing ssl maps and initialises OpenSSL (about 6 MiB of RSS) for asyncio's own TLS
    transports, which this app never uses on its loop (httpx does TLS through anyio on ssl.MemoryBIO). ssl then
    loads with the first HTTPS client, and asyncio gets it back at that moment (_GiveAsyncioSsl)."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # asyncio's `import ssl` fails: it sets ssl = None
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]
    sys.meta_path.insert(0, _GiveAsyncioSsl())


class _GiveAsyncioSsl(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The first `import ssl` anywhere: loads the real module, then sets it where asyncio expected it."""

    def __init__(self) -> None:
        self._loader: importlib.abc.Loader | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "ssl":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        assert self._loader is not None
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        assert self._loader is not None
        self._loader.exec_module(module)
        give_asyncio_ssl(module)


def give_asyncio_ssl(ssl: ModuleType) -> None:
    for name in _ASYNCIO_SSL_USERS:
        used = sys.modules.get(name)
        if used is not None and getattr(used, "ssl", ssl) is None:
            used.ssl = ssl  # type: ignore[attr-defined]
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        sslproto.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)  # type: ignore[attr-defined]
