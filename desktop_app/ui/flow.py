"""A layout that wraps its widgets onto further lines when narrow (Qt's Flow Layout example, in Python).

The account buttons sit in one: on a small or scaled screen (QT_SCALE_FACTOR=2 on 1280x800 leaves 640x400)
a single row would be wider than the screen and push its last buttons out of reach.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing_px: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing_px = spacing_px
        self._stretch_before: set[int] = set()  # item indexes that start the right-aligned group
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def add_right_aligned(self, widget: QWidget) -> None:
        """Add `widget` and everything after it pushed to the right end of its line."""
        self._stretch_before.add(len(self._items))
        self.addWidget(widget)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        width = sum(i.sizeHint().width() for i in self._items) + self._spacing_px * max(0, len(self._items) - 1)
        height = max((i.sizeHint().height() for i in self._items), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        visible = [(n, i) for n, i in enumerate(self._items) if not i.isEmpty()]
        lines: list[list[tuple[int, QLayoutItem]]] = [[]]
        used = 0
        for n, item in visible:
            width = item.sizeHint().width()
            if lines[-1] and used + self._spacing_px + width > rect.width():
                lines.append([])
                used = 0
            used += (self._spacing_px if lines[-1] else 0) + width
            lines[-1].append((n, item))
        y = rect.y()
        for line in lines:
            if not line:
                continue
            height = max(i.sizeHint().height() for _, i in line)
            if apply:
                self._place(line, rect, y, height)
            y += height + self._spacing_px
        return max(0, y - rect.y() - self._spacing_px)

    def _place(self, line: list[tuple[int, QLayoutItem]], rect: QRect, y: int, height: int) -> None:
        split = next((k for k, (n, _) in enumerate(line) if n in self._stretch_before), len(line))
        left, right = line[:split], line[split:]
        x = rect.x()
        for _, item in left:
            item.setGeometry(QRect(QPoint(x, y), QSize(item.sizeHint().width(), height)))
            x += item.sizeHint().width() + self._spacing_px
        x = rect.right() + 1
        for _, item in reversed(right):
            x -= item.sizeHint().width()
            item.setGeometry(QRect(QPoint(x, y), QSize(item.sizeHint().width(), height)))
            x -= self._spacing_px
