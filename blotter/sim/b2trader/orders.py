"""Orders of the simulated B2TRADER accounts: markets, the order record and its two wire shapes
(the `OpenOrders` stream item, b2trader.md §3.6, and the REST cancel answer, §2.4).

Amounts are `Decimal` inside and decimal strings on the wire (A-13, P-6); times are kept as
ticks (100 ns units, as .NET counts them, since the Unix epoch) and written with 7 fractional digits, or 3 for orders whose
creation time came from a millisecond store (P-7).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

OPEN_STATUSES = frozenset({"Started", "Pending", "Working"})
TERMINAL_STATUSES = frozenset({"Completed", "Cancelled", "Expired", "Rejected"})
TICKS_PER_SECOND = 10_000_000
FEE_RATE = Decimal("0.001")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class Market:
    market_id: str  # {type}.{base}_{quote}, lower case
    market_type: str  # Spot | Cfd | Perp
    display_name: str
    full_name: str
    price: Decimal  # a typical price, the centre of the seeded ladders
    price_dp: int
    amount_dp: int
    min_amount: Decimal
    max_amount: Decimal

    @property
    def base(self) -> str:
        return self.market_id.split(".", 1)[1].split("_")[0]

    @property
    def quote(self) -> str:
        return self.market_id.split(".", 1)[1].split("_")[1]


def _m(mid: str, mtype: str, display: str, full: str, price: str, pdp: int, adp: int,
       lo: str, hi: str) -> Market:
    return Market(mid, mtype, display, full, Decimal(price), pdp, adp, Decimal(lo), Decimal(hi))


# The perp prefix `perp.` is a guess (U-13); the marketType value `Perp` is documented.
MARKETS: tuple[Market, ...] = (
    _m("spot.btc_usdt", "Spot", "BTC/USDT", "Bitcoin / Tether", "96250", 2, 6, "0.0005", "0.5"),
    _m("spot.eth_usdt", "Spot", "ETH/USDT", "Ethereum / Tether", "3380", 2, 4, "0.01", "6"),
    _m("spot.sol_usdt", "Spot", "SOL/USDT", "Solana / Tether", "182", 2, 2, "0.5", "80"),
    _m("spot.eth_btc", "Spot", "ETH/BTC", "", "0.0351", 6, 4, "0.01", "5"),
    _m("cfd.eur_chf", "Cfd", "EUR/CHF", "", "0.9412", 5, 0, "1000", "100000"),
    _m("cfd.eur_usd", "Cfd", "EUR/USD", "", "1.0835", 5, 0, "1000", "200000"),
    _m("cfd.xau_usd", "Cfd", "XAU/USD", "", "2650.5", 2, 2, "0.1", "50"),
    _m("cfd.eth_eur", "Cfd", "ETH/EUR", "", "3120", 2, 3, "0.01", "20"),
    _m("perp.btc_usdt", "Perp", "BTC/USDT", "Bitcoin perpetual", "96300", 1, 3, "0.001", "2"),
)
BY_ID: dict[str, Market] = {m.market_id: m for m in MARKETS}


def market(market_id: str) -> Market:
    """The listed market, or one made up from a well-formed id (`spot.abc_xyz`)."""
    found = BY_ID.get(market_id)
    if found is not None:
        return found
    kind, _, pair = market_id.partition(".")
    base, _, quote = pair.partition("_")
    if not kind or not base or not quote:
        raise ValueError(f"market id {market_id!r} is not of the form type.base_quote")
    mtype = {"spot": "Spot", "cfd": "Cfd", "perp": "Perp"}.get(kind, kind.capitalize())
    return Market(market_id, mtype, f"{base.upper()}/{quote.upper()}", "", Decimal(100), 4, 4,
                  Decimal("0.0001"), Decimal(1000))


def dec(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: "0.9", "10000", "0"."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def quantize(value: Decimal, dp: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_DOWN)


def as_decimal(value: str | float | Decimal) -> Decimal:
    """Numbers from the side door: strings and ints exactly, floats through their repr."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def now_ticks() -> int:
    return time.time_ns() // 100


def ticks_of(moment: datetime) -> int:
    """Ticks of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def iso_ticks(ticks: int, digits: int = 7) -> str:
    """`2025-05-20T17:22:31.9001213Z` (digits=7) or `2025-05-20T17:22:31.899Z` (digits=3)."""
    secs, frac = divmod(ticks, TICKS_PER_SECOND)
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 3:
        return f"{stamp}.{frac // 10_000:03d}Z"
    return f"{stamp}.{frac:07d}Z"


def crockford(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class IdMaker:
    """ULID-like order ids (26 Crockford base32 chars: 48-bit ms time + 80 random bits) and
    24-hex account ids shaped like MongoDB ObjectIds (b2trader.md §4.3)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._last = ""

    def order_id(self, ticks: int) -> str:
        ms = ticks // 10_000
        oid = crockford((ms << 80) | self._rng.getrandbits(80), 26)
        if oid <= self._last:  # keep them sortable even within one millisecond
            oid = crockford(int_from_crockford(self._last) + 1, 26)
        self._last = oid
        return oid

    def account_id(self, seconds: int) -> str:
        return f"{seconds & 0xFFFFFFFF:08x}{self._rng.getrandbits(64):016x}"


def int_from_crockford(text: str) -> int:
    value = 0
    for ch in text:
        value = value * 32 + _CROCKFORD.index(ch)
    return value


