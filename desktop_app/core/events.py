"""Typed core events and a tiny observer, so the UI (Qt signals) and CLI can listen without coupling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .accounts import AccountRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountChanged:
    record: AccountRecord


@dataclass(frozen=True)
class AccountRemoved:
    account_id: str


@dataclass(frozen=True)
class NeedsSignInRaised:
    """Emitted once per transition into needs-sign-in, never per failed attempt."""

    record: AccountRecord
    reason: str


CoreEvent = AccountChanged | AccountRemoved | NeedsSignInRaised
Listener = Callable[[CoreEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: CoreEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A broken listener must not stop the engine or starve the other listeners.
                log.exception("event listener failed on %s", type(event).__name__)
