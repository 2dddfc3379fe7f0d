"""Puts a token on the clipboard marked secret for clipboard managers, and clears it later if still there."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QClipboard, QGuiApplication

from desktop_app.core import digest

# Clipboard-manager hints: KDE Klipper (and others on Linux), Windows clipboard history and cloud clipboard,
# and the macOS pasteboard convention (nspasteboard.org).
_SECRET_HINTS: dict[str, bytes] = {
    "x-kde-passwordManagerHint": b"secret",
    "ExcludeClipboardContentFromMonitorProcessing": b"\x01\x00\x00\x00",
    "CanIncludeInClipboardHistory": b"\x00\x00\x00\x00",
    "CanUploadToCloudClipboard": b"\x00\x00\x00\x00",
    "org.nspasteboard.ConcealedType": b"",
}


TICK_MS = 1000


def secret_mime_data(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    for fmt, value in _SECRET_HINTS.items():
        mime.setData(fmt, QByteArray(value))
    return mime


def _digest(text: str) -> bytes:
    return digest.sha256(text.encode())


class SecretClipboard(QObject):
    """One secret at a time; `countdown(seconds_left)` ticks every second, 0 when cleared or replaced."""

    countdown = Signal(int)
    cleared = Signal(bool)  # True: we cleared it; False: something else was copied meanwhile, left alone

    def __init__(
        self, clipboard: QClipboard | None = None, parent: QObject | None = None, *, tick_interval_ms: int = TICK_MS
    ) -> None:
        super().__init__(parent)
        self._clipboard = clipboard or QGuiApplication.clipboard()
        self._held: bytes | None = None  # a digest, so the token itself does not linger here
        self._left_s = 0
        # One tick is one second of the countdown; tests shorten the interval, or pass 0 and call tick().
        self._tick_timer_ms = QTimer(self)
        self._tick_timer_ms.setInterval(tick_interval_ms)
        self._tick_timer_ms.timeout.connect(self.tick)

    @property
    def seconds_left(self) -> int:
        return self._left_s

    def copy(self, text: str, *, clear_after_s: int) -> None:
        self._clipboard.setMimeData(secret_mime_data(text), QClipboard.Mode.Clipboard)
        self._held = _digest(text)
        self._left_s = clear_after_s
        if clear_after_s > 0:
            if self._tick_timer_ms.interval() > 0:
                self._tick_timer_ms.start()
            self.countdown.emit(self._left_s)
        else:
            self._tick_timer_ms.stop()

    def holds_ours(self) -> bool:
        return self._held is not None and _digest(self._clipboard.text(QClipboard.Mode.Clipboard)) == self._held

    @property
    def counting(self) -> bool:
        """A copy is counting down to its clearing."""
        return self._held is not None and self._left_s > 0

    def tick(self) -> None:
        """One second of the countdown passed (the timer calls this; with an interval of 0, the caller)."""
        if not self.counting:
            return
        if not self.holds_ours():
            self._stop()
            self.countdown.emit(0)
            self.cleared.emit(False)
            return
        self._left_s -= 1
        if self._left_s > 0:
            self.countdown.emit(self._left_s)
            return
        self.clear_now()

    def clear_now(self) -> None:
        """Clear the clipboard, only if it still holds what we put there."""
        ours = self.holds_ours()
        if ours:
            self._clipboard.clear(QClipboard.Mode.Clipboard)
        self._stop()
        self.countdown.emit(0)
        self.cleared.emit(ours)

    def _stop(self) -> None:
        self._tick_timer_ms.stop()
        self._held = None
        self._left_s = 0
