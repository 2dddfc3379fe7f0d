"""Small dialogs that tell the user something they must act on, with links that open in the browser."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

_URL = re.compile(r"https://[^\s<>\"']+[^\s<>\"'.,;:)]")


def linkify(text: str) -> str:
    """Plain text as rich text, every https:// URL a link."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def show_disconnect_notice(parent: QWidget, name: str, note: str) -> QMessageBox:
    """The account is gone here, but its grant may live on at the provider: a status-bar message would
    vanish before the user could act on it, so the note stays in a (non-blocking) dialog."""
    box = QMessageBox(QMessageBox.Icon.Information, f"{name} disconnected", "", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("disconnect-notice")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(linkify(note))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box
