"""What the GUI may call on the core: the `AccountService` protocol that core.service.Service implements.

The UI types its service as this protocol, so it cannot reach the engine, the store or the bus behind it, and
the UI tests' FakeService is checked against it by mypy (a fake that drifts from the real service fails the
type check, not a user). Light on imports: the GUI imports it before its first paint, before httpx.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .defaults import MIN_VALID_S

if TYPE_CHECKING:
    from .accounts import AccountRecord
    from .agent import AgentServer
    from .device import CodeCallback
    from .events import Listener
    from .providers import ProviderSpec
    from .service import ConnectRequest, DisconnectResult
    from .tokens import TokenSet


class AccountService(Protocol):
    """The account facade one process holds (see core.service.Service for who owns it and its loop rules)."""

    # --- events and the background work ---------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each core event, on the loop; returns the unsubscriber."""
        ...

    async def run_background(self) -> None:
        """Refresh accounts as they come due, until cancelled (the app runs this, the CLI does not)."""
        ...

    def wake(self) -> None:
        """Re-plan the background refresh now (clock jump, network back)."""
        ...

    def stop_sending(self) -> None:
        """Shutting down: start no new refresh; those already sent still finish in aclose()."""
        ...

    async def aclose(self) -> None: ...

    async def probe_keychain(self) -> None: ...

    def agent_server(self) -> AgentServer: ...

    # --- another process changed accounts.json ------------------------------------------------------

    def watch(self) -> tuple[Path, ...]:
        """What a file watcher should watch to see other processes' changes to the accounts."""
        ...

    async def reload_if_changed(self) -> list[AccountRecord] | None:
        """All accounts if they differ from what the previous call returned, else None."""
        ...

    # --- accounts -----------------------------------------------------------------------------------

    async def resolve_provider(self, request: ConnectRequest) -> ProviderSpec: ...

    async def connect(
        self,
        request: ConnectRequest,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord: ...

    async def reconnect(
        self,
        name_or_id: str,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord: ...

    async def token(self, name_or_id: str, *, min_valid_s: float = MIN_VALID_S) -> TokenSet: ...

    async def refresh(self, name_or_id: str) -> TokenSet: ...

    async def disconnect(self, name_or_id: str, *, keep_grant: bool = False) -> DisconnectResult: ...


if TYPE_CHECKING:
    from .service import Service

    def _implements(service: Service) -> AccountService:
        return service  # mypy fails here when Service drifts from the facade
