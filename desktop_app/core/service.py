"""The facade the GUI and the CLI use: list, connect, reconnect, refresh, export a token, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import AccountRecord, AccountStore, Attempt, Event, Identity
from .agent import AgentServer, AgentToken
from .clock import Clock, SystemClock
from .defaults import DEVICE_WAIT_MAX_S, MIN_VALID_S, SIGN_IN_TIMEOUT_S
from .errors import Hint, Input, TokendeskError, TransientError, UsageError
from .events import AccountChanged, AccountRemoved, EventBus, Listener
from .httpclient import LazyHttp
from .paths import AppPaths
from .providers import (
    ClientAuth,
    OfflineAccess,
    ProviderSpec,
    check_redirect_path,
    check_redirect_port,
    preset,
)
from .refresh import RefreshEngine, RefreshPolicy
from .secrets import Secret
from .tokens import TokenSet
from .urls import check_endpoint
from .vault import Vault, VaultEntry

if TYPE_CHECKING:
    # Annotations only. Sign-in, discovery and revocation modules import httpx: they load when first used, so an
    # app whose accounts are all fresh never loads httpx (tests/ui/test_startup.py).
    import httpx

    from .device import CodeCallback
    from .flow import BrowserOpener, SignIn
    from .oauth import Client

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
    # Servers that match redirect URIs exactly: the registration's port and path (remembered for reconnect).
    redirect_port: int | None = None
    redirect_path: str | None = None
    client_auth: ClientAuth | None = None  # override: servers that enforce the registered method

    def __repr__(self) -> str:
        return f"ConnectRequest(client_id={self.client_id!r}, preset={self.preset!r}, issuer={self.issuer!r})"


@dataclass(frozen=True)
class SignInChoice:
    """How to sign in: the browser's link callback, the device flow choice and its code callback, and
    where to say that the device flow was chosen for the user."""

    on_url: Callable[[str], None] | None = None
    device: bool | None = False
    on_code: CodeCallback | None = None
    on_notice: Callable[[str], None] | None = None


@dataclass(frozen=True)
class DisconnectResult:
    revoked: bool
    note: str | None = None


class Service:
    """The one entry point the GUI and the CLI use: list, connect, reconnect, token, refresh, disconnect.

    Who owns it: each process makes one (the app through ui.Bridge, the CLI per command) and closes it with
    aclose(); it owns the RefreshEngine, the process's one AccountStore (made here, or handed over by the app,
    which read it for its first paint), and the Vault and HTTP client it is given (aclose() closes them).
    Loop rules: every coroutine runs on the one asyncio loop that created it (the Qt loop under qasync in the
    app); the store and the vault do their blocking work on worker threads, never on the loop.
    Events (AccountChanged, AccountRemoved, NeedsSignInRaised) reach subscribe()rs on that loop. What the GUI may
    call is core.facade.AccountService; the engine, store and bus stay private.

    Invariants: secrets go only to the vault (the keychain), metadata only to the store, and neither is
    returned in exception text; a refresh token is spent by at most one caller across processes (the engine's
    file lock); what is stored is never lost to bad input (errors are TokendeskError subclasses)."""

    def __init__(
        self,
        *,
        paths: AppPaths,
        vault: Vault,
        http: httpx.AsyncClient | LazyHttp,
        store: AccountStore | None = None,
        clock: Clock | None = None,
        opener: BrowserOpener | None = None,
        bus: EventBus | None = None,
        policy: RefreshPolicy | None = None,
        flow_timeout_s: float | None = None,
        browser_check: Callable[[], bool] | None = None,
    ) -> None:
        self.paths = paths
        self.clock = clock or SystemClock()
        self._bus = bus or EventBus()
        # One store per process: the app hands over the one it read the accounts from before this existed.
        self._store = store or AccountStore(paths.accounts_file)
        self._shown: list[AccountRecord] | None = None  # what reload_if_changed() returned last
        self._seen: tuple[int, int, int, int] | None = None  # accounts.json's signature at that call
        self._vault = vault
        self._lazy_http = LazyHttp.of(http)
        self._opener = opener or _system_browser
        self._flow_timeout_s = flow_timeout_s
        # Whether a browser can open at all (the CLI passes device.browser_available); None: assume it can.
        self._browser_check = browser_check
        self._engine = RefreshEngine(
            store=self._store,
            vault=vault,
            http=self._lazy_http,
            clock=self.clock,
            bus=self._bus,
            lock_dir=paths.lock_dir,
            policy=policy,
        )

    @classmethod
    def create(cls, paths: AppPaths | None = None, **kwargs: object) -> Service:
        return cls(paths=paths or AppPaths.default(), vault=Vault(), http=LazyHttp(), **kwargs)  # type: ignore[arg-type]

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._lazy_http.get()  # made (httpx imported) with the first request: discovery, sign-in, revocation

    def stop_sending(self) -> None:
        """Shutting down (a signal): start no new refresh; those already sent still finish in aclose()."""
        self._engine.stop()

    async def aclose(self) -> None:
        await self._engine.drain()
        await self._lazy_http.aclose()
        self._vault.close()

    async def probe_keychain(self) -> None:
        """Raise VaultLocked/VaultUnavailable unless the keychain answers (it may prompt to unlock)."""
        await self._vault.probe()

    # --- events and the background loop -------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each event (AccountChanged, AccountRemoved, NeedsSignInRaised), on the loop."""
        return self._bus.subscribe(listener)

    async def run_background(self) -> None:
        """Refresh accounts as they come due, until cancelled (the app's loop; see RefreshEngine.run)."""
        await self._engine.run()

    def wake(self) -> None:
        """Re-plan the background refresh now (clock jump, network back, system resumed)."""
        self._engine.wake()

    def watch(self) -> tuple[Path, ...]:
        """The config dir and accounts.json: an atomic replace drops a watch on the file's old inode, so a
        watcher re-adds the file (once it exists again) whenever the directory changes."""
        return (self.paths.config_dir, self.paths.accounts_file)

    async def reload_if_changed(self) -> list[AccountRecord] | None:
        """Every account, if the store's records differ from what the previous call returned (another process
        wrote accounts.json, or this one did); None if nothing changed."""

        def read() -> list[AccountRecord] | None:
            # Watchers also see lock and temp files come and go: an unchanged file is not even locked (on some
            # systems the lock file itself comes and goes, and would wake the watcher again).
            signature = _signature(self.paths.accounts_file)
            if self._shown is not None and signature == self._seen:
                return None
            self._seen = signature
            records = self._store.all()  # from memory unless the file changed
            if records == self._shown:  # the same objects while the file is unchanged: cheap
                return None
            self._shown = records
            return records

        return await self._store.call(read)

    # --- reading ----------------------------------------------------------------------------------

    def accounts(self) -> list[AccountRecord]:
        return self._store.all()

    def find(self, name_or_id: str) -> AccountRecord:
        return self._store.find(name_or_id)

    async def _find(self, name_or_id: str) -> AccountRecord:
        return await self._store.call(self._store.find, name_or_id)

    # --- providers --------------------------------------------------------------------------------

    async def resolve_provider(self, request: ConnectRequest) -> ProviderSpec:
        # Checked before discovery: bad input should not wait for the network.
        port = None if request.redirect_port is None else check_redirect_port(request.redirect_port)
        path = None if request.redirect_path is None else check_redirect_path(request.redirect_path)
        spec = await self._resolve_provider(request)
        if request.redirect_host:
            spec = replace(spec, redirect_host=request.redirect_host)
        if port is not None:
            spec = replace(spec, redirect_port=port)
        if path is not None:
            spec = replace(spec, redirect_path=path)
        if request.client_auth is not None:
            if request.client_secret is None and request.client_auth is not ClientAuth.NONE:
                raise UsageError(
                    f"{request.client_auth.value} needs a client secret.",
                    input=Input.CLIENT_SECRET,
                    hint=Hint.GIVE_INPUT,
                )
            spec = replace(spec, client_auth=request.client_auth)
        return spec

    async def _resolve_provider(self, request: ConnectRequest) -> ProviderSpec:
        has_secret = request.client_secret is not None
        chosen = [bool(request.preset), bool(request.issuer), bool(request.authorization_endpoint)]
        if sum(chosen) != 1:
            raise UsageError(
                "Choose exactly one of a provider preset, an issuer URL, or endpoints.", input=Input.PROVIDER
            )
        if request.preset:
            spec = preset(request.preset, **request.preset_params)
            if spec.requires_secret and not has_secret:
                raise UsageError(
                    f"{spec.display_name} requires a client secret.", input=Input.CLIENT_SECRET, hint=Hint.GIVE_INPUT
                )
            if has_secret and spec.client_auth is ClientAuth.NONE:
                spec = replace(spec, client_auth=ClientAuth.POST)
            return spec
        if request.issuer:
            from .discovery import discover

            return await discover(request.issuer, self._http, has_secret=has_secret)
        if not request.token_endpoint:
            raise UsageError(
                "A token endpoint is needed with an authorization endpoint.",
                input=Input.TOKEN_ENDPOINT,
                hint=Hint.GIVE_INPUT,
            )
        auth = check_endpoint(request.authorization_endpoint or "", what="authorization endpoint")
        token = check_endpoint(request.token_endpoint, what="token endpoint")
        revocation = request.revocation_endpoint and check_endpoint(
            request.revocation_endpoint, what="revocation endpoint"
        )
        import httpx  # sign-in is about to send requests anyway

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

    async def connect(
        self,
        request: ConnectRequest,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord:
        """Sign in and store a new account. `device`: True for the device flow (RFC 8628), False for the
        browser, None to use the device flow when no browser can open and the provider offers it."""
        if not request.client_id.strip():
            raise UsageError("A client ID is required.", input=Input.CLIENT_ID, hint=Hint.GIVE_INPUT)
        spec = await self.resolve_provider(request)
        await self._vault.probe()  # fail before the browser opens, not after the user consented
        existing = [r.name.casefold() for r in await self._store.call(self._store.all)]
        if request.name and request.name.casefold() in existing:
            raise UsageError(
                f"An account named {request.name!r} already exists.",
                input=Input.NAME,
                account=request.name,
                hint=Hint.PICK_ANOTHER_NAME,
            )
        from .flow import request_scopes
        from .oauth import Client

        client = Client(request.client_id.strip(), request.client_secret)
        scopes = request_scopes(spec, request.scopes or None)
        result = await self._sign_in(spec, client, scopes, SignInChoice(on_url, device, on_code, on_notice))
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
            await self._store.call(self._store.add, record)
        except BaseException:
            await self._vault.delete(record.id)  # no orphaned secrets
            raise
        self._engine.remember(record.id, entry)
        self._bus.emit(AccountChanged(record))
        return record

    async def reconnect(
        self,
        name_or_id: str,
        *,
        on_url: Callable[[str], None] | None = None,
        device: bool | None = False,
        on_code: CodeCallback | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> AccountRecord:
        record = await self._find(name_or_id)
        spec = record.provider.validated()  # a record stored under older rules may name a refused endpoint
        entry = await self._vault.load(record.id)
        secret = entry.client_secret if entry else None
        from .flow import request_scopes
        from .oauth import Client

        client = Client(record.client_id, secret)
        scopes = request_scopes(spec, record.requested_scopes or record.scopes)
        result = await self._sign_in(spec, client, scopes, SignInChoice(on_url, device, on_code, on_notice))
        identity = Identity.from_claims(result.claims)
        if record.identity.subject and identity.subject != record.identity.subject:
            await self._revoke_quietly(record, VaultEntry(tokens=result.tokens, client_secret=secret))
            raise UsageError(
                f"You signed in as {identity.label()}, but {record.name!r} belongs to {record.identity.label()}; "
                "nothing was changed. Connect it as a new account instead.",
                account=record.name,
            )
        new_entry = VaultEntry(tokens=result.tokens, client_secret=secret)
        now = self.clock.now()
        async with self._engine.exclusive(record.id):
            # Before the new grant is saved: a rotated token of the old grant still waiting in memory must
            # never be written over it. with_tokens() clears the metadata's rotation-pending mark.
            self._engine.forget(record.id)
            await self._vault.save(record.id, new_entry)
            updated = await self._store.call(
                self._store.update,
                record.id,
                lambda r: (
                    r.apply(Event.CONNECTED, identity=identity if identity.subject else r.identity)
                    .with_tokens(result.tokens, now)
                    .with_attempt(Attempt(now, "ok", "reconnected"))
                ),
            )
        self._engine.remember(record.id, new_entry)
        self._bus.emit(AccountChanged(updated))
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
        self, spec: ProviderSpec, client: Client, scopes: tuple[str, ...], choice: SignInChoice
    ) -> SignIn:
        device = choice.device
        if device is True and spec.device_authorization_endpoint is None:
            raise UsageError(
                f"{spec.display_name} offers no sign-in on another device (no device authorization endpoint).",
                input=Input.DEVICE,
                hint=Hint.USE_BROWSER,
            )
        offered = spec.device_authorization_endpoint is not None
        if device is None and offered and self._browser_check is not None and not self._browser_check():
            if choice.on_notice is not None:
                choice.on_notice("No browser can be opened here; signing in on another device instead.")
            device = True
        if device:
            return await self._device_sign_in(spec, client, scopes, choice.on_code)
        if device is None and offered:
            return await self._browser_or_device(spec, client, scopes, choice)
        return await self._browser_sign_in(spec, client, scopes, choice.on_url, self._opener)

    async def _browser_or_device(
        self, spec: ProviderSpec, client: Client, scopes: tuple[str, ...], choice: SignInChoice
    ) -> SignIn:
        """The browser first; if it would not open, the device flow instead of a link nobody can follow."""
        failed = asyncio.Event()

        async def opener(url: str) -> bool:
            opened = await self._opener(url)
            if not opened:
                failed.set()
            return opened

        browser = asyncio.ensure_future(self._browser_sign_in(spec, client, scopes, choice.on_url, opener))
        fallback = asyncio.ensure_future(failed.wait())
        try:
            await asyncio.wait((browser, fallback), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            browser.cancel()
            raise
        finally:
            fallback.cancel()
        if browser.done():
            return browser.result()
        browser.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await browser
        if choice.on_notice is not None:
            choice.on_notice("The browser did not open; signing in on another device instead.")
        return await self._device_sign_in(spec, client, scopes, choice.on_code)

    async def _browser_sign_in(
        self,
        spec: ProviderSpec,
        client: Client,
        scopes: tuple[str, ...],
        on_url: Callable[[str], None] | None,
        opener: BrowserOpener,
    ) -> SignIn:
        from .flow import sign_in

        return await sign_in(
            spec,
            client,
            scopes=scopes,
            http=self._http,
            opener=opener,
            clock=self.clock,
            timeout_s=SIGN_IN_TIMEOUT_S if self._flow_timeout_s is None else self._flow_timeout_s,
            on_url=on_url,
        )

    async def _device_sign_in(
        self, spec: ProviderSpec, client: Client, scopes: tuple[str, ...], on_code: CodeCallback | None
    ) -> SignIn:
        from .device import device_sign_in

        return await device_sign_in(
            spec,
            client,
            scopes=scopes,
            http=self._http,
            clock=self.clock,
            # Unless told otherwise, wait as long as the code lives (the poll ends at its expiry), within reason.
            timeout_s=DEVICE_WAIT_MAX_S if self._flow_timeout_s is None else self._flow_timeout_s,
            on_code=on_code,
        )

    # --- tokens -----------------------------------------------------------------------------------

    async def token(self, name_or_id: str, *, min_valid_s: float = MIN_VALID_S) -> TokenSet:
        return await self._engine.get_token((await self._find(name_or_id)).id, min_valid_s=min_valid_s)

    async def reject(self, name_or_id: str, access_token: Secret) -> bool:
        """A client got `access_token` refused: the next request refreshes (see RefreshEngine.mark_rejected)."""
        return await self._engine.mark_rejected((await self._find(name_or_id)).id, access_token)

    async def refresh(self, name_or_id: str) -> TokenSet:
        return await self._engine.refresh_now((await self._find(name_or_id)).id)

    def agent_server(self) -> AgentServer:
        """A server for `tokendesk token` calls from scripts while this process (the app) runs."""

        async def source(name: str, min_valid_s: float) -> AgentToken:
            record = await self._find(name)
            tokens = await self._engine.get_token(record.id, min_valid_s=min_valid_s)
            return AgentToken(
                tokens.access_token.reveal(),
                tokens.token_type,
                tokens.expires_at,
                scopes=tokens.scopes or record.scopes,
                email=record.identity.email,
                username=record.identity.username,
                provider=record.provider.key,
            )

        return AgentServer(self.paths.agent_socket, source, reject=self.reject)

    # --- disconnecting ----------------------------------------------------------------------------

    async def disconnect(self, name_or_id: str, *, keep_grant: bool = False) -> DisconnectResult:
        record = await self._find(name_or_id)
        # Under the account's lock: a refresh finishing meanwhile would revive a token we just revoked.
        async with self._engine.exclusive(record.id):
            entry = await self._vault.load(record.id)
            result = DisconnectResult(revoked=False)
            if entry is not None and entry.tokens is not None:
                if keep_grant:  # the user chose to; say where the grant can still be ended
                    from .revocation import kept_grant_note

                    result = DisconnectResult(revoked=False, note=kept_grant_note(record.provider))
                else:
                    result = await self._revoke(record, entry)
            # Keychain first: metadata without secrets is harmless, secrets without metadata are orphans.
            await self._vault.delete(record.id)
            await self._store.call(self._store.remove, record.id)
        self._engine.forget(record.id)
        self._bus.emit(AccountRemoved(record.id))
        return result

    async def _revoke(self, record: AccountRecord, entry: VaultEntry) -> DisconnectResult:
        """Revoke at the provider if it lets us. A refusal still lets the caller forget the account, with a note
        on what the user must do at the provider; a provider out of reach keeps everything (TransientError)."""
        from .oauth import Client
        from .revocation import BEARER_KINDS, manual_step, revoke_grant

        assert entry.tokens is not None
        try:
            spec = record.provider.validated()  # never send a token to an endpoint today's rules refuse
        except UsageError as exc:
            return DisconnectResult(revoked=False, note=f"Not revoked at the provider ({exc}). "
                                    + manual_step(record.provider))  # fmt: skip
        client = Client(record.client_id, entry.client_secret)
        tokens = entry.tokens
        if spec.revocation in BEARER_KINDS:
            tokens = await self._fresh_for_revocation(spec, client, tokens)
        try:
            outcome = await revoke_grant(self._http, spec, client, tokens, now=self.clock.now())
        except TransientError as exc:
            if tokens is not entry.tokens:  # refreshed for the revocation: the account stays, so must these
                await self._keep_refreshed(record, VaultEntry(tokens=tokens, client_secret=entry.client_secret))
            raise TransientError(
                f"Could not revoke the grant at {spec.display_name} ({exc}); nothing was deleted.",
                account=record.name,
                hint=Hint.KEEP_GRANT_TO_FORGET_LOCALLY,
            ) from None
        return DisconnectResult(revoked=outcome.revoked, note=outcome.note)

    async def _keep_refreshed(self, record: AccountRecord, entry: VaultEntry) -> None:
        assert entry.tokens is not None
        tokens, now = entry.tokens, self.clock.now()
        await self._vault.save(record.id, entry)
        await self._store.call(self._store.update, record.id, lambda r: r.with_tokens(tokens, now))
        self._engine.remember(record.id, entry)

    async def _fresh_for_revocation(self, spec: ProviderSpec, client: Client, tokens: TokenSet) -> TokenSet:
        """APIs that take the access token as a Bearer credential refuse an expired one; refresh first (under
        the account's lock, and the result is thrown away with the account)."""
        expires = tokens.expires_at
        if tokens.refresh_token is None or expires is None or expires > self.clock.now() + 30:
            return tokens
        from .oauth import refresh_grant

        try:
            return await refresh_grant(self._http, spec, client, tokens, now=self.clock.now())
        except TokendeskError as exc:
            log.info("could not refresh before revoking (%s); trying the old access token", type(exc).__name__)
            return tokens


async def _system_browser(url: str) -> bool:
    from .flow import system_browser

    return await system_browser(url)


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _unique(name: str, taken: list[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate
