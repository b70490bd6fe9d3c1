"""bench_parse, Bybit: private-stream ``order`` pushes → ``BybitClient.handle_frame`` →
``OrderStore``."""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parse_common import compare, time_client, time_each, time_orjson

from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import (
    AccountKey,
)
from blotter.core.store import OrderStore
from blotter.venues.bybit import stream as bybit_stream
from blotter.venues.bybit.client import BybitClient

BYBIT_ACCOUNT = AccountKey("bybit", "bench")


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
    """``BybitClient.handle_frame`` of each frame (``StreamParser`` → ``OrderStore``), as in
    the Bitfinex section."""
    client, store = make_bybit_client()
    return time_client(client, store, frames)


def time_bybit_parse_only(frames: Sequence[str]) -> float:
    """The client's parser alone (``StreamParser.parse_stream``: frame → its orders, as the
    client reads them)."""
    return time_each(bybit_stream.StreamParser(BYBIT_ACCOUNT).parse_stream, frames)


def time_bybit_stateless(frames: Sequence[str]) -> float:
    """``parse_ws``: the stateless parser, every field checked and converted afresh."""
    return time_each(lambda f: bybit_stream.parse_ws(f, BYBIT_ACCOUNT), frames)


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
    compare(args.repeats, frames, {
        "orjson.loads": (time_orjson, frames),
        "parse_ws (stateless)": (time_bybit_stateless, frames),
        "stream parse only": (time_bybit_parse_only, frames),
        "client→store": (time_bybit, frames),
        "client→store, bytes": (time_bybit, as_bytes),
    }, "client→store", width=7)

