"""Parse benchmark: Bitfinex ``ou`` frames → parsed events → ``OrderStore``, against bare json.loads.

The budget (design.md §8): our frame → event → store path runs at least at the rate of stdlib
``json.loads`` on the same frames. Reported as ratios (ours / json.loads), never as a timed test.

    python bench/bench_parse.py [--frames 50000] [--orders 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore, StoreDiff
from blotter.venues.bitfinex.client import BitfinexClient
from blotter.venues.bitfinex.codec import FAST_ORDER_BUILD, FrameParser

ACCOUNT = AccountKey("bitfinex", "bench")
NONCE_DIR = tempfile.mkdtemp(prefix="blotter-bench-nonce-")

SYMBOLS = [
    ("tBTCUSD", 97_000.0), ("tETHUSD", 3_400.0), ("tSOLUSD", 180.0), ("tXRPUSD", 2.1),
    ("tDOGE:UST", 0.32), ("tLTCUSD", 95.0), ("tADAUSD", 0.9), ("tTESTBTC:TESTUSD", 97_000.0),
]
TYPES = ["EXCHANGE LIMIT", "LIMIT", "EXCHANGE STOP", "EXCHANGE LIMIT"]


def _price(value: float) -> float | int:
    """5 significant digits, as the venue prints prices."""
    p = float(f"{value:.5g}")
    return int(p) if p == int(p) else p


def _num(value: float) -> str:
    text = repr(value)
    return text.removesuffix(".0")


def make_frames(count: int, orders: int, seed: int = 7) -> list[str]:
    """``count`` realistic ``ou`` frames (32 fields, Bitfinex numbers) over ``orders`` orders."""
    rng = random.Random(seed)
    book: list[dict[str, Any]] = []
    base_id = 190_000_000_000
    for i in range(orders):
        symbol, mid = rng.choice(SYMBOLS)
        sell = rng.random() < 0.5
        amount = round(rng.uniform(0.001, 5.0), 8) * (-1 if sell else 1)
        price = _price(mid * rng.uniform(0.9, 1.1))
        book.append({
            "id": base_id + i * 7,
            "gid": rng.choice([None, None, rng.randint(1, 50)]),
            "cid": rng.randint(1, 2**40),
            "symbol": symbol,
            "created": 1_731_900_000_000 + i * 37,
            "amount": amount,
            "remaining": amount,
            "type": rng.choice(TYPES),
            "flags": rng.choice([0, 0, 0, 4096, 64, 1024]),
            "price": price,
        })
    frames = []
    mts = 1_731_950_000_000
    for _ in range(count):
        o = rng.choice(book)
        mts += rng.randint(1, 40)
        rem = o["remaining"]
        fill = round(rem * rng.uniform(0.01, 0.3), 8)
        if abs(rem - fill) < 1e-6:
            fill = 0.0
        rem = round(rem - fill, 8)
        o["remaining"] = rem
        fill_price = _price(o["price"] * rng.uniform(0.999, 1.0))
        status = f"PARTIALLY FILLED @ {fill_price}({_num(fill)})"
        arr = [
            o["id"], o["gid"], o["cid"], o["symbol"], o["created"], mts, rem, o["amount"],
            o["type"], None, None, None, o["flags"], status, None, None, o["price"],
            fill_price, 0, 0, None, None, None, 0, 0, None, None, None, "API>BFX", None,
            None, None,
        ]
        frames.append(json.dumps([0, "ou", arr], separators=(",", ":")))
    return frames


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


def make_client() -> tuple[BitfinexClient, OrderStore]:
    """A real client (never connected): the bench feeds its frame handler, as ``run()`` does."""
    store = OrderStore()
    client = BitfinexClient(
        ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/ws/2",
        api_key="bench-key", api_secret="bench-secret", store=store, notices=NoticeBus(),
        states=StateBus(), nonce_dir=NONCE_DIR,
    )
    return client, store


def time_ours(frames: Sequence[str | bytes]) -> float:
    """Our path: ``BitfinexClient.handle_frame`` of each frame (codec → ``OrderStore``), as the
    socket loop calls it, and one store flush per 1000 frames (the view flushes at <= 30 Hz)."""
    client, store = make_client()
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
    # Keep it honest: every frame parsed, every order in the store, the diffs complete.
    assert client.malformed_frames == 0, client.malformed_frames
    assert len(store) == len(added) == len({o.order_id for o in store}), "orders lost"
    assert len(added) + updated >= len(frames) // 1000
    return elapsed


def time_parse_only(frames: Sequence[str]) -> float:
    parse = FrameParser(ACCOUNT).parse
    start = time.perf_counter()
    for f in frames:
        parse(f)
    return time.perf_counter() - start


def _timed(fn: Callable[[Sequence[str]], float], frames: Sequence[str]) -> float:
    gc.collect()
    return fn(frames)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50_000)
    ap.add_argument("--orders", type=int, default=2_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    frames = make_frames(args.frames, args.orders)
    size = sum(len(f) for f in frames) / len(frames)
    print(f"{len(frames):,} ou frames over {args.orders:,} orders, mean {size:.0f} bytes; "
          f"fast Order build: {FAST_ORDER_BUILD}")
    as_bytes = [f.encode() for f in frames]  # what our client reads (recv(decode=False))
    n = len(frames)
    runs: dict[str, list[float]] = {
        "orjson.loads": [], "codec parse only": [], "client→store": [], "client→store, bytes": []
    }
    for r in range(args.repeats):
        t_json = _timed(time_json, frames)
        times = {
            "orjson.loads": _timed(time_orjson, frames),
            "codec parse only": _timed(time_parse_only, frames),
            "client→store": _timed(time_ours, frames),
            "client→store, bytes": _timed(time_ours, as_bytes),  # type: ignore[arg-type]
        }
        for name, t in times.items():
            runs[name].append(t_json / t)
        print(f"run {r + 1}: json.loads {n / t_json:>9,.0f}/s  "
              + "  ".join(f"{name} {n / t:>9,.0f}/s" for name, t in times.items()))
    print("median ratios to json.loads (higher is faster; budget: client→store >= 1.00x):")
    for name, ratios in runs.items():
        print(f"  {name:<20} {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
