"""While the app runs, `tokendesk token` gets its token from the app over the user-only socket."""

from __future__ import annotations

import asyncio
import os
import socket
import stat

import pytest

from desktop_app.core.agent import _peer_uid, request_token
from tests.e2e.conftest import Rig, rig_cli

pytestmark = pytest.mark.e2e


async def cli(rig: Rig, *args: str, keychain: bool = False) -> tuple[int, str, str]:
    return await rig_cli(rig, *args, keychain=keychain)


async def test_cli_token_comes_from_the_running_app(rig: Rig) -> None:
    record = await rig.service.connect(rig.request(name="Agent"))
    server = rig.service.agent_server()
    await server.start()
    try:
        sock_path = rig.paths.agent_socket
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock_path.parent.stat().st_mode) == 0o700
        code, out, err = await cli(rig, "token", "Agent")
        assert code == 0, err
        tokens = await rig.service.token(record.name)
        assert out == tokens.access_token.reveal() + "\n"
        code, out, _ = await cli(rig, "token", "Agent", "--header")
        assert out == f"Authorization: Bearer {tokens.access_token.reveal()}\n"
        # The app applies --min-valid: a refresh happens in the app, once.
        rig.provider.reset()
        rig.clock.advance(200)  # 100 s left: less than asked, and less than half the token's life
        code, out, err = await cli(rig, "token", "Agent", "--min-valid", "3600")
        assert code == 0, err
        assert rig.provider.stats()["token"]["refresh_token"] == 1
        assert out.strip() == (await rig.service.token(record.name)).access_token.reveal()
        # Errors keep their exit codes.
        code, _, err = await cli(rig, "token", "Nobody")
        assert code == 1 and "No account named" in err
        rig.provider.revoke_all()
        rig.clock.advance(1)
        await asyncio.gather(rig.service.refresh(record.name), return_exceptions=True)
        code, _, err = await cli(rig, "token", "Agent")
        assert code == 3 and "sign in again" in err
    finally:
        await server.close()
    assert not rig.paths.agent_socket.exists()


async def test_without_the_app_the_cli_does_the_work_itself(rig: Rig) -> None:
    await rig.service.connect(rig.request(name="Solo"))
    # A stale socket left by a crashed app must not get in the way.
    rig.paths.agent_socket.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(rig.paths.agent_socket))
    assert request_token(rig.paths.agent_socket, "Solo", 60) is None
    code, out, err = await cli(rig, "token", "Solo", keychain=False)
    assert code == 5 and "keychain" in err.lower()  # it tried the keychain itself, which this env lacks
    assert out == ""


def test_peer_uid_is_read_from_the_kernel() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert _peer_uid(a) == os.getuid()
