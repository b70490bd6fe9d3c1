"""What the parse benchmarks share: the baselines (json.loads, orjson.loads of the same frames),
timing with a fresh collector, and the report of median ratios."""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from blotter.core.store import OrderStore, StoreDiff

NONCE_DIR = tempfile.mkdtemp(prefix="blotter-bench-nonce-")


def time_each(call: Callable[[Any], object], frames: Sequence[Any]) -> float:
    """``call(frame)`` for each frame, timed."""
    start = time.perf_counter()
    for f in frames:
        call(f)
    return time.perf_counter() - start


def time_json(frames: Sequence[str]) -> float:
    return time_each(json.loads, frames)


def time_orjson(frames: Sequence[str]) -> float:
    return time_each(orjson.loads, frames)


class Client(Protocol):
    malformed_frames: int

    def handle_frame(self, data: bytes | str) -> None: ...


def time_client(
    client: Client, store: OrderStore, frames: Sequence[str | bytes], closes: bool = True
) -> float:
    """``client.handle_frame`` of each frame (stream → ``OrderStore``), as the socket loop
    calls it, and one store flush per 1000 frames (the view flushes at <= 30 Hz). Checks that
    every frame read, no order was lost (without ``closes``: every order added is still there)
    and the diffs came out."""
    added: set[str] = set()
    updated = 0

    def on_diff(diff: StoreDiff) -> None:  # what the view does with a diff, minus the painting
        nonlocal updated
        added.update(o.order_id for o in diff.added)
        updated += len(diff.updated)

    store.add_diff_listener(on_diff)
    handle = client.handle_frame
    flush = store.flush
    start = time.perf_counter()
    for i, f in enumerate(frames, 1):
        handle(f)
        if i % 1000 == 0:
            flush()
    flush()
    elapsed = time.perf_counter() - start
    assert client.malformed_frames == 0, client.malformed_frames
    assert len(store) == len({o.order_id for o in store}) and len(added) >= len(store)
    assert closes or len(added) == len(store), "orders lost"
    assert len(added) + updated >= len(frames) // 1000
    return elapsed



def timed(fn: Callable[[Sequence[str]], float], frames: Sequence[str]) -> float:
    gc.collect()
    return fn(frames)



def report(runs: dict[str, list[float]], budgeted: str) -> None:
    print(f"median ratios to json.loads (higher is faster; budget: {budgeted} >= 1.00x):")
    width = max(len(name) for name in runs)
    for name, ratios in runs.items():
        print(f"  {name:<{width}} {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


def compare(
    repeats: int, baseline: Sequence[Any], timings: dict[str, tuple[Callable[[Any], float], Any]],
    budgeted: str, width: int = 9,
) -> None:
    """Run each timing ``repeats`` times beside ``json.loads`` of ``baseline`` (the same frames
    as it reads them), print each run's rates, then the median ratios (``report``)."""
    n = len(baseline)
    runs: dict[str, list[float]] = {name: [] for name in timings}
    for r in range(repeats):
        t_json = timed(time_json, baseline)
        times = {name: timed(fn, frames) for name, (fn, frames) in timings.items()}
        for name, t in times.items():
            runs[name].append(t_json / t)
        print(f"run {r + 1}: json.loads {n / t_json:>{width},.0f}/s  "
              + "  ".join(f"{name} {n / t:>{width},.0f}/s" for name, t in times.items()))
    report(runs, budgeted)
