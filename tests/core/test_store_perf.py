"""The store writes at any size by encoding only the records that changed (issue 9), byte for byte as before."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.accounts import AccountRecord, AccountStore
from tests.core.conftest import SPEC


def test_a_write_encodes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AccountStore(tmp_path / "accounts.json")
    for i in range(20):
        store.add(AccountRecord(id=f"id{i:02d}", name=f"A{i}", provider=SPEC, client_id="c", scopes=(), created_at=i))
    encoded: list[str] = []
    to_json = AccountRecord.to_json

    def counting(self: AccountRecord) -> dict[str, object]:
        encoded.append(self.id)
        return to_json(self)

    monkeypatch.setattr(AccountRecord, "to_json", counting)
    store.update("id07", lambda r: replace(r, failures=3))
    assert encoded == ["id07"]
    # The file is exactly what encoding every record at once gives.
    records = AccountStore(tmp_path / "accounts.json").all()
    expected = json.dumps(
        {"schema_version": 1, "accounts": [to_json(r) for r in records]}, sort_keys=True, separators=(", ", ": ")
    )
    assert (tmp_path / "accounts.json").read_text() == expected
    assert [r.failures for r in records if r.id == "id07"] == [3]


def test_another_process_write_is_read_and_kept(tmp_path: Path) -> None:
    mine, other = AccountStore(tmp_path / "accounts.json"), AccountStore(tmp_path / "accounts.json")
    mine.add(AccountRecord(id="a", name="A", provider=SPEC, client_id="c", scopes=(), created_at=1))
    mine.add(AccountRecord(id="b", name="B", provider=SPEC, client_id="c", scopes=(), created_at=2))
    other.update("a", lambda r: replace(r, failures=5))
    mine.update("b", lambda r: replace(r, failures=1))  # must not write back its stale text for "a"
    assert {r.id: r.failures for r in AccountStore(tmp_path / "accounts.json").all()} == {"a": 5, "b": 1}


def test_records_with_equal_providers_share_one_spec(tmp_path: Path) -> None:
    """Read from the file: one ProviderSpec per distinct provider; the same token endpoint with another field
    (a tenant's own scopes, say) is another provider."""
    other = replace(SPEC, default_scopes=("openid", "other"))
    assert other.token_endpoint == SPEC.token_endpoint and other != SPEC
    store = AccountStore(tmp_path / "accounts.json")
    for i, spec in enumerate((SPEC, other, SPEC, other, SPEC)):
        store.add(AccountRecord(id=f"id{i}", name=f"A{i}", provider=spec, client_id="c", scopes=(), created_at=i))
    records = AccountStore(tmp_path / "accounts.json").all()
    assert [r.provider for r in records] == [SPEC, other, SPEC, other, SPEC]
    assert len({id(r.provider) for r in records}) == 2


def test_a_provider_is_shared_only_with_its_equal_in_type_too(tmp_path: Path) -> None:
    """1 == True in Python: a hand-edited `"requires_secret": 1` is not its neighbour's `true`."""
    store = AccountStore(tmp_path / "accounts.json")
    for i in range(2):
        store.add(AccountRecord(id=f"id{i}", name=f"A{i}", provider=SPEC, client_id="c", scopes=(), created_at=i))
    data = json.loads((tmp_path / "accounts.json").read_text())
    provider = data["accounts"][1]["provider"]
    flag = next(k for k, v in provider.items() if isinstance(v, bool))
    provider[flag] = int(provider[flag])
    (tmp_path / "accounts.json").write_text(json.dumps(data))
    first, second = AccountStore(tmp_path / "accounts.json").all()
    assert first.provider is not second.provider
