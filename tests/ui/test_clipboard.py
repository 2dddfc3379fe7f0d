"""Secret clipboard: marked for clipboard managers, counted down, cleared only if it still holds our token."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QGuiApplication

from desktop_app.ui.clipboard import SecretClipboard


def test_copy_marks_secret_and_clears_after_countdown(qtbot: Any) -> None:
    clip = SecretClipboard()
    ticks: list[int] = []
    clip.countdown.connect(ticks.append)
    clip.copy("token-value-123456", clear_after_s=3)
    board = QGuiApplication.clipboard()
    mime = board.mimeData()
    assert board.text() == "token-value-123456"
    assert bytes(mime.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert bytes(mime.data("ExcludeClipboardContentFromMonitorProcessing").data()) == b"\x01\x00\x00\x00"
    assert bytes(mime.data("CanUploadToCloudClipboard").data()) == b"\x00\x00\x00\x00"
    assert mime.hasFormat("org.nspasteboard.ConcealedType")
    with qtbot.waitSignal(clip.cleared, timeout=5000) as cleared:
        pass
    assert cleared.args == [True]
    assert board.text() == ""
    assert ticks == [3, 2, 1, 0]


def test_does_not_clear_what_the_user_copied_since(qtbot: Any) -> None:
    clip = SecretClipboard()
    clip.copy("token-value-abcdef", clear_after_s=30)
    QGuiApplication.clipboard().setText("the user's own text")
    with qtbot.waitSignal(clip.cleared, timeout=3000) as cleared:
        pass  # the next one-second tick notices the clipboard changed hands
    assert cleared.args == [False]
    assert QGuiApplication.clipboard().text() == "the user's own text"
    assert clip.seconds_left == 0


def test_clear_now_and_never(qtbot: Any) -> None:
    clip = SecretClipboard()
    clip.copy("token-value-zzzzzz", clear_after_s=0)
    assert not clip._tick_timer_ms.isActive()
    clip.clear_now()
    assert QGuiApplication.clipboard().text() == ""
