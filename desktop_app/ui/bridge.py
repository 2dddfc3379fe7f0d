"""Core events in, Qt signals out; owns the background tasks (strong references, exceptions reported)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal

from desktop_app.core.agent import AgentServer
from desktop_app.core.agent import supported as agent_supported
from desktop_app.core.errors import VaultError
from desktop_app.core.events import AccountChanged, AccountRemoved, CoreEvent, NeedsSignInRaised

if TYPE_CHECKING:
    from desktop_app.core.facade import AccountService

log = logging.getLogger(__name__)
T = TypeVar("T")

KEYCHAIN_RETRY_S = 10.0


def _nothing() -> None:
    pass


class Bridge(QObject):
    """The GUI's handle on one core Service: core events become Qt signals, GUI actions become tasks.

    Who owns it: the App creates one per Service (App.attach) and is its Qt parent; the window and dialogs
    hold a reference and call `service` through spawn(). aclose() cancels its tasks, stops the agent socket
    and closes the service. Thread/loop rules: everything runs on the GUI thread, which is also the asyncio
    loop's thread under qasync; core events arrive there (the bus calls back on the loop) and are re-emitted
    as signals. Invariants: no task's failure is lost (spawn() logs it and emits taskFailed with a message
    fit for a user); the refresh engine and the agent start only once the keychain answers (start())."""

    accountChanged = Signal(object)  # AccountRecord
    accountRemoved = Signal(str)  # account id
    needsSignIn = Signal(object, str)  # AccountRecord, reason
    taskFailed = Signal(str, str)  # what, user-facing message
    keychainWaiting = Signal(bool)  # True while the keychain is locked or not there yet
    engineStarted = Signal()
    browserFailed = Signal()  # the system browser did not open: the connect dialog points at "Copy link"

    def __init__(
        self, service: AccountService, parent: QObject | None = None, *, keychain_retry_s: float = KEYCHAIN_RETRY_S
    ):
        super().__init__(parent)
        self.service = service
        self._tasks: set[asyncio.Task[Any]] = set()
        self._engine_task: asyncio.Task[None] | None = None
        self._agent: AgentServer | None = None
        self._keychain_retry_s = keychain_retry_s
        self._unsubscribe = service.subscribe(self._on_event)

    def _on_event(self, event: CoreEvent) -> None:
        # The bus calls us on the event loop thread, which is Qt's GUI thread under qasync.
        if isinstance(event, AccountChanged):
            self.accountChanged.emit(event.record)
        elif isinstance(event, AccountRemoved):
            self.accountRemoved.emit(event.account_id)
        elif isinstance(event, NeedsSignInRaised):
            self.needsSignIn.emit(event.record, event.reason)

    def browser_failed(self, _url: str = "") -> None:
        self.browserFailed.emit()

    # --- tasks ------------------------------------------------------------------------------------

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        what: str,
        *,
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[T]:
        """Run `coro` in the background; its failure is logged and reported, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # strong reference: the loop only keeps weak ones

        def done(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                if on_done is not None:
                    on_done(t.result())
                return
            if on_error is not None:
                on_error(exc)
                return
            self.report(what, exc)

        task.add_done_callback(done)
        return task

    def report(self, what: str, exc: BaseException) -> None:
        from desktop_app.core.errors import TokendeskError

        from .error_words import in_words

        if isinstance(exc, TokendeskError):
            log.info("%s: %s", what, exc)
            self.taskFailed.emit(what, in_words(exc))  # the facts, then the remedy in the app's words
        else:
            log.error("%s failed unexpectedly", what, exc_info=exc)
            self.taskFailed.emit(what, f"{what} failed unexpectedly ({type(exc).__name__}); see the log.")

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    # --- the engine -------------------------------------------------------------------------------

    def start(self) -> None:
        """Wait for the keychain (without alarming anyone), then run the refresh engine."""
        self.spawn(self._start(), "Starting background refresh")

    async def _start(self) -> None:
        waiting = False
        while True:
            try:
                await self.service.probe_keychain()
                break
            except VaultError as exc:
                if not waiting:
                    log.info("keychain not ready: %s", exc)
                    waiting = True
                    self.keychainWaiting.emit(True)
                await asyncio.sleep(self._keychain_retry_s)
        if waiting:
            self.keychainWaiting.emit(False)
        self._engine_task = self.spawn(self.service.run_background(), "Background refresh")
        await self._serve_agent()
        self.engineStarted.emit()

    async def _serve_agent(self) -> None:
        """Scripts' `tokendesk token` asks this app, the one owner of the refresh tokens, while it runs."""
        if not agent_supported():
            return
        server = self.service.agent_server()
        try:
            await server.start()
        except OSError as exc:  # the CLI still works without it, under the same file locks
            log.warning("cannot serve tokendesk token requests: %s", exc)
            return
        self._agent = server

    @property
    def engine_task(self) -> asyncio.Task[None] | None:
        return self._engine_task

    @property
    def engine_running(self) -> bool:
        return self._engine_task is not None and not self._engine_task.done()

    def wake(self) -> None:
        self.service.wake()

    async def aclose(self) -> None:
        # The unsubscriber holds our bound method: drop it too, or bridge and service stay in a cycle.
        self._unsubscribe()
        self._unsubscribe = _nothing
        if self._agent is not None:
            await self._agent.close()
            self._agent = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.service.aclose()
