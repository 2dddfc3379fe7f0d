"""The facade the GUI and the CLI use: list, connect, reconnect, refresh, export a token, disconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx

from .accounts import AccountRecord, AccountStore, Attempt, Event, Identity
from .agent import AgentServer, AgentToken
from .clock import Clock, SystemClock
from .defaults import MIN_VALID_S, SIGN_IN_TIMEOUT_S
from .discovery import discover
from .errors import ProviderError, TokendeskError, TransientError, UsageError
from .events import AccountChanged, AccountRemoved, EventBus
from .flow import BrowserOpener, SignIn, request_scopes, sign_in, system_browser
from .oauth import Client, new_http_client, revoke
from .paths import AppPaths
from .providers import ClientAuth, OfflineAccess, ProviderSpec, preset
from .refresh import RefreshEngine, RefreshPolicy
from .secrets import Secret
from .tokens import TokenSet
from .urls import check_endpoint
from .vault import Vault, VaultEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class ConnectRequest:
    """What the user chose. Exactly one of preset, issuer or authorization+token endpoints."""

    client_id: str
    client_secret: Secret | None = None
    preset: str | None = None
    preset_params: dict[str, str] = field(default_factory=dict)
    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    name: str | None = None
    redirect_host: str | None = None  # override: some registrations only accept http://localhost
    client_auth: ClientAuth | None = None  # override: servers that enforce the registered method

    def __repr__(self) -> str:
        return f"ConnectRequest(client_id={self.client_id!r}, preset={self.preset!r}, issuer={self.issuer!r})"


@dataclass(frozen=True)
class DisconnectResult:
    revoked: bool
    note: str | None = None


class Service:
    """The one entry point the GUI and the CLI use: list, connect, reconnect, token, refresh, disconnect.

    Who owns it: each process makes one (the app through ui.Bridge, the CLI per command) and closes it with
    aclose(); it owns the RefreshEngine, the AccountStore, and the Vault and HTTP client it is given (aclose()
    closes them). Loop rules: every coroutine runs on the one asyncio loop that created it (the Qt loop under
    qasync in the app); the store and the vault do their blocking work on worker threads, never on the loop.
    Events (AccountChanged, AccountRemoved, NeedsSignInRaised) are published on `bus`, on that loop.

    Invariants: secrets go only to the vault (the keychain), metadata only to the store, and neither is
    returned in exception text; a refresh token is spent by at most one caller across processes (the engine's
    file lock); what is stored is never lost to bad input (errors are TokendeskError subclasses)."""

    def __init__(
        self,
        *,
        paths: AppPaths,
        vault: Vault,
        http: httpx.AsyncClient,
        clock: Clock | None = None,
        opener: BrowserOpener = system_browser,
        bus: EventBus | None = None,
        policy: RefreshPolicy | None = None,
        flow_timeout_s: float = SIGN_IN_TIMEOUT_S,
    ) -> None:
        self.paths = paths
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.store = AccountStore(paths.accounts_file)
        self._vault = vault
        self._http = http
        self._opener = opener
        self._flow_timeout_s = flow_timeout_s
        self.engine = RefreshEngine(
            store=self.store,
            vault=vault,
            http=http,
            clock=self.clock,
            bus=self.bus,
            lock_dir=paths.lock_dir,
            policy=policy,
        )

    @classmethod
    def create(cls, paths: AppPaths | None = None, **kwargs: object) -> Service:
        return cls(paths=paths or AppPaths.default(), vault=Vault(), http=new_http_client(), **kwargs)  # type: ignore[arg-type]

    def stop_sending(self) -> None:
        """Shutting down (a signal): start no new refresh; those already sent still finish in aclose()."""
        self.engine.stop()

    async def aclose(self) -> None:
        await self.engine.drain()
        await self._http.aclose()
        self._vault.close()

    async def probe_keychain(self) -> None:
        """Raise VaultLocked/VaultUnavailable unless the keychain answers (it may prompt to unlock)."""
        await self._vault.probe()

    # --- reading ----------------------------------------------------------------------------------

    def accounts(self) -> list[AccountRecord]:
        return self.store.all()

    def find(self, name_or_id: str) -> AccountRecord:
        return self.store.find(name_or_id)

    # --- providers --------------------------------------------------------------------------------

    async def resolve_provider(self, request: ConnectRequest) -> ProviderSpec:
        spec = await self._resolve_provider(request)
        if request.redirect_host:
            spec = replace(spec, redirect_host=request.redirect_host)
        if request.client_auth is not None:
            if request.client_secret is None and request.client_auth is not ClientAuth.NONE:
                raise UsageError(f"{request.client_auth.value} needs a client secret (--client-secret-stdin).")
            spec = replace(spec, client_auth=request.client_auth)
        return spec

    async def _resolve_provider(self, request: ConnectRequest) -> ProviderSpec:
        has_secret = request.client_secret is not None
        chosen = [bool(request.preset), bool(request.issuer), bool(request.authorization_endpoint)]
        if sum(chosen) != 1:
            raise UsageError("Choose exactly one of a provider preset, an issuer URL, or endpoints.")
        if request.preset:
            spec = preset(request.preset, **request.preset_params)
            if spec.requires_secret and not has_secret:
                raise UsageError(f"{spec.display_name} requires a client secret (--client-secret-stdin).")
            if has_secret and spec.client_auth is ClientAuth.NONE:
                spec = replace(spec, client_auth=ClientAuth.POST)
            return spec
        if request.issuer:
            return await discover(request.issuer, self._http, has_secret=has_secret)
        if not request.token_endpoint:
            raise UsageError("A token endpoint is needed with an authorization endpoint.")
        auth = check_endpoint(request.authorization_endpoint or "", what="authorization endpoint")
        token = check_endpoint(request.token_endpoint, what="token endpoint")
        revocation = request.revocation_endpoint and check_endpoint(
            request.revocation_endpoint, what="revocation endpoint"
        )
        host = httpx.URL(auth).host
        return ProviderSpec(
            key="custom",
            display_name=host,
            authorization_endpoint=auth,
            token_endpoint=token,
            revocation_endpoint=revocation or None,
            offline_access=OfflineAccess.ALWAYS,
            client_auth=ClientAuth.BASIC if has_secret else ClientAuth.NONE,
        )

    # --- connecting -------------------------------------------------------------------------------

    async def connect(self, request: ConnectRequest, *, on_url: Callable[[str], None] | None = None) -> AccountRecord:
        if not request.client_id.strip():
            raise UsageError("A client ID is required.")
        spec = await self.resolve_provider(request)
        await self._vault.probe()  # fail before the browser opens, not after the user consented
        existing = [r.name.casefold() for r in await asyncio.to_thread(self.store.all)]
        if request.name and request.name.casefold() in existing:
            raise UsageError(f"An account named {request.name!r} already exists; pick another --name.")
        client = Client(request.client_id.strip(), request.client_secret)
        scopes = request_scopes(spec, request.scopes or None)
        result = await self._sign_in(spec, client, scopes, on_url)
        identity = Identity.from_claims(result.claims)
        now = self.clock.now()
        name = request.name or _unique(f"{spec.display_name} – {identity.label()}", existing)
        record = AccountRecord(
            id=AccountRecord.new_id(),
            name=name,
            provider=spec,
            client_id=client.client_id,
            scopes=result.tokens.scopes or scopes,
            requested_scopes=scopes,
            identity=identity,
            created_at=now,
        )
        record = record.with_tokens(result.tokens, now)
        entry = VaultEntry(tokens=result.tokens, client_secret=request.client_secret)
        await self._vault.save(record.id, entry)
        try:
            await asyncio.to_thread(self.store.add, record)
        except BaseException:
            await self._vault.delete(record.id)  # no orphaned secrets
            raise
        self.engine.remember(record.id, entry)
        self.bus.emit(AccountChanged(record))
        return record

    async def reconnect(self, name_or_id: str, *, on_url: Callable[[str], None] | None = None) -> AccountRecord:
        record = self.find(name_or_id)
        spec = record.provider.validated()  # a record stored under older rules may name a refused endpoint
        entry = await self._vault.load(record.id)
        secret = entry.client_secret if entry else None
        client = Client(record.client_id, secret)
        scopes = request_scopes(spec, record.requested_scopes or record.scopes)
        result = await self._sign_in(spec, client, scopes, on_url)
        identity = Identity.from_claims(result.claims)
        if record.identity.subject and identity.subject != record.identity.subject:
            await self._revoke_quietly(record, VaultEntry(tokens=result.tokens, client_secret=secret))
            raise UsageError(
                f"You signed in as {identity.label()}, but {record.name!r} belongs to {record.identity.label()}; "
                "nothing was changed. Connect it as a new account instead."
            )
        new_entry = VaultEntry(tokens=result.tokens, client_secret=secret)
        now = self.clock.now()
        async with self.engine.exclusive(record.id):
            # Before the new grant is saved: a rotated token of the old grant still waiting in memory must
            # never be written over it. with_tokens() clears the metadata's rotation-pending mark.
            self.engine.forget(record.id)
            await self._vault.save(record.id, new_entry)
            updated = await asyncio.to_thread(
                self.store.update,
                record.id,
                lambda r: (
                    r.apply(Event.CONNECTED, identity=identity if identity.subject else r.identity)
                    .with_tokens(result.tokens, now)
                    .with_attempt(Attempt(now, "ok", "reconnected"))
                ),
            )
        self.engine.remember(record.id, new_entry)
        self.bus.emit(AccountChanged(updated))
        return updated

    async def _revoke_quietly(self, record: AccountRecord, entry: VaultEntry) -> None:
        """A grant we will not keep (the wrong user signed in) must not stay alive at the provider."""
        try:
            result = await self._revoke(record, entry)
        except TokendeskError as exc:
            log.warning("could not revoke the unwanted grant: %s", exc)
            return
        if not result.revoked:
            log.warning("the unwanted grant was not revoked: %s", result.note)

    async def _sign_in(
        self, spec: ProviderSpec, client: Client, scopes: tuple[str, ...], on_url: Callable[[str], None] | None
    ) -> SignIn:
        return await sign_in(
            spec,
            client,
            scopes=scopes,
            http=self._http,
            opener=self._opener,
            clock=self.clock,
            timeout_s=self._flow_timeout_s,
            on_url=on_url,
        )

    # --- tokens -----------------------------------------------------------------------------------

    async def token(self, name_or_id: str, *, min_valid_s: float = MIN_VALID_S) -> TokenSet:
        return await self.engine.get_token(self.find(name_or_id).id, min_valid_s=min_valid_s)

    async def refresh(self, name_or_id: str) -> TokenSet:
        return await self.engine.refresh_now(self.find(name_or_id).id)

    def agent_server(self) -> AgentServer:
        """A server for `tokendesk token` calls from scripts while this process (the app) runs."""

        async def source(name: str, min_valid_s: float) -> AgentToken:
            tokens = await self.token(name, min_valid_s=min_valid_s)
            return AgentToken(tokens.access_token.reveal(), tokens.token_type, tokens.expires_at)

        return AgentServer(self.paths.agent_socket, source)

    # --- disconnecting ----------------------------------------------------------------------------

    async def disconnect(self, name_or_id: str, *, keep_grant: bool = False) -> DisconnectResult:
        record = self.find(name_or_id)
        # Under the account's lock: a refresh finishing meanwhile would revive a token we just revoked.
        async with self.engine.exclusive(record.id):
            entry = await self._vault.load(record.id)
            result = DisconnectResult(revoked=False)
            if not keep_grant and entry is not None and entry.tokens is not None:
                result = await self._revoke(record, entry)
            # Keychain first: metadata without secrets is harmless, secrets without metadata are orphans.
            await self._vault.delete(record.id)
            await asyncio.to_thread(self.store.remove, record.id)
        self.engine.forget(record.id)
        self.bus.emit(AccountRemoved(record.id))
        return result

    async def _revoke(self, record: AccountRecord, entry: VaultEntry) -> DisconnectResult:
        assert entry.tokens is not None
        try:
            spec = record.provider.validated()  # never send a token to an endpoint today's rules refuse
        except UsageError as exc:
            return DisconnectResult(
                revoked=False,
                note=f"Not revoked at the provider ({exc}); remove the app's access in your account settings there.",
            )
        if spec.revocation_endpoint is None:
            return DisconnectResult(
                revoked=False,
                note=f"{spec.display_name} has no revocation endpoint; remove the app's access in your "
                f"{spec.display_name} account settings.",
            )
        token, hint = (
            (entry.tokens.refresh_token, "refresh_token")
            if entry.tokens.refresh_token is not None
            else (entry.tokens.access_token, "access_token")
        )
        try:
            await revoke(
                self._http,
                spec,
                Client(record.client_id, entry.client_secret),
                token,
                hint=hint,
                now=self.clock.now(),
            )
        except TransientError as exc:
            raise TransientError(
                f"Could not revoke the grant at {spec.display_name} ({exc}); nothing was deleted. Retry, or "
                "disconnect with --keep-grant to remove it here only."
            ) from None
        except ProviderError as exc:
            log.warning("revocation refused: %s", exc)
            return DisconnectResult(revoked=False, note=f"{spec.display_name} refused the revocation: {exc}")
        return DisconnectResult(revoked=True)


def _unique(name: str, taken: list[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate
