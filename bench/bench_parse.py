"""Parse benchmark: venue frames → parsed orders, against bare json.loads on the same frames.

Bitfinex: ``ou`` frames → parsed events → ``OrderStore``. B2TRADER: ``OpenOrders`` StreamItem
frames (each one the complete open set of a trading account) → ``StreamParser`` (the SignalR
``Decoder``, then the account's ``OpenOrdersParser``) → orders.
Bybit: private-stream ``order`` pushes (1–3 full order states each) → ``BybitClient.handle_frame``
→ ``OrderStore``.

The budget (design.md §8): our frame → event → store path runs at least at the rate of stdlib
``json.loads`` on the same frames. Reported as ratios (ours / json.loads), never as a timed test.

    python bench/bench_parse.py [--venue all|bitfinex|b2trader|bybit] [--frames 50000]
        [--orders 2000] [--b2-frames 300] [--b2-orders 500] [--bybit-frames 20000]
        [--bybit-orders 500] [--repeats 7]
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import (
    FAST_ORDER_BUILD,
    AccountKey,
    Order,
    OrderStatus,
    Snapshot,
    build_order,
)
from blotter.core.store import OrderStore, StoreDiff
from blotter.venues.b2trader import stream as b2_stream
from blotter.venues.b2trader.signalr import Decoder, StreamItem
from blotter.venues.b2trader.stream import (
    ListWaiting,
    OpenOrdersParser,
    OrderList,
    parse_open_orders,
)
from blotter.venues.bitfinex import stream as bitfinex_stream
from blotter.venues.bitfinex.client import BitfinexClient
from blotter.venues.bybit import stream as bybit_stream
from blotter.venues.bybit.client import BybitClient

ACCOUNT = AccountKey("bitfinex", "bench")
B2_LOGIN = AccountKey("b2trader", "bench")
B2_ACCOUNT = AccountKey("b2trader", "bench/Main")
BYBIT_ACCOUNT = AccountKey("bybit", "bench")
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
    """Our path: ``BitfinexClient.handle_frame`` of each frame (stream → ``OrderStore``), as the
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
    parse = bitfinex_stream.StreamParser(ACCOUNT).parse
    start = time.perf_counter()
    for f in frames:
        parse(f)
    return time.perf_counter() - start


def _timed(fn: Callable[[Sequence[str]], float], frames: Sequence[str]) -> float:
    gc.collect()
    return fn(frames)


def bench_bitfinex(args: argparse.Namespace) -> None:
    frames = make_frames(args.frames, args.orders)
    size = sum(len(f) for f in frames) / len(frames)
    print(f"Bitfinex: {len(frames):,} ou frames over {args.orders:,} orders, mean {size:.0f} "
          f"bytes; fast Order build: {FAST_ORDER_BUILD}")
    as_bytes = [f.encode() for f in frames]  # what our client reads (recv(decode=False))
    n = len(frames)
    floor = "floor: orjson + Order build + keep, no checks"
    runs: dict[str, list[float]] = {
        "orjson.loads": [], floor: [], "stream parse only": [], "client→store": [],
        "client→store, bytes": [],
    }
    for r in range(args.repeats):
        t_json = _timed(time_json, frames)
        times = {
            "orjson.loads": _timed(time_orjson, frames),
            floor: _timed(time_floor, frames),
            "stream parse only": _timed(time_parse_only, frames),
            "client→store": _timed(time_ours, frames),
            "client→store, bytes": _timed(time_ours, as_bytes),  # type: ignore[arg-type]
        }
        for name, t in times.items():
            runs[name].append(t_json / t)
        print(f"run {r + 1}: json.loads {n / t_json:>9,.0f}/s  "
              + "  ".join(f"{name} {n / t:>9,.0f}/s" for name, t in times.items()))
    _report(runs, "client→store")


