"""How a failed refresh ends in the metadata: retry later (with backoff), or stop until the user acts.

Pure functions of the record and the failure, so the engine only decides when to apply them."""

from __future__ import annotations

from .accounts import AccountRecord, Attempt, Event
from .errors import ClientConfigError, MalformedResponse, ProviderError, TokendeskError, TransientError


def is_config_error(exc: Exception) -> bool:
    """An error the RFCs do not name, on a 4xx (or a client the provider refuses): retrying will not change it.
    Never a TransientError (a 429 is one, with a 4xx status)."""
    if isinstance(exc, TransientError):
        return False
    return isinstance(exc, ClientConfigError) or (
        isinstance(exc, ProviderError)
        and not isinstance(exc, MalformedResponse)
        and exc.status is not None
        and 400 <= exc.status < 500
    )


def config_rejected(r: AccountRecord, *, now: float, reason: str, rotation_pending: str | None) -> AccountRecord:
    return r.apply(
        Event.CONFIG_REJECTED, last_error=reason, retry_at=None, rotation_pending=rotation_pending
    ).with_attempt(Attempt(now, "config_error", reason))


def retrying(
    r: AccountRecord, exc: Exception, *, now: float, delay_s: float, rotation_pending: str | None
) -> AccountRecord:
    """Transient failures retry as "retrying"; anything unexpected as "error", with the same backoff."""
    transient = isinstance(exc, TransientError)
    text = str(exc) if isinstance(exc, TokendeskError) else f"Unexpected failure ({type(exc).__name__})."
    return r.apply(
        Event.TRANSIENT_FAILURE if transient else Event.FAILED,
        last_error=text,
        retry_at=now + delay_s,
        failures=r.failures + 1,
        offline=isinstance(exc, TransientError) and exc.offline,
        rotation_pending=rotation_pending,
    ).with_attempt(Attempt(now, "retrying" if transient else "error", text))
