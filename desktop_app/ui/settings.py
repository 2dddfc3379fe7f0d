"""The app's preferences, in an INI file next to accounts.json (never secrets)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

DEFAULT_MIN_VALID_S = 300
DEFAULT_CLEAR_AFTER_S = 45


class Settings:
    def __init__(self, path: Path) -> None:
        self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    def _int(self, key: str, default: int, low: int, high: int) -> int:
        value = self._qs.value(key, default)
        try:
            number = int(str(value))
        except (TypeError, ValueError):
            return default
        return min(high, max(low, number))

    def _bool(self, key: str, default: bool) -> bool:
        value = self._qs.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    @property
    def close_to_tray(self) -> bool:
        """Closing the window keeps the app running in the tray."""
        return self._bool("window/close_to_tray", True)

    @close_to_tray.setter
    def close_to_tray(self, value: bool) -> None:
        self._qs.setValue("window/close_to_tray", value)

    @property
    def tray_hint_shown(self) -> bool:
        return self._bool("window/tray_hint_shown", False)

    @tray_hint_shown.setter
    def tray_hint_shown(self, value: bool) -> None:
        self._qs.setValue("window/tray_hint_shown", value)

    @property
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    @property
    def copy_min_valid_s(self) -> int:
        """Copy token makes sure the token stays valid at least this long."""
        return self._int("clipboard/min_valid_s", DEFAULT_MIN_VALID_S, 0, 3600)

    @copy_min_valid_s.setter
    def copy_min_valid_s(self, value: int) -> None:
        self._qs.setValue("clipboard/min_valid_s", int(value))

    @property
    def clear_after_s(self) -> int:
        """The clipboard is cleared this long after a copy (0: never)."""
        return self._int("clipboard/clear_after_s", DEFAULT_CLEAR_AFTER_S, 0, 3600)

    @clear_after_s.setter
    def clear_after_s(self, value: int) -> None:
        self._qs.setValue("clipboard/clear_after_s", int(value))

    def sync(self) -> None:
        self._qs.sync()
