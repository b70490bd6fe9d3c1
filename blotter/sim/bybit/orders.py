"""Orders of the simulated Bybit account: instruments, the order record and its wire shape.

Field names, value formats and statuses follow bybit.md §3.1, §4 and §7.4.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

CATEGORIES = ("spot", "linear", "inverse", "option")
OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered"})
# spot orderFilter kinds; derivatives know Order and StopOrder (TP/SL count as StopOrder there)
SPOT_FILTERS = ("Order", "StopOrder", "tpslOrder", "OcoOrder", "BidirectionalTpslOrder")


@dataclass(frozen=True)
class Instrument:
    category: str
    symbol: str
    base: str
    settle: str
    price: Decimal  # a typical price, the centre of the seeded ladders
    price_dp: int
    qty_dp: int
    min_qty: Decimal
    max_qty: Decimal


def _i(cat: str, sym: str, base: str, settle: str, price: str, pdp: int, qdp: int,
       lo: str, hi: str) -> Instrument:
    return Instrument(cat, sym, base, settle, Decimal(price), pdp, qdp, Decimal(lo), Decimal(hi))


INSTRUMENTS: tuple[Instrument, ...] = (
    _i("spot", "BTCUSDT", "BTC", "USDT", "96250", 2, 6, "0.0005", "0.25"),
    _i("spot", "ETHUSDT", "ETH", "USDT", "3380", 2, 5, "0.01", "4"),
    _i("spot", "SOLUSDT", "SOL", "USDT", "182", 2, 3, "0.5", "60"),
    _i("spot", "XRPUSDT", "XRP", "USDT", "2.21", 4, 2, "20", "4000"),
    _i("spot", "BTCUSDC", "BTC", "USDC", "96240", 2, 6, "0.0005", "0.2"),
    _i("linear", "BTCUSDT", "BTC", "USDT", "96280", 1, 3, "0.001", "0.5"),
    _i("linear", "ETHUSDT", "ETH", "USDT", "3382", 2, 2, "0.01", "6"),
    _i("linear", "SOLUSDT", "SOL", "USDT", "182.3", 3, 1, "0.1", "80"),
    _i("linear", "DOGEUSDT", "DOGE", "USDT", "0.3812", 5, 0, "50", "20000"),
    _i("linear", "BTCUSDT-27MAR26", "BTC", "USDT", "97420", 1, 3, "0.001", "0.3"),
    _i("linear", "BTCPERP", "BTC", "USDC", "96270", 1, 3, "0.001", "0.4"),
    _i("linear", "ETHPERP", "ETH", "USDC", "3381", 2, 2, "0.01", "5"),
    _i("linear", "BTC-27MAR26", "BTC", "USDC", "97400", 1, 3, "0.001", "0.3"),
    _i("inverse", "BTCUSD", "BTC", "BTC", "96300", 1, 0, "10", "20000"),
    _i("inverse", "ETHUSD", "ETH", "ETH", "3383", 2, 0, "5", "8000"),
    _i("inverse", "BTCUSDH26", "BTC", "BTC", "97500", 1, 0, "10", "10000"),
    _i("option", "BTC-27MAR26-100000-C", "BTC", "USDC", "4850", 0, 2, "0.01", "2"),
    _i("option", "BTC-27MAR26-90000-P", "BTC", "USDC", "3120", 0, 2, "0.01", "2"),
    _i("option", "ETH-27MAR26-3500-C", "ETH", "USDC", "212", 1, 1, "0.1", "20"),
    _i("option", "BTC-27MAR26-110000-C-USDT", "BTC", "USDT", "2290", 0, 2, "0.01", "2"),
)
BY_SYMBOL: dict[tuple[str, str], Instrument] = {(i.category, i.symbol): i for i in INSTRUMENTS}


def instrument(category: str, symbol: str) -> Instrument:
    """The listed instrument, or one made up from the symbol (settle coin from its suffix)."""
    found = BY_SYMBOL.get((category, symbol))
    if found is not None:
        return found
    settle = "USDC" if symbol.endswith(("USDC", "PERP")) else "USDT"
    base = symbol.split("-")[0].removesuffix("USDT").removesuffix("USDC").removesuffix("PERP")
    if category == "inverse":
        base = symbol.removesuffix("USD")
        settle = base
    return Instrument(category, symbol, base or symbol, settle, Decimal(100), 4, 4,
                      Decimal("0.0001"), Decimal(1000))


def fmt(value: Decimal, dp: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_DOWN)) if dp else str(
        value.quantize(Decimal(1), rounding=ROUND_DOWN))


@dataclass
class SimOrder:
    category: str
    symbol: str
    order_id: str
    order_link_id: str
    side: str
    price: Decimal
    qty: Decimal
    created: int
    updated: int
    order_type: str = "Limit"
    time_in_force: str = "GTC"
    kind: str = "Order"  # the orderFilter this order falls under
    stop_order_type: str = ""
    trigger_price: Decimal | None = None
    cum_qty: Decimal = Decimal(0)
    status: str = "New"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    position_idx: int = 0
    reduce_only: bool = False
    pending_cancel: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inst(self) -> Instrument:
        return instrument(self.category, self.symbol)

    @property
    def settle(self) -> str:
        return self.inst.settle

    @property
    def base(self) -> str:
        return self.inst.base

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.cum_qty if self.status in OPEN_STATUSES else Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_dict(self, *, ws: bool = False) -> dict[str, Any]:
        """The order as `GET /v5/order/realtime` lists it, or (ws=True) as the `order` topic
        pushes it (with `category` and the WS-only fields)."""
        inst = self.inst
        pdp, qdp = inst.price_dp, inst.qty_dp
        spot = self.category == "spot"
        option = self.category == "option"
        cum_value = self.cum_qty * self.price
        leaves = self.leaves
        fee = cum_value * Decimal("0.0002")
        fee_coin = self.base if spot and self.side == "Buy" else inst.settle
        d: dict[str, Any] = {}
        if ws:
            d["category"] = self.category
        d.update({
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "blockTradeId": "",
            "symbol": self.symbol,
            "price": fmt(self.price, pdp) if self.order_type == "Limit" else "0",
            "qty": fmt(self.qty, qdp),
            "side": self.side,
            "isLeverage": "0" if spot else "",
            "positionIdx": self.position_idx,
            "orderStatus": self.status,
            "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason,
            "avgPrice": fmt(self.price, pdp) if self.cum_qty else ("" if spot else "0"),
            "leavesQty": fmt(leaves, qdp) if leaves else "0",
            "leavesValue": fmt(leaves * self.price, 4) if leaves else "0",
            "cumExecQty": fmt(self.cum_qty, qdp),
            "cumExecValue": fmt(cum_value, 4) if self.cum_qty else "0",
            "cumExecFee": fmt(fee, 8) if self.cum_qty else "0",
            "timeInForce": self.time_in_force,
            "orderType": self.order_type,
            "stopOrderType": self.stop_order_type,
            "orderIv": "0.5312" if option else "",
            "triggerPrice": fmt(self.trigger_price, pdp) if self.trigger_price else (
                "0.00" if not spot else "0"),
            "takeProfit": "0" if not spot else "",
            "stopLoss": "0" if not spot else "",
            "tpTriggerBy": "" if spot else "UNKNOWN",
            "slTriggerBy": "" if spot else "UNKNOWN",
            "triggerDirection": (1 if self.side == "Buy" else 2) if self.trigger_price else 0,
            "triggerBy": "LastPrice" if self.trigger_price else ("" if spot else "UNKNOWN"),
            "reduceOnly": self.reduce_only,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "tpslMode": "" if option else ("UNKNOWN" if not spot else ""),
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "placeType": "price" if option else "",
            "createdTime": str(self.created),
            "updatedTime": str(self.updated),
            "cumFeeDetail": {fee_coin: fmt(fee, 8)} if self.cum_qty and not option else {},
        })
        if spot:
            d["basePrice"] = fmt(inst.price, pdp)
            if not ws:
                del d["tpslMode"]
        else:
            d["lastPriceOnCreated"] = fmt(inst.price, pdp)
            d["createType"] = "CreateByUser"
        if ws:
            d.update({"closedPnl": "0", "feeCurrency": "", "marketUnit": "",
                      "lastPriceOnCreated": fmt(inst.price, pdp), "brokerOrderPrice": "",
                      "slippageToleranceType": "UNKNOWN", "slippageTolerance": "0",
                      "rpiTakerAccess": False, "rpiMatchedQty": "0"})
        return d


class IdMaker:
    """Order ids as the venue makes them: UUIDs for derivatives and options, 19-digit numbers
    for spot (with `orderLinkId` = orderId + 1 when the client gave none)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._spot = 1_900_000_000_000_000_000 + rng.randint(0, 10**15)
        self._link = 0

    def order_id(self, category: str) -> str:
        if category == "spot":
            self._spot += self._rng.randint(2, 4000)
            return str(self._spot)
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def link_id(self, category: str, order_id: str, given: str | None) -> str:
        if given is not None:
            return given
        if category == "spot":
            return str(int(order_id) + 1)
        if category == "option":
            self._link += 1
            return f"opt-{self._rng.getrandbits(32):08x}{self._link:04d}"
        return ""


