"""The agent protocol's client side with only os, _socket and _json: `tokendesk token` asks the running app first."""

# Nothing else may be imported here: this module is the whole of `tokendesk token` while the app runs, and every
# import is paid by every script call (see bench/cli_token.py). `socket` and `json` would add 8 ms to a call of
# about 15 (their enum and re); their C halves do this module's work alone.
import _socket
import os
import stat
import sys

from . import fastjson

MAX_LINE = 64 * 1024
CLIENT_TIMEOUT_S = 180.0  # the app may have to wait for a lock and refresh (with one retry) first
APP_NAME = "tokendesk"


def ask(path: str, name: str, min_valid_s: float, timeout_s: float = CLIENT_TIMEOUT_S) -> dict[str, object] | None:
    """The app's answer to a token request (a dict with "ok"), or None when no app answers (then the caller does
    the work itself). Raises TimeoutError when an app accepted the request but did not answer within `timeout_s`."""
    return send(path, {"op": "token", "name": name, "min_valid_s": min_valid_s}, timeout_s)


def send(path: str, request: dict[str, object], timeout_s: float = CLIENT_TIMEOUT_S) -> dict[str, object] | None:
    """One request line, one answer line (see ask)."""
    if not hasattr(_socket, "AF_UNIX"):
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        try:
            sock.connect(path)
        except (ConnectionRefusedError, FileNotFoundError, NotADirectoryError):
            return None  # no socket, or a stale one: the app is gone
        data = b""
        try:
            sock.sendall(fastjson.dumps(request).encode() + b"\n")
            while not data.endswith(b"\n") and len(data) < MAX_LINE:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionError:
            return None  # the app refused us (another user's app) or died mid-answer: fall back
    finally:
        sock.close()
    try:
        answer = fastjson.loads(data.decode())
    except ValueError:
        return None  # not our app, or it died mid-answer: fall back
    return answer if isinstance(answer, dict) else None


def default_socket_path() -> str | None:
    """Where the app's socket is on Linux, found without platformdirs, or None where this cannot be sure.

    Only a runtime dir that platformdirs would accept too (absolute, a real directory, ours, mode 0700) and a
    socket directory of ours with mode 0700: anything else is left to the full CLI, which asks the same app at
    platformdirs' answer. A wrong guess costs speed, never a token sent to someone else's socket."""
    if not sys.platform.startswith("linux"):
        return None
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if not os.path.isabs(runtime):
        return None
    uid = os.getuid()
    directory = os.path.join(runtime, APP_NAME)
    for path in (runtime, directory):
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
            return None
    return os.path.join(directory, "agent.sock")
