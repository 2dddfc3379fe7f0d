"""Start at login: the XDG autostart entry is written valid, found again, and removed."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from desktop_app.ui import autostart

from .common import APP_ID, desktop_validate, read_desktop_entry


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("FLATPAK_ID", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    return home


def unquote_exec(value: str) -> list[str]:
    """Split an Exec value the way a desktop-entry reader does (string unescape, then quoting), for round trips."""
    value = value.replace("\\\\", "\\")  # the string-value escape is applied first
    args, current, quoted, i, in_arg = [], "", False, 0, False
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
                current += value[i + 1]
                i += 1
            elif ch == '"':
                quoted = False
            else:
                current += ch
        elif ch == '"':
            quoted, in_arg = True, True
        elif ch == " ":
            if in_arg:
                args.append(current)
            current, in_arg = "", False
        else:
            current += ch
            in_arg = True
        i += 1
    if in_arg:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def test_path_is_under_xdg_config_home(config_home: Path) -> None:
    assert autostart.AUTOSTART_ID == APP_ID
    assert autostart.autostart_path() == config_home / "autostart" / f"{APP_ID}.desktop"


def test_relative_xdg_config_home_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.autostart_path() == tmp_path / ".config" / "autostart" / f"{APP_ID}.desktop"


def test_enable_writes_a_valid_entry_that_starts_hidden(config_home: Path) -> None:
    assert not autostart.is_enabled()
    autostart.set_enabled(True, command=["/opt/tokendesk/bin/tokendesk-gui"])
    path = autostart.autostart_path()
    assert autostart.is_enabled()
    desktop_validate(path)
    keys = read_desktop_entry(path)
    assert keys["Type"] == "Application"
    assert keys["Name"] == "Tokendesk"
    assert keys["Icon"] == APP_ID
    assert keys["Exec"] == "/opt/tokendesk/bin/tokendesk-gui --hidden"
    assert keys["TryExec"] == "/opt/tokendesk/bin/tokendesk-gui"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert keys["NoDisplay"] == "false"
    assert keys["Terminal"] == "false"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == [path.name], "no temporary file left behind"


def test_disable_removes_the_entry_and_is_idempotent(config_home: Path) -> None:
    autostart.set_enabled(True, command=["/usr/bin/tokendesk-gui", "--hidden"])
    assert read_desktop_entry(autostart.autostart_path())["Exec"].count("--hidden") == 1
    autostart.set_enabled(False)
    assert not autostart.autostart_path().exists()
    assert not autostart.is_enabled()
    autostart.set_enabled(False)  # already off: no error
    autostart.set_enabled(True, command=["/usr/bin/tokendesk-gui"])
    assert autostart.is_enabled()


def test_enabling_twice_rewrites_in_place(config_home: Path) -> None:
    autostart.set_enabled(True, command=["/old/tokendesk-gui"])
    autostart.set_enabled(True, command=["/new/tokendesk-gui"])
    assert read_desktop_entry(autostart.autostart_path())["Exec"] == "/new/tokendesk-gui --hidden"
    assert len(os.listdir(autostart.autostart_path().parent)) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["/home/ann/My Apps/venv/bin/python", "-m", "desktop_app.ui.app"],
        ['/tmp/we"ird/$HOME/`x`/back\\slash/tokendesk-gui'],
        ["/opt/100%/tokendesk-gui"],
        ["/opt/a;b&c|d(e)*?#~<>'/tokendesk-gui"],
    ],
)
def test_exec_quoting_round_trips_and_validates(config_home: Path, argv: list[str]) -> None:
    autostart.set_enabled(True, command=list(argv))
    path = autostart.autostart_path()
    desktop_validate(path)
    assert unquote_exec(read_desktop_entry(path)["Exec"]) == [*argv, "--hidden"]


def test_control_characters_are_refused(config_home: Path) -> None:
    with pytest.raises(ValueError, match="control characters"):
        autostart.set_enabled(True, command=["/opt/bad\nname"])
    assert not autostart.autostart_path().exists()


def test_entry_switched_off_by_the_session_counts_as_disabled(config_home: Path) -> None:
    autostart.set_enabled(True, command=["/usr/bin/tokendesk-gui"])
    path = autostart.autostart_path()
    text = path.read_text()
    path.write_text(text.replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"))
    assert not autostart.is_enabled()
    path.write_text(text + "Hidden=true\n")
    assert not autostart.is_enabled()


def test_default_command_prefers_the_gui_launcher_beside_the_interpreter(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("")
    launcher = bin_dir / "tokendesk-gui"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    assert autostart.default_command() == [str(launcher)]
    autostart.set_enabled(True)
    assert read_desktop_entry(autostart.autostart_path())["Exec"] == f"{launcher} --hidden"


def test_default_command_falls_back_to_the_module(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert autostart.default_command() == [str(tmp_path / "python3"), "-m", "desktop_app.ui.app"]


def test_default_command_in_a_bundle_is_the_bundle(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/tokendesk/tokendesk")
    assert autostart.default_command() == ["/opt/tokendesk/tokendesk"]


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_other_platforms_say_why_not(config_home: Path, monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert not autostart.is_supported()
    assert platform in (autostart.unsupported_reason() or "")
    assert not autostart.is_enabled()
    with pytest.raises(NotImplementedError, match="Linux"):
        autostart.set_enabled(True)
    assert not autostart.autostart_path().exists()


def test_flatpak_is_not_written_into_the_sandbox(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLATPAK_ID", APP_ID)
    with pytest.raises(NotImplementedError, match="Background portal"):
        autostart.set_enabled(True)
    assert not autostart.autostart_path().exists()
