"""`tokendesk exec`: the token reaches the child in its environment only; exit status and signals pass through."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app import cli, tokenpath
from desktop_app.core.secrets import Secret
from desktop_app.tokenpath import IssuedToken

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "exec-token-0001-secret"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/cmdline")


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main configures the process's logging (a stderr handler on the root logger): not inside pytest."""
    monkeypatch.setattr("desktop_app.cli.configure_logging", lambda *args, **kwargs: None)


# The child reports what it sees: its environment's token variables and its own argv, as the kernel has it.
REPORT = """
import json, os, sys
with open('/proc/self/cmdline', 'rb') as fh:
    cmdline = fh.read().decode()
with open(sys.argv[1], 'w') as out:
    json.dump({k: os.environ.get(k) for k in ('ACCESS_TOKEN', 'TOK', 'AUTH')} | {'cmdline': cmdline}, out)
sys.exit(int(sys.argv[2]))
"""


def child_args(report: Path, exit_code: int = 0) -> list[str]:
    return [sys.executable, "-c", REPORT, str(report), str(exit_code)]


@pytest.fixture
def fake_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """tokendesk with a token source that needs no account; yields the min_valid_s each call asked for."""
    asked: list[float] = []
    for var, sub in (("XDG_CONFIG_HOME", "c"), ("XDG_STATE_HOME", "s"), ("XDG_RUNTIME_DIR", "r")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    def get_token(paths: object, name: str, min_valid_s: float, engine: object) -> IssuedToken:
        asked.append(min_valid_s)
        return IssuedToken(access_token=Secret(TOKEN), token_type="Bearer", expires_at=None)

    monkeypatch.setattr(tokenpath, "get_token", get_token)
    return asked


def test_the_child_sees_the_token_in_its_env_and_not_in_its_argv(tmp_path: Path, fake_token: list[float]) -> None:
    report = tmp_path / "report.json"
    code = cli.main(["exec", "work", "--", sys.executable, "-c", REPORT, str(report), "0"])
    assert code == 0
    seen = json.loads(report.read_text())
    assert seen["ACCESS_TOKEN"] == TOKEN and seen["TOK"] is None and seen["AUTH"] is None
    assert TOKEN not in seen["cmdline"] and str(report) in seen["cmdline"]
    assert fake_token == [300.0]  # the default validity for tools
    assert TOKEN not in os.environ.get("ACCESS_TOKEN", "")  # our own environment is untouched

    code = cli.main(
        ["exec", "work", "--env", "TOK", "--header-env", "AUTH", "--min-valid", "900", "--", *child_args(report)]
    )
    seen = json.loads(report.read_text())
    assert (seen["TOK"], seen["AUTH"], seen["ACCESS_TOKEN"]) == (TOKEN, f"Bearer {TOKEN}", None)
    assert fake_token[-1] == 900.0


def test_options_after_the_double_dash_are_the_commands(tmp_path: Path, fake_token: list[float]) -> None:
    report = tmp_path / "report.json"
    assert cli.main(["exec", "work", "--", sys.executable, "-c", REPORT, str(report), "0", "--env", "X"]) == 0
    assert json.loads(report.read_text())["cmdline"].endswith("\0--env\0X\0")


def test_the_exit_status_is_passed_through(tmp_path: Path, fake_token: list[float]) -> None:
    report = tmp_path / "report.json"
    assert cli.main(["exec", "work", "--", sys.executable, "-c", REPORT, str(report), "7"]) == 7
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert cli.main(["exec", "work", "--", sys.executable, "-c", killed]) == 128 + signal.SIGKILL


def test_not_found_is_127_and_not_executable_is_126(
    tmp_path: Path, fake_token: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["exec", "work", "--", str(tmp_path / "no-such-command")]) == 127
    assert "no-such-command: command not found" in capsys.readouterr().err
    plain = tmp_path / "plain.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    assert cli.main(["exec", "work", "--", str(plain)]) == 126
    err = capsys.readouterr().err
    assert "plain.sh" in err and "not executable" in err and TOKEN not in err


def test_usage_errors(tmp_path: Path, fake_token: list[float], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["exec", "work", "--"]) == 2
    assert "after --" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["exec", "work", "--env", "1BAD", "--", "true"])
    assert usage.value.code == 2
    assert fake_token == []  # refused before any token was fetched


