"""Account metadata (never secrets), its state machine, and the store file under the config dir."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from .errors import AccountNotFound, StoreError, UsageError
from .providers import ProviderSpec

if TYPE_CHECKING:
    from .tokens import TokenSet  # only the type: importing tokens would pull httpx into the GUI's start-up

SCHEMA_VERSION = 1
HISTORY_LIMIT = 20


class AccountState(StrEnum):
    VALID = "valid"  # the access token is usable and not yet due for refresh
    EXPIRING = "expiring"  # shown, never stored: VALID with little life left (see effective_state)
    REFRESHING = "refreshing"  # a refresh request is in flight
    RETRYING = "retrying"  # the last refresh failed transiently (offline, 5xx, 429); a retry is scheduled
    NEEDS_SIGN_IN = "needs_sign_in"  # the grant is dead; nothing is tried until the user reconnects
    CONFIG_ERROR = "config_error"  # the provider rejects the client (id, secret, scopes); reconnecting with fixes helps
    ERROR = "error"  # something unexpected (malformed answer, keychain); retried with backoff

    @property
    def is_terminal(self) -> bool:
        """No background refresh happens in this state."""
        return self in (AccountState.NEEDS_SIGN_IN, AccountState.CONFIG_ERROR)


class Event(StrEnum):
    CONNECTED = "connected"  # a sign-in (connect or reconnect) produced tokens
    REFRESH_STARTED = "refresh_started"
    REFRESH_SUCCEEDED = "refresh_succeeded"
    TRANSIENT_FAILURE = "transient_failure"
    GRANT_REJECTED = "grant_rejected"  # invalid_grant after re-reading the keychain
    CONFIG_REJECTED = "config_rejected"
    FAILED = "failed"


_S = AccountState
_TABLE: dict[Event, AccountState] = {
    Event.CONNECTED: _S.VALID,
    Event.REFRESH_STARTED: _S.REFRESHING,
    Event.REFRESH_SUCCEEDED: _S.VALID,
    Event.TRANSIENT_FAILURE: _S.RETRYING,
    Event.GRANT_REJECTED: _S.NEEDS_SIGN_IN,
    Event.CONFIG_REJECTED: _S.CONFIG_ERROR,
    Event.FAILED: _S.ERROR,
}


def transition(state: AccountState, event: Event) -> AccountState:
    """The next state. Terminal states only leave through a new sign-in; a late refresh result cannot revive them."""
    if state.is_terminal and event is not Event.CONNECTED:
        return state
    return _TABLE[event]


EXPIRING_WINDOW_S = 300.0


def effective_state(record: AccountRecord, now: float) -> AccountState:
    """The state to show: a valid account whose access token runs out soon (or already has) is expiring.

    "Soon" is relative to the token's life (its last quarter, at most five minutes), so a five-minute
    token is not flagged from the moment it is issued."""
    if record.state is not AccountState.VALID or record.expires_at is None:
        return record.state
    window = EXPIRING_WINDOW_S
    if record.issued_at is not None:
        window = min(window, 0.25 * max(0.0, record.expires_at - record.issued_at))
    return AccountState.EXPIRING if record.expires_at - now <= window else record.state


@dataclass(frozen=True)
class Attempt:
    at: float
    outcome: str  # "ok", "retrying", "needs_sign_in", "config_error", "error"
    detail: str | None = None


@dataclass(frozen=True)
class Identity:
    subject: str | None = None
    email: str | None = None
    name: str | None = None
    username: str | None = None

    def label(self) -> str:
        return self.email or self.username or self.name or self.subject or "unknown user"

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        def text(*keys: str) -> str | None:
            for key in keys:
                value = claims.get(key)
                if isinstance(value, str | int) and str(value):
                    return str(value)
            return None

        return cls(
            subject=text("sub", "id"),
            email=text("email"),
            name=text("name"),
            username=text("preferred_username", "login", "nickname", "upn"),
        )


@dataclass(frozen=True)
class AccountRecord:
    id: str
    name: str
    provider: ProviderSpec
    client_id: str
    scopes: tuple[str, ...]  # granted (RFC 6749 §3.3: may differ from what was asked)
    identity: Identity = Identity()
    requested_scopes: tuple[str, ...] = ()  # asked for; reconnect asks for these again
    state: AccountState = AccountState.VALID
    created_at: float = 0.0
    expires_at: float | None = None
    issued_at: float | None = None
    refresh_expires_at: float | None = None
    has_refresh_token: bool = True
    last_refresh_at: float | None = None
    last_error: str | None = None
    advice: str | None = None
    retry_at: float | None = None
    failures: int = 0
    offline: bool = False
    history: tuple[Attempt, ...] = ()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def with_tokens(self, tokens: TokenSet, now: float) -> AccountRecord:
        """What the metadata says about fresh tokens (never the tokens themselves); clears past failures."""
        return replace(
            self,
            expires_at=tokens.expires_at,
            issued_at=tokens.issued_at,
            refresh_expires_at=tokens.refresh_expires_at,
            has_refresh_token=tokens.refresh_token is not None,
            last_refresh_at=now,
            last_error=None,
            advice=None,
            retry_at=None,
            failures=0,
            offline=False,
            scopes=tokens.scopes or self.scopes,
        )

    def with_attempt(self, attempt: Attempt) -> AccountRecord:
        return replace(self, history=(*self.history, attempt)[-HISTORY_LIMIT:])

    def apply(self, event: Event, **changes: Any) -> AccountRecord:
        return replace(self, state=transition(self.state, event), **changes)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["provider"] = self.provider.to_json()
        data["identity"] = vars(self.identity).copy()
        data["history"] = [vars(a).copy() for a in self.history]
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["provider"] = ProviderSpec.from_json(data["provider"])
        kwargs["scopes"] = tuple(data.get("scopes", ()))
        kwargs["requested_scopes"] = tuple(data.get("requested_scopes", ()))
        kwargs["identity"] = Identity(**data.get("identity", {}))
        kwargs["state"] = AccountState(data.get("state", "valid"))
        kwargs["history"] = tuple(Attempt(**a) for a in data.get("history", ()))
        return cls(**kwargs)


@dataclass
class AccountStore:
    """accounts.json under the config dir: atomic replace, 0600, read-modify-write under a file lock."""

    path: Path
    lock_timeout_s: float = 10.0
    _lock: FileLock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = FileLock(str(self.path) + ".lock", timeout=self.lock_timeout_s, thread_local=False)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except Timeout:
            raise StoreError(f"Another Tokendesk process holds {self.path.name} locked; try again.") from None

    def _read(self) -> dict[str, AccountRecord]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"Cannot read {self.path}: {exc.strerror}.") from None
        try:
            data = json.loads(text)
            version = data.get("schema_version")
            if not isinstance(version, int) or version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer Tokendesk (schema {version}); it was left untouched."
                )
            records = [AccountRecord.from_json(a) for a in data.get("accounts", [])]
        except StoreError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StoreError(
                f"{self.path} is damaged ({type(exc).__name__}); it was left untouched so nothing is lost."
            ) from None
        return {r.id: r for r in records}

    def _write(self, records: dict[str, AccountRecord]) -> None:
        payload = {
            "schema_version": SCHEMA_VERSION,
            "accounts": [r.to_json() for r in sorted(records.values(), key=lambda r: r.created_at)],
        }
        # No indent: only the C encoder is fast enough for hundreds of accounts, and no human edits this file.
        text = json.dumps(payload, sort_keys=True, separators=(", ", ": "))
        fd, tmp = tempfile.mkstemp(prefix=".accounts-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # --- public API -------------------------------------------------------------------------------

    def all(self) -> list[AccountRecord]:
        with self._locked():
            return sorted(self._read().values(), key=lambda r: r.created_at)

    def find(self, name_or_id: str) -> AccountRecord:
        records = self.all()
        for record in records:
            if record.id == name_or_id:
                return record
        matches = [r for r in records if r.name.casefold() == name_or_id.casefold()]
        if not matches:
            names = ", ".join(r.name for r in records) or "none yet"
            raise AccountNotFound(f"No account named {name_or_id!r} (accounts: {names}).")
        return matches[0]

    def get(self, account_id: str) -> AccountRecord:
        with self._locked():
            try:
                return self._read()[account_id]
            except KeyError:
                raise AccountNotFound("That account no longer exists.") from None

    def add(self, record: AccountRecord) -> AccountRecord:
        with self._locked():
            records = self._read()
            if any(r.name.casefold() == record.name.casefold() and r.id != record.id for r in records.values()):
                raise UsageError(f"An account named {record.name!r} already exists; pick another --name.")
            records[record.id] = record
            self._write(records)
        return record

    def update(self, account_id: str, change: Callable[[AccountRecord], AccountRecord]) -> AccountRecord:
        with self._locked():
            records = self._read()
            if account_id not in records:
                raise AccountNotFound("That account no longer exists.")
            records[account_id] = updated = change(records[account_id])
            self._write(records)
        return updated

    def remove(self, account_id: str) -> None:
        with self._locked():
            records = self._read()
            if records.pop(account_id, None) is not None:
                self._write(records)
