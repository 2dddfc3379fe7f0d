"""Where files go, and that finding them prints nothing, even with XDG_RUNTIME_DIR unset (a fresh container,
a cron job, `su -`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR" and not k.startswith("PYTHONWARN")}
    base.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        **env,
    )
    # -W default: a warning that is filtered nowhere would be printed, as it would be for a user.
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", code], env=base, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("runtime", [None, "relative/dir"])
def test_no_runtime_dir_prints_nothing_and_still_gives_a_socket_path(tmp_path: Path, runtime: str | None) -> None:
    code = "from desktop_app.core.paths import AppPaths\nprint(AppPaths.default().agent_socket)\n"
    result = _run(code, tmp_path, **({} if runtime is None else {"XDG_RUNTIME_DIR": runtime}))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert Path(result.stdout.strip()).name == "agent.sock"


def test_the_cli_prints_nothing_on_stderr_without_a_runtime_dir(tmp_path: Path) -> None:
    result = _run("from desktop_app.cli import main\nraise SystemExit(main(['list', '--json']))\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_runtime_warning_goes_to_the_log(tmp_path: Path) -> None:
    code = (
        "import logging\nlogging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "from desktop_app.core.paths import AppPaths\nAppPaths.default()\n"
    )
    result = _run(code, tmp_path)
    assert result.returncode == 0
    assert "desktop_app.core.paths runtime directory: XDG_RUNTIME_DIR is not set" in result.stderr
