"""Typed errors, each with a user-facing message and the CLI exit code it maps to."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tokens import TokenSet


class TokendeskError(Exception):
    """Base class. The message is shown to users as is, so it never contains a secret."""

    exit_code = 1


class UsageError(TokendeskError):
    """The user asked for something malformed (bad URL, unknown preset, missing option)."""

    exit_code = 2


class InvalidEndpoint(UsageError):
    """An endpoint URL is malformed or not HTTPS (and not loopback)."""


class AccountNotFound(TokendeskError):
    """No account by that name."""


class DiscoveryError(TokendeskError):
    """The issuer's metadata could not be fetched or makes no sense."""


# --- authorization (browser) step --------------------------------------------------------------


class AuthorizationError(TokendeskError):
    """The browser step of the flow ended without a usable authorization code."""


class AuthorizationDenied(AuthorizationError):
    """The user (or the provider) refused consent."""


class AuthorizationTimeout(AuthorizationError):
    """Nobody came back to the loopback listener in time."""


class RedirectPortBusy(AuthorizationError):
    """The fixed redirect port the client registration names is taken by another program."""

    def __init__(self, message: str, *, port: int) -> None:
        super().__init__(message)
        self.port = port


class DeviceAccessDenied(AuthorizationDenied):
    """The user refused the sign-in on the other device (RFC 8628 access_denied): nothing to retry by itself."""

    exit_code = 3


class DeviceCodeExpired(AuthorizationTimeout):
    """The device code expired (or the local wait ran out) before the user approved it; start again."""


class NeedsSignIn(TokendeskError):
    """The account cannot get tokens until the user reconnects it."""

    exit_code = 3


class DamagedKeychainItem(NeedsSignIn):
    """The account's keychain item cannot be read as tokens; reconnecting writes a good one."""


# --- token endpoint -----------------------------------------------------------------------------


class ProviderError(TokendeskError):
    """The provider answered, but not with tokens."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status


class InvalidGrant(ProviderError, NeedsSignIn):
    """The grant is dead (revoked, expired, rotated out): only signing in again helps."""

    exit_code = 3

    def __init__(self, message: str, *, advice: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.advice = advice


class ClientConfigError(ProviderError):
    """The provider rejects the client itself (invalid_client, unauthorized_client, ...)."""


class MalformedResponse(ProviderError):
    """The answer is not a token response: HTML, garbage, no access_token, an unknown token type."""

    # A refresh answer we could not accept may still have rotated the refresh token at the provider: the
    # engine saves this (old access token, new refresh token) so the grant is not lost with the answer.
    rescued_tokens: TokenSet | None = None


class TransientError(ProviderError):
    """Network failure, timeout, 5xx or 429: worth retrying later."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        offline: bool = False,
        maybe_processed: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s
        self.offline = offline
        # The request left this machine before it failed: a rotating provider may have spent the token.
        self.maybe_processed = maybe_processed


class IdTokenError(TokendeskError):
    """The ID token failed validation (signature, issuer, audience, expiry or nonce)."""


# --- keychain -----------------------------------------------------------------------------------


class VaultError(TokendeskError):
    """The OS keychain cannot be used."""

    exit_code = 5


class VaultUnavailable(VaultError):
    """No secure keychain backend, or it failed."""


class VaultLocked(VaultError):
    """The keychain is locked and was not unlocked."""


class RotationPending(VaultError):
    """Another process holds the account's newest refresh token because the keychain refused it; the stored
    one is spent, so nothing may be sent until that process saves it."""


class LockBusy(TokendeskError):
    """Another local process kept the account's lock too long (not the provider's doing)."""

    exit_code = 4


class StoreError(TokendeskError):
    """The account metadata file cannot be read or written."""
