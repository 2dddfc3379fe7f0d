"""The desktop app with a few hundred accounts: start-up to first paint, countdown ticks, repaints.

Targets: first paint of a 300-account window < 900 ms from process start (offscreen); one countdown tick
over 300 rows < 5 ms; repainting the whole visible list < 30 ms; a core event updating one row < 2 ms.
Run: .venv/bin/python bench/gui.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench._util import measure
from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore, Identity
from desktop_app.core.providers import PRESETS, preset

ACCOUNTS = 300
PARAMS = {
    "auth0": {"domain": "a.example.com"},
    "okta": {"domain": "o.example.com"},
    "keycloak": {"domain": "k.example.com", "realm": "r"},
}


def records(now: float) -> list[AccountRecord]:
    keys = sorted(PRESETS)
    states = list(AccountState)
    out = []
    for i in range(ACCOUNTS):
        key = keys[i % len(keys)]
        out.append(
            AccountRecord(
                id=f"acct{i:04d}",
                name=f"Account {i}",
                provider=preset(key, **PARAMS.get(key, {})),
                client_id="cid",
                scopes=("openid",),
                identity=Identity(str(i), f"user{i}@example.test"),
                state=states[i % len(states)],
                created_at=now + i,
                issued_at=now - 60,
                expires_at=now + 60 + i,
                retry_at=now + 30,
                offline=i % 2 == 0,
            )
        )
    return out


def startup(config: Path) -> float:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(config),
        "XDG_STATE_HOME": str(config / "state"),
        "TOKENDESK_STARTUP_PROBE": "1",
        "TOKENDESK_INSTANCE_NAME": f"bench-{os.getpid()}",
    }
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "desktop_app"], env=env, capture_output=True, text=True, check=True)
    elapsed = (time.perf_counter() - start) * 1000
    assert json.loads(out.stdout.strip().splitlines()[-1])["painted"], out
    return elapsed


def main() -> int:
    from PySide6.QtWidgets import QApplication, QListView

    from desktop_app.ui.delegate import AccountDelegate
    from desktop_app.ui.model import AccountListModel

    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        store = AccountStore(config / "tokendesk" / "accounts.json")
        store._write({r.id: r for r in records(now)})
        ok = measure(
            f"first paint with {ACCOUNTS} accounts", lambda: startup(config), target_ms=900, repeat=5, warmup=1
        )

    app = QApplication.instance() or QApplication(sys.argv)
    clock = [now]
    model = AccountListModel(lambda: clock[0])
    model.set_records(records(now))
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(AccountDelegate(view))
    view.resize(780, 640)
    view.show()
    app.processEvents()

    def tick() -> None:
        clock[0] += 1
        model.tick()

    ok &= measure(f"countdown tick over {ACCOUNTS} rows", tick, target_ms=5)

    def repaint() -> None:
        view.viewport().repaint()

    ok &= measure("repaint the visible list", repaint, target_ms=30)
    target = model.records()[150]

    def update_one() -> None:
        model.upsert(replace(target, failures=target.failures + 1))

    ok &= measure("update one row from a core event", update_one, target_ms=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
