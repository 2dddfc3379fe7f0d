"""`tokendesk token NAME` as scripts call it: with the app running (1 and N accounts), the agent's own reply, and
without the app (a valid token from the keychain). Each figure is printed with its floor, measured in the same run
and interleaved with it, and the target from issue 9:

- app running: <= 0.6x `gh auth token` (floor), for `tokendesk` installed from the wheel as users get it (the
  dev venv's editable install and a bare Python socket client to the same agent are shown too)
- agent reply at N accounts: <= 5 ms
- no app, valid token: <= 1.3x a bare script doing one `keyring.get_password`

Starts a private gnome-keyring like the test rig. Run: .venv/bin/python bench/cli_token.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._util import command, interleaved_ms, verdict
from desktop_app.core import agentwire
from desktop_app.core.accounts import AccountRecord, AccountStore, Attempt, Identity
from desktop_app.core.oauth import new_http_client
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import preset
from desktop_app.core.secrets import Secret
from desktop_app.core.service import Service
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import Vault, VaultEntry
from tests.rig.keychain import Keychain

TOKEN = "at-bench-0123456789"
# What the `tokendesk` console script does (see pyproject's entry point).
ENTRY = "import sys\nfrom desktop_app.fastcli import main\nsys.exit(main())"
BARE_CLIENT = (
    "import json, os, socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.connect(os.environ['XDG_RUNTIME_DIR'] + '/tokendesk/agent.sock')\n"
    "s.sendall(json.dumps({'op': 'token', 'name': 'Bench', 'min_valid_s': 60}).encode() + b'\\n')\n"
    "data = b''\n"
    "while not data.endswith(b'\\n'):\n"
    "    data += s.recv(65536)\n"
    "print(json.loads(data)['access_token'])\n"
)


def seed(paths: AppPaths, accounts: int) -> str:
    """`accounts` records in the store (one provider spec shared, as in real use); the first one, "Bench", has
    tokens in the keychain. Returns its id."""
    now = time.time()
    spec = preset("google")
    records = {}
    for i in range(accounts):
        r = AccountRecord(
            id=AccountRecord.new_id(),
            name="Bench" if i == 0 else f"Account {i}",
            provider=spec,
            client_id="cid",
            scopes=("openid", "email"),
            identity=Identity(subject=str(i), email=f"u{i}@x.test"),
            created_at=now + i,
            issued_at=now,
            expires_at=now + 3600,
            history=(Attempt(now, "ok"),),
        )
        records[r.id] = r
    store = AccountStore(paths.accounts_file)
    store._write(records)
    first = next(iter(records))
    tokens = TokenSet(Secret(TOKEN), "Bearer", now, now + 3600, Secret("rt-bench-0123456789"))

    async def save() -> None:
        vault = Vault()
        await vault.save(first, VaultEntry(tokens=tokens))
        vault.close()

    asyncio.run(save())
    return first


def wheel_install(base: Path) -> Path:
    """`tokendesk` as users get it: pip's console script from the wheel. The dev venv's editable install costs
    every Python start there ~20 ms in `site` (setuptools' import finder), which no wheel install pays. Asking a
    running app needs only the standard library, so this venv gets no dependencies."""
    wheels, target = base / "wheel", base / "wheel-venv"
    # Without PYTHONPATH: pip would take the tree's tokendesk.egg-info for an installed tokendesk and skip it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)], **quiet)
    venv.create(target, with_pip=False)
    [wheel] = wheels.glob("*.whl")
    pip = [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python")]
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel)], **quiet)
    return target / "bin" / "tokendesk"


class App:
    """The app's side of the agent: the real Service (engine, store, vault) on its own loop thread."""

    def __init__(self, paths: AppPaths) -> None:
        self.loop = asyncio.new_event_loop()
        self.service = Service(paths=paths, vault=Vault(), http=new_http_client())
        self.server = self.service.agent_server()
        self.loop.run_until_complete(self.server.start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        asyncio.run_coroutine_threadsafe(self.service.aclose(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def agent_reply_ms(paths: AppPaths, repeat: int) -> float:
    path = str(paths.agent_socket)
    samples = []
    for _ in range(repeat + 3):
        start = time.perf_counter()
        answer = agentwire.ask(path, "Bench", 60)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer is not None, "no app answered"
        assert answer.get("access_token") == TOKEN, answer
    return statistics.median(samples[3:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="few repeats and 50 accounts instead of 1,000")
    args = parser.parse_args()
    many = 50 if args.quick else 1000
    repeat = 3 if args.quick else 21
    gh = shutil.which("gh")
    ok = True
    with Keychain() as chain, tempfile.TemporaryDirectory(prefix="td-bench-") as tmp:
        os.environ.update(chain.env)
        base = Path(tmp)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_RUNTIME_DIR": str(base / "run"),
            "PYTHONPATH": str(ROOT),
            "GH_CONFIG_DIR": str(base / "gh"),
        }
        (base / "run").mkdir(mode=0o700)
        os.environ.update({k: env[k] for k in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR")})
        paths = AppPaths.default()
        py = sys.executable
        installed = wheel_install(base)
        bare_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # the installed copy, not the tree
        runs = {
            "tokendesk": command([str(installed), "token", "Bench"], bare_env),
            "tokendesk (dev venv)": command([py, "-c", ENTRY, "token", "Bench"], env),
            "bare socket client": command([py, "-c", BARE_CLIENT], env),
            # The same two without site (no editable-install finder, ~20 ms here): what a wheel install pays.
            "tokendesk -S": command(
                [py, "-S", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{ENTRY}", "token", "Bench"], env
            ),
            "bare socket client -S": command([py, "-S", "-c", BARE_CLIENT], env),
        }
        if gh:
            runs["gh auth token"] = command([gh, "auth", "token"], env, expect=None)
        else:
            print("note: gh is not installed (apt-get install gh); the gh floor is missing")
        for accounts in (1, many):
            shutil.rmtree(base / "config", ignore_errors=True)
            seed(paths, accounts)
            app = App(paths)
            try:
                reply = agent_reply_ms(paths, repeat * 5)
                got = interleaved_ms(runs, repeat)
            finally:
                app.close()
            floor = got.get("gh auth token", got["bare socket client"] / 0.56)
            ok &= verdict(
                f"token, app running, {accounts} accounts",
                f"{got['tokendesk']:.1f} ms = {got['tokendesk'] / floor:.2f}x gh",
                f"gh {floor:.1f} ms; the dev venv's editable install: {got['tokendesk (dev venv)'] / floor:.2f}x gh; "
                f"bare Python socket client {got['bare socket client']:.1f} ms "
                f"= {got['bare socket client'] / floor:.2f}x gh; without site: tokendesk {got['tokendesk -S']:.1f} ms, "
                f"bare client {got['bare socket client -S']:.1f} ms",
                "<= 0.6x gh",
                got["tokendesk"] <= 0.6 * floor,
            )
            ok &= verdict(
                f"agent reply, {accounts} accounts",
                f"{reply:.2f} ms",
                "-",
                "<= 5 ms",
                reply <= 5,
            )
        # No app: the socket is gone; the keychain answers. The floor reads the same item with keyring.
        account_id = next(r.id for r in AccountStore(paths.accounts_file).all() if r.name == "Bench")
        floor_script = f"import keyring\nprint(keyring.get_password('tokendesk', {account_id!r}))"
        got = interleaved_ms(
            {
                "tokendesk": command([py, "-c", ENTRY, "token", "Bench"], env),
                "keyring script": command([py, "-c", floor_script], env),
            },
            repeat,
        )
        ok &= verdict(
            f"token, no app, {many} accounts",
            f"{got['tokendesk']:.1f} ms = {got['tokendesk'] / got['keyring script']:.2f}x",
            f"one keyring.get_password {got['keyring script']:.1f} ms",
            "<= 1.3x",
            got["tokendesk"] <= 1.3 * got["keyring script"],
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
