"""The wheel: every resource inside, the right version, both launchers declared."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

from desktop_app import __version__

from .common import RESOURCES, ROOT

# What `pip wheel .` reads: the rest of the checkout (tests, packaging, .venv) is not part of the package.
SOURCES = ("pyproject.toml", "README.md", "desktop_app", "resources")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Built once from a clean copy of the sources, so no stale build/ or __pycache__ can leak into it;
    the wheel's path and everything the build printed (pip's and the build backend's output)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "tree"
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy(src, tree / name)
    out = tmp / "dist"
    result = subprocess.run(
        # --verbose: the build backend's own output is what a user's `pip install` shows when it warns.
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "--wheel-dir", str(out), str(tree)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("tokendesk-*.whl")
    return path, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(built: tuple[Path, str]) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(built[0]) as zf:
        yield zf


def test_the_build_prints_no_warnings(built: tuple[Path, str]) -> None:
    # Deprecations (e.g. `license` as a table) and packages setuptools was not told about print pages of
    # text on every install; pip's own notes about the local index are not ours.
    ours = [line for line in built[1].splitlines() if re.search(r"warn|deprecat", line, re.I)]
    ours = [line for line in ours if "Location 'file:" not in line and "byte-compiling is disabled" not in line]
    assert ours == [], "\n".join(ours)


def test_the_license_is_an_spdx_expression(wheel: zipfile.ZipFile) -> None:
    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert metadata["License-Expression"] == "MIT"


def _dist_info(zf: zipfile.ZipFile, name: str) -> str:
    (member,) = [n for n in zf.namelist() if n.endswith(f".dist-info/{name}")]
    return zf.read(member).decode()


def test_wheel_contains_every_resource(wheel: zipfile.ZipFile) -> None:
    on_disk = {
        "desktop_app/resources/" + p.relative_to(RESOURCES).as_posix()
        for p in RESOURCES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    in_wheel = {n for n in wheel.namelist() if n.startswith("desktop_app/resources/")}
    assert on_disk, "resources/ is empty?"
    assert on_disk - in_wheel == set(), "files under resources/ missing from the wheel"
    assert in_wheel - on_disk == set(), "the wheel holds resources that are not in resources/"
    assert not [n for n in wheel.namelist() if n.startswith(("resources/", "tests/", "packaging/"))]


def test_wheel_version_is_the_package_version(wheel: zipfile.ZipFile) -> None:
    metadata = Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "tokendesk"
    assert metadata["Version"] == __version__
    (dist_info,) = {n.split("/")[0] for n in wheel.namelist() if ".dist-info/" in n}
    assert dist_info == f"tokendesk-{__version__}.dist-info"


def test_wheel_declares_the_command_and_the_gui_launcher(wheel: zipfile.ZipFile) -> None:
    entry_points = _dist_info(wheel, "entry_points.txt")
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in entry_points.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = {}
        elif "=" in line:
            name, _, target = line.partition("=")
            sections[current][name.strip()] = target.strip()
    assert sections["console_scripts"]["tokendesk"] == "desktop_app.fastcli:main"  # asks a running app first
    assert sections["gui_scripts"]["tokendesk-gui"] == "desktop_app.ui.app:main"
    # The targets exist in the wheel.
    names = set(wheel.namelist())
    assert {"desktop_app/cli.py", "desktop_app/ui/app.py", "desktop_app/ui/autostart.py"} <= names
