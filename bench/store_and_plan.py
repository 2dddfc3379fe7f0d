"""Account store writes and refresh planning with a few hundred accounts.

Targets: reading 300 accounts < 25 ms; one read-modify-write < 40 ms; planning every account's next
refresh < 5 ms. Run: .venv/bin/python bench/store_and_plan.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._util import measure
from desktop_app.core.accounts import AccountRecord, AccountStore, Identity
from desktop_app.core.events import EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.providers import preset
from desktop_app.core.refresh import RefreshEngine
from desktop_app.core.vault import Vault

ACCOUNTS = 300


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = AccountStore(Path(tmp) / "accounts.json")
        now = time.time()
        records = {}
        for i in range(ACCOUNTS):
            r = AccountRecord(
                id=AccountRecord.new_id(),
                name=f"Account {i}",
                provider=preset("google"),
                client_id="cid",
                scopes=("openid", "email"),
                identity=Identity(email=f"u{i}@x.test"),
                created_at=now + i,
                issued_at=now,
                expires_at=now + 3600,
            )
            records[r.id] = r
        store._write(records)
        some = next(iter(records))
        ok = measure(f"read {ACCOUNTS} accounts", store.all, target_ms=25)
        ok &= measure(
            "update one account",
            lambda: store.update(some, lambda r: replace(r, failures=r.failures + 1)),
            target_ms=40,
        )

        async def plan() -> bool:
            engine = RefreshEngine(
                store=store,
                vault=Vault(backend=object()),
                http=new_http_client(),
                clock=type("C", (), {"now": staticmethod(time.time)})(),  # type: ignore[arg-type]
                bus=EventBus(),
                lock_dir=Path(tmp) / "locks",
            )
            all_records = store.all()
            return measure(f"plan {ACCOUNTS} refreshes", lambda: [engine.due_at(r) for r in all_records], target_ms=5)

        ok &= asyncio.run(plan())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
