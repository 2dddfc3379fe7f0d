"""Dependencies point one way: ui -> core, cli -> core. Core and CLI never reach Qt; ui never reaches
httpx or keyring itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "desktop_app"
QT = ("PySide6", "qasync", "shiboken6")


def imports(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Every module a file imports, statically, with relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(files: list[Path], forbidden: tuple[str, ...], package: Path = PACKAGE) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for path in files:
        hits = sorted(m for m in imports(path, package) if m.split(".")[0] in forbidden or m.startswith(forbidden))
        if hits:
            bad[str(path.relative_to(package))] = hits
    return bad


def test_core_never_imports_qt_or_ui() -> None:
    files = sorted((PACKAGE / "core").rglob("*.py"))
    assert len(files) > 10
    assert offenders(files, (*QT, "desktop_app.ui", "desktop_app.cli")) == {}


def test_cli_never_imports_qt_or_ui() -> None:
    assert offenders([PACKAGE / "cli.py", PACKAGE / "__main__.py"], (*QT, "desktop_app.ui")) == {}


def test_ui_reaches_httpx_and_keyring_only_through_core() -> None:
    files = sorted((PACKAGE / "ui").rglob("*.py"))
    assert offenders(files, ("httpx", "keyring", "secretstorage", "jeepney", "h11")) == {}


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    # A probe under tmp_path, laid out like the package, so a killed run leaves nothing in the source tree.
    root = tmp_path / "desktop_app"
    (root / "core").mkdir(parents=True)
    sample = root / "core" / "_layer_probe.py"
    sample.write_text("from PySide6 import QtCore\nfrom ..ui import app\n")
    assert offenders([sample], (*QT, "desktop_app.ui"), package=root) == {
        "core/_layer_probe.py": ["PySide6", "PySide6.QtCore", "desktop_app.ui", "desktop_app.ui.app"]
    }
    assert not (PACKAGE / "core" / "_layer_probe.py").exists()


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["--version"]])
def test_cli_commands_load_no_qt_at_run_time(tmp_path: Path, args: list[str]) -> None:
    code = (
        "import sys\n"
        "from desktop_app.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6'))\n"
        "print('QT-MODULES', loaded)\n"
    )
    # No bytecode: the child must not write __pycache__ into the source tree either.
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "QT-MODULES []" in out.stdout


def test_errors_import_nothing_from_the_package() -> None:
    """Everything imports errors.py: it must import nothing of desktop_app (no circles, cheap for the fast path)."""
    found = imports(PACKAGE / "core" / "errors.py")
    assert {m for m in found if m.startswith("desktop_app")} == set()


def _literals(tree: ast.AST) -> list[str]:
    """Every string literal (f-string parts included) except docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_core_messages_name_no_cli_flag_or_command() -> None:
    """The core states facts (errors carry Input and Hint); cli_words.py and the UI word flags, commands, buttons."""
    bad = {
        str(path.relative_to(PACKAGE)): hits
        for path in sorted((PACKAGE / "core").rglob("*.py"))
        if (hits := [s for s in _literals(ast.parse(path.read_text())) if "--" in s or "tokendesk " in s])
    }
    assert bad == {}
