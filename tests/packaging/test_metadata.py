"""The desktop entry, the AppStream metainfo and the Flatpak manifest: valid, and consistent with each other."""

from __future__ import annotations

import re
import shutil
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from desktop_app import __version__

from .common import (
    APP_ID,
    DESKTOP_FILE,
    METAINFO_FILE,
    PACKAGING,
    RESOURCES,
    ROOT,
    desktop_validate,
    read_desktop_entry,
    run,
    tool,
)

FLATPAK_MANIFEST = PACKAGING / "flatpak" / f"{APP_ID}.yml"


def test_desktop_file_validates() -> None:
    desktop_validate(DESKTOP_FILE)


def test_desktop_file_names_the_app() -> None:
    keys = read_desktop_entry(DESKTOP_FILE)
    assert keys["Type"] == "Application"
    assert keys["Icon"] == APP_ID
    assert (RESOURCES / "icons" / "app" / f"{APP_ID}.svg").is_file()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert keys["Exec"].split()[0] in scripts, "Exec runs an installed console script"
    assert keys["TryExec"] == keys["Exec"].split()[0]
    # Wayland compositors match the window to this file by app id (QGuiApplication.setDesktopFileName); on X11
    # the window's WM_CLASS class is Qt's applicationName, which StartupWMClass must repeat.
    app_py = (ROOT / "desktop_app" / "ui" / "app.py").read_text()
    assert "setDesktopFileName(icons.APP_ID)" in app_py or f'setDesktopFileName("{APP_ID}")' in app_py
    names = re.findall(r'setApplicationName\("([^"]+)"\)', app_py)
    assert names, "desktop_app/ui/app.py sets the application name"
    assert keys["StartupWMClass"] == names[-1]
    categories = keys["Categories"].rstrip(";").split(";")
    assert {"Utility", "Security"} <= set(categories)
    assert keys["Keywords"].endswith(";")


def test_metainfo_validates() -> None:
    result = run(tool("appstreamcli"), "validate", "--no-net", "--explain", METAINFO_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    # Nothing above "pedantic" (the only pedantic note is the upper case in the agreed reverse-DNS id).
    assert not re.search(r"^[EWI]: ", result.stdout, re.MULTILINE), result.stdout


def test_metainfo_matches_the_package() -> None:
    root = ET.parse(METAINFO_FILE).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == DESKTOP_FILE.name
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    releases = root.findall("releases/release")
    assert releases, "release notes"
    assert releases[0].get("version") == __version__, "the newest release is the package version"
    assert releases[0].find("description") is not None
    binaries = {b.text for b in root.findall("provides/binary")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert binaries == set(pyproject["scripts"]) | set(pyproject["gui-scripts"])
    screenshot = root.findtext("screenshots/screenshot/image") or ""
    assert screenshot.startswith("https://") and screenshot.endswith("/docs/screenshot.png")
    assert root.find("content_rating").get("type") == "oars-1.1"  # type: ignore[union-attr]


def test_installed_tree_validates(tmp_path: Path) -> None:
    """`appstreamcli validate-tree` on the layout Flatpak and distributions install: metainfo, desktop file
    and icon found together."""
    share = tmp_path / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    shutil.copy(DESKTOP_FILE, share / "applications")
    shutil.copy(METAINFO_FILE, share / "metainfo")
    icon_dir = share / "icons" / "hicolor" / "scalable" / "apps"
    icon_dir.mkdir(parents=True)
    shutil.copy(RESOURCES / "icons" / "app" / f"{APP_ID}.svg", icon_dir)
    result = run(tool("appstreamcli"), "validate-tree", "--no-net", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"^\s*[EWI]: ", result.stdout, re.MULTILINE), result.stdout


def test_flatpak_manifest_is_coherent() -> None:
    text = FLATPAK_MANIFEST.read_text()
    assert re.search(rf"^id: {re.escape(APP_ID)}$", text, re.MULTILINE)
    assert re.search(r"^command: tokendesk\b", text, re.MULTILINE)
    args = re.findall(r"^  - (--\S+)", text, re.MULTILINE)
    for needed in (
        "--share=network",
        "--socket=wayland",
        "--socket=fallback-x11",
        "--share=ipc",
        "--talk-name=org.freedesktop.secrets",
        "--talk-name=org.freedesktop.Notifications",
        "--talk-name=org.kde.StatusNotifierWatcher",
    ):
        assert needed in args
    assert not [a for a in args if a.startswith(("--filesystem", "--socket=session-bus", "--device=all"))]
    # Portals (OpenURI, Notification) are open to every app: a talk-name for one would be a wrong hint.
    assert not [a for a in args if "org.freedesktop.portal" in a]
    # Every permission is explained by a comment right above it (or above its group).
    lines = text.splitlines()
    start = lines.index("finish-args:")
    for i, line in enumerate(lines[start + 1 :], start + 1):
        if not line.startswith("  "):
            break
        if line.startswith("  - --"):
            above = lines[start + 1 : i]
            assert any(prev.strip().startswith("#") for prev in above[-3:]), f"no reason given for {line.strip()}"
    # It installs the files these tests validate, and the icons build_icons.py renders.
    for path in (DESKTOP_FILE, METAINFO_FILE, PACKAGING / "build_icons.py"):
        assert f"packaging/{path.name}" in text
    assert "pip wheel" in text
    assert (FLATPAK_MANIFEST.parent / "../..").resolve() == ROOT
