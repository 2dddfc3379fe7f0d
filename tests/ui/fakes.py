"""A fake of the core's account facade (core.facade.AccountService) for widget tests, with scripted answers.

mypy checks this module (pyproject [tool.mypy]): the assignment at the end fails the type check as soon as
the fake drifts from the protocol the GUI is typed against.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

from desktop_app.core.accounts import AccountRecord, AccountStore
from desktop_app.core.agent import AgentServer, AgentToken
from desktop_app.core.device import CodeCallback
from desktop_app.core.errors import TokendeskError
from desktop_app.core.events import EventBus, Listener
from desktop_app.core.facade import AccountService
from desktop_app.core.paths import AppPaths
from desktop_app.core.providers import ProviderSpec
from desktop_app.core.secrets import Secret
from desktop_app.core.service import ConnectRequest, DisconnectResult
from desktop_app.core.tokens import TokenSet


class FakeEngine:
    """What the test sees of the background loop: whether it runs, and how often it was woken."""

    def __init__(self) -> None:
        self.wakes = 0
        self.running = False

    def wake(self) -> None:
        self.wakes += 1

    async def run(self) -> None:
        self.running = True
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False


class FakeService:
    """The facade the GUI calls, scripted: tests emit core events on `bus` and read what was asked of it.
    With `paths`, other processes' changes to accounts.json are read like the real service reads them."""

    def __init__(self, paths: AppPaths | None = None) -> None:
        self.bus = EventBus()
        self.engine = FakeEngine()
        self.tokens: dict[str, TokenSet] = {}
        self.errors: dict[str, TokendeskError] = {}
        self.token_calls: list[tuple[str, float]] = []
        self.probe_errors: list[TokendeskError] = []
        self.refresh_calls: list[str] = []
        self.reconnect_calls: list[str] = []
        self.stopped = False
        self.closed = False
        self._paths = paths
        self._store = None if paths is None else AccountStore(paths.accounts_file)
        # What the window showed from the file at start; tests then drive it through `bus`, and a reload only
        # reports what a test wrote to the file itself (another process's change).
        self._shown = None if self._store is None else self._store.all()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.bus.subscribe(listener)

    async def run_background(self) -> None:
        await self.engine.run()

    def wake(self) -> None:
        self.engine.wake()

    def stop_sending(self) -> None:
        self.stopped = True

    async def aclose(self) -> None:
        self.closed = True

    async def probe_keychain(self) -> None:
        if self.probe_errors:
            raise self.probe_errors.pop(0)

    def agent_server(self) -> AgentServer:
        async def source(name: str, min_valid_s: float) -> AgentToken:
            tokens = await self.token(name, min_valid_s=min_valid_s)
            return AgentToken(tokens.access_token.reveal(), tokens.token_type, tokens.expires_at)

        directory = Path(tempfile.mkdtemp(prefix="tokendesk-agent-"))
        weakref.finalize(self, shutil.rmtree, directory, True)  # the app's runtime dir is not a test's to leave
        return AgentServer(directory / "agent.sock", source)

    def watch(self) -> tuple[Path, ...]:
        return () if self._paths is None else (self._paths.config_dir, self._paths.accounts_file)

    async def reload_if_changed(self) -> list[AccountRecord] | None:
        if self._store is None:
            return None
        records = self._store.all()  # on the GUI thread: a test may run Qt's events without the loop running
        if records == self._shown:
            return None
        self._shown = records
        return records

    async def resolve_provider(self, request: ConnectRequest) -> ProviderSpec:
        raise NotImplementedError("script resolve_provider in a subclass")

    async def connect(
        self,
        request: ConnectRequest,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord:
        raise NotImplementedError("script connect in a subclass")

    async def reconnect(
        self,
        name_or_id: str,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord:
        self.reconnect_calls.append(name_or_id)
        await asyncio.Event().wait()  # the user never finishes signing in; the dialog's Cancel ends this
        raise AssertionError("unreachable")

    async def token(self, name_or_id: str, *, min_valid_s: float = 60.0) -> TokenSet:
        self.token_calls.append((name_or_id, min_valid_s))
        if name_or_id in self.errors:
            raise self.errors[name_or_id]
        return self.tokens[name_or_id]

    async def refresh(self, name_or_id: str) -> TokenSet:
        self.refresh_calls.append(name_or_id)
        return self.tokens.get(name_or_id) or _no_tokens()

    async def disconnect(self, name_or_id: str, *, keep_grant: bool = False) -> DisconnectResult:
        raise NotImplementedError("script disconnect in the test")


def _no_tokens() -> TokenSet:
    return TokenSet(access_token=Secret("unused-by-the-window"), token_type="Bearer", issued_at=0.0, expires_at=None)


def _implements(fake: FakeService) -> AccountService:
    return fake  # mypy fails here when the fake drifts from the facade the GUI is typed against