# -- B2TRADER ----------------------------------------------------------------------------------
B2_MARKETS = [
    # marketId, marketType, display name, typical price, price decimals, amount decimals
    ("spot.btc_usdt", "Spot", "BTC/USDT", 96_250.0, 2, 6),
    ("spot.eth_usdt", "Spot", "ETH/USDT", 3_380.0, 2, 4),
    ("spot.sol_usdt", "Spot", "SOL/USDT", 182.0, 2, 2),
    ("spot.eth_btc", "Spot", "ETH/BTC", 0.0351, 6, 4),
    ("cfd.eur_chf", "Cfd", "EUR/CHF", 0.9412, 5, 0),
    ("cfd.eur_usd", "Cfd", "EUR/USD", 1.0835, 5, 0),
    ("cfd.xau_usd", "Cfd", "XAU/USD", 2_650.5, 2, 2),
    ("perp.btc_usdt", "Perp", "BTC/USDT Perp", 96_300.0, 1, 4),
]
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(ms: int, rng: random.Random) -> str:
    head = "".join(_CROCKFORD[(ms >> (5 * i)) & 31] for i in range(9, -1, -1))
    return head + "".join(rng.choice(_CROCKFORD) for _ in range(16))


def _iso(ticks: int, seven: bool) -> str:
    """100 ns ticks since the epoch → ``2025-05-20T17:22:31.9001213Z`` (or ``.900Z``), P-7."""
    seconds, frac = divmod(ticks, 10_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{frac:07d}Z" if seven else f"{text}.{frac // 10_000:03d}Z"


def _b2_order(rng: random.Random, ticks: int) -> dict[str, Any]:
    market_id, market_type, display, mid, pdp, adp = rng.choice(B2_MARKETS)
    amount = round(rng.uniform(1, 50) * 10 ** (2 - adp) if adp else rng.randint(1, 100) * 1000,
                   adp)
    amount_text = f"{amount:.{adp}f}" if adp else str(int(amount))
    price = f"{mid * rng.uniform(0.95, 1.05):.{pdp}f}"
    created = _iso(ticks, rng.random() < 0.5)
    return {
        "marketId": market_id, "marketType": market_type, "marketDisplayName": display,
        "marketFullName": "", "orderId": _ulid(ticks // 10_000, rng),
        "timeInForce": rng.choice(["Gtc", "Gtc", "Gtc", "Gtd", "Day"]),
        "status": rng.choice(["Pending", "Pending", "Started"]), "source": "Manual",
        "reason": "Trader", "side": rng.choice(["Buy", "Sell"]), "orderType": "Limit",
        "requestedAmount": amount_text, "remainingAmount": amount_text, "requestedPrice": price,
        "executionPrice": "0", "createdAt": created, "updatedAt": created,
        "cancellationDate": None, "commissionAssetId": market_id.rsplit("_", 1)[1],
        "commissionAmount": "0", "leverage": 1 if market_type == "Spot" else 10,
        "fillFactor": "0", "takeProfit": None, "stopLoss": None,
    }


def _b2_fill(order: dict[str, Any], rng: random.Random, ticks: int) -> bool:
    """A partial fill of ``order`` in place; False when it filled completely (it leaves)."""
    amount = Decimal(order["requestedAmount"])
    remaining = Decimal(order["remainingAmount"])
    step = Decimal(1).scaleb(-len(order["requestedAmount"].partition(".")[2]))
    fill = max(step, (remaining * Decimal(rng.uniform(0.05, 0.6))).quantize(step))
    if fill >= remaining:
        return False
    left = remaining - fill
    filled = amount - left
    price = Decimal(order["requestedPrice"])
    done_before = amount - remaining
    vwap = (Decimal(order["executionPrice"]) * done_before + price * fill) / filled
    order["remainingAmount"] = str(left)
    order["executionPrice"] = str(vwap.quantize(price))
    order["status"] = "Working"
    order["fillFactor"] = str((filled / amount).quantize(Decimal("0.0001")))
    order["updatedAt"] = _iso(ticks, True)
    return True


def make_b2_frames(count: int, orders: int, seed: int = 11) -> list[str]:
    """``count`` OpenOrders StreamItem frames (text, ``0x1E``-terminated) for one trading account
    holding about ``orders`` open orders; each frame changes 1–3 of them: a new order, a partial
    fill, or one that left (cancelled or filled), as the venue re-sends the whole set (§3.7)."""
    rng = random.Random(seed)
    ticks = 17_477_617_518_990_000  # 2025-05-20T17:22:31.899Z
    book: list[dict[str, Any]] = []
    for _ in range(orders):
        ticks += rng.randint(10_000, 50_000_000)
        book.append(_b2_order(rng, ticks))
    frames = []
    for _ in range(count):
        for _ in range(rng.randint(1, 3)):
            ticks += rng.randint(10_000, 20_000_000)
            roll = rng.random() + (len(book) - orders) / 100  # drift back towards ``orders``
            if roll < 0.3:
                book.append(_b2_order(rng, ticks))
            elif roll < 0.75 and book:
                i = rng.randrange(len(book))
                if not _b2_fill(book[i], rng, ticks):
                    del book[i]
            elif book:
                del book[rng.randrange(len(book))]
        msg = {"type": 2, "invocationId": "0", "item": book}
        frames.append(json.dumps(msg, separators=(",", ":")) + "\x1e")
    return frames


def _b2_decoder() -> Decoder:
    decoder = Decoder()
    decoder.feed("{}\x1e")
    decoder.next_message()
    return decoder


def time_b2_stateless(frames: Sequence[str]) -> float:
    """Frame text → ``Decoder`` → ``parse_open_orders`` (a fresh parse of every order)."""
    decoder = _b2_decoder()
    feed = decoder.feed
    next_message = decoder.next_message
    parse = parse_open_orders
    account = B2_ACCOUNT
    count = 0
    start = time.perf_counter()
    for f in frames:
        feed(f)
        while (msg := next_message()) is not None:
            if type(msg) is StreamItem:
                count += len(parse(msg, account))
    elapsed = time.perf_counter() - start
    assert count >= len(frames), count
    return elapsed


def time_b2_parser(frames: Sequence[str | bytes]) -> float:
    """Frame → ``Decoder`` → ``OpenOrdersParser`` (unchanged orders reused): one trading
    account's lists, without the ``StreamParser`` around them."""
    decoder = _b2_decoder()
    feed = decoder.feed
    next_message = decoder.next_message
    parse = OpenOrdersParser(B2_ACCOUNT).parse
    count = 0
    start = time.perf_counter()
    for f in frames:
        feed(f)
        while (msg := next_message()) is not None:
            if type(msg) is StreamItem:
                count += len(parse(msg))
    elapsed = time.perf_counter() - start
    assert count >= len(frames), count
    return elapsed


def _b2_stream() -> b2_stream.StreamParser:
    """The client's parser of one hub connection, past the handshake, one trading account
    subscribed (invocation "0", as the frames are)."""
    parser = b2_stream.StreamParser(B2_LOGIN)
    parser.use_accounts({"main": B2_ACCOUNT})
    parser.start()
    parser.subscribe("main")
    parser.feed("{}\x1e")
    parser.next_event()
    return parser


def time_b2_stream(frames: Sequence[str | bytes]) -> float:
    """Frame → ``StreamParser`` (Decoder, then the account's ``OpenOrdersParser``) → orders, as
    the client reads the hub: each complete list is taken as it arrives."""
    parser = _b2_stream()
    feed = parser.feed
    next_event = parser.next_event
    take = parser.take_list
    count = 0
    start = time.perf_counter()
    for f in frames:
        feed(f)
        while (event := next_event()) is not None:
            if type(event) is ListWaiting:
                taken = take(event.trading_id)
                if taken is not None:
                    count += len(taken.orders)
            elif type(event) is OrderList:  # a subscription's first list is read at once
                count += len(event.orders)
    elapsed = time.perf_counter() - start
    assert count >= len(frames), count
    return elapsed


def time_b2_store(frames: Sequence[str | bytes]) -> float:
    """Frame → ``StreamParser`` → ``OrderStore``, as the client applies each list: the complete
    list replaces the account's rows (``Snapshot``, a stream list after the first), one store
    flush per frame (the view flushes at <= 30 Hz, about every 27 frames of this size)."""
    parser = _b2_stream()
    feed = parser.feed
    next_event = parser.next_event
    take = parser.take_list
    store = OrderStore()
    apply = store.apply
    flush = store.flush
    changes = 0
    start = time.perf_counter()
    for f in frames:
        feed(f)
        while (event := next_event()) is not None:
            if type(event) is ListWaiting:
                taken = take(event.trading_id)
                if taken is not None:
                    apply(Snapshot(taken.account, taken.orders, stream=not taken.first))
            elif type(event) is OrderList:
                apply(Snapshot(event.account, event.orders, stream=not event.first))
        changes += bool(flush())
    elapsed = time.perf_counter() - start
    # Keep it honest: the store holds the last list, and most frames changed a row.
    assert len(store) == len(parser_last_list(frames[-1])), len(store)
    assert changes >= len(frames) // 2, changes
    return elapsed


def parser_last_list(frame: str | bytes) -> tuple[Order, ...]:
    """The open orders of one frame, read on their own (to check the store against)."""
    text = frame.decode() if isinstance(frame, bytes) else frame
    msg = json.loads(text[:-1])
    return parse_open_orders(msg["item"], B2_ACCOUNT)


def check_b2_parser(frames: Sequence[str]) -> None:
    """The fast paths give what the stateless parser gives, frame by frame (not timed)."""
    decoder = _b2_decoder()
    parser = OpenOrdersParser(B2_ACCOUNT)
    stream = _b2_stream()
    for f in frames:
        decoder.feed(f)
        stream.feed(f)
        for msg in decoder:
            assert isinstance(msg, StreamItem)
            expected = parse_open_orders(msg, B2_ACCOUNT)
            assert parser.parse(msg) == expected
            event = stream.next_event()
            taken = stream.take_list(event.trading_id) if isinstance(event, ListWaiting) else event
            assert isinstance(taken, OrderList) and taken.orders == expected


def bench_b2trader(args: argparse.Namespace) -> None:
    frames = make_b2_frames(args.b2_frames, args.b2_orders)
    records = [f[:-1] for f in frames]  # json.loads refuses the 0x1E; it gets plain records
    size = sum(len(f) for f in frames) / len(frames)
    print(f"B2TRADER: {len(frames):,} OpenOrders frames of about {args.b2_orders:,} orders, "
          f"1-3 changed per frame, mean {size / 1000:.0f} kB")
    check_b2_parser(frames[:20])
    as_bytes = [f.encode() for f in frames]  # recv(decode=False): text frames as UTF-8 bytes
    n = len(frames)
    stream = "frame→StreamParser"
    ours = "frame→StreamParser→store"
    parser = "frame→Decoder→OpenOrdersParser"
    runs: dict[str, list[float]] = {
        "orjson.loads": [], "frame→Decoder→parse_open_orders": [], parser: [], stream: [],
        ours: [], f"{ours}, bytes": [],
    }
    for r in range(args.repeats):
        t_json = _timed(time_json, records)
        times = {
            "orjson.loads": _timed(time_orjson, records),
            "frame→Decoder→parse_open_orders": _timed(time_b2_stateless, frames),
            parser: _timed(time_b2_parser, frames),
            stream: _timed(time_b2_stream, frames),
            ours: _timed(time_b2_store, frames),
            f"{ours}, bytes": _timed(time_b2_store, as_bytes),  # type: ignore[arg-type]
        }
        for name, t in times.items():
            runs[name].append(t_json / t)
        print(f"run {r + 1}: json.loads {n / t_json:>5,.0f}/s  "
              + "  ".join(f"{name} {n / t:>5,.0f}/s" for name, t in times.items()))
    _report(runs, ours)


# -- Bybit -------------------------------------------------------------------------------------
BYBIT_MARKETS = [
    # category, symbol, typical price, price decimals, qty decimals, qty range
    ("spot", "BTCUSDT", 97_000.0, 2, 6, (0.0005, 0.5)),
    ("spot", "ETHUSDT", 3_400.0, 2, 5, (0.01, 5.0)),
    ("spot", "SOLUSDT", 180.0, 2, 3, (0.1, 50.0)),
    ("spot", "XRPUSDT", 2.1, 4, 2, (10.0, 5_000.0)),
    ("linear", "BTCUSDT", 97_000.0, 1, 3, (0.001, 1.0)),
    ("linear", "ETHUSDT", 3_400.0, 2, 2, (0.01, 10.0)),
    ("linear", "SOLUSDT", 180.0, 3, 1, (0.1, 100.0)),
    ("linear", "DOGEUSDT", 0.32, 5, 0, (100.0, 50_000.0)),
    ("linear", "BTCPERP", 97_000.0, 1, 3, (0.001, 1.0)),
    ("inverse", "BTCUSD", 97_000.0, 1, 0, (10.0, 20_000.0)),
    ("inverse", "ETHUSD", 3_400.0, 2, 0, (10.0, 5_000.0)),
    ("option", "BTC-27JUN25-100000-C", 4_150.0, 1, 2, (0.01, 2.0)),
    ("option", "ETH-27JUN25-3500-P", 265.0, 1, 1, (0.1, 20.0)),
]


def _bybit_num(value: Decimal) -> str:
    """A decimal as the order push prints it: ``"0.1"``, ``"99"`` (no trailing zeros)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _bybit_order(rng: random.Random, ms: int, seq: int) -> dict[str, Any]:
    category, symbol, mid, pdp, qdp, (lo, hi) = rng.choice(BYBIT_MARKETS)
    qstep = Decimal(1).scaleb(-qdp)
    qty = max(qstep, Decimal(f"{rng.uniform(lo, hi):.{qdp}f}"))
    price = Decimal(f"{mid * rng.uniform(0.9, 1.1):.{pdp}f}")
    side = rng.choice(["Buy", "Sell"])
    conditional = category in ("linear", "inverse") and rng.random() < 0.15
    if category == "spot":
        order_id = str(1_866_800_494_330_512_128 + seq * 977)
    else:
        h = rng.getrandbits(128)
        order_id = f"{h >> 96:08x}-{(h >> 80) & 0xFFFF:04x}-{(h >> 64) & 0xFFFF:04x}-" \
                   f"{(h >> 48) & 0xFFFF:04x}-{h & 0xFFFFFFFFFFFF:012x}"
    link = f"blt-{seq:08d}" if category == "option" or rng.random() < 0.4 else ""
    derivative = category != "spot"
    return {
        "category": category, "symbol": symbol, "orderId": order_id, "orderLinkId": link,
        "blockTradeId": "", "side": side, "positionIdx": 0,
        "orderStatus": "Untriggered" if conditional else "New",
        "cancelType": "UNKNOWN", "rejectReason": "EC_NoError",
        "timeInForce": rng.choice(["GTC", "GTC", "GTC", "PostOnly"]),
        "isLeverage": "" if derivative else "0",
        "price": _bybit_num(price), "qty": _bybit_num(qty), "avgPrice": "" if derivative else "0",
        "leavesQty": _bybit_num(qty), "leavesValue": _bybit_num(qty * price),
        "cumExecQty": "0", "cumExecValue": "0", "cumExecFee": "0",
        "orderType": "Limit", "stopOrderType": "Stop" if conditional else "",
        "orderIv": "0.5123" if category == "option" else "",
        "triggerPrice": _bybit_num(price * Decimal("1.01")) if conditional else "",
        "takeProfit": "", "stopLoss": "", "triggerBy": "LastPrice" if conditional else "",
        "tpTriggerBy": "", "slTriggerBy": "",
        "triggerDirection": (1 if side == "Buy" else 2) if conditional else 0,
        "placeType": "iv" if category == "option" else "",
        "lastPriceOnCreated": _bybit_num(Decimal(f"{mid:.{pdp}f}")),
        "closeOnTrigger": False, "reduceOnly": derivative and rng.random() < 0.1,
        "smpGroup": 0, "smpType": "None", "smpOrderId": "", "slLimitPrice": "0",
        "tpLimitPrice": "0", "tpslMode": "UNKNOWN", "createType": "CreateByUser",
        "marketUnit": "", "createdTime": str(ms), "updatedTime": str(ms),
        "feeCurrency": "" if derivative else symbol[:-4],
    }


def _bybit_step(order: dict[str, Any], rng: random.Random, ms: int) -> bool:
    """One state change of ``order`` in place: a trigger, a partial fill, a fill or a cancel;
    False when it left the book."""
    order["updatedTime"] = str(ms)
    status = order["orderStatus"]
    if status == "Untriggered":
        if rng.random() < 0.6:
            order["orderStatus"] = "New"  # triggered
            order["createType"] = "CreateByStopOrder"
            return True
        order.update(orderStatus="Deactivated", cancelType="CancelByUser",
                     rejectReason="EC_PerCancelRequest", leavesQty="0", leavesValue="0")
        return False
    if rng.random() < 0.35:
        order.update(orderStatus="Cancelled", cancelType="CancelByUser",
                     rejectReason="EC_PerCancelRequest", leavesQty="0", leavesValue="0")
        return False
    leaves = Decimal(order["leavesQty"])
    done = Decimal(order["cumExecQty"])
    price = Decimal(order["price"])
    step = Decimal(1).scaleb(-_decimals(order["qty"]))  # the printed qty's last digit
    fill = max(step, (leaves * Decimal(rng.uniform(0.1, 0.7))).quantize(step))
    if rng.random() < 0.25 or fill >= leaves:
        fill = leaves
    tick = Decimal(1).scaleb(-_decimals(order["price"]))
    fill_price = (price * Decimal(rng.uniform(0.9995, 1.0))).quantize(tick)
    value = Decimal(order["cumExecValue"]) + fill * fill_price
    done += fill
    leaves -= fill
    order.update(
        orderStatus="Filled" if leaves == 0 else "PartiallyFilled",
        leavesQty=_bybit_num(leaves), leavesValue=_bybit_num(leaves * price),
        cumExecQty=_bybit_num(done), cumExecValue=_bybit_num(value),
        cumExecFee=_bybit_num((value * Decimal("0.0002")).quantize(Decimal("0.00000001"))),
        avgPrice=_bybit_num((value / done).quantize(fill_price)),
    )
    return leaves != 0


def make_bybit_frames(
    count: int, orders: int, seed: int = 13
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """``count`` ``order`` topic pushes (§7.4) for an account holding about ``orders`` open
    orders over all four categories: each carries 1–3 full order states (new, triggered, partly
    filled, filled, cancelled). The book opens in the first frames. Also returns the open book
    at the end (orderId → last pushed state), to check the store against."""
    rng = random.Random(seed)
    ms = 1_727_433_748_480
    book: dict[str, dict[str, Any]] = {}
    seq = 0
    frames = []
    for _ in range(count):
        data = []
        for _ in range(rng.randint(1, 3)):
            ms += rng.randint(1, 40)
            roll = rng.random() + (len(book) - orders) / 50  # drift back towards ``orders``
            if roll < 0.3 or len(book) < 3:
                seq += 1
                item = _bybit_order(rng, ms, seq)
                book[item["orderId"]] = item
            else:
                order_id = rng.choice(list(book))
                if any(d["orderId"] == order_id for d in data):
                    continue
                item = book[order_id]
                if not _bybit_step(item, rng, ms):
                    del book[order_id]
            data.append(dict(item))
        ms += 1
        msg = {
            "topic": "order", "id": f"62552242_{data[0]['symbol']}_{149260954383 + len(frames)}",
            "creationTime": ms, "data": data,
        }
        frames.append(json.dumps(msg, separators=(",", ":")))
    return frames, book


def make_bybit_client() -> tuple[BybitClient, OrderStore]:
    """A real client (never connected): the bench feeds its frame handler, as ``_reader`` does."""
    store = OrderStore()
    client = BybitClient(
        BYBIT_ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/v5/private",
        api_key="bench-key", api_secret="bench-secret", store=store, notices=NoticeBus(),
        states=StateBus(),
    )
    return client, store


def time_bybit(frames: Sequence[str | bytes]) -> float:
    """``BybitClient.handle_frame`` of each frame (``StreamParser`` → ``OrderStore``), one store
    flush per 1000 frames, as in the Bitfinex section."""
    client, store = make_bybit_client()
    added: set[str] = set()
    updated = 0

    def on_diff(diff: StoreDiff) -> None:
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
    assert len(added) + updated >= len(frames) // 1000
    return elapsed


def time_bybit_parse_only(frames: Sequence[str]) -> float:
    """The client's parser alone (``StreamParser.parse``: frame → ``OrderPush`` of events)."""
    parse = bybit_stream.StreamParser(BYBIT_ACCOUNT).parse
    start = time.perf_counter()
    for f in frames:
        parse(f)
    return time.perf_counter() - start


def time_bybit_stateless(frames: Sequence[str]) -> float:
    """``parse_ws``: the stateless parser, every field checked and converted afresh."""
    parse = bybit_stream.parse_ws
    account = BYBIT_ACCOUNT
    start = time.perf_counter()
    for f in frames:
        parse(f, account)
    return time.perf_counter() - start


def check_bybit(frames: Sequence[str], book: dict[str, dict[str, Any]]) -> None:
    """Not timed: after every frame the store holds exactly the venue's open book, with exact
    decimals (the digits sent), the venue's status words and times."""
    client, store = make_bybit_client()
    for f in frames:
        client.handle_frame(f.encode())
    assert client.malformed_frames == 0, client.malformed_frames
    rows = {o.order_id: o for o in store.orders(BYBIT_ACCOUNT)}
    assert rows.keys() == book.keys(), (len(rows), len(book))
    for order_id, item in book.items():
        o = rows[order_id]
        assert o.category == item["category"] and o.symbol == item["symbol"]
        assert o.side.value == item["side"].lower()
        assert o.status_text.startswith(item["orderStatus"])
        assert str(o.amount) == item["qty"] and str(o.remaining) == item["leavesQty"]
        assert o.price is not None and str(o.price) == item["price"]
        avg = item["avgPrice"]
        assert (o.avg_price is None) if avg in ("", "0") else str(o.avg_price) == avg
        assert o.updated_ms == int(item["updatedTime"])
        assert o.client_id == (item["orderLinkId"] or None)


def bench_bybit(args: argparse.Namespace) -> None:
    frames, book = make_bybit_frames(args.bybit_frames, args.bybit_orders)
    size = sum(len(f) for f in frames) / len(frames)
    states = sum(f.count('"orderId"') for f in frames)
    print(f"Bybit: {len(frames):,} order pushes ({states:,} order states, {len(book)} open at "
          f"the end, about {args.bybit_orders:,} open), mean {size:.0f} bytes")
    check_bybit(frames, book)
    as_bytes = [f.encode() for f in frames]  # recv(decode=False)
    n = len(frames)
    runs: dict[str, list[float]] = {
        "orjson.loads": [], "parse_ws (stateless)": [], "stream parse only": [],
        "client→store": [], "client→store, bytes": [],
    }
    for r in range(args.repeats):
        t_json = _timed(time_json, frames)
        times = {
            "orjson.loads": _timed(time_orjson, frames),
            "parse_ws (stateless)": _timed(time_bybit_stateless, frames),
            "stream parse only": _timed(time_bybit_parse_only, frames),
            "client→store": _timed(time_bybit, frames),
            "client→store, bytes": _timed(time_bybit, as_bytes),  # type: ignore[arg-type]
        }
        for name, t in times.items():
            runs[name].append(t_json / t)
        print(f"run {r + 1}: json.loads {n / t_json:>7,.0f}/s  "
              + "  ".join(f"{name} {n / t:>7,.0f}/s" for name, t in times.items()))
    _report(runs, "client→store")


def _report(runs: dict[str, list[float]], budgeted: str) -> None:
    print(f"median ratios to json.loads (higher is faster; budget: {budgeted} >= 1.00x):")
    width = max(len(name) for name in runs)
    for name, ratios in runs.items():
        print(f"  {name:<{width}} {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venue", choices=["all", "bitfinex", "b2trader", "bybit"], default="all")
    ap.add_argument("--frames", type=int, default=50_000, help="Bitfinex ou frames")
    ap.add_argument("--orders", type=int, default=2_000, help="Bitfinex orders")
    ap.add_argument("--b2-frames", type=int, default=300, help="B2TRADER OpenOrders frames")
    ap.add_argument("--b2-orders", type=int, default=500, help="B2TRADER open orders per frame")
    ap.add_argument("--bybit-frames", type=int, default=20_000, help="Bybit order pushes")
    ap.add_argument("--bybit-orders", type=int, default=500, help="Bybit open orders (about)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    if args.venue in ("all", "bitfinex"):
        bench_bitfinex(args)
    if args.venue in ("all", "b2trader"):
        bench_b2trader(args)
    if args.venue in ("all", "bybit"):
        bench_bybit(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