@dataclass
class SimOrder:
    account_id: str
    market: Market
    order_id: str
    side: str  # Buy | Sell
    requested: Decimal
    price: Decimal | None  # None for Market orders
    created: int  # ticks
    updated: int  # ticks
    order_type: str = "Limit"
    time_in_force: str = "Gtc"
    status: str = "Pending"
    source: str = "Manual"
    reason: str = "Trader"
    filled: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)  # sum of fill amount × fill price, for the VWAP
    cancellation_date: int | None = None  # ticks; the GTD expiry
    leverage: int = 1
    reject_details: str | None = None
    created_ms: bool = False  # createdAt written with 3 fractional digits

    @property
    def remaining(self) -> Decimal:
        return self.requested - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def execution_price(self) -> Decimal:
        if self.filled == 0:
            return Decimal(0)
        return quantize(self.filled_value / self.filled, self.market.price_dp + 2)

    @property
    def commission(self) -> Decimal:
        return quantize(self.filled_value * FEE_RATE, 8)

    @property
    def fill_factor(self) -> Decimal:
        if self.requested == 0:
            return Decimal(0)
        return quantize(self.filled / self.requested, 8)

    def apply_fill(self, amount: Decimal, price: Decimal | None = None) -> None:
        at = price if price is not None else (self.price or self.market.price)
        self.filled += amount
        self.filled_value += amount * at

    def _common_times(self) -> tuple[str, str, str | None]:
        created = iso_ticks(self.created, 3 if self.created_ms else 7)
        cancel = (iso_ticks(self.cancellation_date, 7) if self.cancellation_date is not None
                  else None)
        return created, iso_ticks(self.updated, 7), cancel

    def to_stream(self) -> dict[str, Any]:
        """One element of an `OpenOrders` StreamItem (b2trader.md §3.6, field order as the
        published example)."""
        created, updated, cancel = self._common_times()
        m = self.market
        return {
            "marketId": m.market_id,
            "marketType": m.market_type,
            "marketDisplayName": m.display_name,
            "marketFullName": m.full_name,
            "orderId": self.order_id,
            "timeInForce": self.time_in_force,
            "status": self.status,
            "source": self.source,
            "reason": self.reason,
            "side": self.side,
            "orderType": self.order_type,
            "requestedAmount": dec(self.requested),
            "remainingAmount": dec(self.remaining),
            "requestedPrice": dec(self.price) if self.price is not None else None,
            "executionPrice": dec(self.execution_price),
            "createdAt": created,
            "updatedAt": updated,
            "cancellationDate": cancel,
            "commissionAssetId": m.quote,
            "commissionAmount": dec(self.commission),
            "leverage": self.leverage,
            "fillFactor": dec(self.fill_factor),
            "takeProfit": None,
            "stopLoss": None,
        }

    def to_rest(self) -> dict[str, Any]:
        """The `order` object of the cancel answer (b2trader.md §2.4)."""
        created, updated, cancel = self._common_times()
        return {
            "marketId": self.market.market_id,
            "marketDisplayName": self.market.display_name,
            "orderId": self.order_id,
            "orderType": self.order_type,
            "side": self.side,
            "status": self.status,
            "source": self.source,
            "timeInForce": self.time_in_force,
            "commission": dec(self.commission),
            "requestedAmount": dec(self.requested),
            "remainingAmount": dec(self.remaining),
            "requestedPrice": dec(self.price) if self.price is not None else None,
            "executionPrice": dec(self.execution_price),
            "createdAt": created,
            "updatedAt": updated,
            "rejectDetails": self.reject_details,
            "cancellationDate": cancel,
            "fillFactor": dec(self.fill_factor),
        }


def random_order(rng: random.Random, ids: IdMaker, account_id: str, ticks: int,
                 mkt: Market | None = None, side: str | None = None) -> SimOrder:
    """One realistic resting limit order a little away from the market; some are GTD (with an
    expiry some hours ahead) or Day orders, CFDs carry a leverage."""
    mkt = mkt or rng.choice(MARKETS)
    side = side or rng.choice(("Buy", "Sell"))
    away = Decimal(str(round(rng.uniform(0.002, 0.06), 4)))
    price = mkt.price * (1 - away) if side == "Buy" else mkt.price * (1 + away)
    price = quantize(price, mkt.price_dp)
    lo, hi = float(mkt.min_amount), float(mkt.max_amount)
    amount = quantize(Decimal(str(lo + (hi - lo) * rng.random() ** 3)), mkt.amount_dp)
    amount = max(amount, mkt.min_amount)
    tif = rng.choice(("Gtc", "Gtc", "Gtc", "Gtc", "Gtd", "Day"))
    order = SimOrder(
        account_id=account_id, market=mkt, order_id=ids.order_id(ticks), side=side,
        requested=amount, price=price, created=ticks, updated=ticks, time_in_force=tif,
        leverage=rng.choice((1, 5, 10, 20)) if mkt.market_type != "Spot" else 1,
        created_ms=rng.random() < 0.5,
    )
    if order.created_ms:  # a millisecond store: the ticks below the ms are zero
        order.created -= order.created % 10_000
        order.updated = max(order.updated, order.created)
    if tif == "Gtd":
        order.cancellation_date = ticks + rng.randint(2, 72) * 3600 * TICKS_PER_SECOND
    return order


def random_fill_amount(rng: random.Random, order: SimOrder) -> Decimal:
    """A part of what is left, on the market's amount step; 0 when it cannot be split."""
    left = order.remaining
    part = quantize(left * Decimal(str(round(rng.uniform(0.1, 0.6), 3))), order.market.amount_dp)
    return part if 0 < part < left else Decimal(0)
