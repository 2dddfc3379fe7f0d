"""What an account's status badge says: a pure function of the record and the time, no Qt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from desktop_app.core.accounts import AccountRecord, AccountState, effective_state

REFRESH_EXPIRY_WARNING_S = 7 * 86400.0  # warn about a refresh token's own expiry this long ahead


class Tone(StrEnum):
    """The badge colour family; the text and icon carry the meaning on their own."""

    OK = "ok"  # green
    WARN = "warn"  # amber
    BUSY = "busy"  # blue
    BAD = "bad"  # red
    MUTED = "muted"  # grey: offline, nothing to do


@dataclass(frozen=True)
class Badge:
    text: str
    icon: str  # a state icon name: icons/states/<icon>.svg
    tone: Tone
    rank: int  # how bad: the tray shows the worst account


def duration(seconds: float) -> str:
    """A short, rounded-up duration: "30 s", "4 min", "3 h", "5 days"."""
    s = max(0, int(-(-seconds // 1)))  # ceil: "expires in 0 min" would read as already expired
    if s < 60:
        return f"{s} s"
    minutes = -(-s // 60)
    if minutes <= 90:
        return f"{minutes} min"
    hours = -(-s // 3600)
    if hours < 48:
        return f"{hours} h"
    days = -(-s // 86400)
    return f"{days} days"


def badge_for(record: AccountRecord, now: float) -> Badge:
    state = effective_state(record, now)
    if state is AccountState.REFRESHING:
        return Badge("Refreshing…", "refreshing", Tone.BUSY, 1)
    if state is AccountState.NEEDS_SIGN_IN:
        return Badge("Needs sign-in", "needs_sign_in", Tone.BAD, 5)
    if state is AccountState.CONFIG_ERROR:
        return Badge("Configuration error", "config_error", Tone.BAD, 5)
    if state is AccountState.RETRYING:
        wait = _retry_in(record, now)
        if record.offline:
            return Badge(f"Offline · retrying {wait}", "offline", Tone.MUTED, 2)
        return Badge(f"Retrying {wait}", "retrying", Tone.WARN, 3)
    if state is AccountState.ERROR:
        return Badge(f"Error · retrying {_retry_in(record, now)}", "error", Tone.BAD, 4)
    # VALID and EXPIRING: the token works.
    if record.expires_at is not None and record.expires_at <= now:
        if record.has_refresh_token:
            return Badge("Expired · refreshing soon", "expiring", Tone.WARN, 2)
        return Badge("Expired", "needs_sign_in", Tone.BAD, 5)
    if state is AccountState.EXPIRING and record.expires_at is not None:
        return Badge(f"Expires in {duration(record.expires_at - now)}", "expiring", Tone.WARN, 1)
    if record.refresh_expires_at is not None and record.refresh_expires_at - now < REFRESH_EXPIRY_WARNING_S:
        left = record.refresh_expires_at - now
        if left <= 0:
            return Badge("Refresh token expired", "expiring", Tone.WARN, 3)
        return Badge(f"Refresh token expires in {duration(left)}", "expiring", Tone.WARN, 1)
    return Badge("Valid", "valid", Tone.OK, 0)


def _retry_in(record: AccountRecord, now: float) -> str:
    if record.retry_at is None or record.retry_at <= now:
        return "now"
    return f"in {duration(record.retry_at - now)}"
