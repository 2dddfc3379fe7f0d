"""The one way to a token for `token`, `exec` and `git-credential`: the running app, the keychain, the engine."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .core.paths import AppPaths
from .core.secrets import Secret

if TYPE_CHECKING:
    from .core.accounts import AccountRecord
    from .core.tokens import TokenSet

log = logging.getLogger(__name__)

DEFAULT_MIN_VALID_S = 60.0  # `token`
TOOL_MIN_VALID_S = 300.0  # `exec` and `git-credential`: the tool may take a while before it sends the token


@dataclass(frozen=True, repr=False)
class IssuedToken:
    """A token handed to a command, with what its output formats need to know about it and its account."""

    access_token: Secret
    token_type: str
    expires_at: float | None
    scopes: tuple[str, ...] = ()
    email: str | None = None
    username: str | None = None
    provider: str = ""  # the provider preset's key, e.g. "github"

    def __repr__(self) -> str:
        return f"IssuedToken({self.token_type!r}, expires_at={self.expires_at!r}, provider={self.provider!r})"

    @classmethod
    def of(cls, record: AccountRecord, tokens: TokenSet) -> IssuedToken:
        return cls(
            access_token=tokens.access_token,
            token_type=tokens.token_type,
            expires_at=tokens.expires_at,
            scopes=tokens.scopes or record.scopes,
            email=record.identity.email,
            username=record.identity.username,
            provider=record.provider.key,
        )


# The full engine (its locks, refresh, messages and signal handling), provided by the CLI: (name, min_valid_s).
Engine = Callable[[str, float], IssuedToken]


def get_token(paths: AppPaths, name: str, min_valid_s: float, engine: Engine) -> IssuedToken:
    """A token valid for `min_valid_s` seconds: from the running app when it answers (it owns the tokens), else
    straight from the keychain when the stored one is good, else through the engine. Raises TokendeskError."""
    for source, where in ((from_app, "the running app"), (from_keychain, "the keychain")):
        token = source(paths, name, min_valid_s)
        if token is not None:
            log.debug("token for %s: from %s", name, where)  # which path answered, for a bug report
            return token
    log.debug("token for %s: through the refresh engine", name)
    return engine(name, min_valid_s)


def from_app(paths: AppPaths, name: str, min_valid_s: float) -> IssuedToken | None:
    """While the app runs it owns the tokens: ask it first, which is also fast (no HTTP or keychain import)."""
    from .core.agent import request_token

    got = request_token(paths.agent_socket, name, min_valid_s)
    if got is None:
        return None
    return IssuedToken(
        access_token=Secret(got.access_token),
        token_type=got.token_type,
        expires_at=got.expires_at,
        scopes=got.scopes,
        email=got.email,
        username=got.username,
        provider=got.provider,
    )


def from_keychain(paths: AppPaths, name: str, min_valid_s: float) -> IssuedToken | None:
    """No app: a token valid long enough comes straight from the keychain, without the engine, httpx or a TLS
    context (they cost more than the rest of the command). Anything else (a refresh, a backoff to honour, an
    account needing sign-in, a token a client reported refused, a missing item) is the engine's, with its locks,
    messages and signal handling."""
    from .core.accounts import AccountState, AccountStore
    from .core.tokens import attainable_s
    from .core.vault import Vault, VaultEntry

    record = AccountStore(paths.accounts_file).find(name)
    if record.state is AccountState.NEEDS_SIGN_IN:
        return None

    async def load() -> VaultEntry | None:
        vault = Vault()
        try:
            return await vault.load(record.id)
        finally:
            vault.close()

    entry = asyncio.run(load())
    tokens = None if entry is None else entry.tokens
    if tokens is None or tokens.issued_at != record.issued_at or record.is_rejected(tokens):
        return None  # missing, newer than the metadata says, or refused: the engine adopts or refreshes
    if tokens.valid_for(time.time()) < attainable_s(min_valid_s, tokens):
        return None
    return IssuedToken.of(record, tokens)
