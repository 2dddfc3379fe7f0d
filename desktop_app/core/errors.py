"""Typed errors: a sentence of facts, the facts as fields, and the CLI exit code; the CLI and the UI word the remedy.

The tree, with each branch's exit code (README "Exit codes" says the same):

    TokendeskError                    1
    ├── UsageError                    2   bad input: `input` names it
    │   └── InvalidEndpoint           2
    ├── AccountNotFound               1
    ├── DiscoveryError                1
    ├── AuthorizationError            1   the browser or device step gave no code
    │   ├── AuthorizationDenied       1
    │   │   └── DeviceAccessDenied    3
    │   ├── AuthorizationTimeout      1
    │   │   └── DeviceCodeExpired     1
    │   └── RedirectPortBusy          1
    ├── NeedsSignIn                   3   only a new sign-in helps (hint RECONNECT)
    │   ├── DamagedKeychainItem       3
    │   └── InvalidGrant              3   with what the provider said, as fields
    ├── ProviderError                 1   the provider answered, not with tokens
    │   ├── ClientConfigError         1
    │   ├── MalformedResponse         1
    │   └── TransientError            4   network, timeout, 5xx, 429
    ├── IdTokenError                  1
    ├── VaultError                    5
    │   ├── VaultUnavailable          5
    │   ├── VaultLocked               5
    │   └── RotationPending           5
    ├── LocalBusy                     4   something on this machine, not the provider: try again later
    │   ├── LockBusy                  4   another process holds the account's lock too long
    │   ├── ShuttingDown              4   this process is stopping: nothing new is sent
    │   └── AppNotAnswering           4   the running app took the request but did not answer in time
    ├── StoreError                    1
    └── AgentError                    the running app's answer carries the code

Messages never name a command-line flag, a command or a button: `Input` says which input is at fault and `Hint`
which remedy applies; desktop_app/cli_words.py and the UI put those into their own words. This module imports
nothing from the package (everything imports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Input(StrEnum):
    """A value the user gives when connecting (the CLI maps each to its flag, the dialog to its field)."""

    PROVIDER = "provider"
    ISSUER = "issuer"
    AUTHORIZATION_ENDPOINT = "authorization_endpoint"
    TOKEN_ENDPOINT = "token_endpoint"
    REVOCATION_ENDPOINT = "revocation_endpoint"
    CLIENT_ID = "client_id"
    CLIENT_SECRET = "client_secret"
    CLIENT_AUTH = "client_auth"
    SCOPES = "scopes"
    NAME = "name"
    REDIRECT_HOST = "redirect_host"
    REDIRECT_PORT = "redirect_port"
    REDIRECT_PATH = "redirect_path"
    DEVICE = "device"  # the choice to sign in on another device
    # Preset parameters, by the names the presets give them (a test checks every preset's are here).
    TENANT = "tenant"
    DOMAIN = "domain"
    REALM = "realm"
    SERVER = "server"


class Hint(StrEnum):
    """The way out of an error, for the CLI and the UI to word."""

    RECONNECT = "reconnect"  # sign in to the account again
    GIVE_INPUT = "give_input"  # the input named by `input` is missing: give it
    CHANGE_INPUT = "change_input"  # the input named by `input` was refused: change it
    PICK_ANOTHER_NAME = "pick_another_name"
    RETRY_LATER = "retry_later"
    KEEP_GRANT_TO_FORGET_LOCALLY = "keep_grant_to_forget_locally"  # disconnect without revoking
    USE_BROWSER = "use_browser"  # no device flow here: sign in with a browser


class TokendeskError(Exception):
    """Base class. The message is shown to users as is, so it never contains a secret.

    `input`: which input is at fault; `account`: the account's name; `hint`: the remedy."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        input: Input | None = None,
        account: str | None = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message)
        self.input = input
        self.account = account
        self.hint = hint


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

    def __init__(self, message: str, *, port: int, **facts: object) -> None:
        super().__init__(message, **facts)  # type: ignore[arg-type]
        self.port = port


