"""One-shot loopback HTTP listener that receives the authorization redirect (RFC 8252 §7.3)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import logging
import secrets
import socket
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import h11

from .errors import AuthorizationDenied, AuthorizationError, AuthorizationTimeout, Input, RedirectPortBusy

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
_MAX_REQUEST_BYTES = 64 * 1024
_READ_TIMEOUT_S = 10.0
_MAX_CONNECTIONS = 16  # a browser opens a few; more are a local process hogging the listener
_BIND_TRIES = 8  # for localhost: ports free on 127.0.0.1 but taken on ::1
# RFC 6749 §3.1: request and response parameters must not be included more than once.
_SINGLE_PARAMETERS = ("state", "code", "iss", "error")


@dataclass(frozen=True, repr=False)
class CallbackResult:
    code: str
    iss: str | None

    def __repr__(self) -> str:
        return f"CallbackResult(code=***, iss={self.iss!r})"


def _page(kind: str, title: str, message: str) -> bytes:
    template = resources.files("desktop_app.resources").joinpath("loopback/result.html").read_text("utf-8")
    values = {
        "kind": kind,
        "mark": "✓" if kind == "ok" else "✕",
        "title": html.escape(title),
        "message": html.escape(message),
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template.encode("utf-8")


def describe_error(error: str, description: str | None) -> str:
    if error == "access_denied":
        return "Access was denied at the provider" + (f": {description}" if description else ".")
    return f"The provider reported {error}" + (f": {description}" if description else ".")


def _listening_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if port:
            # A fixed port is used again and again: without this, the last sign-in's closed connections
            # (TIME_WAIT) would block it for a minute. Linux still refuses a port another socket listens on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(_MAX_CONNECTIONS)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _fixed_port_sockets(redirect_host: str, port: int, path: str) -> list[socket.socket]:
    """The port the client registration names: taken means the sign-in cannot work, so say so plainly."""
    where = "127.0.0.1"
    socks: list[socket.socket] = []
    try:
        socks.append(_listening_socket(socket.AF_INET, "127.0.0.1", port))
        if redirect_host == "localhost" and socket.has_ipv6:
            where = "::1"
            try:
                socks.append(_listening_socket(socket.AF_INET6, "::1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    log.debug("loopback: ::1 is not available here (%s); listening on 127.0.0.1 only", exc.strerror)
                else:
                    raise
    except OSError as exc:
        for sock in socks:
            sock.close()
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        uri = f"http://{redirect_host}:{port}{path}"
        raise RedirectPortBusy(
            f"Port {port} on {where} is already in use by another program, so Tokendesk cannot receive the "
            f"sign-in at {uri}. Close that program and try again, or register a redirect URI with another port "
            "(1024-65535) at the provider and connect with that port.",
            port=port,
            input=Input.REDIRECT_PORT,
        ) from None
    return socks


def _loopback_sockets(redirect_host: str) -> list[socket.socket]:
    """127.0.0.1 on an OS-chosen port; for `localhost` also ::1 on the same port, so that no other process
    can take that port on ::1 and receive a browser that resolves localhost to ::1. Without IPv6 on this
    machine, 127.0.0.1 alone. Never any address but loopback."""
    for _ in range(_BIND_TRIES):
        v4 = _listening_socket(socket.AF_INET, "127.0.0.1", 0)
        if redirect_host != "localhost" or not socket.has_ipv6:
            return [v4]
        try:
            return [v4, _listening_socket(socket.AF_INET6, "::1", v4.getsockname()[1])]
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                v4.close()  # someone holds this port on ::1: start again with another
                continue
            log.debug("loopback: ::1 is not available here (%s); listening on 127.0.0.1 only", exc.strerror)
            return [v4]
    raise OSError(errno.EADDRINUSE, "no port is free on both 127.0.0.1 and ::1")


class LoopbackListener:
    """Listens on loopback (never another interface) on an OS-chosen port (or the one `port` a registration
    names) until the right redirect arrives at `path`.

    Requests with another path get 404, a wrong, missing or repeated `state` gets 400; neither ends the
    wait, so a stray or forged request cannot abort the user's sign-in. At most `max_connections` are open
    at once (others are closed at once) and each has `read_timeout_s` to send its request.
    """

    def __init__(
        self,
        *,
        state: str,
        redirect_host: str = "127.0.0.1",
        port: int = 0,
        path: str = CALLBACK_PATH,
        max_connections: int = _MAX_CONNECTIONS,
        read_timeout_s: float = _READ_TIMEOUT_S,
    ) -> None:
        self._state = state
        self._redirect_host = redirect_host
        self._fixed_port = port  # 0: any free port (RFC 8252 §7.3)
        self._path = path
        self._max_connections = max_connections
        self._read_timeout_s = read_timeout_s
        self._servers: list[asyncio.Server] = []
        self._result: asyncio.Future[CallbackResult] | None = None
        self._port = 0
        self._open_connections = 0

    async def start(self) -> None:
        self._result = asyncio.get_running_loop().create_future()
        socks = (
            _fixed_port_sockets(self._redirect_host, self._fixed_port, self._path)
            if self._fixed_port
            else _loopback_sockets(self._redirect_host)
        )
        try:
            for sock in socks:
                self._servers.append(await asyncio.start_server(self._handle, sock=sock))
        except BaseException:
            await self.close()
            for sock in socks:
                sock.close()
            raise
        self._port = socks[0].getsockname()[1]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every listening socket."""
        return [sock.getsockname()[:2] for server in self._servers for sock in server.sockets]

    @property
    def redirect_uri(self) -> str:
        if not self._port:
            raise RuntimeError("listener not started")
        return f"http://{self._redirect_host}:{self._port}{self._path}"

    async def wait(self, timeout_s: float) -> CallbackResult:
        assert self._result is not None, "listener not started"
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.shield(self._result)
        except TimeoutError:
            raise AuthorizationTimeout(
                f"No answer from the browser within {timeout_s / 60:g} minutes; sign-in was abandoned."
            ) from None
        finally:
            await self.close()

    async def close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self._result is not None and not self._result.done():
            self._result.cancel()

    async def __aenter__(self) -> LoopbackListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- one connection ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open_connections >= self._max_connections:
            log.debug("loopback: refused a connection over the limit of %d", self._max_connections)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        self._open_connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST_BYTES)
        try:
            async with asyncio.timeout(self._read_timeout_s):
                request = await self._read_request(conn, reader)
            if request is None:
                return
            status, body, outcome = self._dispatch(request)
            try:
                await self._respond(conn, writer, status, body)
            finally:
                # Settle only after the page is written, so the browser shows it before we shut down.
                if outcome is not None and self._result is not None and not self._result.done():
                    if isinstance(outcome, BaseException):
                        self._result.set_exception(outcome)
                    else:
                        self._result.set_result(outcome)
        except (TimeoutError, h11.ProtocolError, ConnectionError) as exc:
            log.debug("loopback: dropped a connection (%s)", type(exc).__name__)
        except Exception:
            log.exception("loopback: a connection failed unexpectedly")  # never into the loop's handler
        finally:
            self._open_connections -= 1  # before closing: a client that sees the close may connect again
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
        request: h11.Request | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(8192))
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.EndOfMessage):
                return request
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _dispatch(self, request: h11.Request) -> tuple[int, bytes, CallbackResult | AuthorizationError | None]:
        try:
            target = urlsplit(request.target.decode("ascii", "replace"))
        except ValueError:  # for example "//[": an unbalanced IPv6 bracket
            return 400, _page("bad", "Bad request", "This address is only used to finish signing in."), None
        if request.method != b"GET" or target.path != self._path:
            return 404, _page("bad", "Not found", "This address is only used to finish signing in."), None
        if self._result is None or self._result.done():
            return (
                410,
                _page("bad", "Already finished", "This sign-in has already been completed or cancelled."),
                None,
            )
        parsed = parse_qs(target.query, keep_blank_values=True)
        query = {k: v[0] for k, v in parsed.items()}
        repeated = [name for name in _SINGLE_PARAMETERS if len(parsed.get(name, ())) > 1]
        if "state" in repeated:
            # Which state counts is ambiguous, so this redirect cannot be tied to our sign-in: ignore it.
            log.warning("loopback: ignored a redirect with a repeated state parameter")
            return (
                400,
                _page(
                    "bad",
                    "Sign-in link not recognised",
                    "This redirect repeats the state parameter, so it was ignored.",
                ),
                None,
            )
        if not secrets.compare_digest(query.get("state", "").encode(), self._state.encode()):
            log.warning("loopback: ignored a redirect whose state does not match this sign-in")
            return (
                400,
                _page(
                    "bad",
                    "Sign-in link not recognised",
                    "This redirect does not belong to the sign-in Tokendesk is waiting for, so it was ignored.",
                ),
                None,
            )
        if repeated:
            invalid = AuthorizationError(
                "The provider redirected back with a repeated parameter (" + ", ".join(repeated) + "), "
                "which OAuth forbids; sign-in was stopped."
            )
            return 400, _page("bad", "Sign-in failed", str(invalid)), invalid
        if "error" in query:
            message = describe_error(query["error"], query.get("error_description") or None)
            error: AuthorizationError = (
                AuthorizationDenied(message) if query["error"] == "access_denied" else AuthorizationError(message)
            )
            return 200, _page("bad", "Sign-in not completed", message), error
        code = query.get("code", "")
        if not code:
            missing = AuthorizationError("The provider redirected back without a code.")
            return 400, _page("bad", "Sign-in failed", str(missing)), missing
        result = CallbackResult(code=code, iss=query.get("iss"))
        return (
            200,
            _page("ok", "Signed in", "Tokendesk received the sign-in and is finishing the connection."),
            result,
        )

    @staticmethod
    async def _respond(conn: h11.Connection, writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
            ("Connection", "close"),
        ]
        reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 410: b"Gone"}.get(status, b"")
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        data = (data or b"") + (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        writer.write(data)
        await writer.drain()
