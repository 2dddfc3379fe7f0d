"""The agent server on a real Unix socket: every request gets an answer, and only this user gets one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from desktop_app.core.agent import AgentError, AgentServer, AgentToken, request_reject, request_token
from desktop_app.core.errors import AccountNotFound, Hint, NeedsSignIn, TokendeskError
from desktop_app.core.secrets import Secret

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets only")


@dataclass
class Source:
    """A token source that records its calls and fails with `raises` when set."""

    calls: list[tuple[str, float]] = field(default_factory=list)
    raises: BaseException | None = None
    rejected: list[tuple[str, Secret]] = field(default_factory=list)

    async def reject(self, name: str, token: Secret) -> bool:
        if name == "Nobody":
            raise AccountNotFound("No account named 'Nobody'.")
        self.rejected.append((name, token))
        return token == Secret("at-agent-0001")

    async def __call__(self, name: str, min_valid_s: float) -> AgentToken:
        self.calls.append((name, min_valid_s))
        if self.raises is not None:
            error, self.raises = self.raises, None
            raise error
        return AgentToken(
            "at-agent-0001", "Bearer", 1234.0, scopes=("openid", "mail"), email="a@example.test", provider="github"
        )


@dataclass
class Agent:
    server: AgentServer
    source: Source
    path: Path

    async def send(self, payload: bytes) -> dict[str, Any]:
        """Sends raw bytes as one request and returns the decoded answer line."""

        def exchange() -> bytes:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(self.path))
                sock.sendall(payload)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                return data

        data = await asyncio.to_thread(exchange)
        assert data.endswith(b"\n"), f"no answer line: {data[:80]!r}"
        answer: dict[str, Any] = json.loads(data)
        return answer

    async def ask(self, **request: Any) -> dict[str, Any]:
        return await self.send(json.dumps({"op": "token", "name": "A", **request}).encode() + b"\n")


@pytest_asyncio.fixture
async def agent() -> AsyncIterator[Agent]:
    directory = Path(tempfile.mkdtemp(prefix="td-agent-"))  # short: Unix socket paths are limited to ~100 bytes
    source = Source()
    path = directory / "run" / "agent.sock"
    server = AgentServer(path, source, reject=source.reject)
    await server.start()
    try:
        yield Agent(server, source, path)
    finally:
        await server.close()
        shutil.rmtree(directory)


async def test_a_good_request_gets_its_token(agent: Agent) -> None:
    answer = await agent.ask(min_valid_s=30)
    assert answer == {
        "ok": True,
        "access_token": "at-agent-0001",
        "token_type": "Bearer",
        "expires_at": 1234.0,
        "scopes": ["openid", "mail"],
        "email": "a@example.test",
        "username": None,
        "provider": "github",
    }
    assert agent.source.calls == [("A", 30.0)]


async def test_the_client_reads_the_whole_answer(agent: Agent) -> None:
    got = await asyncio.to_thread(request_token, agent.path, "A", 30.0)
    assert got is not None
    assert (got.access_token, got.token_type, got.expires_at) == ("at-agent-0001", "Bearer", 1234.0)
    assert (got.scopes, got.email, got.username, got.provider) == (("openid", "mail"), "a@example.test", None, "github")


async def test_a_refused_token_is_reported_to_the_app(agent: Agent) -> None:
    assert await asyncio.to_thread(request_reject, agent.path, "A", Secret("at-agent-0001")) is True
    assert await asyncio.to_thread(request_reject, agent.path, "A", Secret("at-older-0000")) is False
    assert agent.source.rejected == [("A", Secret("at-agent-0001")), ("A", Secret("at-older-0000"))]
    with pytest.raises(AgentError, match="No account named") as caught:
        await asyncio.to_thread(request_reject, agent.path, "Nobody", Secret("at-agent-0001"))
    assert caught.value.exit_code == 1
    answer = await agent.send(b'{"op": "reject", "name": "A"}\n')
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert agent.source.calls == []  # no token was asked for


async def test_a_line_over_64_kib_gets_an_error_reply(agent: Agent) -> None:
    long_name = "x" * (70 * 1024)
    answer = await agent.ask(name=long_name)
    assert answer["ok"] is False and answer["exit_code"] == 2 and "too long" in answer["error"]
    assert agent.source.calls == []
    assert (await agent.ask())["ok"] is True  # still serving


async def test_deeply_nested_json_gets_an_error_reply(agent: Agent) -> None:
    answer = await agent.send(b"[" * 60_000 + b"\n")
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert agent.source.calls == []


@pytest.mark.parametrize(
    "raw",
    ["NaN", "Infinity", "-Infinity", "-1", "-0.5", "true", "false", '"60"', "null", "[60]", "1" + "0" * 400],
)
async def test_min_valid_must_be_a_finite_number_not_below_zero(agent: Agent, raw: str) -> None:
    line = b'{"op": "token", "name": "A", "min_valid_s": ' + raw.encode() + b"}\n"
    answer = await agent.send(line)
    assert answer["ok"] is False and answer["exit_code"] == 2 and "min_valid_s" in answer["error"]
    assert agent.source.calls == []


async def test_min_valid_zero_and_integers_are_accepted(agent: Agent) -> None:
    assert (await agent.ask(min_valid_s=0))["ok"] is True
    assert (await agent.ask(min_valid_s=3600))["ok"] is True
    assert (await agent.ask())["ok"] is True  # absent: the default
    assert agent.source.calls == [("A", 0.0), ("A", 3600.0), ("A", 60.0)]


@pytest.mark.parametrize("line", [b"[]\n", b'"token"\n', b'{"op": "other", "name": "A"}\n', b'{"op": "token"}\n'])
async def test_other_requests_are_refused(agent: Agent, line: bytes) -> None:
    answer = await agent.send(line)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert agent.source.calls == []


async def test_typed_errors_keep_their_exit_code(agent: Agent) -> None:
    agent.source.raises = NeedsSignIn("Sign in again.", account="Work")
    with pytest.raises(AgentError, match="Sign in again") as caught:
        await asyncio.to_thread(request_token, agent.path, "A", 60)
    # The facts travel too, so the CLI words the remedy (its own command) as if it had run the engine itself.
    assert (caught.value.exit_code, caught.value.hint, caught.value.account) == (3, Hint.RECONNECT, "Work")
    assert isinstance(caught.value, TokendeskError)


async def test_an_unexpected_failure_is_an_error_reply_and_the_server_keeps_serving(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    agent.source.raises = RuntimeError("boom at-agent-secret-0001")
    with pytest.raises(AgentError) as caught:
        await asyncio.to_thread(request_token, agent.path, "A", 60)
    assert caught.value.exit_code == 1
    assert "RuntimeError" in str(caught.value)
    assert "at-agent-secret-0001" not in str(caught.value)  # exception text is not sent to the client
    assert any("unexpectedly" in r.getMessage() and r.exc_info for r in caplog.records)
    token = await asyncio.to_thread(request_token, agent.path, "A", 60)
    assert token is not None and token.access_token == "at-agent-0001"


async def test_a_client_of_another_user_is_refused_before_anything_is_sent() -> None:
    directory = Path(tempfile.mkdtemp(prefix="td-agent-"))
    source = Source()
    path = directory / "agent.sock"
    # The server believes it runs as another user, so this process's uid is a stranger's.
    server = AgentServer(path, source, own_uid=lambda: os.getuid() + 1)
    await server.start()
    try:

        def exchange() -> bytes:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                received = b""
                try:
                    sock.sendall(b'{"op": "token", "name": "A", "min_valid_s": 60}\n')
                    while chunk := sock.recv(65536):
                        received += chunk
                except (ConnectionResetError, BrokenPipeError):
                    pass  # closed before or with our request unread: a reset, or a broken pipe if it was first
                return received

        assert await asyncio.to_thread(exchange) == b""  # closed without a byte
        assert await asyncio.to_thread(request_token, path, "A", 60) is None  # the CLI falls back
        assert source.calls == []
    finally:
        await server.close()
        shutil.rmtree(directory)
