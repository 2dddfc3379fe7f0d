"""The rig's one start/stop helper: a ready line is read, a silent or dead daemon is a clear error, and a
daemon that ignores SIGTERM is killed."""

from __future__ import annotations

import signal

import pytest

from tests.rig import daemon


def test_read_line_returns_the_ready_line_and_stop_kills_what_ignores_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(daemon, "STOP_TIMEOUT", 0.5)
    proc = daemon.spawn(["sh", "-c", 'trap "" TERM; echo ready at 1; exec sleep 60'])
    try:
        assert daemon.read_line(proc, 5, "sh", lambda: "") == "ready at 1"
    finally:
        daemon.stop(proc)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout is not None and proc.stdout.closed


def test_a_daemon_that_exits_before_it_is_ready_says_so_with_its_log() -> None:
    proc = daemon.spawn(["sh", "-c", "exit 3"])
    try:
        with pytest.raises(daemon.DaemonError, match=r"sh exited with status 3: the log"):
            daemon.read_line(proc, 5, "sh", lambda: "the log")
    finally:
        daemon.stop(proc)


def test_a_silent_daemon_times_out() -> None:
    proc = daemon.spawn(["sleep", "60"])
    try:
        with pytest.raises(daemon.DaemonError, match="printed nothing"):
            daemon.read_line(proc, 0.2, "sleep", lambda: "")
    finally:
        daemon.stop(proc)
    assert proc.returncode == -signal.SIGTERM
