"""Preferences: shows the saved settings, OK saves them (and the login item), Cancel changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop_app.ui import autostart
from desktop_app.ui.app import Controller
from desktop_app.ui.preferences import PreferencesDialog
from desktop_app.ui.settings import Settings
from tests.ui.conftest import FakeService


@pytest.fixture(autouse=True)
def private_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The login item is written under XDG_CONFIG_HOME: never the real one."""
    home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("FLATPAK_ID", raising=False)
    return home


def _open(controller: Controller) -> PreferencesDialog:
    controller.window.preferences_action.trigger()
    [dialog] = [d for d in controller.window.findChildren(PreferencesDialog) if d.isVisible()]
    return dialog


def _reread(controller: Controller) -> Settings:
    return Settings(controller.paths.config_dir / "tokendesk-ui.ini")


def test_shows_the_defaults(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, _ = app_ctl
    dialog = _open(controller)
    assert dialog.windowTitle() == "Preferences"
    assert dialog.close_to_tray.isChecked()
    assert not dialog.autostart.isChecked()
    assert dialog.min_valid.value() == 5 and dialog.min_valid.suffix() == " min"
    assert dialog.clear_after.value() == 45
    dialog.clear_after.setValue(0)
    assert dialog.clear_after.text() == "Never"
    dialog.reject()


def test_ok_saves_every_setting_and_the_login_item(
    app_ctl: tuple[Controller, FakeService], private_config_home: Path
) -> None:
    if autostart.unsupported_reason() is not None:
        pytest.fail(f"start at login should be supported on the test machine: {autostart.unsupported_reason()}")
    controller, _ = app_ctl
    dialog = _open(controller)
    dialog.close_to_tray.setChecked(False)
    dialog.autostart.setChecked(True)
    dialog.min_valid.setValue(12)
    dialog.clear_after.setValue(90)
    dialog.accept()
    assert not dialog.isVisible()
    saved = _reread(controller)
    assert (saved.close_to_tray, saved.copy_min_valid_s, saved.clear_after_s) == (False, 720, 90)
    assert autostart.is_enabled()
    assert autostart.autostart_path().is_relative_to(private_config_home)
    assert "--hidden" in autostart.autostart_path().read_text()
    # What the next copy uses.
    assert controller.settings.copy_min_valid_s == 720 and controller.settings.clear_after_s == 90

    again = _open(controller)
    assert not again.close_to_tray.isChecked() and again.autostart.isChecked()
    assert (again.min_valid.value(), again.clear_after.value()) == (12, 90)
    again.autostart.setChecked(False)
    again.accept()
    assert not autostart.is_enabled() and not autostart.autostart_path().exists()


def test_cancel_changes_nothing(app_ctl: tuple[Controller, FakeService]) -> None:
    controller, _ = app_ctl
    dialog = _open(controller)
    dialog.close_to_tray.setChecked(False)
    dialog.autostart.setChecked(True)
    dialog.min_valid.setValue(30)
    dialog.clear_after.setValue(5)
    dialog.reject()
    saved = _reread(controller)
    assert (saved.close_to_tray, saved.copy_min_valid_s, saved.clear_after_s) == (True, 300, 45)
    assert not autostart.is_enabled()


def test_a_failing_login_item_keeps_the_dialog_open(
    app_ctl: tuple[Controller, FakeService], monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    controller, _ = app_ctl
    warnings: list[str] = []

    def refuse(enabled: bool, **_: Any) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(autostart, "set_enabled", refuse)
    monkeypatch.setattr(
        "desktop_app.ui.preferences.QMessageBox.warning", lambda parent, title, text: warnings.append(text)
    )
    dialog = _open(controller)
    dialog.autostart.setChecked(True)
    dialog.accept()
    assert warnings == ["Could not change the login item: read-only file system"]
    assert dialog.isVisible()
    dialog.reject()
