"""How fast `tokendesk token NAME` answers a script, with the app running (agent) and without it.

Targets (median wall time of the whole process, valid token, no refresh needed): with the app running
< 250 ms; without it (keychain read) < 600 ms. Starts a private gnome-keyring like the test rig does.
Run: .venv/bin/python bench/cli_token.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._util import measure
from desktop_app.core.accounts import AccountRecord, AccountStore, Identity
from desktop_app.core.agent import AgentServer, AgentToken
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import preset
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault, VaultEntry
from tests.rig.keychain import Keychain


def main() -> int:
    with Keychain() as chain, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(chain.env)
        base = Path(tmp)
        (base / "run").mkdir(mode=0o700)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_RUNTIME_DIR": str(base / "run"),
            "PYTHONPATH": str(ROOT),
        }
        paths = AppPaths(
            config_dir=base / "config" / "tokendesk",
            state_dir=base / "state" / "tokendesk",
            log_dir=base / "log",
            runtime_dir=base / "run" / "tokendesk",
        )
        now = time.time()
        record = AccountStore(paths.accounts_file).add(
            AccountRecord(
                id=AccountRecord.new_id(),
                name="Bench",
                provider=preset("google"),
                client_id="cid",
                scopes=("openid",),
                identity=Identity(email="b@example.test"),
                created_at=now,
                issued_at=now,
                expires_at=now + 3600,
            )
        )
        tokens = TokenSet(
            access_token=Secret("at-bench-0123456789"),
            token_type="Bearer",
            issued_at=now,
            expires_at=now + 3600,
            refresh_token=Secret("rt-bench-0123456789"),
        )

        async def seed() -> None:
            vault = Vault()
            await vault.save(record.id, VaultEntry(tokens=tokens))
            vault.close()

        asyncio.run(seed())
        cmd = [sys.executable, "-m", "desktop_app", "token", "Bench"]

        def run() -> None:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            assert out.strip() == "at-bench-0123456789", out

        ok = measure("token without the app (keychain)", run, target_ms=600, repeat=10)

        loop = asyncio.new_event_loop()

        async def answer(name: str, min_valid_s: float) -> AgentToken:
            return AgentToken("at-bench-0123456789", "Bearer", now + 3600)

        server = AgentServer(paths.agent_socket, answer)
        loop.run_until_complete(server.start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            ok &= measure("token with the app running (agent)", run, target_ms=250, repeat=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
