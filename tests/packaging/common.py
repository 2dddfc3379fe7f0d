"""Paths and helpers shared by the packaging tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from desktop_app.core.providers import PRESETS
from desktop_app.ui.badges import ALL_LOOKS

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"
APP_ID = "dev.tokendesk.Tokendesk"
DESKTOP_FILE = PACKAGING / f"{APP_ID}.desktop"
METAINFO_FILE = PACKAGING / f"{APP_ID}.metainfo.xml"

# Every state icon the UI's table of looks names (one per state, and offline).
STATES = tuple(look.icon for look in ALL_LOOKS)
# One icon per preset, and one for custom providers (issuer or endpoints given by hand).
PROVIDERS = (*PRESETS, "custom")


def tool(name: str) -> str:
    """A validator from Debian's desktop-file-utils / appstream (installed by `scripts/bootstrap test`)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/bootstrap test (it installs desktop-file-utils appstream)")
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, check=False)


def desktop_validate(path: Path) -> None:
    """desktop-file-validate: errors fail (exit status); hints are allowed, and printed on failure."""
    result = run(tool("desktop-file-validate"), path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " error: " not in result.stdout, result.stdout
    assert " warning: " not in result.stdout, result.stdout


def read_desktop_entry(path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    group = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            group = line.strip()
        elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys[key] = value
    return keys
