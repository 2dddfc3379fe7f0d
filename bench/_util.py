"""Shared by the benchmarks: medians of repeated runs, figures printed with their floor and target."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def measure(name: str, fn: Callable[[], object], *, target_ms: float, repeat: int = 15, warmup: int = 2) -> bool:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    median = statistics.median(samples)
    ok = median <= target_ms
    p90 = sorted(samples)[int(len(samples) * 0.9) - 1]
    print(f"{'PASS' if ok else 'FAIL'} {name}: median {median:.1f} ms (p90 {p90:.1f} ms), target {target_ms:g} ms")
    return ok


def median_ms(fn: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def interleaved_ms(runs: dict[str, Callable[[], object]], repeat: int, warmup: int = 2) -> dict[str, float]:
    """Medians of several commands measured in turn (a b c a b c ...), so load from others hits all alike."""
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(s) for name, s in samples.items()}


def command(argv: Sequence[str], env: dict[str, str], expect: int | None = 0) -> Callable[[], object]:
    def run() -> None:
        done = subprocess.run(list(argv), env=env, capture_output=True, text=True)
        if expect is not None and done.returncode != expect:
            raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-400:]}")

    return run


def verdict(name: str, figure: str, floor: str, target: str, ok: bool) -> bool:
    print(f"{'PASS' if ok else 'MISS'} {name}: {figure} [floor {floor}], target {target}", flush=True)
    return ok
