"""One-shot loopback HTTP listener that receives the authorization redirect (RFC 8252 §7.3)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import secrets
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import h11

from .errors import AuthorizationDenied, AuthorizationError, AuthorizationTimeout

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
_MAX_REQUEST_BYTES = 64 * 1024
_READ_TIMEOUT_S = 10.0


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


class LoopbackListener:
    """Listens on 127.0.0.1 (never another interface) on an OS-chosen port until the right redirect arrives.

    Requests with another path get 404, a wrong or missing `state` gets 400; neither ends the wait, so a
    stray or forged request cannot abort the user's sign-in.
    """

    def __init__(self, *, state: str, redirect_host: str = "127.0.0.1") -> None:
        self._state = state
        self._redirect_host = redirect_host
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[CallbackResult] | None = None
        self._port = 0

    async def start(self) -> None:
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, host="127.0.0.1", port=0)
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def redirect_uri(self) -> str:
        if not self._port:
            raise RuntimeError("listener not started")
        return f"http://{self._redirect_host}:{self._port}{CALLBACK_PATH}"

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
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._result is not None and not self._result.done():
            self._result.cancel()

    async def __aenter__(self) -> LoopbackListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- one connection ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST_BYTES)
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
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
        finally:
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
        target = urlsplit(request.target.decode("ascii", "replace"))
        if request.method != b"GET" or target.path != CALLBACK_PATH:
            return 404, _page("bad", "Not found", "This address is only used to finish signing in."), None
        if self._result is None or self._result.done():
            return (
                410,
                _page("bad", "Already finished", "This sign-in has already been completed or cancelled."),
                None,
            )
        query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
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
