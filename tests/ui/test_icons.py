"""Badge icons: each state's SVG, recoloured, rendered at the size asked for (and only that one)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from desktop_app.core.accounts import AccountState
from desktop_app.ui import icons
from desktop_app.ui.badges import badge_for
from tests.ui.conftest import make_record

RED = QColor("#d01010")


def _engine() -> Any:
    svg = resources.files("desktop_app.resources").joinpath("icons/states/valid.svg").read_bytes()
    return icons._TintedSvg(QSvgRenderer(QByteArray(svg)), RED)


@pytest.mark.parametrize("state", list(AccountState))
def test_every_states_icon_comes_from_its_svg_in_the_colour_given(qapp: Any, state: AccountState) -> None:
    name = badge_for(make_record(1, state=state), now=0).icon
    pm = icons.state_icon(name, RED).pixmap(16, 16)
    assert pm.size() == QSize(16, 16)
    image = pm.toImage()
    pixels = [image.pixelColor(x, y) for x in range(16) for y in range(16)]
    solid = {c.name() for c in pixels if c.alpha() == 255}
    assert solid == {RED.name()}, "the glyph is drawn, in the badge's colour only"
    assert all(c.red() > 3 * max(c.green(), c.blue(), 1) for c in pixels if c.alpha() > 64), "edges too"
    assert image.pixelColor(0, 0).alpha() == 0


def test_only_the_sizes_asked_for_are_rendered(qapp: Any) -> None:
    engine = _engine()
    icon = QIcon(engine.clone())  # the QIcon owns its engine; this one stays ours to look into
    assert icon.pixmap(16, 16).size() == QSize(16, 16)
    target = QPixmap(80, 80)
    target.setDevicePixelRatio(2.0)  # a HiDPI screen: a 14 px badge icon is 28 device pixels
    target.fill(Qt.GlobalColor.white)
    with QPainter(target) as painter:
        engine.paint(painter, QRect(2, 2, 14, 14), QIcon.Mode.Normal, QIcon.State.Off)
        engine.paint(painter, QRect(20, 2, 14, 14), QIcon.Mode.Normal, QIcon.State.Off)
    assert sorted(engine._pixmaps) == [(28, 28)], "one render, at the device's size, reused"
    image = target.toImage()
    assert image.pixelColor(2 * 9, 2 * 9).name() == RED.name()
    assert image.pixelColor(2 * 27, 2 * 9).name() == RED.name()
    assert image.pixelColor(70, 70).name() == "#ffffff"
