"""`tokendesk token` while the app runs: answered through the agent with os, socket and json alone."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core import agentwire
from desktop_app.core.agent import AgentServer, AgentToken
from desktop_app.core.errors import NeedsSignIn
from desktop_app.core.paths import AppPaths
from desktop_app.fastcli import _simple_token_args

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux only")

# Loaded by anything slower than the fast path: none may be imported when the app answers.
HEAVY = ("asyncio", "logging", "argparse", "httpx", "keyring", "filelock", "platformdirs", "desktop_app.cli")


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR (short path: Unix socket paths are limited to about 100 bytes)."""
    directory = Path(tempfile.mkdtemp(prefix="td-fast-"))
    os.chmod(directory, 0o700)
    try:
        yield directory
    finally:
        for path in sorted(directory.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        directory.rmdir()


@pytest.fixture
def app(runtime_dir: Path) -> Iterator[list[tuple[str, float]]]:
    """A real AgentServer on its own loop thread at the socket path the app would use; yields its calls."""
    calls: list[tuple[str, float]] = []

    async def source(name: str, min_valid_s: float) -> AgentToken:
        calls.append((name, min_valid_s))
        if name == "Dead":
            raise NeedsSignIn("Dead needs you to sign in again.", account="Dead one")
        if name == "Mail":
            return AgentToken("at-fast-0002", "Bearer", 1234.0, scopes=("openid", "mail"), email="me@example.test")
        return AgentToken("at-fast-0001", "Bearer", 1234.0)

    loop = asyncio.new_event_loop()
    server = AgentServer(runtime_dir / "tokendesk" / "agent.sock", source)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield calls
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _run(
    runtime_dir: Path, *args: str, heavy: tuple[str, ...] = HEAVY, python: tuple[str, ...] = (sys.executable,)
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Runs the entry point in a fresh interpreter; returns the result and the heavy modules it had loaded."""
    code = (
        "import sys\n"
        "from desktop_app.fastcli import main\n"
        f"code = main({list(args)!r})\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r})\n"
        "print(__import__('json').dumps(heavy), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*python, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    *message, loaded = done.stderr.strip().splitlines() or ["[]"]
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout, "\n".join(message)), json.loads(loaded)


def test_the_app_answers_without_heavy_imports(runtime_dir: Path, app: list[tuple[str, float]]) -> None:
    done, heavy = _run(runtime_dir, "token", "Work", "--min-valid", "120", "--header")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Authorization: Bearer at-fast-0001\n"
    assert app == [("Work", 120.0)]
    assert heavy == []


def test_the_app_answers_with_the_standard_librarys_c_halves(runtime_dir: Path, app: list[tuple[str, float]]) -> None:
    """Without site (the dev venv's editable-install finder imports re itself; a wheel install's site does not):
    json, socket, collections and typing would cost about 8 ms of a 15 ms call (bench/cli_token.py)."""
    pure = ("json", "re", "enum", "socket", "selectors", "collections", "typing")
    for fmt in ("token", "json"):
        done, loaded = _run(runtime_dir, "token", "Mail", "--format", fmt, heavy=pure, python=(sys.executable, "-S"))
        assert done.returncode == 0, done.stderr
        assert "at-fast-0002" in done.stdout
        assert loaded == []


def test_formats_come_from_the_app_without_heavy_imports(runtime_dir: Path, app: list[tuple[str, float]]) -> None:
    done, heavy = _run(runtime_dir, "token", "Mail", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "access_token": "at-fast-0002",
        "token_type": "Bearer",
        "expires_at": "1970-01-01T00:20:34+00:00",
        "scopes": ["openid", "mail"],
    }
    done, heavy2 = _run(runtime_dir, "token", "Mail", "--format=xoauth2")
    assert base64.b64decode(done.stdout) == b"user=me@example.test\x01auth=Bearer at-fast-0002\x01\x01"
    done, heavy3 = _run(runtime_dir, "token", "Work", "--format", "oauthbearer", "--user", "a,b=c@x")
    assert base64.b64decode(done.stdout) == b"n,a=a=2Cb=3Dc@x,\x01auth=Bearer at-fast-0001\x01\x01"
    assert heavy == heavy2 == heavy3 == []


def test_a_sasl_format_without_a_user_is_a_clear_error(runtime_dir: Path, app: list[tuple[str, float]]) -> None:
    done, heavy = _run(runtime_dir, "token", "Work", "--format", "xoauth2")
    assert done.returncode == 2 and done.stdout == ""
    assert "no email address" in done.stderr and "--user EMAIL" in done.stderr
    assert heavy == []


def test_the_apps_refusal_keeps_its_exit_code(runtime_dir: Path, app: list[tuple[str, float]]) -> None:
    """The app sends the error's facts (hint, account); the CLI words the remedy with its own command."""
    done, heavy = _run(runtime_dir, "token", "Dead")
    assert done.returncode == NeedsSignIn.exit_code
    assert done.stderr == "tokendesk: Dead needs you to sign in again. Reconnect it: tokendesk reconnect 'Dead one'"
    assert done.stdout == "" and heavy == []


def test_without_an_app_the_full_cli_runs(runtime_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    done, heavy = _run(runtime_dir, "token", "Nobody")
    assert done.returncode == 1 and "No account named 'Nobody'" in done.stderr
    assert "desktop_app.cli" in heavy  # the fallback really ran


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["token", "A"], ("A", 60.0, "token", None)),
        (["token", "--header", "A", "--min-valid=0"], ("A", 0.0, "header", None)),
        (["token", "A", "--min-valid", "30"], ("A", 30.0, "token", None)),
        (["token", "A", "--format", "json"], ("A", 60.0, "json", None)),
        (["token", "A", "--format=xoauth2", "--user", "u@x"], ("A", 60.0, "xoauth2", "u@x")),
        (["token", "A", "--header", "--format", "header"], ("A", 60.0, "header", None)),
        (["token", "A", "--header", "--format", "json"], None),
        (["token", "A", "--format", "yaml"], None),
        (["token", "A", "--format"], None),
        (["token", "A", "--user"], None),
        # Everything else is argparse's: its messages, abbreviations and help.
        (["token"], None),
        (["token", "A", "B"], None),
        (["token", "A", "--min-valid"], None),
        (["token", "A", "--min-valid", "nan"], None),
        (["token", "A", "--min-valid", "-1"], None),
        (["token", "A", "--min"], None),
        (["token", "-h"], None),
        (["list"], None),
    ],
)
def test_only_plain_token_calls_take_the_fast_path(argv: list[str], expected: object) -> None:
    assert _simple_token_args(argv) == expected


def test_socket_path_is_the_apps(runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    (runtime_dir / "tokendesk").mkdir(mode=0o700)
    assert agentwire.default_socket_path() == str(AppPaths.default().agent_socket)


def test_socket_path_refuses_what_others_could_replace(runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    assert agentwire.default_socket_path() is None  # no socket directory yet
    (runtime_dir / "tokendesk").mkdir(mode=0o700)
    os.chmod(runtime_dir, 0o755)
    assert agentwire.default_socket_path() is None
    os.chmod(runtime_dir, 0o700)
    os.chmod(runtime_dir / "tokendesk", 0o770)
    assert agentwire.default_socket_path() is None
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/dir")
    assert agentwire.default_socket_path() is None


def test_a_stale_socket_is_no_app(runtime_dir: Path) -> None:
    path = runtime_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))  # bound, never listening: what a crashed app leaves
    assert agentwire.ask(str(path), "A", 60) is None
