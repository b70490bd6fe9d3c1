"""bench_parse, Bitfinex: ``ou`` frames → ``BitfinexClient.handle_frame`` → ``OrderStore``."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parse_common import NONCE_DIR, compare, time_client, time_each, time_orjson

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import (
    FAST_ORDER_BUILD,
    AccountKey,
    Order,
    OrderStatus,
    build_order,
)
from blotter.core.store import OrderStore
from blotter.venues.bitfinex import stream as bitfinex_stream
from blotter.venues.bitfinex.client import BitfinexClient

ACCOUNT = AccountKey("bitfinex", "bench")


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
    """Our path: ``BitfinexClient.handle_frame`` of each frame (stream → ``OrderStore``)."""
    client, store = make_client()
    return time_client(client, store, frames, closes=False)


def time_floor(frames: Sequence[str]) -> float:
    """What no checking path can beat: decode each frame with orjson, take the order's fixed
    fields (made beforehand, as a known order has them), build the new ``Order`` and keep it
    by its key. None of the checks, no store; a yardstick, not a path the client could take."""
    parser = bitfinex_stream.StreamParser(ACCOUNT).orders
    fixed: dict[int, Any] = {}
    for f in frames:
        a = orjson.loads(f)[2]
        fixed.setdefault(a[0], parser.parse_order(a).fixed)
    loads = orjson.loads
    build = build_order
    status = OrderStatus.PARTIALLY_FILLED
    kept: dict[Any, Order] = {}
    start = time.perf_counter()
    for f in frames:
        a = loads(f)[2]
        fields = fixed[a[0]]
        kept[fields[0]] = build(fields, a[7], a[6], status, a[13], a[16], a[17], a[5], None)
    elapsed = time.perf_counter() - start
    assert len(kept) == len(fixed)
    return elapsed


def time_parse_only(frames: Sequence[str]) -> float:
    return time_each(bitfinex_stream.StreamParser(ACCOUNT).parse, frames)




def bench_bitfinex(args: argparse.Namespace) -> None:
    frames = make_frames(args.frames, args.orders)
    size = sum(len(f) for f in frames) / len(frames)
    print(f"Bitfinex: {len(frames):,} ou frames over {args.orders:,} orders, mean {size:.0f} "
          f"bytes; fast Order build: {FAST_ORDER_BUILD}")
    as_bytes = [f.encode() for f in frames]  # what our client reads (recv(decode=False))
    compare(args.repeats, frames, {
        "orjson.loads": (time_orjson, frames),
        "floor: orjson + Order build + keep, no checks": (time_floor, frames),
        "stream parse only": (time_parse_only, frames),
        "client→store": (time_ours, frames),
        "client→store, bytes": (time_ours, as_bytes),
    }, "client→store")

