"""Icons from desktop_app.resources (SVG), with QPainter fallbacks so a missing file never breaks the UI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

from desktop_app.core import digest

from .badges import GLYPHS, Glyph

log = logging.getLogger(__name__)

APP_ID = "dev.tokendesk.Tokendesk"
_SIZES_PX = (16, 22, 24, 32, 48, 64, 128)
_cache: dict[str, QIcon] = {}
_state_pixmaps: dict[tuple[str, str, int, float], QPixmap] = {}  # (icon, colour, logical px, dpr)
_state_renderers: dict[str, Any] = {}  # icon name -> QSvgRenderer, or None when its SVG cannot be loaded


def _resource_icon(relative: str) -> QIcon | None:
    try:
        item = resources.files("desktop_app.resources").joinpath(relative)
        if not item.is_file():
            return None
        if isinstance(item, Path):
            icon = QIcon(str(item))
        else:  # zipped or frozen: render the bytes ourselves
            from PySide6.QtSvg import QSvgRenderer

            renderer = QSvgRenderer(QByteArray(item.read_bytes()))
            icon = QIcon()
            for size in _SIZES_PX:
                pixmap = QPixmap(size, size)
                pixmap.fill(Qt.GlobalColor.transparent)
                with _painter(pixmap) as p:
                    renderer.render(p)
                icon.addPixmap(pixmap)
    except (OSError, ModuleNotFoundError) as exc:
        log.debug("icon %s unavailable: %s", relative, exc)
        return None
    return None if icon.isNull() else icon


class _painter:
    """QPainter as a context manager, so end() is never forgotten."""

    def __init__(self, pixmap: QPixmap) -> None:
        self._p = QPainter(pixmap)
        self._p.setRenderHint(QPainter.RenderHint.Antialiasing)

    def __enter__(self) -> QPainter:
        return self._p

    def __exit__(self, *exc: object) -> None:
        self._p.end()


def _painted(draw: object, sizes: tuple[int, ...] = _SIZES_PX) -> QIcon:
    icon = QIcon()
    for size in sizes:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        with _painter(pixmap) as p:
            draw(p, float(size))  # type: ignore[operator]
        icon.addPixmap(pixmap)
    return icon


def app_icon() -> QIcon:
    if "app" not in _cache:
        _cache["app"] = _resource_icon(f"icons/app/{APP_ID}.svg") or _painted(_draw_app)
    return _cache["app"]


def _draw_app(p: QPainter, s: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#2f6fde"))
    p.drawRoundedRect(QRectF(0.06 * s, 0.06 * s, 0.88 * s, 0.88 * s), 0.2 * s, 0.2 * s)
    pen = QPen(QColor("white"), max(1.5, 0.09 * s), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(QPointF(0.38 * s, 0.5 * s), 0.14 * s, 0.14 * s)
    p.drawLine(QPointF(0.52 * s, 0.5 * s), QPointF(0.8 * s, 0.5 * s))
    p.drawLine(QPointF(0.72 * s, 0.5 * s), QPointF(0.72 * s, 0.64 * s))


def state_pixmap(name: str, color: QColor, size_px: int, dpr: float) -> QPixmap:
    """The badge glyph for a state's icon name (badges.Look.icon) in `color`, `size_px` logical pixels square at
    device pixel ratio `dpr`: the state's symbolic SVG recoloured (its glyph painted when the SVG cannot be
    loaded), rendered at exactly that size once. A badge needs one size; an icon of pixmaps rendered seven up
    front (about 2 ms per state and colour before the first paint) and scaled the nearest at fractional scale
    factors."""
    key = (name, color.name(QColor.NameFormat.HexArgb), size_px, dpr)
    if key not in _state_pixmaps:
        device = max(1, round(size_px * dpr))
        pm = QPixmap(device, device)
        pm.fill(Qt.GlobalColor.transparent)
        renderer = _state_svg(name)
        with _painter(pm) as p:
            if renderer is not None:
                renderer.render(p, QRectF(0, 0, device, device))
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
                p.fillRect(QRectF(0, 0, device, device), color)
            else:
                _draw_glyph(p, float(device), GLYPHS.get(name, Glyph.ALERT), color)
        pm.setDevicePixelRatio(dpr)
        _state_pixmaps[key] = pm
    return _state_pixmaps[key]


def _state_svg(name: str) -> Any:
    """The state's SVG as a QSvgRenderer, or None when it cannot be loaded."""
    if name not in _state_renderers:
        from PySide6.QtSvg import QSvgRenderer  # here: a window without accounts paints without QtSvg

        renderer = None
        try:
            item = resources.files("desktop_app.resources").joinpath(f"icons/states/{name}.svg")
            if item.is_file():
                renderer = QSvgRenderer(QByteArray(item.read_bytes()))
        except (OSError, ModuleNotFoundError) as exc:
            log.debug("state icon %s unavailable: %s", name, exc)
        _state_renderers[name] = renderer if renderer is not None and renderer.isValid() else None
    return _state_renderers[name]


