"""Secret clipboard: marked for clipboard managers, counted down, cleared only if it still holds our token.

The countdown is driven tick by tick (interval 0); one test checks the timer really drives it, at 1 ms a tick.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QGuiApplication

from desktop_app.ui.clipboard import TICK_MS, SecretClipboard


def test_copy_marks_secret_and_clears_after_countdown(qapp: Any) -> None:
    clip = SecretClipboard(tick_interval_ms=0)
    ticks: list[int] = []
    cleared: list[bool] = []
    clip.countdown.connect(ticks.append)
    clip.cleared.connect(cleared.append)
    clip.copy("token-value-123456", clear_after_s=3)
    board = QGuiApplication.clipboard()
    mime = board.mimeData()
    assert board.text() == "token-value-123456"
    assert bytes(mime.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert bytes(mime.data("ExcludeClipboardContentFromMonitorProcessing").data()) == b"\x01\x00\x00\x00"
    assert bytes(mime.data("CanIncludeInClipboardHistory").data()) == b"\x00\x00\x00\x00"
    assert bytes(mime.data("CanUploadToCloudClipboard").data()) == b"\x00\x00\x00\x00"
    assert mime.hasFormat("org.nspasteboard.ConcealedType")
    clip.tick()
    clip.tick()
    assert board.text() == "token-value-123456" and cleared == [] and clip.seconds_left == 1
    clip.tick()
    assert cleared == [True]
    assert board.text() == ""
    assert ticks == [3, 2, 1, 0]
    clip.tick()  # nothing held any more: a stray tick changes nothing
    assert cleared == [True] and ticks == [3, 2, 1, 0]


def test_does_not_clear_what_the_user_copied_since(qapp: Any) -> None:
    clip = SecretClipboard(tick_interval_ms=0)
    cleared: list[bool] = []
    clip.cleared.connect(cleared.append)
    clip.copy("token-value-abcdef", clear_after_s=30)
    QGuiApplication.clipboard().setText("the user's own text")
    clip.tick()  # the next tick notices the clipboard changed hands
    assert cleared == [False]
    assert QGuiApplication.clipboard().text() == "the user's own text"
    assert clip.seconds_left == 0 and not clip.counting


def test_clear_now_and_never(qapp: Any) -> None:
    clip = SecretClipboard(tick_interval_ms=0)
    clip.copy("token-value-zzzzzz", clear_after_s=0)
    assert not clip.counting
    for _ in range(100):
        clip.tick()
    assert QGuiApplication.clipboard().text() == "token-value-zzzzzz"
    clip.clear_now()
    assert QGuiApplication.clipboard().text() == ""


def test_the_timer_drives_the_countdown(qtbot: Any) -> None:
    assert TICK_MS == 1000  # one tick is one second of the countdown in the app
    clip = SecretClipboard(tick_interval_ms=1)
    with qtbot.waitSignal(clip.cleared, timeout=5000) as cleared:
        clip.copy("token-value-timer1", clear_after_s=5)
    assert cleared.args == [True]
    assert QGuiApplication.clipboard().text() == ""
