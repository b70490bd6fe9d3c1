"""What the parse benchmarks share: the baselines (json.loads, orjson.loads of the same frames),
timing with a fresh collector, and the report of median ratios."""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence

import orjson

NONCE_DIR = tempfile.mkdtemp(prefix="blotter-bench-nonce-")


def time_json(frames: Sequence[str]) -> float:
    loads = json.loads
    start = time.perf_counter()
    for f in frames:
        loads(f)
    return time.perf_counter() - start


def time_orjson(frames: Sequence[str]) -> float:
    loads = orjson.loads
    start = time.perf_counter()
    for f in frames:
        loads(f)
    return time.perf_counter() - start



def timed(fn: Callable[[Sequence[str]], float], frames: Sequence[str]) -> float:
    gc.collect()
    return fn(frames)



def report(runs: dict[str, list[float]], budgeted: str) -> None:
    print(f"median ratios to json.loads (higher is faster; budget: {budgeted} >= 1.00x):")
    width = max(len(name) for name in runs)
    for name, ratios in runs.items():
        print(f"  {name:<{width}} {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")

