"""Refresh storm: N accounts due at once, real grants at the rig's provider, the real engine and keychain.

Counts what the engine did (provider requests: exactly one per account; tasks spawned: at most one per account
plus a constant; keychain calls) and compares wall and CPU time with a bare floor doing the same refreshes at
the same concurrency: asyncio + httpx + `keyring.set_password` (keyring's backend: a D-Bus connection per call).
A second floor keeps one Secret Service connection. Target (issue 9): <= 1.2x wall, <= 1.5x CPU of the floor.

Run: .venv/bin/python bench/storm.py [--quick] [--accounts 300 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx

from bench._util import verdict
from desktop_app.core.accounts import AccountRecord, AccountState, AccountStore, Attempt, Identity
from desktop_app.core.clock import SystemClock
from desktop_app.core.discovery import discover
from desktop_app.core.events import AccountChanged, CoreEvent, EventBus
from desktop_app.core.oauth import new_http_client
from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
from desktop_app.core.secrets import Secret
from desktop_app.core.tokens import TokenSet
from desktop_app.core.vault import SecretServiceBackend, Vault, VaultEntry
from tests.rig.keychain import Keychain
from tests.rig.provider import OidcProvider

CONCURRENCY = RefreshPolicy().concurrency
SERVICE = "tokendesk"


def mint(provider: OidcProvider, count: int) -> list[dict[str, Any]]:
    """`count` real grants (token responses) for the rotating native client, through the provider's own login
    and consent pages driven over HTTP (no browser: hundreds of sign-ins in seconds)."""

    def one(client: httpx.Client, login: str) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        response = client.get(
            provider.authorization_endpoint,
            params={
                "client_id": provider.native_rotating,
                "redirect_uri": provider.redirect_uri,
                "response_type": "code",
                "scope": provider.scopes,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "bench",
                "prompt": "consent",
            },
        )
        for _ in range(12):
            location = response.headers.get("location")
            if location is None:  # a login or consent form: submit it
                action = re.search(r'action="([^"]+)"', response.text)
                prompt = re.search(r'name="prompt" value="([^"]+)"', response.text)
                if action is None or prompt is None:
                    raise RuntimeError(f"unexpected page {response.status_code} at {response.url}")
                form = {"prompt": prompt.group(1)}
                if form["prompt"] == "login":
                    form.update(login=login, password="bench")
                response = client.post(response.url.join(action.group(1)), data=form)
            elif location.startswith(provider.redirect_uri):
                code = httpx.URL(location).params["code"]
                token = client.post(
                    provider.token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": provider.redirect_uri,
                        "client_id": provider.native_rotating,
                        "code_verifier": verifier,
                    },
                )
                token.raise_for_status()
                return dict(token.json())
            else:
                response = client.get(response.url.join(location))
        raise RuntimeError("sign-in did not finish")

    def batch(indices: range) -> list[dict[str, Any]]:
        grants = []
        for i in indices:
            # A fresh browser session per grant: one session signing in again joins its earlier grant, and
            # oidc-provider's reuse detection then revokes that shared grant when a sibling rotates.
            with httpx.Client(follow_redirects=False, timeout=30) as client:
                grants.append(one(client, f"user{i}"))
        return grants

    chunks = [range(i, min(i + 50, count)) for i in range(0, count, 50)]
    with ThreadPoolExecutor(4) as pool:
        return [grant for part in pool.map(batch, chunks) for grant in part]


def tokens_due(grant: dict[str, Any], now: float) -> TokenSet:
    """The grant's tokens, dated so the refresh point (75 % of the life) has just passed."""
    return TokenSet(
        access_token=Secret(grant["access_token"]),
        token_type="Bearer",
        issued_at=now - 250,
        expires_at=now + 50,
        refresh_token=Secret(grant["refresh_token"]),
        scopes=tuple(grant["scope"].split()),
    )


class CountingVault(Vault):
    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.saves = 0

    async def load(self, account_id: str) -> VaultEntry | None:
        self.loads += 1
        return await super().load(account_id)

    async def save(self, account_id: str, entry: VaultEntry) -> None:
        self.saves += 1
        await super().save(account_id, entry)


async def engine_storm(root: Path, provider: OidcProvider, grants: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(grants)
    store = AccountStore(root / "accounts.json")
    http = new_http_client()
    spec = await discover(provider.issuer, http, has_secret=False)
    now = time.time()
    setup = CountingVault()
    records = {}
    for i, grant in enumerate(grants):
        tokens = tokens_due(grant, now)
        record = AccountRecord(
            id=AccountRecord.new_id(),
            name=f"Storm {i}",
            provider=spec,
            client_id=provider.native_rotating,
            scopes=tokens.scopes,
            identity=Identity(subject=str(i)),
            created_at=now + i,
            history=(Attempt(now - 250, "ok"),),
        ).with_tokens(tokens, now - 250)
        records[record.id] = record
        await setup.save(record.id, VaultEntry(tokens=tokens))
    setup.close()
    store._write(records)

    vault = CountingVault()
    bus = EventBus()
    engine = RefreshEngine(
        store=store, vault=vault, http=http, clock=SystemClock(), bus=bus, lock_dir=root / "locks", owner="bench"
    )
    spawned = [0]
    spawn = engine._spawn

    def counting_spawn(coro: Any) -> None:
        spawned[0] += 1
        spawn(coro)

    engine._spawn = counting_spawn  # type: ignore[method-assign]
    settled: dict[str, AccountState] = {}
    done = asyncio.Event()

    def on_event(event: CoreEvent) -> None:
        record = event.record if isinstance(event, AccountChanged) else None
        if record is None:
            return
        if (record.state is AccountState.VALID and (record.issued_at or 0) > now) or record.state.is_terminal:
            settled[record.id] = record.state
            if len(settled) == n:
                done.set()

    bus.subscribe(on_event)
    provider.reset()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    task = asyncio.ensure_future(engine.run())
    await asyncio.wait_for(done.wait(), 60 + n)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    # Let leftover work show itself: nothing should run now that every account is fresh.
    settle_cpu0 = time.process_time()
    await asyncio.sleep(2)
    settle_cpu = time.process_time() - settle_cpu0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    stats = provider.stats()
    await http.aclose()
    vault.close()
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "requests": stats["token_requests"],
        "refresh_ok": stats["token"].get("refresh_token", 0),
        "errors": stats["token_errors"],
        "tasks": spawned[0],
        "keychain_loads": vault.loads,
        "keychain_saves": vault.saves,
        "store_writes": engine._writes.writes,
        "planned": engine._plan.planned,
        "idle_cpu_after_s": settle_cpu,
        "not_valid": sum(1 for state in settled.values() if state is not AccountState.VALID),
        "records": records,
    }


