"""Tokens for other tools: `token --format` printing and `exec`, which runs a command with the token in its env."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from .core.errors import UsageError
from .formats import FormatError, render
from .tokenpath import IssuedToken

DEFAULT_ENV = "ACCESS_TOKEN"
# By name: Windows has no SIGHUP, and this module is imported by every command.
FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND = 126, 127  # as POSIX shells answer

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def formatted(issued: IssuedToken, fmt: str, user: str | None = None) -> str:
    """The text `token --format FMT` prints; the SASL formats' user defaults to the account's email."""
    try:
        return render(
            fmt,
            issued.access_token.reveal(),
            token_type=issued.token_type,
            expires_at=issued.expires_at,
            scopes=issued.scopes,
            user=user or issued.email,
        )
    except FormatError as exc:
        raise UsageError(str(exc)) from None


def env_name(text: str) -> str:
    """An environment variable name (argparse type): letters, digits and underscores, not starting with a digit."""
    if not _ENV_NAME.match(text):
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not an environment variable name")
    return text


def child_env(issued: IssuedToken, env_var: str, header_env: str | None) -> dict[str, str]:
    """This process's environment plus the token: the only way it reaches the child (never its argv)."""
    token = issued.access_token.reveal()
    env = dict(os.environ)
    env[env_var] = token
    if header_env:
        env[header_env] = f"Bearer {token}"
    return env


def run_exec(command: Sequence[str], env: dict[str, str]) -> int:
    """Run `command` with `env`, forwarding SIGTERM, SIGINT and SIGHUP to it, and return its exit status the way
    a shell reports it (killed by signal N: 128 + N). Not found: 127, not executable: 126."""
    if not command:
        raise UsageError("Give the command to run after --, e.g. tokendesk exec NAME -- curl ...")
    child: subprocess.Popen[bytes] | None = None
    pending: list[int] = []
    # Ctrl-C at a terminal already reaches the child (same foreground process group): forwarding it too
    # would interrupt it twice (a REPL or a pager would see two).
    from_terminal = _terminal_signals_our_group()

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and from_terminal:
            return
        if child is None:
            pending.append(signum)  # arrived before the child existed: it gets it as soon as it does
        elif child.returncode is None:
            child.send_signal(signum)

    # Handlers first: a signal between the spawn and the handlers would kill us and orphan the child.
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        try:
            child = subprocess.Popen(list(command), env=env)
        except FileNotFoundError:
            print(f"tokendesk: {command[0]}: command not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        except PermissionError:
            print(f"tokendesk: {command[0]}: permission denied (not executable)", file=sys.stderr)
            return EXIT_NOT_EXECUTABLE
        except OSError as exc:  # ENOEXEC and the like: it exists but cannot be run
            print(f"tokendesk: {command[0]}: cannot run it ({exc.strerror})", file=sys.stderr)
            return EXIT_NOT_EXECUTABLE
        for signum in pending:
            child.send_signal(signum)
        code = child.wait()  # retried after each forwarded signal's handler (PEP 475)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def _terminal_signals_our_group() -> bool:
    """True when we run in the foreground process group of a terminal, which sends SIGINT to the whole group."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return True
        except OSError:
            continue
    return False
