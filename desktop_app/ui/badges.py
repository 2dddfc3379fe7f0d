"""What an account's status badge says and how each state looks: a pure function of the record and the time,
and the one table of looks (icon file, fallback glyph, colour role, rank) keyed by AccountState. No Qt."""

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


class Glyph(StrEnum):
    """The shape icons.py paints when a state's SVG cannot be loaded (each one has a painter there)."""

    CHECK = "check"  # a tick in a filled disc
    CLOCK = "clock"
    ARROW = "arrow"  # a circular arrow
    NO_SIGNAL = "no_signal"  # struck-through signal arcs
    ALERT = "alert"  # an exclamation mark in a filled disc


@dataclass(frozen=True)
class Look:
    icon: str  # resources/icons/states/<icon>.svg
    glyph: Glyph
    tone: Tone
    rank: int  # how bad: the tray shows the worst account


LOOKS: dict[AccountState, Look] = {
    AccountState.VALID: Look("valid", Glyph.CHECK, Tone.OK, 0),
    AccountState.EXPIRING: Look("expiring", Glyph.CLOCK, Tone.WARN, 1),
    AccountState.REFRESHING: Look("refreshing", Glyph.ARROW, Tone.BUSY, 1),
    AccountState.RETRYING: Look("retrying", Glyph.CLOCK, Tone.WARN, 3),
    AccountState.NEEDS_SIGN_IN: Look("needs_sign_in", Glyph.ALERT, Tone.BAD, 5),
    AccountState.CONFIG_ERROR: Look("config_error", Glyph.ALERT, Tone.BAD, 5),
    AccountState.ERROR: Look("error", Glyph.ALERT, Tone.BAD, 4),
}
# Not a state: how RETRYING looks while the network is down (calm, nothing for the user to do).
OFFLINE = Look("offline", Glyph.NO_SIGNAL, Tone.MUTED, 2)
ALL_LOOKS = (*LOOKS.values(), OFFLINE)
GLYPHS = {look.icon: look.glyph for look in ALL_LOOKS}  # icon name -> its fallback shape


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


def _badge(look: Look, text: str, rank: int | None = None) -> Badge:
    return Badge(text, look.icon, look.tone, look.rank if rank is None else rank)


def badge_for(record: AccountRecord, now: float) -> Badge:
    state = effective_state(record, now)
    look = LOOKS[state]
    if state is AccountState.REFRESHING:
        return _badge(look, f"{state.words}…")
    if state.is_terminal:
        return _badge(look, state.words)
    if state is AccountState.RETRYING:
        wait = _retry_in(record, now)
        if record.offline:
            return _badge(OFFLINE, f"Offline · retrying {wait}")
        return _badge(look, f"{state.words} {wait}")
    if state is AccountState.ERROR:
        return _badge(look, f"{state.words} · retrying {_retry_in(record, now)}")
    # VALID and EXPIRING: the token works.
    expiring = LOOKS[AccountState.EXPIRING]
    if record.expires_at is not None and record.expires_at <= now:
        if record.has_refresh_token:
            return _badge(expiring, "Expired · refreshing soon", rank=2)
        return _badge(LOOKS[AccountState.NEEDS_SIGN_IN], "Expired")
    if state is AccountState.EXPIRING and record.expires_at is not None:
        return _badge(look, f"Expires in {duration(record.expires_at - now)}")
    if record.refresh_expires_at is not None and record.refresh_expires_at - now < REFRESH_EXPIRY_WARNING_S:
        left = record.refresh_expires_at - now
        if left <= 0:
            return _badge(expiring, "Refresh token expired", rank=3)
        return _badge(expiring, f"Refresh token expires in {duration(left)}", rank=1)
    return _badge(look, state.words)


def _retry_in(record: AccountRecord, now: float) -> str:
    if record.retry_at is None or record.retry_at <= now:
        return "now"
    return f"in {duration(record.retry_at - now)}"