async def floor_storm(provider: OidcProvider, entries: dict[str, TokenSet], *, persistent: bool) -> dict[str, Any]:
    """The same refreshes with nothing but httpx and a keychain write, at the same concurrency."""
    import keyring

    backend: Any = SecretServiceBackend.open() if persistent else keyring.get_keyring()
    assert backend is not None
    slots = asyncio.Semaphore(CONCURRENCY)
    failures = 0
    # One worker thread for the keychain, as the engine's vault has.
    pool = ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=20) as http:

        async def one(account_id: str, tokens: TokenSet) -> None:
            nonlocal failures
            async with slots:
                assert tokens.refresh_token is not None
                response = await http.post(
                    provider.token_endpoint,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": tokens.refresh_token.reveal(),
                        "client_id": provider.native_rotating,
                    },
                )
                if response.status_code != 200:
                    failures += 1
                    return
                body = response.json()
                blob = json.dumps({"format": 1, "tokens": body, "client_secret": None})
                await loop.run_in_executor(pool, backend.set_password, SERVICE, account_id, blob)
                entries[account_id] = tokens_due(body, time.time())

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(a, t) for a, t in list(entries.items())))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    pool.shutdown()
    if persistent:
        backend.close()
    return {"wall_s": wall, "cpu_s": cpu, "failures": failures}


async def storm(provider: OidcProvider, n: int, rounds: int = 1) -> bool:
    t0 = time.perf_counter()
    grants = mint(provider, n)
    print(f"  seeded {n} grants at the provider in {time.perf_counter() - t0:.1f} s", flush=True)
    ok = True
    for _ in range(rounds):
        ok &= await storm_round(provider, n, grants)
        # The floors rotated every refresh token: the next round starts from the tokens they kept.
        grants = [_grant(tokens) for tokens in _last_entries.values()]
    return ok


_last_entries: dict[str, TokenSet] = {}


def _grant(tokens: TokenSet) -> dict[str, Any]:
    assert tokens.refresh_token is not None
    return {
        "access_token": tokens.access_token.reveal(),
        "refresh_token": tokens.refresh_token.reveal(),
        "scope": " ".join(tokens.scopes),
    }


async def storm_round(provider: OidcProvider, n: int, grants: list[dict[str, Any]]) -> bool:
    with tempfile.TemporaryDirectory(prefix="td-storm-") as tmp:
        got = await engine_storm(Path(tmp), provider, grants)
        vault = Vault()
        entries: dict[str, TokenSet] = {}
        for account_id in got["records"]:
            entry = await vault.load(account_id)
            assert entry is not None
            assert entry.tokens is not None
            entries[account_id] = entry.tokens
        vault.close()
    floor = await floor_storm(provider, entries, persistent=False)
    kept = await floor_storm(provider, entries, persistent=True)
    _last_entries.clear()
    _last_entries.update(entries)
    ok = got["requests"] == n and got["refresh_ok"] == n and not got["errors"] and not got["not_valid"]
    print(
        f"  engine: {got['requests']} token requests ({got['refresh_ok']} refreshed, errors {got['errors']}), "
        f"{got['tasks']} tasks, keychain {got['keychain_loads']} reads + {got['keychain_saves']} writes, "
        f"accounts.json {got['store_writes']} writes, {got['planned']} plans, "
        f"CPU {got['idle_cpu_after_s']:.2f} s in the 2 s after; {got['not_valid']} accounts not valid",
        flush=True,
    )
    ok &= got["tasks"] <= n + 2
    wall, cpu = got["wall_s"] / floor["wall_s"], got["cpu_s"] / floor["cpu_s"]
    return verdict(
        f"refresh storm, {n} accounts",
        f"wall {got['wall_s']:.2f} s = {wall:.2f}x, CPU {got['cpu_s']:.2f} s = {cpu:.2f}x",
        f"httpx + keyring.set_password: wall {floor['wall_s']:.2f} s, CPU {floor['cpu_s']:.2f} s; with one kept "
        f"Secret Service connection: wall {kept['wall_s']:.2f} s, CPU {kept['cpu_s']:.2f} s",
        "<= 1.2x wall, <= 1.5x CPU; one request and at most one task per account",
        ok and wall <= 1.2 and cpu <= 1.5,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 accounts")
    parser.add_argument("--accounts", type=int, nargs="*", default=[300, 1000])
    parser.add_argument(
        "--rounds", type=int, default=1, help="storms per size on the same seeded grants (seeding 1,000 takes minutes)"
    )
    args = parser.parse_args()
    sizes = [20] if args.quick else args.accounts
    ok = True
    with Keychain() as chain, OidcProvider() as provider:
        os.environ.update(chain.env)
        for n in sizes:
            ok &= asyncio.run(storm(provider, n, args.rounds))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
