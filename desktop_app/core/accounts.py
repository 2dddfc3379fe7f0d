"""Account metadata (never secrets), its state machine, and the store file under the config dir."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import AccountNotFound, Hint, Input, StoreError, TokendeskError, UsageError
from .providers import ProviderSpec

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from filelock import FileLock

    from .tokens import TokenSet  # only the type: importing tokens would pull httpx into the GUI's start-up

SCHEMA_VERSION = 1
HISTORY_LIMIT = 20
T = TypeVar("T")


class AccountState(StrEnum):
    """Where an account stands. The value is its JSON name (accounts.json, `tokendesk list --json`); its words
    and whether it is terminal come from STATE_FACTS below, its looks from desktop_app.ui.badges.LOOKS.

    Adding a state: a member here, a row in STATE_FACTS, a row in ui.badges.LOOKS with its icon file under
    resources/icons/states/, and the README's list of `state` values; tests check each is complete."""

    VALID = "valid"  # the access token is usable and not yet due for refresh
    EXPIRING = "expiring"  # shown, never stored: VALID with little life left (see effective_state)
    REFRESHING = "refreshing"  # a refresh request is in flight
    RETRYING = "retrying"  # the last refresh failed transiently (offline, 5xx, 429); a retry is scheduled
    NEEDS_SIGN_IN = "needs_sign_in"  # the grant is dead; nothing is tried until the user reconnects
    CONFIG_ERROR = "config_error"  # the provider rejects the client (id, secret, scopes); reconnecting with fixes helps
    ERROR = "error"  # something unexpected (malformed answer, keychain); retried with backoff

    @property
    def words(self) -> str:
        """The state as a person reads it ("Needs sign-in")."""
        return STATE_FACTS[self].words

    @property
    def is_terminal(self) -> bool:
        """No background refresh happens in this state; only a new sign-in leaves it."""
        return STATE_FACTS[self].terminal


@dataclass(frozen=True)
class StateFacts:
    words: str
    terminal: bool = False


STATE_FACTS: dict[AccountState, StateFacts] = {
    AccountState.VALID: StateFacts("Valid"),
    AccountState.EXPIRING: StateFacts("Expiring"),
    AccountState.REFRESHING: StateFacts("Refreshing"),
    AccountState.RETRYING: StateFacts("Retrying"),
    AccountState.NEEDS_SIGN_IN: StateFacts("Needs sign-in", terminal=True),
    AccountState.CONFIG_ERROR: StateFacts("Configuration error", terminal=True),
    AccountState.ERROR: StateFacts("Error"),
}


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


class SpecShare:
    """One ProviderSpec per distinct provider among the records read from one file. Found by the token endpoint,
    then by comparing the JSON values and their fields' types (repr keys cost 5 ms per 1,000 records, this
    under 1)."""

    def __init__(self) -> None:
        self._by_endpoint: dict[object, list[tuple[dict[str, Any], ProviderSpec]]] = {}

    def spec(self, data: dict[str, Any]) -> ProviderSpec:
        bucket = self._by_endpoint.setdefault(data.get("token_endpoint"), [])
        for seen, spec in bucket:
            # == alone takes 1 for true: a field must also have the same JSON type (a hand-edited file's `1`
            # must be judged by ProviderSpec.from_json on its own, not pass as its neighbour's `true`).
            if seen == data and all(type(value) is type(data[key]) for key, value in seen.items()):
                return spec
        spec = ProviderSpec.from_json(data)
        bucket.append((data, spec))
        return spec


