"""Paints one account row: provider glyph, the account name over what it does not say, and the status pill."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from . import icons
from .badges import Tone
from .model import Role

ROW_HEIGHT_PX = 56
MARGIN_PX = 12
GLYPH_PX = 32
PILL_HEIGHT_PX = 24
PILL_ICON_PX = 14
PILL_PAD_PX = 10

# Text colours chosen to pass WCAG AA on their own tinted pill, for light and for dark palettes.
_LIGHT = {
    Tone.OK: "#1a7f37",
    Tone.WARN: "#8a5a00",
    Tone.BUSY: "#0a5dc2",
    Tone.BAD: "#c4232f",
    Tone.MUTED: "#555e68",
}
_DARK = {
    Tone.OK: "#56d364",
    Tone.WARN: "#e3b341",
    Tone.BUSY: "#79b8ff",
    Tone.BAD: "#ff7b72",
    Tone.MUTED: "#a9b1ba",
}


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5


def tone_colors(tone: Tone, palette: QPalette) -> tuple[QColor, QColor]:
    """(foreground, pill background) for `tone`, derived from the palette's base colour."""
    dark = is_dark(palette)
    fg = QColor((_DARK if dark else _LIGHT)[tone])
    base = palette.color(QPalette.ColorRole.Base)
    alpha = 0.20 if dark else 0.11
    bg = QColor.fromRgbF(
        base.redF() * (1 - alpha) + fg.redF() * alpha,
        base.greenF() * (1 - alpha) + fg.greenF() * alpha,
        base.blueF() * (1 - alpha) + fg.blueF() * alpha,
    )
    return fg, bg


def badge_font(base: QFont) -> QFont:
    font = QFont(base)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * 0.92)
    font.setWeight(QFont.Weight.DemiBold)
    return font


def pill_size(text: str, font: QFont) -> QSize:
    width = QFontMetrics(badge_font(font)).horizontalAdvance(text)
    return QSize(PILL_PAD_PX + PILL_ICON_PX + 6 + width + PILL_PAD_PX, PILL_HEIGHT_PX)


def paint_pill(painter: QPainter, rect: QRect, text: str, icon_name: str, tone: Tone, palette: QPalette) -> None:
    fg, bg = tone_colors(tone, palette)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(bg)
    radius = rect.height() / 2
    painter.drawRoundedRect(QRectF(rect), radius, radius)
    device = painter.device()
    dpr = device.devicePixelRatioF() if device is not None else 1.0
    icon_rect = QRect(rect.left() + PILL_PAD_PX, rect.center().y() - PILL_ICON_PX // 2 + 1, PILL_ICON_PX, PILL_ICON_PX)
    painter.drawPixmap(icon_rect, icons.state_pixmap(icon_name, fg, PILL_ICON_PX, dpr))
    painter.setPen(fg)
    painter.setFont(badge_font(painter.font()))
    text_rect = rect.adjusted(PILL_PAD_PX + PILL_ICON_PX + 6, 0, -PILL_PAD_PX + 2, 0)
    painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
    painter.restore()


def second_line(index: QModelIndex | QPersistentModelIndex) -> str:
    """Identity and provider, less what the account's name already says; if it says both, the server's host
    (which tells two tenants of one provider apart)."""
    name = str(index.data(Role.ACCOUNT_NAME))
    parts = [str(index.data(Role.IDENTITY)), str(index.data(Role.PROVIDER_NAME))]
    missing = [p for p in parts if p and p not in name]
    if missing:
        return " · ".join(missing)
    record = index.data(Role.RECORD)
    if record is None:
        return ""
    spec = record.provider
    return urlsplit(spec.issuer or spec.authorization_endpoint or "").hostname or ""


class AccountDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(320, ROW_HEIGHT_PX)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget: QWidget | None = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        opt.text = ""
        opt.icon = QIcon()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)

        rect: QRect = opt.rect
        palette: QPalette = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.save()
        # A hairline between rows, like native list views.
        line = QColor(palette.color(QPalette.ColorRole.Text))
        line.setAlphaF(0.08)
        painter.setPen(line)
        painter.drawLine(rect.left() + MARGIN_PX, rect.bottom(), rect.right() - MARGIN_PX, rect.bottom())

        glyph = icons.provider_icon(str(index.data(Role.PROVIDER_KEY)), str(index.data(Role.PROVIDER_NAME)))
        glyph_rect = QRect(rect.left() + MARGIN_PX, rect.center().y() - GLYPH_PX // 2 + 1, GLYPH_PX, GLYPH_PX)
        glyph.paint(painter, glyph_rect)

        text = str(index.data(Role.BADGE_TEXT))
        size = pill_size(text, opt.font)
        pill = QRect(
            rect.right() - MARGIN_PX - size.width(),
            rect.center().y() - size.height() // 2 + 1,
            size.width(),
            size.height(),
        )
        paint_pill(painter, pill, text, str(index.data(Role.BADGE_ICON)), Tone(index.data(Role.BADGE_TONE)), palette)

        left = glyph_rect.right() + MARGIN_PX
        text_width = max(0, pill.left() - MARGIN_PX - left)
        primary = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        secondary = QColor(primary)
        if not selected:
            secondary = palette.color(QPalette.ColorRole.PlaceholderText)
        else:
            secondary.setAlphaF(0.8)
        font = QFont(opt.font)
        metrics = QFontMetrics(font)
        small = QFont(font)
        if small.pointSizeF() > 0:
            small.setPointSizeF(font.pointSizeF() * 0.92)
        small_metrics = QFontMetrics(small)
        block = metrics.height() + 2 + small_metrics.height()
        top = rect.top() + (rect.height() - block) // 2 + 1
        painter.setFont(font)
        painter.setPen(primary)
        # The account's name first: it tells two rows of the same identity apart and it is what the CLI
        # takes. Underneath, whatever the name does not already say.
        name = str(index.data(Role.ACCOUNT_NAME))
        first = metrics.elidedText(name, Qt.TextElideMode.ElideRight, text_width)
        painter.drawText(QRect(left, top, text_width, metrics.height()), Qt.AlignmentFlag.AlignLeft, first)
        painter.setFont(small)
        painter.setPen(secondary)
        second = second_line(index)
        second = small_metrics.elidedText(second, Qt.TextElideMode.ElideRight, text_width)
        painter.drawText(
            QRect(left, top + metrics.height() + 2, text_width, small_metrics.height()),
            Qt.AlignmentFlag.AlignLeft,
            second,
        )
        painter.restore()