def random_order(rng: random.Random, ids: IdMaker, mts: int,
                 inst: Instrument | None = None, side: str | None = None,
                 near: Decimal | None = None) -> SimOrder:
    """One realistic resting order: a limit a little away from the market, sometimes a
    conditional order that waits for its trigger."""
    inst = inst or rng.choice(INSTRUMENTS)
    side = side or rng.choice(("Buy", "Sell"))
    centre = near or inst.price
    away = Decimal(str(round(rng.uniform(0.002, 0.06), 4)))
    price = centre * (1 - away) if side == "Buy" else centre * (1 + away)
    price = Decimal(fmt(price, inst.price_dp))
    lo, hi = float(inst.min_qty), float(inst.max_qty)
    qty = Decimal(fmt(Decimal(str(lo + (hi - lo) * rng.random() ** 3)), inst.qty_dp))
    qty = max(qty, inst.min_qty)
    oid = ids.order_id(inst.category)
    order = SimOrder(
        category=inst.category, symbol=inst.symbol, order_id=oid,
        order_link_id=ids.link_id(inst.category, oid, None), side=side, price=price, qty=qty,
        created=mts, updated=mts,
        time_in_force=rng.choice(("GTC", "GTC", "GTC", "PostOnly")),
    )
    if inst.category != "option" and rng.random() < 0.12:
        # a conditional order: triggers on the way to its limit
        order.kind = "StopOrder"
        order.status = "Untriggered"
        order.stop_order_type = "Stop"
        gap = Decimal("0.004") * centre
        order.trigger_price = Decimal(fmt(price + gap if side == "Buy" else price - gap,
                                          inst.price_dp))
        order.time_in_force = "GTC"
    elif inst.category == "spot" and rng.random() < 0.05:
        order.kind = "tpslOrder"
        order.status = "Untriggered"
        order.stop_order_type = "tpslOrder"
        order.trigger_price = price
    if inst.category in ("linear", "inverse") and rng.random() < 0.15:
        order.reduce_only = True
    return order


def random_fill_qty(rng: random.Random, order: SimOrder) -> Decimal:
    """A part of what is left, on the instrument's step; 0 when it cannot be split."""
    left = order.qty - order.cum_qty
    dp = order.inst.qty_dp
    part = Decimal(fmt(left * Decimal(str(round(rng.uniform(0.1, 0.6), 3))), dp))
    return part if 0 < part < left else Decimal(0)


def matches_filter(order: SimOrder, flt: str) -> bool:
    """Whether an `orderFilter` (open orders, cancel-all) selects `order` (notes §3.1, §3.4)."""
    if flt in ("Order", "OpenOrder"):
        return order.kind == "Order"
    if flt == "StopOrder":
        # derivatives put conditional, TP/SL and trailing orders under StopOrder
        return order.kind != "Order" if order.category != "spot" else order.kind == "StopOrder"
    return order.kind == flt
