"""Badge text, icon and tone for every state, and the rounded durations they show."""

from __future__ import annotations

import pytest

from desktop_app.core.accounts import AccountState
from desktop_app.ui.badges import Tone, badge_for, duration
from tests.ui.conftest import NOW, make_record

S = AccountState


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.2, "1 s"),
        (30, "30 s"),
        (59.5, "1 min"),
        (61, "2 min"),
        (240, "4 min"),
        (5400, "90 min"),
        (5401, "2 h"),
        (3 * 3600, "3 h"),
        (47 * 3600, "47 h"),
        (5 * 86400, "5 days"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("state", "changes", "text", "icon", "tone"),
    [
        (S.VALID, {}, "Valid", "valid", Tone.OK),
        (S.EXPIRING, {"expires_at": NOW + 235}, "Expires in 4 min", "expiring", Tone.WARN),
        (S.REFRESHING, {}, "Refreshing…", "refreshing", Tone.BUSY),
        (S.NEEDS_SIGN_IN, {}, "Needs sign-in", "needs_sign_in", Tone.BAD),
        (S.CONFIG_ERROR, {}, "Configuration error", "config_error", Tone.BAD),
        (S.RETRYING, {"offline": True, "retry_at": NOW + 30}, "Offline · retrying in 30 s", "offline", Tone.MUTED),
        (S.RETRYING, {"retry_at": NOW + 120}, "Retrying in 2 min", "retrying", Tone.WARN),
        (S.RETRYING, {"retry_at": NOW - 1}, "Retrying now", "retrying", Tone.WARN),
        (S.ERROR, {"retry_at": NOW + 300}, "Error · retrying in 5 min", "error", Tone.BAD),
        (S.VALID, {"refresh_expires_at": NOW + 5 * 86400}, "Refresh token expires in 5 days", "expiring", Tone.WARN),
        (S.VALID, {"refresh_expires_at": NOW + 30 * 86400}, "Valid", "valid", Tone.OK),
        (S.EXPIRING, {"expires_at": NOW - 5}, "Expired · refreshing soon", "expiring", Tone.WARN),
        (S.VALID, {"expires_at": NOW - 5, "has_refresh_token": False}, "Expired", "needs_sign_in", Tone.BAD),
    ],
)
def test_badge_per_state(state: AccountState, changes: dict[str, object], text: str, icon: str, tone: Tone) -> None:
    badge = badge_for(make_record(state=state, **changes), NOW)  # type: ignore[arg-type]
    assert (badge.text, badge.icon, badge.tone) == (text, icon, tone)


def test_every_state_has_a_badge_and_worse_states_rank_higher() -> None:
    ranks = {s: badge_for(make_record(state=s, retry_at=NOW + 10), NOW).rank for s in S}
    assert ranks[S.VALID] < ranks[S.RETRYING] < ranks[S.NEEDS_SIGN_IN]
    assert ranks[S.CONFIG_ERROR] == ranks[S.NEEDS_SIGN_IN]
    assert all(badge_for(make_record(state=s), NOW).text for s in S)
