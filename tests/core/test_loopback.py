import asyncio
import socket

import httpx
import pytest

from desktop_app.core.errors import AuthorizationDenied, AuthorizationError, AuthorizationTimeout
from desktop_app.core.loopback import LoopbackListener


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url)


async def test_binds_loopback_only_on_an_os_chosen_port() -> None:
    async with LoopbackListener(state="s") as listener:
        assert listener._server is not None
        addresses = {sock.getsockname()[0] for sock in listener._server.sockets}
        assert addresses == {"127.0.0.1"}
        assert listener.redirect_uri.startswith("http://127.0.0.1:")
        assert listener.redirect_uri.endswith("/callback")


async def test_localhost_redirect_still_binds_127_0_0_1() -> None:
    async with LoopbackListener(state="s", redirect_host="localhost") as listener:
        assert listener.redirect_uri.startswith("http://localhost:")
        assert {s.getsockname()[0] for s in listener._server.sockets} == {"127.0.0.1"}  # type: ignore[union-attr]


async def test_strays_and_wrong_state_do_not_end_the_wait() -> None:
    async with LoopbackListener(state="right") as listener:
        base = listener.redirect_uri.removesuffix("/callback")
        waiter = asyncio.ensure_future(listener.wait(30))
        assert (await get(base + "/favicon.ico")).status_code == 404
        wrong = await get(listener.redirect_uri + "?code=stolen&state=wrong")
        assert wrong.status_code == 400
        assert "does not belong" in wrong.text
        assert (await get(listener.redirect_uri + "?code=c")).status_code == 400  # no state at all
        assert not waiter.done()
        ok = await get(listener.redirect_uri + "?code=the-code&state=right&iss=https%3A%2F%2Fid.example.com")
        assert ok.status_code == 200
        assert "close this tab" in ok.text
        assert ok.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in ok.headers["content-security-policy"]
        result = await waiter
        assert result.code == "the-code" and result.iss == "https://id.example.com"
        assert "the-code" not in repr(result)
    # one-shot: the port is closed afterwards
    with pytest.raises(httpx.ConnectError):
        await get(listener.redirect_uri + "?code=x&state=right")


async def test_access_denied_ends_with_a_clear_error() -> None:
    async with LoopbackListener(state="s") as listener:
        waiter = asyncio.ensure_future(listener.wait(30))
        page = await get(listener.redirect_uri + "?error=access_denied&error_description=User+said+no&state=s")
        assert page.status_code == 200 and "User said no" in page.text
        with pytest.raises(AuthorizationDenied, match="User said no"):
            await waiter


async def test_other_errors_are_reported_with_their_code() -> None:
    async with LoopbackListener(state="s") as listener:
        waiter = asyncio.ensure_future(listener.wait(30))
        await get(listener.redirect_uri + "?error=invalid_scope&state=s")
        with pytest.raises(AuthorizationError, match="invalid_scope"):
            await waiter


async def test_error_page_escapes_provider_text() -> None:
    async with LoopbackListener(state="s") as listener:
        waiter = asyncio.ensure_future(listener.wait(30))
        page = await get(listener.redirect_uri + "?error=x&error_description=%3Cscript%3Ealert(1)%3C/script%3E&state=s")
        assert "<script>" not in page.text and "&lt;script&gt;" in page.text
        with pytest.raises(AuthorizationError):
            await waiter


async def test_timeout_closes_the_port() -> None:
    listener = LoopbackListener(state="s")
    await listener.start()
    port = int(listener.redirect_uri.split(":")[2].split("/")[0])
    with pytest.raises(AuthorizationTimeout, match="abandoned"):
        await listener.wait(0.01)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


async def test_cancellation_closes_the_port() -> None:
    listener = LoopbackListener(state="s")
    await listener.start()
    port = int(listener.redirect_uri.split(":")[2].split("/")[0])
    waiter = asyncio.ensure_future(listener.wait(30))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


async def test_garbage_bytes_are_dropped_and_waiting_continues() -> None:
    async with LoopbackListener(state="s") as listener:
        port = int(listener.redirect_uri.split(":")[2].split("/")[0])
        waiter = asyncio.ensure_future(listener.wait(30))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        assert not waiter.done()
        await get(listener.redirect_uri + "?code=c&state=s")
        assert (await waiter).code == "c"