SIGNALLED = """
import os, signal, sys, pathlib
def on_term(signum, frame):
    pathlib.Path(sys.argv[1]).write_text('got SIGTERM')
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
signal.signal(signal.SIGTERM, on_term)
pathlib.Path(sys.argv[2]).write_text(os.environ['ACCESS_TOKEN'] and 'ready')
while True:
    signal.pause()
"""


def test_sigterm_is_forwarded_and_reflected_in_the_exit_status(tmp_path: Path) -> None:
    got, ready = tmp_path / "got", tmp_path / "ready"
    runner = (
        "import os, sys\n"
        "from desktop_app.exporting import run_exec\n"
        f"sys.exit(run_exec(sys.argv[1:], dict(os.environ, ACCESS_TOKEN={TOKEN!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", runner, sys.executable, "-c", SIGNALLED, str(got), str(ready)], env=env
    ) as proc:
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():  # the child has installed its handler
                assert proc.poll() is None, "the runner ended early"
                assert time.monotonic() < deadline, "the child never started"
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 128 + signal.SIGTERM
        finally:
            if proc.poll() is None:
                proc.kill()
    assert got.read_text() == "got SIGTERM"


COUNTING = """
import os, signal, sys, pathlib
got = pathlib.Path(sys.argv[1])
def on_int(signum, frame):
    with got.open('a') as fh:
        fh.write('INT\\n')
def on_term(signum, frame):
    with got.open('a') as fh:
        fh.write('TERM\\n')
    sys.exit(0)
signal.signal(signal.SIGINT, on_int)
signal.signal(signal.SIGTERM, on_term)
pathlib.Path(sys.argv[2]).write_text('ready')
while True:
    signal.pause()
"""


@pytest.mark.parametrize("terminal", [True, False], ids=["ctrl-c-at-a-terminal", "kill-without-terminal"])
def test_sigint_reaches_the_child_exactly_once(tmp_path: Path, terminal: bool) -> None:
    """At a terminal, Ctrl-C goes to the whole foreground group, child included: exec must not add a second one.
    Without a terminal, a SIGINT sent to exec is the child's only chance to hear it, so it is forwarded."""
    import fcntl
    import pty
    import termios

    got, ready = tmp_path / "got", tmp_path / "ready"
    runner = (
        "import os, sys\n"
        "from desktop_app.exporting import run_exec\n"
        f"sys.exit(run_exec(sys.argv[1:], dict(os.environ, ACCESS_TOKEN={TOKEN!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    master, slave = pty.openpty()

    def own_terminal() -> None:  # a new session whose controlling terminal is the pty, as a login shell's job
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        with subprocess.Popen(
            [sys.executable, "-c", runner, sys.executable, "-c", COUNTING, str(got), str(ready)],
            env=env,
            stdin=slave if terminal else subprocess.DEVNULL,
            stdout=slave if terminal else subprocess.DEVNULL,
            stderr=slave if terminal else subprocess.DEVNULL,
            preexec_fn=own_terminal if terminal else os.setsid,
            pass_fds=(slave,),
        ) as proc:
            try:
                deadline = time.monotonic() + 30
                while not ready.exists():
                    assert proc.poll() is None, "the runner ended early"
                    assert time.monotonic() < deadline, "the child never started"
                    time.sleep(0.02)
                if terminal:
                    os.killpg(proc.pid, signal.SIGINT)  # what the terminal driver does on Ctrl-C
                else:
                    proc.send_signal(signal.SIGINT)
                while not got.exists():
                    assert time.monotonic() < deadline, "the child never heard SIGINT"
                    time.sleep(0.02)
                # SIGTERM after SIGINT: a forwarded SIGINT (lower number) is handled and sent first, so the
                # child's log would show it before TERM.
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(30) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
    finally:
        os.close(slave)
        os.close(master)
    assert got.read_text() == "INT\nTERM\n"
