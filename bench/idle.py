"""The idle app: the engine's background loop with N accounts, none due, on qasync (as the desktop app runs it).

Samples RSS and CPU while the loop wakes over and over; the floor is the same qasync loop with nothing to do.
Wakes come every `--wake` seconds instead of every 30 s, so many wakes fit in a short run: RSS growth is shown per
100 wakes (50 minutes of the real app) and CPU per minute at the real 30 s cadence (2 wakes a minute).
Targets (issue 9): <= 0.1 CPU-s per minute; RSS flat (<= 2 MiB over 30 minutes, i.e. 60 wakes).

Run: .venv/bin/python bench/idle.py [--quick] [--seconds 300] [--wake 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._util import verdict

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def child(mode: str, accounts: int, seconds: float, wake_s: float) -> None:
    """Runs in a subprocess: one JSON line with the RSS samples and the CPU the loop used."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import asyncio

    import qasync
    from PySide6.QtCore import QCoreApplication

    from desktop_app.core.accounts import AccountRecord, AccountStore, Attempt, Identity
    from desktop_app.core.clock import SystemClock
    from desktop_app.core.events import EventBus
    from desktop_app.core.oauth import new_http_client
    from desktop_app.core.providers import preset
    from desktop_app.core.refresh import RefreshEngine, RefreshPolicy
    from desktop_app.core.vault import Vault

    app = QCoreApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tmp = Path(tempfile.mkdtemp(prefix="td-idle-"))
    now = time.time()
    spec = preset("google")
    store = AccountStore(tmp / "accounts.json")
    store._write(
        {
            (
                r := AccountRecord(
                    id=AccountRecord.new_id(),
                    name=f"Idle {i}",
                    provider=spec,
                    client_id="cid",
                    scopes=("openid",),
                    identity=Identity(subject=str(i)),
                    created_at=now + i,
                    issued_at=now,
                    expires_at=now + 86400,  # none due during the run
                    history=(Attempt(now, "ok"),),
                )
            ).id: r
            for i in range(accounts)
        }
    )
    engine = RefreshEngine(
        store=store,
        vault=Vault(),
        http=new_http_client(),
        clock=SystemClock(),
        bus=EventBus(),
        lock_dir=tmp / "locks",
        policy=RefreshPolicy(wake_interval_s=wake_s),
    )
    if os.environ.get("TOKENDESK_BENCH_REPARSE"):
        # Worst case: another process wrote accounts.json before every wake, so every read parses it again.
        reads = store.all

        def reparse() -> list[AccountRecord]:
            store._signature = None
            return reads()

        store.all = reparse  # type: ignore[method-assign]
    if os.environ.get("TOKENDESK_BENCH_TO_THREAD"):
        # Before issue 9: store calls went through asyncio.to_thread (qasync's ten executor threads).
        async def to_thread(fn: Any, *args: Any) -> Any:
            return await asyncio.to_thread(fn, *args)

        store.call = to_thread  # type: ignore[method-assign]
    samples: list[tuple[float, float]] = []

    async def run() -> dict[str, object]:
        task = asyncio.ensure_future(engine.run()) if mode == "engine" else None
        await asyncio.sleep(0.5)  # the first read and imports; arenas fill later, one per thread used
        cpu0, t0 = time.process_time(), time.monotonic()
        while time.monotonic() - t0 < seconds:
            samples.append((time.monotonic() - t0, rss_mib()))
            await asyncio.sleep(min(1.0, seconds / 20))
        cpu = time.process_time() - cpu0
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return {"samples": samples, "cpu_s": cpu, "seconds": time.monotonic() - t0}

    try:
        with loop:
            result = loop.run_until_complete(run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


def start(mode: str, accounts: int, seconds: float, wake_s: float, extra_env: dict[str, str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    args = [sys.executable, __file__, "--child", mode, str(accounts), str(seconds), str(wake_s)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], seconds: float, wake_s: float) -> dict[str, float]:
    out, err = proc.communicate(timeout=seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(err[-2000:])
    data = json.loads(out.strip().splitlines()[-1])
    samples = data["samples"]
    first = sorted(r for _, r in samples[: max(1, len(samples) // 10)])
    last = sorted(r for _, r in samples[-max(1, len(samples) // 10) :])
    growth = last[len(last) // 2] - first[len(first) // 2]
    wakes = data["seconds"] / wake_s
    return {
        "growth_mib": growth,
        "per_100_wakes": 100 * growth / wakes,
        "cpu_per_wake_s": data["cpu_s"] / wakes,
        "rss_end": last[-1],
        "wakes": wakes,
    }


def measure(mode: str, accounts: int, seconds: float, wake_s: float, extra_env: dict[str, str]) -> dict[str, float]:
    return finish(start(mode, accounts, seconds, wake_s, extra_env), seconds, wake_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 s, 50 accounts")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--wake", type=float, default=0.5, help="seconds between wakes (the app: 30)")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--before", action="store_true", help="also run the store as it was (parse on every read)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, accounts, seconds, wake_s = args.child
        child(mode, int(accounts), float(seconds), float(wake_s))
        return 0
    seconds, accounts = (10.0, 50) if args.quick else (args.seconds, args.accounts)
    if args.before:
        for label, env in (
            ("re-parse on every wake, asyncio.to_thread (before)", {"TOKENDESK_BENCH_TO_THREAD": "1"}),
            (
                "re-parse on every wake, asyncio.to_thread, MALLOC_ARENA_MAX=1",
                {"TOKENDESK_BENCH_TO_THREAD": "1", "MALLOC_ARENA_MAX": "1"},
            ),
            ("re-parse on every wake, the store's own thread (now)", {}),
        ):
            old = measure("engine", accounts, seconds, args.wake, {"TOKENDESK_BENCH_REPARSE": "1", **env})
            print(f"  {label}: RSS {old['growth_mib']:+.2f} MiB over {old['wakes']:.0f} wakes", flush=True)
    # Side by side: both idle most of the time, and the floor then sees the same machine as the app.
    floor_proc = start("floor", accounts, seconds, args.wake, {})
    got = finish(start("engine", accounts, seconds, args.wake, {}), seconds, args.wake)
    floor = finish(floor_proc, seconds, args.wake)
    cpu_per_min = 2 * got["cpu_per_wake_s"]  # two wakes a minute at the real cadence
    floor_cpu_per_min = 2 * floor["cpu_per_wake_s"]
    per_30_min = 60 * got["per_100_wakes"] / 100
    return (
        0
        if verdict(
            f"idle app, {accounts} accounts, {got['wakes']:.0f} wakes in {seconds:g} s",
            f"RSS {got['growth_mib']:+.2f} MiB = {got['per_100_wakes']:+.2f} MiB per 100 wakes "
            f"({per_30_min:+.2f} MiB per 30 minutes), ends at {got['rss_end']:.1f} MiB; "
            f"CPU {cpu_per_min:.3f} s per minute",
            f"empty qasync loop: RSS {floor['growth_mib']:+.2f} MiB, CPU {floor_cpu_per_min:.3f} s per minute",
            "<= 0.1 CPU-s per minute; RSS <= 2 MiB per 30 minutes",
            cpu_per_min <= 0.1 and per_30_min <= 2,
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
