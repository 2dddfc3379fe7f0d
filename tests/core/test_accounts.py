import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.accounts import (
    AccountRecord,
    AccountState,
    AccountStore,
    Attempt,
    Event,
    Identity,
    effective_state,
    transition,
)
from desktop_app.core.errors import AccountNotFound, StoreError, UsageError
from desktop_app.core.providers import preset

S = AccountState


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (S.EXPIRING, Event.REFRESH_STARTED, S.REFRESHING),
        (S.REFRESHING, Event.REFRESH_SUCCEEDED, S.VALID),
        (S.REFRESHING, Event.TRANSIENT_FAILURE, S.RETRYING),
        (S.REFRESHING, Event.GRANT_REJECTED, S.NEEDS_SIGN_IN),
        (S.REFRESHING, Event.CONFIG_REJECTED, S.CONFIG_ERROR),
        (S.REFRESHING, Event.FAILED, S.ERROR),
        (S.RETRYING, Event.REFRESH_STARTED, S.REFRESHING),
        (S.NEEDS_SIGN_IN, Event.REFRESH_SUCCEEDED, S.NEEDS_SIGN_IN),
        (S.NEEDS_SIGN_IN, Event.REFRESH_STARTED, S.NEEDS_SIGN_IN),
        (S.CONFIG_ERROR, Event.TRANSIENT_FAILURE, S.CONFIG_ERROR),
        (S.NEEDS_SIGN_IN, Event.CONNECTED, S.VALID),
        (S.CONFIG_ERROR, Event.CONNECTED, S.VALID),
    ],
)
def test_transition(state: AccountState, event: Event, after: AccountState) -> None:
    assert transition(state, event) is after


def record(name: str = "Work", created: float = 1.0) -> AccountRecord:
    return AccountRecord(
        id=AccountRecord.new_id(),
        name=name,
        provider=preset("google"),
        client_id="cid",
        scopes=("openid",),
        identity=Identity(subject="42", email="me@example.test"),
        created_at=created,
    )


def test_store_round_trip_is_private_and_atomic(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "cfg" / "accounts.json")
    a = store.add(record("Work"))
    b = store.add(record("Home", created=2.0))
    assert [r.name for r in store.all()] == ["Work", "Home"]
    assert store.find("work") == a and store.find(b.id) == b
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    data = json.loads(store.path.read_text())
    assert data["schema_version"] == 1
    assert not [p for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_update_keeps_last_twenty_attempts(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    r = store.add(record())
    for i in range(25):
        store.update(r.id, lambda x, i=i: x.with_attempt(Attempt(float(i), "ok")))
    history = store.get(r.id).history
    assert len(history) == 20 and history[0].at == 5.0 and history[-1].at == 24.0


def test_duplicate_names_and_missing_accounts(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    store.add(record("Work"))
    with pytest.raises(UsageError, match="already exists"):
        store.add(record("WORK"))
    with pytest.raises(AccountNotFound, match="Work"):
        store.find("nope")


def test_damaged_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text("{not json")
    store = AccountStore(path)
    with pytest.raises(StoreError, match="damaged"):
        store.all()
    with pytest.raises(StoreError):
        store.add(record())
    assert path.read_text() == "{not json"


def test_newer_schema_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"schema_version": 99, "accounts": []}))
    with pytest.raises(StoreError, match="newer Tokendesk"):
        AccountStore(path).add(record())
    assert json.loads(path.read_text())["schema_version"] == 99


def test_apply_changes_state_through_transition(tmp_path: Path) -> None:
    r = replace(record(), state=S.NEEDS_SIGN_IN)
    assert r.apply(Event.REFRESH_SUCCEEDED, last_error=None).state is S.NEEDS_SIGN_IN
    assert r.apply(Event.CONNECTED).state is S.VALID


def test_effective_state_shows_expiring_near_expiry() -> None:
    r = replace(record(), expires_at=1000.0)
    assert effective_state(r, 0.0) is S.VALID
    assert effective_state(r, 800.0) is S.EXPIRING
    assert effective_state(r, 2000.0) is S.EXPIRING
    assert effective_state(replace(r, state=S.RETRYING), 800.0) is S.RETRYING
    assert effective_state(replace(r, expires_at=None), 10**9) is S.VALID
    short = replace(r, issued_at=700.0)  # a five-minute token: expiring only in its last 75 s
    assert effective_state(short, 900.0) is S.VALID
    assert effective_state(short, 930.0) is S.EXPIRING
