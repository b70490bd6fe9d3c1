"""Orders as the simulated venue keeps and renders them (bitfinex.md §3.2, §6.2).

Amounts and prices are held as Decimal so fills never accumulate float error; they become JSON
numbers only when an order is rendered as the venue's 32-field array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

ORDER_FIELDS = 32

FLAG_HIDDEN = 64
FLAG_POST_ONLY = 4096

_AMOUNT_STEP = Decimal("1e-8")
# The venue keeps 5 significant digits of a price and cuts the rest.
_PRICE_CONTEXT = Context(prec=5, rounding=ROUND_HALF_EVEN)
_AVG_CONTEXT = Context(prec=10, rounding=ROUND_HALF_EVEN)


def to_decimal(value: float | str | Decimal) -> Decimal:
    """Exact decimal of a user-given number; floats go through their shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def quantize_amount(value: float | str | Decimal) -> Decimal:
    return to_decimal(value).quantize(_AMOUNT_STEP)


def round_price(value: float | str | Decimal) -> Decimal:
    return _PRICE_CONTEXT.plus(to_decimal(value))


def json_number(value: Decimal) -> int | float:
    """A Decimal as the JSON number the venue would print: integers bare, others shortest float.

    Inputs carry at most 15 significant digits (8 decimals on amounts, 5 digits on prices), so the
    float's shortest repr is exactly the decimal: no `0.30000000000000004` on the wire.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def status_number(value: Decimal) -> str:
    """Numbers inside STATUS text look like `16673.0` and `-1.0`: plain, never exponent form."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def utc_date(mts: int) -> str:
    """The `cid_date` of an order: the UTC day of its creation time (ms)."""
    return datetime.fromtimestamp(mts / 1000, tz=UTC).date().isoformat()


@dataclass
class SimOrder:
    id: int
    gid: int | None
    cid: int | None
    symbol: str
    mts_create: int
    mts_update: int
    amount: Decimal  # remaining, signed: > 0 buy, < 0 sell
    amount_orig: Decimal
    order_type: str
    price: Decimal
    flags: int = 0
    price_aux_limit: Decimal = Decimal(0)
    routing: str = "API>BFX"
    meta: dict[str, Any] | None = None
    # (price, signed amount) of every fill so far, oldest first
    fills: list[tuple[Decimal, Decimal]] = field(default_factory=list)

    @property
    def cid_date(self) -> str:
        return utc_date(self.mts_create)

    @property
    def filled(self) -> Decimal:
        return self.amount_orig - self.amount

    @property
    def price_avg(self) -> Decimal:
        filled = self.filled
        if not self.fills or filled == 0:
            return Decimal(0)
        total = sum((p * a for p, a in self.fills), Decimal(0))
        return _AVG_CONTEXT.plus(total / filled)

    def status(self) -> str:
        """STATUS of an open order: `ACTIVE`, or the last partial fill, then the earlier ones.

        The accumulated form follows observed traffic:
        `PARTIALLY FILLED @ 1.6517(6.0): was PARTIALLY FILLED @ 1.65(6.0)`.
        """
        if not self.fills:
            return "ACTIVE"
        text = _fill_history(self.fills[-1:])
        if len(self.fills) > 1:
            text += f": was {_fill_history(self.fills[:-1])}"
        return text

    def cancelled_status(self) -> str:
        if not self.fills:
            return "CANCELED"
        return f"CANCELED was: {_fill_history(self.fills)}"

    def executed_status(self, price: Decimal, amount: Decimal) -> str:
        """STATUS of the fill that completes the order, after the earlier partial fills."""
        text = f"EXECUTED @ {status_number(price)}({status_number(amount)})"
        if self.fills:
            text += f": was {_fill_history(self.fills)}"
        return text

    def to_array(self, status: str | None = None) -> list[Any]:
        """The venue's 32-field order array (bitfinex.md §3.2)."""
        arr: list[Any] = [None] * ORDER_FIELDS
        arr[0] = self.id
        arr[1] = self.gid
        arr[2] = self.cid
        arr[3] = self.symbol
        arr[4] = self.mts_create
        arr[5] = self.mts_update
        arr[6] = json_number(self.amount)
        arr[7] = json_number(self.amount_orig)
        arr[8] = self.order_type
        arr[12] = self.flags
        arr[13] = status if status is not None else self.status()
        arr[16] = json_number(self.price)
        arr[17] = json_number(self.price_avg)
        arr[18] = 0
        arr[19] = json_number(self.price_aux_limit)
        arr[23] = 0
        arr[24] = 1 if self.flags & FLAG_HIDDEN else 0
        arr[28] = self.routing
        arr[31] = dict(self.meta) if self.meta is not None else None
        return arr


def _fill_history(fills: list[tuple[Decimal, Decimal]]) -> str:
    return ", ".join(
        f"PARTIALLY FILLED @ {status_number(p)}({status_number(a)})" for p, a in fills
    )


def not_found_stub(order_id: int | None = None, cid: int | None = None) -> list[Any]:
    """The 32-field stub of an ERROR `oc-req`: requested id at [0], cid at [2], zeros at 18/19/23."""
    arr: list[Any] = [None] * ORDER_FIELDS
    arr[0] = order_id
    arr[2] = cid
    arr[18] = 0
    arr[19] = 0
    arr[23] = 0
    return arr
