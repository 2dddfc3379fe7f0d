"""Which process holds a rotated refresh token: a name for this process that a reused pid cannot take."""

from __future__ import annotations

import os
from pathlib import Path


def process_owner(pid: int | None = None) -> str:
    """This process, named so that a reused pid is not mistaken for it: pid and start time (Linux)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid)}"


def owner_is_alive(owner: str) -> bool:
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now holds the pid; ours could not have
    return not started or _start_ticks(pid) in ("", started)


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""