@dataclass(frozen=True)
class AccountRecord:
    """What Tokendesk knows about one account besides its secrets: one entry of accounts.json.

    Immutable: changes make a new record (with_tokens, apply, dataclasses.replace) and AccountStore.update
    writes it under the store's lock. Never holds a secret (tokens and client secrets are in the vault, keyed
    by `id`), so it is safe to log, show, emit in events and print as JSON. `state` is the stored state;
    effective_state() adds EXPIRING for display. Who writes it: the engine (refresh outcomes) and the service
    (connect, reconnect, disconnect); the UI only reads it."""

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
    # Set (to the owning process's id) while a rotated refresh token exists only in that process's memory
    # because the keychain refused it: no process may refresh this account until the save succeeds.
    rotation_pending: str | None = None
    # The issued_at of an access token a client reported as refused (git's `erase` after a 401): the next
    # token request refreshes instead of handing it out again. Meaningless once the tokens changed.
    rejected_issued_at: float | None = None
    history: tuple[Attempt, ...] = ()

    @staticmethod
    def new_id() -> str:
        import uuid  # here: uuid imports platform, which the GUI's start-up would pay for nothing

        return uuid.uuid4().hex

    def describing(self, tokens: TokenSet) -> AccountRecord:
        """This record with the metadata's facts about `tokens` (never the tokens themselves), nothing else."""
        return replace(
            self,
            expires_at=tokens.expires_at,
            issued_at=tokens.issued_at,
            refresh_expires_at=tokens.refresh_expires_at,
            has_refresh_token=tokens.refresh_token is not None,
        )

    def with_tokens(self, tokens: TokenSet, now: float) -> AccountRecord:
        """What the metadata says about fresh tokens; clears past failures."""
        return replace(
            self.describing(tokens),
            last_refresh_at=now,
            last_error=None,
            advice=None,
            retry_at=None,
            failures=0,
            offline=False,
            rotation_pending=None,
            rejected_issued_at=None,
            scopes=tokens.scopes or self.scopes,
        )

    def with_rejected(self, issued_at: float) -> AccountRecord:
        """Mark the token issued at `issued_at` as refused, only while it is still the current one."""
        return replace(self, rejected_issued_at=issued_at) if self.issued_at == issued_at else self

    def is_rejected(self, tokens: TokenSet) -> bool:
        """Whether `tokens` are the ones a client reported as refused (they must not be handed out again)."""
        return self.rejected_issued_at is not None and self.rejected_issued_at == tokens.issued_at

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
    def from_json(cls, data: dict[str, Any], specs: SpecShare | None = None) -> AccountRecord:
        """`specs` shares one ProviderSpec among records with an equal provider."""
        known = _RECORD_FIELDS if cls is AccountRecord else {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if specs is None:
            kwargs["provider"] = ProviderSpec.from_json(data["provider"])
        else:
            kwargs["provider"] = specs.spec(data["provider"])
        kwargs["scopes"] = tuple(data.get("scopes", ()))
        kwargs["requested_scopes"] = tuple(data.get("requested_scopes", ()))
        kwargs["identity"] = Identity(**data.get("identity", {}))
        kwargs["state"] = AccountState(data.get("state", "valid"))
        kwargs["history"] = tuple(Attempt(**a) for a in data.get("history", ()))
        return cls(**kwargs)


_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(AccountRecord))  # once, not per record read
_SEPARATORS = (", ", ": ")


def _created_at(record: AccountRecord) -> float:
    return record.created_at


_Signature = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns: a replaced file always differs


def sign_in_message(record: AccountRecord) -> str:
    """What a refusal to refresh a terminal account says (the way out is the error's hint, RECONNECT)."""
    what = "needs you to sign in again" if record.state is AccountState.NEEDS_SIGN_IN else "has a configuration error"
    parts = [f"{record.name} {what}."]
    if record.last_error:
        parts.append(record.last_error)
    if record.advice:
        parts.append(record.advice)
    return " ".join(parts)


# Writers replace accounts.json atomically (temp file + rename), so on POSIX a reader sees the old file or the
# new one whole. Windows cannot replace a file another process has open, so there readers take the file lock.
_READS_WITHOUT_FILE_LOCK = os.name == "posix"