def _pen(color: QColor, s: float) -> QPen:
    return QPen(color, max(1.2, s / 10), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)


def _box(s: float) -> QRectF:
    w = max(1.2, s / 10)
    return QRectF(w, w, s - 2 * w, s - 2 * w)


def _draw_check(p: QPainter, s: float, color: QColor) -> None:
    w = max(1.2, s / 10)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(_box(s))
    p.setPen(QPen(QColor("white"), w * 1.1, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    path = QPainterPath(QPointF(0.3 * s, 0.52 * s))
    path.lineTo(0.45 * s, 0.66 * s)
    path.lineTo(0.71 * s, 0.36 * s)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)


def _draw_clock(p: QPainter, s: float, color: QColor) -> None:
    r = _box(s)
    c = r.center()
    p.setPen(_pen(color, s))
    p.drawEllipse(r)
    p.drawLine(c, QPointF(c.x(), 0.26 * s))
    p.drawLine(c, QPointF(0.68 * s, c.y()))


def _draw_arrow(p: QPainter, s: float, color: QColor) -> None:
    w = max(1.2, s / 10)
    p.setPen(_pen(color, s))
    p.drawArc(_box(s).adjusted(w, w, -w, -w), 40 * 16, 280 * 16)
    tip = QPointF(0.82 * s, 0.28 * s)
    p.drawLine(tip, QPointF(0.82 * s, 0.46 * s))
    p.drawLine(tip, QPointF(0.64 * s, 0.28 * s))


def _draw_no_signal(p: QPainter, s: float, color: QColor) -> None:
    c = _box(s).center()
    p.setPen(_pen(color, s))
    for frac in (0.85, 0.55):
        arc = QRectF(c.x() - frac * s / 2, 0.62 * s - frac * s / 2, frac * s, frac * s)
        p.drawArc(arc, 45 * 16, 90 * 16)
    p.drawPoint(QPointF(c.x(), 0.72 * s))
    p.drawLine(QPointF(0.15 * s, 0.15 * s), QPointF(0.85 * s, 0.85 * s))


def _draw_alert(p: QPainter, s: float, color: QColor) -> None:
    w = max(1.2, s / 10)
    r = _box(s)
    c = r.center()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawEllipse(r)
    p.setPen(QPen(QColor("white"), w * 1.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(c.x(), 0.28 * s), QPointF(c.x(), 0.56 * s))
    p.drawPoint(QPointF(c.x(), 0.72 * s))


GLYPH_PAINTERS: dict[Glyph, Callable[[QPainter, float, QColor], None]] = {
    Glyph.CHECK: _draw_check,
    Glyph.CLOCK: _draw_clock,
    Glyph.ARROW: _draw_arrow,
    Glyph.NO_SIGNAL: _draw_no_signal,
    Glyph.ALERT: _draw_alert,
}


def _draw_glyph(p: QPainter, s: float, glyph: Glyph, color: QColor) -> None:
    GLYPH_PAINTERS[glyph](p, s, color)


_AVATAR_COLOURS = ("#2f6fde", "#7a3fd1", "#0f8a5f", "#c2410c", "#b4237a", "#0e7490", "#4d5bd1", "#a16207")


def provider_icon(key: str, display_name: str) -> QIcon:
    cache_key = f"provider:{key}:{display_name}"
    if cache_key not in _cache:
        icon = _resource_icon(f"icons/providers/{key}.svg")
        _cache[cache_key] = icon or _painted(lambda p, s: _draw_avatar(p, s, display_name or key))
    return _cache[cache_key]


def _draw_avatar(p: QPainter, s: float, label: str) -> None:
    first = digest.sha256(label.encode())[0]
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(_AVATAR_COLOURS[first % len(_AVATAR_COLOURS)]))
    p.drawRoundedRect(QRectF(0, 0, s, s), 0.22 * s, 0.22 * s)
    font = QFont()
    font.setPixelSize(max(6, int(s * 0.5)))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, (label.strip()[:1] or "?").upper())


def pixmap(icon: QIcon, size_px: int, dpr: float) -> QPixmap:
    return icon.pixmap(QSize(size_px, size_px), dpr)
