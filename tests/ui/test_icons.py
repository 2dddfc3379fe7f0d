"""Badge glyphs: each state's SVG, recoloured, rendered at the size and scale painted (and only that one)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

from desktop_app.core.accounts import AccountState
from desktop_app.ui import icons
from desktop_app.ui.badges import badge_for
from tests.ui.conftest import make_record

RED = QColor("#d01010")


def _is_red_glyph(pm: QPixmap) -> bool:
    """Solid pixels in the colour given only, edges reddish too, corners transparent."""
    image = pm.toImage()
    w, h = image.width(), image.height()
    pixels = [image.pixelColor(x, y) for x in range(w) for y in range(h)]
    solid = {c.name() for c in pixels if c.alpha() == 255}
    edges_red = all(c.red() > 3 * max(c.green(), c.blue(), 1) for c in pixels if c.alpha() > 64)
    return solid == {RED.name()} and edges_red and image.pixelColor(0, 0).alpha() == 0


@pytest.mark.parametrize("state", list(AccountState))
def test_every_states_glyph_comes_from_its_svg_in_the_colour_given(qapp: Any, state: AccountState) -> None:
    name = badge_for(make_record(1, state=state), now=0).icon
    assert icons._state_svg(name) is not None, "the state's SVG loads"
    pm = icons.state_pixmap(name, RED, 16, 1.0)
    assert pm.size() == QSize(16, 16) and pm.devicePixelRatio() == 1.0
    assert _is_red_glyph(pm)


def test_rendered_at_the_device_size_once(qapp: Any) -> None:
    before = dict(icons._state_pixmaps)
    hidpi = icons.state_pixmap("valid", RED, 14, 2.0)
    fractional = icons.state_pixmap("valid", RED, 14, 1.25)
    assert hidpi.size() == QSize(28, 28) and hidpi.devicePixelRatio() == 2.0
    assert fractional.size() == QSize(18, 18) and fractional.devicePixelRatio() == 1.25
    assert _is_red_glyph(hidpi)
    assert icons.state_pixmap("valid", RED, 14, 2.0).cacheKey() == hidpi.cacheKey(), "rendered once"
    assert len(icons._state_pixmaps) - len(before) == 2, "only the sizes asked for"
    target = QPixmap(80, 80)
    target.setDevicePixelRatio(2.0)
    target.fill(Qt.GlobalColor.white)
    with QPainter(target) as painter:
        painter.drawPixmap(QRect(2, 2, 14, 14), hidpi)
    image = target.toImage()
    assert image.pixelColor(2 * 9, 2 * 9).name() == RED.name()  # the glyph's middle, in device pixels
    assert image.pixelColor(70, 70).name() == "#ffffff"


def test_a_missing_svg_gets_the_painted_glyph(qapp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(icons._state_renderers, "valid", None)
    monkeypatch.setattr(icons, "_state_pixmaps", {})
    pm = icons.state_pixmap("valid", RED, 16, 1.0)
    image = pm.toImage()
    assert any(image.pixelColor(x, 8).name() == RED.name() for x in range(16)), "the check glyph, in red"
