"""Start, wait for and stop the rig's daemons (dbus-daemon, gnome-keyring-daemon, the node OIDC provider).

One way for all of them: each runs in its own session (away from Ctrl-C in the terminal), dies with the test
process if that crashes (PR_SET_PDEATHSIG), announces readiness with one line on stdout, and is stopped with
SIGTERM, then SIGKILL if it has not exited within a few seconds.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import shutil
import signal
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Generic, Self, TypeVar

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_PR_SET_PDEATHSIG = 1

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DaemonError(RuntimeError):
    """A daemon did not start, or exited before it said it was ready."""


def _die_with_parent() -> None:
    # Runs in the child before exec: SIGTERM it when the test process dies without stop(), so a crashed
    # run leaves no daemons behind (the daemons are in their own session, away from Ctrl-C).
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: list[str],
    *,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a daemon in its own session, tied to our lifetime; stdout is piped for read_line unless given."""
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def read_line(proc: subprocess.Popen[bytes], timeout_s: float, what: str, log: Callable[[], str]) -> str:
    """The daemon's first line on stdout (its ready signal), or DaemonError with `log()` when it exits or
    stays silent for `timeout_s`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise DaemonError(f"{what} printed nothing in {timeout_s:.0f}s: {log()}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise DaemonError(f"{what} exited with status {proc.wait()}: {log()}")
            buf += chunk
    return buf.split(b"\n", 1)[0].decode().strip()


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; the pipes we hold are closed either way."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def file_text(path: Path) -> Callable[[], str]:
    """A log reader for read_line's errors: the file's text, or "" when there is none yet."""
    return lambda: path.read_text(errors="replace") if path.exists() else ""


def dbus_daemon(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private session bus listening in `tmp` (no service directories: nothing is ever D-Bus-activated on it),
    and its address once it is ready. The caller stops it with stop()."""
    config = tmp / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=tmp / "bus"))
    log = tmp / "dbus.log"
    with log.open("wb") as out:
        proc = spawn(["dbus-daemon", "--nofork", f"--config-file={config}", "--print-address=1"], stderr=out)
    try:
        return proc, read_line(proc, START_TIMEOUT, "dbus-daemon", file_text(log))
    except BaseException:
        stop(proc)
        raise


class RigPiece:
    """A rig piece used as `with Piece(...) as piece:`: start() on entry (returning self), stop() on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProcessPiece(RigPiece):
    """A rig piece that is one process with a temp dir of its own: a subclass starts it in `launch`; a failed
    start and stop() end the process and remove the dir."""

    tmp_prefix = "tokendesk-rig-"
    _tmp: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def launch(self, tmp: Path) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def start(self) -> Self:
        self._tmp = Path(tempfile.mkdtemp(prefix=self.tmp_prefix))
        try:
            self._proc = self.launch(self._tmp)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop(self._proc)
        self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class ServerThread:
    """A socketserver (the git and mail servers) served on a daemon thread, shut down and joined on stop."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=STOP_TIMEOUT)


_S = TypeVar("_S", bound=socketserver.BaseServer)


class ServedPiece(RigPiece, Generic[_S]):
    """A rig piece that is one socketserver on its own thread: a subclass says how to make the server."""

    thread_name = "rig-server"
    _serving: ServerThread | None = None

    def make_server(self) -> _S:
        raise NotImplementedError

    @property
    def _server(self) -> _S | None:
        return None if self._serving is None else self._serving.server  # type: ignore[return-value]

    def start(self) -> Self:
        self._serving = ServerThread(self.make_server(), self.thread_name)
        return self

    def stop(self) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()
