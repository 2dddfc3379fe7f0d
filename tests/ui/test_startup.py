"""Start-up: the window paints from metadata before httpx or keyring are imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop_app.core.accounts import AccountStore
from desktop_app.core.paths import AppPaths
from tests.ui.conftest import make_record


def test_first_paint_happens_before_httpx_and_keyring(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TOKENDESK_STARTUP_PROBE": "1",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    paths = AppPaths(config_dir=tmp_path / "config" / "tokendesk", state_dir=tmp_path / "s", log_dir=tmp_path / "l")
    AccountStore(paths.accounts_file).add(make_record(1))
    proc = subprocess.run(
        [sys.executable, "-c", "from desktop_app.ui.app import main; raise SystemExit(main([]))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["painted"] is True
    assert report["loaded"] == {"httpx": False, "keyring": False, "desktop_app.core.service": False}


def test_ui_never_imports_httpx_or_keyring_directly() -> None:
    root = Path(__file__).resolve().parents[2] / "desktop_app" / "ui"
    for source in root.glob("*.py"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import httpx", "from httpx", "import keyring", "from keyring")), source
