"""Start at login: an XDG autostart entry that launches the app hidden in the tray.

Plain Python, no Qt, so it is cheap to import and to test. The entry lives at
`$XDG_CONFIG_HOME/autostart/dev.tokendesk.Tokendesk.desktop` (XDG Autostart spec); the desktop session
reads it at login. Turning the option off removes the file.

Only freedesktop (XDG) sessions are handled; elsewhere `set_enabled` raises NotImplementedError and
`unsupported_reason()` says why, so the settings dialog can grey the checkbox out with that text.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

AUTOSTART_ID = "dev.tokendesk.Tokendesk"
HIDDEN_FLAG = "--hidden"
GUI_LAUNCHER = "tokendesk-gui"

# Desktop Entry spec, "The Exec key": an argument containing any of these must be quoted, and inside the
# quotes these four must be backslash-escaped.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPE_IN_QUOTES = frozenset('"`$\\')


def unsupported_reason() -> str | None:
    """Why autostart entries cannot be written here, or None when they can."""
    if sys.platform in ("win32", "cygwin", "darwin"):
        return f"Start at login is only available on Linux and other freedesktop systems (not on {sys.platform})."
    if os.environ.get("FLATPAK_ID") or Path("/.flatpak-info").exists():
        # The sandbox's ~/.config is not the host's: only the Background portal can add an autostart entry.
        return "Start at login inside Flatpak needs the desktop's Background portal, which this version does not use."
    return None


def is_supported() -> bool:
    return unsupported_reason() is None


def _config_home() -> Path:
    value = os.environ.get("XDG_CONFIG_HOME", "")
    # The Base Directory spec: a relative path is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".config"


def autostart_path() -> Path:
    """Where the entry is written: `$XDG_CONFIG_HOME/autostart/dev.tokendesk.Tokendesk.desktop`."""
    return _config_home() / "autostart" / f"{AUTOSTART_ID}.desktop"


def default_command() -> list[str]:
    """The command that starts the desktop app, without `--hidden`: absolute paths, never a bare name."""
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its executable is the launcher
        return [os.path.abspath(sys.executable)]
    # The gui-script installed next to this interpreter (a venv, pipx), else the one on PATH.
    scripts = Path(sys.executable).parent
    for candidate in (scripts / GUI_LAUNCHER, scripts / f"{GUI_LAUNCHER}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate.absolute())]
    found = shutil.which(GUI_LAUNCHER)
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "desktop_app.ui.app"]


def quote_exec_arg(arg: str) -> str:
    """One argument of an Exec value, quoted and escaped as the Desktop Entry spec requires."""
    if not arg:
        return '""'
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in arg):
        raise ValueError(f"control characters cannot appear in an Exec argument: {arg!r}")
    arg = arg.replace("%", "%%")  # field codes
    if not any(ch in _RESERVED for ch in arg):
        return arg
    quoted = "".join("\\" + ch if ch in _ESCAPE_IN_QUOTES else ch for ch in arg)
    # The string-value escaping applies on top of the quoting, so every backslash is doubled once more.
    return '"' + quoted.replace("\\", "\\\\") + '"'


def exec_line(command: Sequence[str]) -> str:
    return " ".join(quote_exec_arg(arg) for arg in command)


def entry_text(command: Sequence[str]) -> str:
    """The autostart desktop entry for `command` (which must already include `--hidden`)."""
    if not command:
        raise ValueError("the autostart command is empty")
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=Tokendesk",
        "Comment=Keep OAuth and OpenID Connect accounts signed in, from the tray",
        f"Exec={exec_line(command)}",
        f"Icon={AUTOSTART_ID}",
        "Terminal=false",
        "NoDisplay=false",
        "StartupNotify=false",
        "X-GNOME-Autostart-enabled=true",
        # KDE: start once the panel (and so the tray) is up.
        "X-KDE-autostart-after=panel",
    ]
    if os.path.isabs(command[0]):
        # If the app is uninstalled, the session skips the stale entry instead of failing at every login.
        lines.insert(5, f"TryExec={_escape_string(command[0])}")
    return "\n".join(lines) + "\n"


def _escape_string(value: str) -> str:
    return value.replace("\\", "\\\\")


def _read_entry(path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    group = None
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line
            continue
        if group == "[Desktop Entry]" and "=" in line:
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), value.strip())
    return keys


def is_enabled() -> bool:
    """True when our entry exists and the session would start it (not Hidden, not switched off by GNOME)."""
    if not is_supported():
        return False
    path = autostart_path()
    try:
        keys = _read_entry(path)
    except OSError:  # absent (the usual "off"), or unreadable
        return False
    if keys.get("Hidden", "false").lower() == "true":
        return False
    return keys.get("X-GNOME-Autostart-enabled", "true").lower() != "false"


def set_enabled(enabled: bool, *, command: list[str] | None = None) -> None:
    """Write (atomically) or remove the autostart entry. `command` defaults to `default_command()`;
    `--hidden` is appended when missing, so the app starts in the tray without a window."""
    reason = unsupported_reason()
    if reason is not None:
        raise NotImplementedError(reason)
    path = autostart_path()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    argv = list(command) if command is not None else default_command()
    if HIDDEN_FLAG not in argv:
        argv.append(HIDDEN_FLAG)
    text = entry_text(argv)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{AUTOSTART_ID}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
