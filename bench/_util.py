"""Tiny timing helper shared by the benchmarks: median of repeated runs against a stated target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


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