class AccountStore:
    """accounts.json under the config dir: atomic replace, 0600, read-modify-write under a lock.

    The lock excludes other threads of this process (a thread lock) as well as other processes (a file lock:
    one `FileLock` object shared by threads is re-entrant across them and excludes nothing). Parsed records are
    kept in memory and re-read only when the file's signature changes. On POSIX a reader takes no file lock:
    writers replace the file atomically, so one open of it is a consistent snapshot (and the GUI's first paint
    does not wait for importing filelock, about 20 ms); on Windows a file another process holds open cannot be
    replaced, so readers lock there too.

    A record that cannot be parsed, or whose endpoints the current rules refuse, stays in its own record: it is
    shown as a configuration error with the reason, written back byte for byte, and never stops the others."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0) -> None:
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread_lock = threading.Lock()
        self._file_lock: FileLock | None = None  # made by the first writer (or reader, on Windows)
        self._signature: _Signature | None = None
        self._records: dict[str, AccountRecord] = {}
        # Damaged records as read: (the placeholder shown for it, the raw JSON written back while unchanged).
        self._damaged: dict[str, tuple[AccountRecord, dict[str, Any]]] = {}
        self._texts: dict[str, tuple[AccountRecord, bytes]] = {}  # each record's JSON text, see _write
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` (a method of this store) off the event loop, always on this store's one thread.

        Not asyncio.to_thread: qasync's default executor has ten threads, each with its own malloc arena, and a
        re-read of 1,000 records (after another process wrote) left about 3 MiB in each arena it landed in: the
        idle app's RSS grew in such steps up to some 30 MiB (bench/idle.py). One thread keeps it to one arena."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="tokendesk-store")
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    def __repr__(self) -> str:
        return f"AccountStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self, *, reading: bool = False) -> Iterator[None]:
        if not self._thread_lock.acquire(timeout=self.lock_timeout_s):
            raise StoreError(f"{self.path.name} stayed busy in this process; try again.")
        try:
            if reading and _READS_WITHOUT_FILE_LOCK:
                yield
                return
            from filelock import FileLock, Timeout

            if self._file_lock is None:
                self._file_lock = FileLock(str(self.path) + ".lock", thread_local=False)
            try:
                self._file_lock.acquire(timeout=self.lock_timeout_s)
            except Timeout:
                raise StoreError(f"Another Tokendesk process holds {self.path.name} locked; try again.") from None
            try:
                yield
            finally:
                self._file_lock.release()
        finally:
            self._thread_lock.release()

    def _stat(self) -> _Signature | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"Cannot read {self.path}: {exc.strerror}.") from None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self) -> dict[str, AccountRecord]:
        """The records (a copy the caller may change), from memory unless the file changed."""
        signature = self._stat()
        if signature is None:
            self._signature, self._records, self._damaged = None, {}, {}
        elif signature != self._signature:
            # The signature of the file read, not of the path's stat above: a replace in between (by another
            # process; on POSIX readers lock nothing) must not leave one file's records cached as another's.
            self._records, self._damaged, self._signature = self._parse()
        return dict(self._records)

    def _parse(self) -> tuple[dict[str, AccountRecord], dict[str, tuple[AccountRecord, dict[str, Any]]], _Signature]:
        try:
            with open(self.path, "rb") as fh:  # one open: what is read and its signature are the same file's
                st = os.fstat(fh.fileno())
                raw_text = fh.read()
        except OSError as exc:
            raise StoreError(f"Cannot read {self.path}: {exc.strerror}.") from None
        try:
            data = json.loads(raw_text.decode("utf-8"))
            version = data.get("schema_version")
            raw_records = data.get("accounts", [])
            if not isinstance(raw_records, list):
                raise TypeError("accounts is not a list")
        except (ValueError, TypeError, AttributeError) as exc:
            raise StoreError(
                f"{self.path} is damaged ({type(exc).__name__}); it was left untouched so nothing is lost."
            ) from None
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer Tokendesk (schema {version}); it was left untouched.")
        records: dict[str, AccountRecord] = {}
        damaged: dict[str, tuple[AccountRecord, dict[str, Any]]] = {}
        specs = SpecShare()  # many accounts share a provider: build each spec once
        for index, raw in enumerate(raw_records):
            try:
                record = AccountRecord.from_json(raw, specs)
            except (TokendeskError, ValueError, TypeError, KeyError, AttributeError) as exc:
                record = _damaged_record(raw, index, exc)
                damaged[record.id] = (record, raw)
            records[record.id] = record
        return records, damaged, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _write(self, records: dict[str, AccountRecord]) -> None:
        texts: dict[str, tuple[AccountRecord, bytes]] = {}

        def encode(record: AccountRecord) -> bytes:
            # Records are frozen and replaced when they change, so a record's text is kept while the same object
            # stands for it: a write at 1,000 accounts encodes the one that changed, not all (25 ms -> 3 ms). Kept
            # as UTF-8 bytes: joining bytes and writing them unbuffered skips re-encoding the whole file each time.
            cached = self._texts.get(record.id)
            if cached is None or cached[0] is not record:
                kept = self._damaged.get(record.id)
                data = kept[1] if kept is not None and kept[0] is record else record.to_json()
                cached = (record, json.dumps(data, sort_keys=True, separators=_SEPARATORS).encode())
            texts[record.id] = cached
            return cached[1]

        # The same text json.dumps(payload, sort_keys=True) gives, built from the records' texts. No indent: no
        # human edits this file.
        ordered = sorted(records.values(), key=_created_at)
        text = b"".join(
            (b'{"accounts": [', b", ".join([encode(r) for r in ordered]), b'], "schema_version": %d}' % SCHEMA_VERSION)
        )
        fd, tmp = tempfile.mkstemp(prefix=".accounts-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb", buffering=0) as fh:
                view = memoryview(text)
                while view:  # a raw write may take less than all of it
                    view = view[fh.write(view) or 0 :]
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._records = records
        self._texts = texts
        self._damaged = {k: v for k, v in self._damaged.items() if records.get(k) is v[0]}
        self._signature = self._stat()

    # --- public API -------------------------------------------------------------------------------

    def all(self) -> list[AccountRecord]:
        with self._locked(reading=True):
            return sorted(self._read().values(), key=_created_at)

    def find(self, name_or_id: str) -> AccountRecord:
        records = self.all()
        for record in records:
            if record.id == name_or_id:
                return record
        matches = [r for r in records if r.name.casefold() == name_or_id.casefold()]
        if not matches:
            names = ", ".join(r.name for r in records) or "none yet"
            raise AccountNotFound(f"No account named {name_or_id!r} (accounts: {names}).", account=name_or_id)
        return matches[0]

    def get(self, account_id: str) -> AccountRecord:
        with self._locked(reading=True):
            try:
                return self._read()[account_id]
            except KeyError:
                raise AccountNotFound("That account no longer exists.") from None

    def add(self, record: AccountRecord) -> AccountRecord:
        with self._locked():
            records = self._read()
            if any(r.name.casefold() == record.name.casefold() and r.id != record.id for r in records.values()):
                raise UsageError(
                    f"An account named {record.name!r} already exists.",
                    input=Input.NAME,
                    account=record.name,
                    hint=Hint.PICK_ANOTHER_NAME,
                )
            records[record.id] = record
            self._write(records)
        return record

    def update(self, account_id: str, change: Callable[[AccountRecord], AccountRecord]) -> AccountRecord:
        with self._locked():
            records = self._read()
            if account_id not in records:
                raise AccountNotFound("That account no longer exists.")
            if account_id in self._damaged:
                raise StoreError(records[account_id].last_error or "This account's record is damaged.")
            records[account_id] = updated = change(records[account_id])
            self._write(records)
        return updated

    def update_many(
        self, changes: Sequence[tuple[str, Callable[[AccountRecord], AccountRecord]]]
    ) -> list[AccountRecord | Exception]:
        """Several update()s, in order, in one file write (one fsync instead of one per change). Each change
        stands alone: one that fails (a missing or damaged record, a change that raises) leaves its record as it
        was and its place in the answer holds the error; a write that fails raises for all of them."""
        results: list[AccountRecord | Exception] = []
        with self._locked():
            records = self._read()
            for account_id, change in changes:
                if account_id not in records:
                    results.append(AccountNotFound("That account no longer exists."))
                elif account_id in self._damaged:
                    results.append(StoreError(records[account_id].last_error or "This account's record is damaged."))
                else:
                    try:
                        records[account_id] = updated = change(records[account_id])
                    except Exception as exc:  # handed to that change's caller, as update() would raise it
                        results.append(exc)
                    else:
                        results.append(updated)
            if any(isinstance(r, AccountRecord) for r in results):
                self._write(records)
        return results

    def remove(self, account_id: str) -> None:
        with self._locked():
            records = self._read()
            if records.pop(account_id, None) is not None:
                self._write(records)


def _damaged_record(raw: Any, index: int, exc: Exception) -> AccountRecord:
    """A read-only stand-in for a record that cannot be used, so it is listed with its reason and nothing else
    breaks. Reconnecting it re-checks the provider (and fails with the same reason): disconnect it instead."""

    def text(value: object, default: str) -> str:
        return value if isinstance(value, str) and value else default

    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    provider_data = data.get("provider")
    provider_data = provider_data if isinstance(provider_data, dict) else {}
    record_id = text(data.get("id"), f"damaged-{index}")
    why = str(exc) if isinstance(exc, TokendeskError) else f"its stored record is damaged ({type(exc).__name__})"
    try:
        provider = ProviderSpec.from_json(provider_data, check=False)
    except (ValueError, TypeError, KeyError, AttributeError):
        provider = ProviderSpec.from_json({}, check=False)
    created = data.get("created_at")
    return AccountRecord(
        id=record_id,
        name=text(data.get("name"), record_id),
        provider=provider,
        client_id=text(data.get("client_id"), ""),
        scopes=(),
        state=AccountState.CONFIG_ERROR,
        created_at=float(created) if isinstance(created, int | float) else 0.0,
        has_refresh_token=False,
        last_error=f"This account cannot be used: {why.rstrip('.')}.",
        advice="Disconnect it and connect it again.",
    )
