"""A virtual X screen (Xvfb) and a real XEmbed system tray (trayer) on it, and what a user sees and does there.

What is on screen is read with the X tools a person would use (xwininfo, xdotool); the two things they
cannot do are done with Xlib through ctypes: asking who owns the tray selection (trayer is ready), and
closing a window the way a window manager's close button does (WM_DELETE_WINDOW: `xdotool windowclose`
destroys the window instead, which no user can do to an app).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self, TypeVar

from tests.rig import daemon
from tests.rig.daemon import START_TIMEOUT, DaemonError, ProcessPiece, RigPiece

T = TypeVar("T")
TRAY_SELECTION = "_NET_SYSTEM_TRAY_S0"
_CLIENT_MESSAGE = 33  # X11's ClientMessage event type


class XError(DaemonError):
    pass


def _xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11")
    if name is None:
        raise XError("libX11 not found; run `scripts/bootstrap test`")
    lib = ctypes.CDLL(name)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XInternAtom.restype = ctypes.c_ulong
    lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.XGetSelectionOwner.restype = ctypes.c_ulong
    lib.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    lib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]  # XEvent is 24 longs


@dataclass
class XWindow:
    """One window of `xwininfo -root -tree`: its id, title, WM_CLASS, size and position on screen."""

    id: int
    name: str
    wm_class: tuple[str, ...]
    width: int
    height: int
    x: int
    y: int
    children: list[XWindow] = field(default_factory=list)

    def walk(self) -> Iterator[XWindow]:
        yield self
        for child in self.children:
            yield from child.walk()


_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<id>0x[0-9a-f]+) (?:\"(?P<name>.*)\"|\(has no name\)): \((?P<cls>.*)\)\s+"
    r"(?P<w>\d+)x(?P<h>\d+)[+-]-?\d+[+-]-?\d+\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)$"
)


def parse_tree(text: str) -> list[XWindow]:
    """The root's children, each with its subtree, from `xwininfo -root -tree` (indentation is depth)."""
    stack: list[tuple[int, XWindow]] = []
    top: list[XWindow] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        window = XWindow(
            id=int(m["id"], 16),
            name=m["name"] or "",
            wm_class=tuple(re.findall(r'"([^"]*)"', m["cls"])),
            width=int(m["w"]),
            height=int(m["h"]),
            x=int(m["x"]),
            y=int(m["y"]),
        )
        depth = len(m["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1].children if stack else top).append(window)
        stack.append((depth, window))
    return top


def wait_for(check: Callable[[], T | None], what: str, timeout_s: float = START_TIMEOUT) -> T:
    """Poll `check` until it returns something other than None (or False); its result, or XError."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise XError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.05)  # a poll interval, not a wait for something to happen


class Xvfb(ProcessPiece):
    """A virtual screen on a display number the server picks itself (-displayfd): no guessing a free one."""

    tmp_prefix = "tokendesk-x-"

    def __init__(self, width: int = 1024, height: int = 768) -> None:
        self.width, self.height = width, height
        self.display = ""

    @property
    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display}

    def _tools_env(self) -> dict[str, str]:
        # UTF-8: xwininfo prints titles in the locale's charset ("—" fails in C's ASCII).
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **self.env}

    def launch(self, tmp: Path) -> subprocess.Popen[bytes]:
        for tool in ("Xvfb", "xwininfo", "xdotool"):
            if shutil.which(tool) is None:
                raise XError(f"{tool} not found; run `scripts/bootstrap test`")
        log = tmp / "xvfb.log"
        # -noreset: by default the server resets when its last client leaves, and refuses connections meanwhile
        # (each xwininfo before the app connects would be such a last client).
        screen = f"{self.width}x{self.height}x24"
        argv = ["Xvfb", "-displayfd", "1", "-screen", "0", screen, "-nolisten", "tcp", "-noreset"]
        with log.open("wb") as out:
            proc = daemon.spawn(argv, stderr=out)
        try:
            # Xvfb writes the display number once it accepts connections.
            self.display = ":" + daemon.read_line(proc, START_TIMEOUT, "Xvfb", daemon.file_text(log))
        except BaseException:
            daemon.stop(proc)
            raise
        return proc

    def run(self, *argv: str) -> str:
        """An X tool's output on this display."""
        proc = subprocess.run(argv, env=self._tools_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise XError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def tree(self) -> list[XWindow]:
        return parse_tree(self.run("xwininfo", "-root", "-tree"))

    def windows_of(self, pid: int) -> set[int]:
        """The windows a process made (by _NET_WM_PID, which Qt sets on each)."""
        return self._search("--pid", str(pid))

    def visible_windows_of(self, pid: int) -> set[int]:
        """The process's windows that are mapped (shown) now."""
        return self._search("--onlyvisible", "--pid", str(pid))

    def _search(self, *args: str) -> set[int]:
        proc = subprocess.run(["xdotool", "search", *args], env=self._tools_env(), capture_output=True, text=True)
        if proc.returncode not in (0, 1):  # 1: no window matched
            raise XError(f"xdotool search failed ({proc.returncode}): {proc.stderr.strip()}")
        return {int(line) for line in proc.stdout.split()}

    def click(self, window: int, button: int = 1) -> None:
        """Move the pointer into the middle of `window` and click there, as a user would."""
        geometry = self.run("xdotool", "getwindowgeometry", "--shell", str(window))
        size = dict(line.split("=", 1) for line in geometry.split())
        x, y = int(size["WIDTH"]) // 2, int(size["HEIGHT"]) // 2
        self.run("xdotool", "mousemove", "--window", str(window), str(x), str(y), "click", str(button))

    def _with_display(self, use: Callable[[ctypes.CDLL, int], T]) -> T:
        lib = _xlib()
        handle = lib.XOpenDisplay(self.display.encode())
        if not handle:
            raise XError(f"cannot open display {self.display}")
        try:
            return use(lib, handle)
        finally:
            lib.XCloseDisplay(handle)

    def selection_owner(self, selection: str) -> int:
        """The window owning an X selection (0: nobody)."""

        def owner(lib: ctypes.CDLL, handle: int) -> int:
            return int(lib.XGetSelectionOwner(handle, lib.XInternAtom(handle, selection.encode(), 0)))

        return self._with_display(owner)

    def close_window(self, window: int) -> None:
        """Ask the window to close, as a window manager's close button does (ICCCM WM_DELETE_WINDOW)."""

        def send(lib: ctypes.CDLL, handle: int) -> None:
            event = _XEvent()
            message = event.xclient
            message.type = _CLIENT_MESSAGE
            message.window = window
            message.message_type = lib.XInternAtom(handle, b"WM_PROTOCOLS", 0)
            message.format = 32
            message.data[0] = lib.XInternAtom(handle, b"WM_DELETE_WINDOW", 0)
            message.data[1] = 0  # CurrentTime
            if not lib.XSendEvent(handle, window, 0, 0, ctypes.byref(event)):
                raise XError(f"sending WM_DELETE_WINDOW to {window:#x} failed")
            lib.XSync(handle, 0)

        self._with_display(send)


class Trayer(RigPiece):
    """trayer, a small XEmbed system tray (freedesktop System Tray Protocol), on an Xvfb screen; ready when it
    owns the tray selection, as Qt's QSystemTrayIcon looks for it."""

    def __init__(self, screen: Xvfb) -> None:
        self.screen = screen
        self.pid = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    def start(self) -> Self:
        if shutil.which("trayer") is None:
            raise XError("trayer not found; run `scripts/bootstrap test`")
        fd, name = tempfile.mkstemp(prefix="tokendesk-trayer-", suffix=".log")
        self._log = Path(name)
        argv = ["trayer", "--edge", "bottom", "--align", "right", "--widthtype", "request", "--height", "32"]
        try:
            with open(fd, "wb") as out:
                env = {"HOME": tempfile.gettempdir(), **self.screen._tools_env()}
                self._proc = daemon.spawn(argv, stdout=out, stderr=out, env=env)
            self.pid = self._proc.pid
            wait_for(self._owns_selection, f"trayer to own {TRAY_SELECTION}")
        except BaseException:
            self.stop()
            raise
        return self

    def _owns_selection(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            log = self._log.read_text(errors="replace") if self._log else ""
            raise XError(f"trayer exited with status {self._proc.returncode}: {log}")
        return self.screen.selection_owner(TRAY_SELECTION) != 0

    def panel(self) -> XWindow:
        """trayer's panel, under which the docked icons are embedded."""
        panels = [w for w in self.screen.tree() if w.wm_class == ("panel", "trayer")]
        assert len(panels) == 1, panels
        return panels[0]

    def docked(self) -> list[XWindow]:
        """The icon windows embedded in the panel (each in a socket window of trayer's)."""
        return [w for socket in self.panel().children for w in socket.children]

    def stop(self) -> None:
        daemon.stop(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None