class DeviceAccessDenied(AuthorizationDenied):
    """The user refused the sign-in on the other device (RFC 8628 access_denied): nothing to retry by itself."""

    exit_code = 3


class DeviceCodeExpired(AuthorizationTimeout):
    """The device code expired (or the local wait ran out) before the user approved it; start again."""


class NeedsSignIn(TokendeskError):
    """The account cannot get tokens until the user reconnects it."""

    exit_code = 3

    def __init__(self, message: str, *, hint: Hint | None = Hint.RECONNECT, **facts: object) -> None:
        super().__init__(message, hint=hint, **facts)  # type: ignore[arg-type]


class DamagedKeychainItem(NeedsSignIn):
    """The account's keychain item cannot be read as tokens; reconnecting writes a good one."""


class InvalidGrant(NeedsSignIn):
    """The provider refused the grant (revoked, expired, rotated out): only signing in again helps.

    What the provider said is kept as fields (`error`, `description`, `status`, as on ProviderError), with
    `advice`, the provider-specific explanation for the user."""

    def __init__(
        self,
        message: str,
        *,
        advice: str | None = None,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        **facts: object,
    ) -> None:
        super().__init__(message, **facts)  # type: ignore[arg-type]
        self.advice = advice
        self.error = error
        self.description = description
        self.status = status


# --- token endpoint -----------------------------------------------------------------------------


class ProviderError(TokendeskError):
    """The provider answered, but not with tokens: `error`, `description` and `status` are what it said."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        **facts: object,
    ) -> None:
        super().__init__(message, **facts)  # type: ignore[arg-type]
        self.error = error
        self.description = description
        self.status = status


class ClientConfigError(ProviderError):
    """The provider rejects the client itself (invalid_client, unauthorized_client, ...)."""


class MalformedResponse(ProviderError):
    """The answer is not a token response: HTML, garbage, no access_token, an unknown token type."""

    # A refresh answer we could not accept may still have rotated the refresh token at the provider: the
    # engine saves this (a TokenSet: the old access token, the new refresh token) so the grant is not lost
    # with the answer. Typed `object` so this module imports nothing of the package; oauth.py sets it.
    rescued_tokens: object | None = None


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


class LocalBusy(TokendeskError):
    """Something on this machine is busy, not the provider (so not a TransientError, though it shares its exit
    code): trying again later may help."""

    exit_code = 4

    def __init__(self, message: str, *, hint: Hint | None = None, **facts: object) -> None:
        super().__init__(message, hint=hint or Hint.RETRY_LATER, **facts)  # type: ignore[arg-type]


class LockBusy(LocalBusy):
    """Another local process kept the account's lock too long."""


class ShuttingDown(LocalBusy):
    """This process is stopping (a signal, the app quitting): it sends nothing new."""


class AppNotAnswering(LocalBusy):
    """The running app accepted a request but did not answer in time."""


class StoreError(TokendeskError):
    """The account metadata file cannot be read or written."""


# --- the running app ----------------------------------------------------------------------------


class AgentError(TokendeskError):
    """The running app answered a CLI request with an error: its message, facts and exit code, as sent."""

    def __init__(self, message: str, exit_code: int, **facts: object) -> None:
        super().__init__(message, **facts)  # type: ignore[arg-type]
        self.exit_code = exit_code

    @classmethod
    def from_answer(cls, answer: Mapping[str, object]) -> AgentError:
        """The agent's error answer (see core/agent.py); a fact this version does not know is dropped."""
        code, hint, field, account = (answer.get(k) for k in ("exit_code", "hint", "input", "account"))
        return cls(
            str(answer.get("error", "the app refused")),
            code if isinstance(code, int) and not isinstance(code, bool) else 1,
            hint=Hint(hint) if isinstance(hint, str) and hint in Hint._value2member_map_ else None,
            input=Input(field) if isinstance(field, str) and field in Input._value2member_map_ else None,
            account=account if isinstance(account, str) and account else None,
        )
