"""bench_parse, B2TRADER: ``OpenOrders`` StreamItem frames (each the complete open set of a
trading account) → ``StreamParser`` → ``OrderStore``."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parse_common import compare, time_orjson

from blotter.core.order import (
    AccountKey,
    Order,
    Snapshot,
)
from blotter.core.store import OrderStore
from blotter.venues.b2trader import stream as b2_stream
from blotter.venues.b2trader.signalr import Decoder, StreamItem
from blotter.venues.b2trader.stream import (
    ListWaiting,
    OpenOrdersParser,
    OrderList,
    parse_open_orders,
)

B2_LOGIN = AccountKey("b2trader", "bench")
B2_ACCOUNT = AccountKey("b2trader", "bench/Main")


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


def _time_decoded(frames: Sequence[str | bytes], parse: Callable[[StreamItem], Any]) -> float:
    """Frame → ``Decoder`` → ``parse`` of each StreamItem, timed."""
    decoder = _b2_decoder()
    feed = decoder.feed
    next_message = decoder.next_message
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


def time_b2_stateless(frames: Sequence[str]) -> float:
    """Frame text → ``Decoder`` → ``parse_open_orders`` (a fresh parse of every order)."""
    return _time_decoded(frames, lambda msg: parse_open_orders(msg, B2_ACCOUNT))


def time_b2_parser(frames: Sequence[str | bytes]) -> float:
    """Frame → ``Decoder`` → ``OpenOrdersParser`` (unchanged orders reused): one trading
    account's lists, without the ``StreamParser`` around them."""
    return _time_decoded(frames, OpenOrdersParser(B2_ACCOUNT).parse)


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


def _time_lists(frames: Sequence[str | bytes], store: OrderStore | None) -> float:
    """Frame → ``StreamParser`` (Decoder, then the account's ``OpenOrdersParser``) → each list
    as it arrives, as the client reads the hub; into ``store`` when one is given, as the client
    applies a list (a ``Snapshot``: the complete list replaces the account's rows, a stream list
    after the first), one store flush per frame (the view flushes at <= 30 Hz, about every 27
    frames of this size)."""
    parser = _b2_stream()
    feed = parser.feed
    next_event = parser.next_event
    take = parser.take_list
    apply = store.apply if store is not None else None
    flush = store.flush if store is not None else None
    count = changes = 0
    start = time.perf_counter()
    for f in frames:
        feed(f)
        while (event := next_event()) is not None:
            taken = take(event.trading_id) if type(event) is ListWaiting else event
            if type(taken) is OrderList:  # a subscription's first list is read at once
                count += len(taken.orders)
                if apply is not None:
                    apply(Snapshot(taken.account, taken.orders, stream=not taken.first))
        if flush is not None:
            changes += bool(flush())
    elapsed = time.perf_counter() - start
    assert count >= len(frames), count
    if store is not None:  # the store holds the last list, and most frames changed a row
        assert len(store) == len(parser_last_list(frames[-1])), len(store)
        assert changes >= len(frames) // 2, changes
    return elapsed


def time_b2_stream(frames: Sequence[str | bytes]) -> float:
    """Frame → ``StreamParser`` → orders (no store)."""
    return _time_lists(frames, None)


def time_b2_store(frames: Sequence[str | bytes]) -> float:
    """Frame → ``StreamParser`` → ``OrderStore``."""
    return _time_lists(frames, OrderStore())


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
    stream = "frame→StreamParser"
    ours = "frame→StreamParser→store"
    compare(args.repeats, records, {
        "orjson.loads": (time_orjson, records),
        "frame→Decoder→parse_open_orders": (time_b2_stateless, frames),
        "frame→Decoder→OpenOrdersParser": (time_b2_parser, frames),
        stream: (time_b2_stream, frames),
        ours: (time_b2_store, frames),
        f"{ours}, bytes": (time_b2_store, as_bytes),
    }, ours, width=5)

