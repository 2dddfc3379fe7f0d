"""The window fits a small screen at a large scale factor (issue 8): at QT_SCALE_FACTOR=2 on 1280x800 (640x400
logical), both the default size (760x500) and a geometry saved at scale 1 on a bigger screen left the window
larger than the screen and its buttons off it.

The real app on a real X screen (Xvfb, the xcb platform), started three times with one config: on the small
screen with nothing saved, on a big screen at scale 1 where the window is moved and sized large and saved on
quit, and on the small screen again, restoring that. Qt's QWidget::restoreGeometry refuses a geometry saved on
a screen more than 25% wider or narrower (1920 against 640 logical here: it returns False), so the app falls
back to its default size there too; MainWindow.clamp_to_screen is what fits both (a geometry Qt does accept,
Qt fits to the screen itself). Made a no-op, both the first and the third start fail here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.rig.xserver import Xvfb
from tests.ui.appproc import Lines, app_env, seed, start_app, stop_app

# The unmodified app in its start-up probe mode (it quits right after the first paint, saving its geometry as a
# quit does), observed: optionally placed where a user had dragged it, then it reports, as logical pixels, the
# screen's available area, the window's frame and each account button's place on the screen.
OBSERVED_MAIN = """
import json, os, sys
from PySide6.QtCore import QPoint, QRect
from desktop_app.ui import app

def box(rect):
    return [rect.x(), rect.y(), rect.width(), rect.height()]

init = app.Controller.__init__

def observed_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    window = self.window
    place = os.environ.get("TEST_PLACE_WINDOW")
    if place:
        window.setGeometry(QRect(*map(int, place.split(","))))

    def report():
        screen = window.screen()
        buttons = {}
        for button in window.account_buttons:
            corner = button.mapToGlobal(QPoint(0, 0))
            buttons[button.text()] = [corner.x(), corner.y(), button.width(), button.height(), button.isVisible()]
        print(json.dumps({
            "event": "painted",
            "scale": window.devicePixelRatioF(),
            "available": box(screen.availableGeometry()),
            "frame": box(window.frameGeometry()),
            "buttons": buttons,
        }), flush=True)

    window.firstPainted.connect(report)

app.Controller.__init__ = observed_init
sys.exit(app.main([]))
"""

SMALL = (1280, 800)  # the laptop: 640x400 at scale 2
BIG = (1920, 1200)
SAVED_ON_BIG = [300, 200, 1500, 1000]  # where the user had the window on the big screen


@pytest.fixture(scope="module")
def small_screen() -> Iterator[Xvfb]:
    with Xvfb(*SMALL) as screen:
        yield screen


@pytest.fixture(scope="module")
def big_screen() -> Iterator[Xvfb]:
    with Xvfb(*BIG) as screen:
        yield screen


def _run(env: dict[str, str], screen: Xvfb, scale: int, place: list[int] | None = None) -> dict[str, Any]:
    """One start of the app on `screen` at `scale`, until its first paint; what it reported."""
    env = {**env, **screen.env, "QT_SCALE_FACTOR": str(scale)}
    if place is not None:
        env["TEST_PLACE_WINDOW"] = ",".join(map(str, place))
    app = start_app(env, OBSERVED_MAIN)
    try:
        report = Lines(app).until_event("painted")
        assert app.wait(timeout=30) == 0
    finally:
        stderr = stop_app(app)
    assert "Traceback" not in stderr, stderr
    return report


def _inside(outer: list[int], inner: list[int]) -> bool:
    x, y, w, h = outer
    return x <= inner[0] and y <= inner[1] and inner[0] + inner[2] <= x + w and inner[1] + inner[3] <= y + h


def _assert_fits(report: dict[str, Any]) -> None:
    available = report["available"]
    assert report["scale"] == 2 and available == [0, 0, SMALL[0] // 2, SMALL[1] // 2], report
    assert _inside(available, report["frame"]), f"the window {report['frame']} is not inside the screen {available}"
    assert len(report["buttons"]) == 6, report["buttons"]
    for text, (*place, visible) in report["buttons"].items():
        assert visible and _inside(available, place), f"{text!r} at {place} is not on the screen {available}"
        assert _inside(report["frame"], place), f"{text!r} at {place} is outside the window {report['frame']}"


def test_the_window_and_its_buttons_fit_a_small_screen_at_scale_2(
    tmp_path: Path, small_screen: Xvfb, big_screen: Xvfb
) -> None:
    seed(tmp_path)
    env = {
        **app_env(tmp_path),
        "QT_QPA_PLATFORM": "xcb",
        "TOKENDESK_STARTUP_PROBE": "1",  # quit after the first paint
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus",
    }

    first = _run(env, small_screen, 2)  # nothing saved: the default size is 760x500
    _assert_fits(first)

    on_big = _run(env, big_screen, 1, place=SAVED_ON_BIG)
    assert on_big["frame"] == SAVED_ON_BIG, on_big  # what quitting saved: larger than the small screen

    restored = _run(env, small_screen, 2)
    _assert_fits(restored)
