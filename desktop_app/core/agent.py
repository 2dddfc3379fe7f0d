"""The running app answers `tokendesk token` over a user-only Unix socket, so one process owns the tokens.

Protocol: one JSON object per line (at most 64 KiB) each way. Request {"op": "token", "name": str,
"min_valid_s": finite float >= 0};
answer {"ok": true, "access_token": str, "token_type": str, "expires_at": float|null, "scopes": [str],
"email": str|null, "username": str|null, "provider": str}; request {"op": "reject", "name": str, "access_token":
str} (a client had that token refused: see RefreshEngine.mark_rejected), answer {"ok": true, "marked": bool}; or
{"ok": false, "error": str, "exit_code": int, "hint": str|null, "account": str|null, "input": str|null}
(the error's facts, see errors.TokendeskError, so the CLI can word the remedy). The socket lives in a 0700
directory, is itself 0600, and the server checks the peer's uid (SO_PEERCRED) before reading a byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import agentwire
from .agentwire import CLIENT_TIMEOUT_S, MAX_LINE
from .defaults import MIN_VALID_S
from .errors import AgentError, AppNotAnswering, TokendeskError
from .secrets import Secret

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class AgentToken:
    access_token: str
    token_type: str
    expires_at: float | None
    scopes: tuple[str, ...] = ()
    email: str | None = None  # the account's identity: the user of SASL XOAUTH2/OAUTHBEARER strings
    username: str | None = None
    provider: str = ""  # the provider preset's key ("github", "custom", ...)

    def __repr__(self) -> str:
        return f"AgentToken(token_type={self.token_type!r}, expires_at={self.expires_at!r})"


TokenSource = Callable[[str, float], Awaitable[AgentToken]]
RejectSink = Callable[[str, Secret], Awaitable[bool]]


def supported() -> bool:
    return sys.platform != "win32" and hasattr(socket, "AF_UNIX")


def _peer_uid(sock: socket.socket) -> int | None:
    if sys.platform.startswith("linux"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    getpeereid = getattr(os, "getpeereid", None)  # not in the stdlib today; BSD/macOS would need ctypes
    return None if getpeereid is None else int(getpeereid(sock.fileno())[0])


def _error(message: str, exit_code: int) -> dict[str, Any]:
    return {"ok": False, "error": message, "exit_code": exit_code}


def _failed(exc: TokendeskError) -> dict[str, Any]:
    return {**_error(str(exc), exc.exit_code), "hint": exc.hint, "account": exc.account, "input": exc.input}


def _min_valid(value: object) -> float | None:
    """The request's min_valid_s as a finite number of seconds >= 0, else None (JSON allows NaN and Infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class AgentServer:
    def __init__(
        self,
        path: Path,
        tokens: TokenSource,
        *,
        reject: RejectSink | None = None,
        own_uid: Callable[[], int] = os.getuid,
    ) -> None:
        self._path = path
        self._tokens = tokens
        self._reject = reject
        self._own_uid = own_uid  # injectable so a test can play a client of another user
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self._path.parent, 0o700)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()  # a stale socket from a crashed run; single instance is enforced elsewhere
        old = os.umask(0o177)  # the socket is born 0600, never briefly world-accessible
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(self._path), limit=MAX_LINE)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            if sock is None or _peer_uid(sock) != self._own_uid():
                log.warning("agent: refused a connection from another user")
                return
            try:
                line = await asyncio.wait_for(reader.readline(), 10)
            except ValueError:  # readline's answer to a line over the limit
                answer = _error("request too long", 2)
            else:
                answer = await self._answer(line)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.debug("agent: dropped a connection (%s)", type(exc).__name__)
        except Exception:
            # Nothing may escape into the event loop's handler; the server goes on serving the next client.
            log.exception("agent: a connection failed unexpectedly")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
            return _error("malformed request", 2)
        if not isinstance(request, dict) or not isinstance(request.get("name"), str):
            return _error("unsupported request", 2)
        if request.get("op") == "reject" and self._reject is not None:
            return await self._answer_reject(request["name"], request.get("access_token"))
        if request.get("op") != "token":
            return _error("unsupported request", 2)
        min_valid_s = _min_valid(request.get("min_valid_s", MIN_VALID_S))
        if min_valid_s is None:
            return _error("min_valid_s must be a finite number of seconds, 0 or more", 2)
        try:
            token = await self._tokens(request["name"], min_valid_s)
        except TokendeskError as exc:
            return _failed(exc)
        except Exception as exc:
            log.exception("agent: getting a token failed unexpectedly")
            return _error(f"The app failed unexpectedly ({type(exc).__name__}); see its log.", 1)
        return {
            "ok": True,
            "access_token": token.access_token,
            "token_type": token.token_type,
            "expires_at": token.expires_at,
            "scopes": list(token.scopes),
            "email": token.email,
            "username": token.username,
            "provider": token.provider,
        }

    async def _answer_reject(self, name: str, token: object) -> dict[str, Any]:
        assert self._reject is not None
        if not isinstance(token, str) or not token:
            return _error("access_token must be a non-empty string", 2)
        try:
            marked = await self._reject(name, Secret(token))
        except TokendeskError as exc:
            return _failed(exc)
        except Exception as exc:
            log.exception("agent: marking a refused token failed unexpectedly")
            return _error(f"The app failed unexpectedly ({type(exc).__name__}); see its log.", 1)
        return {"ok": True, "marked": marked}


def _ask_app(path: Path, request: dict[str, object]) -> dict[str, object] | None:
    """The running app's successful answer, or None when no app is listening; its error answer is raised."""
    if not supported() or not path.exists():
        return None
    try:
        answer = agentwire.send(str(path), request, CLIENT_TIMEOUT_S)
    except TimeoutError:
        raise AppNotAnswering("The running Tokendesk app did not answer in time.") from None
    if answer is not None and not answer.get("ok"):
        raise AgentError.from_answer(answer)
    return answer


def request_reject(path: Path, name: str, access_token: Secret) -> bool | None:
    """Tell the running app a client had `access_token` refused; whether it was marked, or None when no app
    is listening (then the caller marks it itself)."""
    answer = _ask_app(path, {"op": "reject", "name": name, "access_token": access_token.reveal()})
    return None if answer is None else answer.get("marked") is True


def request_token(path: Path, name: str, min_valid_s: float) -> AgentToken | None:
    """Ask the running app; None when no app is listening (then the caller does the work itself)."""
    answer = _ask_app(path, {"op": "token", "name": name, "min_valid_s": min_valid_s})
    if answer is None:
        return None
    expires_at = answer.get("expires_at")
    scopes = answer.get("scopes")
    return AgentToken(
        str(answer["access_token"]),
        str(answer.get("token_type", "Bearer")),
        float(expires_at) if isinstance(expires_at, int | float) and not isinstance(expires_at, bool) else None,
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        email=_text(answer.get("email")),
        username=_text(answer.get("username")),
        provider=_text(answer.get("provider")) or "",
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
