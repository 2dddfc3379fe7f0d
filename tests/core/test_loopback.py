import asyncio
import errno
import socket

import httpx
import pytest

from desktop_app.core import loopback
from desktop_app.core.errors import AuthorizationDenied, AuthorizationError, AuthorizationTimeout, RedirectPortBusy
from desktop_app.core.loopback import LoopbackListener


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def raw(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """Sends raw bytes and returns everything the listener answers before closing (bounded)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_binds_loopback_only_on_an_os_chosen_port() -> None:
    async with LoopbackListener(state="s") as listener:
        assert {host for host, _ in listener.addresses} == {"127.0.0.1"}
        assert listener.redirect_uri.startswith("http://127.0.0.1:")
        assert listener.redirect_uri.endswith("/callback")


async def test_localhost_redirect_binds_127_0_0_1_and_1_on_one_port() -> None:
    async with LoopbackListener(state="s", redirect_host="localhost") as listener:
        assert listener.redirect_uri.startswith("http://localhost:")
        port = int(listener.redirect_uri.split(":")[2].split("/")[0])
        if not ipv6_loopback_available():
            assert listener.addresses == [("127.0.0.1", port)]
            return
        assert sorted(listener.addresses) == [("127.0.0.1", port), ("::1", port)]
        # Nobody else can take the port on ::1 now...
        with socket.socket(socket.AF_INET6) as squatter, pytest.raises(OSError, match="in use") as taken:
            squatter.bind(("::1", port))
        assert taken.value.errno == errno.EADDRINUSE
        # ...and a browser that resolves localhost to ::1 reaches us.
        waiter = asyncio.ensure_future(listener.wait(30))
        assert (await get(f"http://[::1]:{port}/callback?code=c6&state=s")).status_code == 200
        assert (await waiter).code == "c6"


async def test_localhost_without_ipv6_binds_127_0_0_1_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = loopback._listening_socket

    def no_ipv6(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        return real(family, host, port)

    monkeypatch.setattr(loopback, "_listening_socket", no_ipv6)
    async with LoopbackListener(state="s", redirect_host="localhost") as listener:
        assert [host for host, _ in listener.addresses] == ["127.0.0.1"]
        waiter = asyncio.ensure_future(listener.wait(30))
        assert (await get(listener.redirect_uri.replace("localhost", "127.0.0.1") + "?code=c&state=s")).is_success
        assert (await waiter).code == "c"


@pytest.mark.skipif(not ipv6_loopback_available(), reason="needs ::1")
async def test_localhost_port_taken_on_1_picks_another_port(monkeypatch: pytest.MonkeyPatch) -> None:
    real = loopback._listening_socket
    refused: list[int] = []

    def first_v6_port_taken(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
        if family == socket.AF_INET6 and not refused:
            refused.append(port)
            raise OSError(errno.EADDRINUSE, "Address already in use")
        return real(family, host, port)

    monkeypatch.setattr(loopback, "_listening_socket", first_v6_port_taken)
    async with LoopbackListener(state="s", redirect_host="localhost") as listener:
        hosts_ports = sorted(listener.addresses)
        assert [h for h, _ in hosts_ports] == ["127.0.0.1", "::1"]
        assert hosts_ports[0][1] == hosts_ports[1][1] != refused[0]
    with socket.socket() as sock:  # the abandoned 127.0.0.1 socket was closed, not leaked
        sock.bind(("127.0.0.1", refused[0]))


async def test_an_unparsable_target_gets_400_and_waiting_continues() -> None:
    async with LoopbackListener(state="s") as listener:
        port = listener.addresses[0][1]
        waiter = asyncio.ensure_future(listener.wait(30))
        answer = await raw(port, b"GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert not waiter.done()
        await get(listener.redirect_uri + "?code=c&state=s")
        assert (await waiter).code == "c"


async def test_connections_over_the_limit_are_closed_at_once() -> None:
    async with LoopbackListener(state="s") as listener:  # the default limit, 16
        port = listener.addresses[0][1]
        waiter = asyncio.ensure_future(listener.wait(30))
        # Accepted in order, so the listener holds these 16 before it sees the next one.
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(16)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # Closed at once, although the read timeout is 10 s.
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            assert listener._open_connections == 16
            for r, w in idle:
                w.write_eof()  # the listener sees the end, gives the slot back, then closes its side
                assert await asyncio.wait_for(r.read(), 5) == b""
        finally:
            for _, w in idle:
                w.close()
        assert listener._open_connections == 0
        assert (await get(listener.redirect_uri + "?code=c&state=s")).status_code == 200
        assert (await waiter).code == "c"


async def test_idle_connections_time_out() -> None:
    async with LoopbackListener(state="s", read_timeout_s=0.2, max_connections=2) as listener:
        port = listener.addresses[0][1]
        waiter = asyncio.ensure_future(listener.wait(30))
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for reader, writer in idle:
            assert await asyncio.wait_for(reader.read(), 5) == b""  # dropped by the listener, not by us
            writer.close()
        assert listener._open_connections == 0
        assert not waiter.done()
        await get(listener.redirect_uri + "?code=c&state=s")
        assert (await waiter).code == "c"


async def test_a_repeated_state_is_ignored_like_a_wrong_one() -> None:
    async with LoopbackListener(state="s") as listener:
        waiter = asyncio.ensure_future(listener.wait(30))
        page = await get(listener.redirect_uri + "?code=c&state=s&state=s")
        assert page.status_code == 400 and "repeats the state" in page.text
        page = await get(listener.redirect_uri + "?code=c&state=forged&state=s")
        assert page.status_code == 400
        assert not waiter.done()
        await get(listener.redirect_uri + "?code=c&state=s")
        assert (await waiter).code == "c"


@pytest.mark.parametrize("query", ["code=a&code=b&state=s", "code=a&state=s&iss=x&iss=y", "error=a&error=b&state=s"])
async def test_a_repeated_code_is_refused(query: str) -> None:
    async with LoopbackListener(state="s") as listener:
        waiter = asyncio.ensure_future(listener.wait(30))
        page = await get(listener.redirect_uri + "?" + query)
        assert page.status_code == 400 and "repeated parameter" in page.text
        with pytest.raises(AuthorizationError, match="repeated parameter"):
            await waiter


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


# --- a fixed port and path (registrations matched exactly) --------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_fixed_port_and_path_on_loopback_only() -> None:
    port = free_port()
    async with LoopbackListener(state="s", port=port, path="/cb/exact") as listener:
        assert listener.addresses == [("127.0.0.1", port)]
        assert listener.redirect_uri == f"http://127.0.0.1:{port}/cb/exact"
        assert (await get(f"http://127.0.0.1:{port}/callback?state=s&code=c")).status_code == 404
        assert (await get(f"http://127.0.0.1:{port}/cb/exact?state=s&code=c")).status_code == 200
        assert (await listener.wait(5)).code == "c"
    # The same port again at once, although the connection just closed (TIME_WAIT).
    async with LoopbackListener(state="s", port=port) as again:
        assert again.addresses == [("127.0.0.1", port)]


async def test_fixed_port_taken_by_another_program() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        listener = LoopbackListener(state="s", port=port, path="/cb")
        with pytest.raises(RedirectPortBusy) as caught:
            await listener.start()
    assert caught.value.port == port
    assert str(caught.value) == (
        f"Port {port} on 127.0.0.1 is already in use by another program, so Tokendesk cannot receive the sign-in "
        f"at http://127.0.0.1:{port}/cb. Close that program and try again, or register a redirect URI with another "
        "port (1024-65535) at the provider and connect with that port."
    )


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_fixed_port_for_localhost_also_holds_1_and_fails_if_taken_there() -> None:
    port = free_port()
    async with LoopbackListener(state="s", redirect_host="localhost", port=port) as listener:
        assert sorted(listener.addresses) == sorted([("127.0.0.1", port), ("::1", port)])
    with socket.socket(socket.AF_INET6) as other:
        other.bind(("::1", port))
        other.listen(1)
        with pytest.raises(RedirectPortBusy, match=f"Port {port} on ::1 is already in use"):
            await LoopbackListener(state="s", redirect_host="localhost", port=port).start()
