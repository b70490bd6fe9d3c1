"""The venue-neutral order and the events that change the set of open orders.

Every venue codec turns its frames into these; the store and the UI know nothing else.
Amounts and prices are exact decimals; times are integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NamedTuple


class Side(Enum):
    """Buy or sell, whatever sign or word the venue uses for it."""
    BUY = "buy"
    SELL = "sell"


class OrderStatus(Enum):
    """The normalised status. The venue's own words stay in ``Order.status_text``."""

    OPEN = "open"
    PARTIALLY_FILLED = "partially filled"
    UNTRIGGERED = "untriggered"
    CANCELLED = "cancelled"
    FILLED = "filled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        """Whether an order with this status is still on the book."""
        # A tuple compares by identity first; a frozenset would call Enum.__hash__ (Python code)
        # on every store update.
        return self in _OPEN_STATUSES


_OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED)


class Flag(Enum):
    """Order properties the table shows (the venues' flag bits and booleans)."""
    HIDDEN = "hidden"
    POST_ONLY = "post-only"
    REDUCE_ONLY = "reduce-only"
    OCO = "oco"
    CLOSE = "close"


class AccountKey(NamedTuple):
    """One venue account. A NamedTuple, like ``OrderKey``: the store hashes one for every order
    it adds or closes, and a tuple hashes and compares in C."""

    venue: str
    account: str

    def __str__(self) -> str:
        return f"{self.venue}:{self.account}"


class OrderKey(NamedTuple):
    """Identity of a row: an order id is unique only within one venue account.

    A NamedTuple rather than a frozen dataclass: it is hashed and compared on every store
    update and model lookup, and a tuple does both in C (a dataclass runs Python code each time).
    """

    venue: str
    account: str
    order_id: str

    @property
    def account_key(self) -> AccountKey:
        """The account of the row."""
        return AccountKey(self.venue, self.account)


# The fields of an order that never change while it lives, in this order (see ``OrderFields``).
_FIXED_NAMES: Final = (
    "key", "symbol", "side", "order_type", "client_id", "client_id_date", "group_id", "flags",
    "created_ms", "category", "instrument_id", "time_in_force",
)
# What one update of an order may change: each ``Order`` has its own slot for these.
_LIVE_NAMES: Final = (
    "amount", "remaining", "status", "status_text", "price", "avg_price", "updated_ms",
    "trigger_price",
)


@dataclass(frozen=True, init=False)
class Order:
    """One order as the venue last described it. Frozen: a change is a new ``Order``.

    ``amount``, ``remaining``, ``price``, ``avg_price`` and ``trigger_price`` read as exact
    ``Decimal``s. A codec may store the JSON number it parsed (a float, or an int) instead, or
    the decimal text the venue sent (a str of plain digits with at most one point, which the
    codec has checked): the first read converts it exactly (``Decimal(repr(f))``, the shortest
    round-trip repr, i.e. the digits that were sent; ``Decimal(text)``, the digits as printed)
    and keeps the result, so a frame costs no decimal work unless its numbers are shown.

    The fields that never change while the order lives (its key, symbol, side, type, ids,
    flags, creation time...) are held in one shared tuple (``OrderFields``): every update of
    the same order refers to it, so an update costs, and keeps, only what may change. The
    fields read as plain attributes all the same.
    """

    __slots__ = ("_fixed", *_LIVE_NAMES)
    if TYPE_CHECKING:  # a slot, not a field: the fixed fields below read from it
        _fixed: OrderFields

    venue: str
    account: str
    order_id: str
    symbol: str
    side: Side
    order_type: str
    amount: Decimal  # original amount, always positive
    remaining: Decimal  # still open, always positive
    status: OrderStatus
    status_text: str  # the venue's own words, shown as is
    price: Decimal | None
    avg_price: Decimal | None
    client_id: str | None
    client_id_date: str | None  # YYYY-MM-DD, for venues whose client ids repeat daily
    group_id: str | None
    flags: frozenset[Flag]
    created_ms: int | None
    updated_ms: int | None
    category: str | None  # venue-specific market kind (spot, linear, ...), when it matters
    # the venue's own id of the instrument when the symbol shown is another name (a B2TRADER
    # broker's marketId "cfd.eur_chf" for "EUR/CHF"); None where the symbol is the venue's id
    instrument_id: str | None
    # the price that makes a stop / take-profit / conditional order active, where it has one
    trigger_price: Decimal | None
    # time in force in the venue's word ("GTC", "IOC", "PostOnly", "Gtd"), where it sends one
    time_in_force: str | None

    def __init__(
        self, venue: str, account: str, order_id: str, symbol: str, side: Side,
        order_type: str, amount: Decimal, remaining: Decimal, status: OrderStatus,
        status_text: str, price: Decimal | None = None, avg_price: Decimal | None = None,
        client_id: str | None = None, client_id_date: str | None = None,
        group_id: str | None = None, flags: frozenset[Flag] = frozenset(),
        created_ms: int | None = None, updated_ms: int | None = None,
        category: str | None = None, instrument_id: str | None = None,
        trigger_price: Decimal | None = None, time_in_force: str | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "_fixed", (
            OrderKey(venue, account, order_id), symbol, side, order_type, client_id,
            client_id_date, group_id, flags, created_ms, category, instrument_id, time_in_force,
        ))
        put(self, "amount", amount)
        put(self, "remaining", remaining)
        put(self, "status", status)
        put(self, "status_text", status_text)
        put(self, "price", price)
        put(self, "avg_price", avg_price)
        put(self, "updated_ms", updated_ms)
        put(self, "trigger_price", trigger_price)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickling and copying go through the constructor, with every field as read
        return (Order, tuple(getattr(self, name) for name in _FIELD_NAMES))

    @property
    def key(self) -> OrderKey:
        """The row's identity: venue, account, order id."""
        return self._fixed[0]

    @property
    def fixed(self) -> OrderFields:
        """The fields that never change while the order lives (shared by all its updates)."""
        return self._fixed

    @property
    def account_key(self) -> AccountKey:
        """The account of the row."""
        key = self._fixed[0]
        return AccountKey(key[0], key[1])

    @property
    def filled(self) -> Decimal:
        """The amount executed so far."""
        return self.amount - self.remaining


_FIELD_NAMES: Final = tuple(f.name for f in fields(Order))


def _fixed_field(index: int, name: str) -> property:
    def read(self: Order) -> Any:
        return self._fixed[index]

    return property(read, None, None, f"{name} (shared by every update of the order)")


def _key_field(index: int, name: str) -> property:
    def read(self: Order) -> Any:
        return self._fixed[0][index]

    return property(read, None, None, f"{name} (of the order's key)")


for _i, _name in enumerate(("venue", "account", "order_id")):
    setattr(Order, _name, _key_field(_i, _name))
for _i, _name in enumerate(_FIXED_NAMES):
    if _i:
        setattr(Order, _name, _fixed_field(_i, _name))
del _i


def _exact_decimal(slot: Any) -> property:
    """Turn a slot of ``Order`` into a property that reads as an exact ``Decimal``.

    The slot keeps its name and place (``Order.__slots__`` and the dataclass fields do not
    change); it may hold a float, an int or checked decimal text from a codec until the first
    read converts it.
    """
    get = slot.__get__
    put = slot.__set__

    def read(self: Order) -> Decimal | None:
        value = get(self, Order)
        t = type(value)
        if t is float:
            value = Decimal(repr(value))
            put(self, value)
        elif t is str or t is int:
            value = Decimal(value)
            put(self, value)
        return value  # type: ignore[no-any-return]

    return property(read, put, None, "exact decimal (converted from the codec's number once)")


for _name in ("amount", "remaining", "price", "avg_price", "trigger_price"):
    setattr(Order, _name, _exact_decimal(Order.__dict__[_name]))
del _name

OPEN_STATUSES: Final = _OPEN_STATUSES  # a tuple: membership tests by identity, in C


# -- the fast builder ------------------------------------------------------------------------
OrderFields = tuple[
    OrderKey, str, Side, str, str | None, str | None, str | None, frozenset[Flag], int | None,
    str | None, str | None, str | None,
]
"""The fields of an order that never change while it lives, in this order: key, symbol, side,
order_type, client_id, client_id_date, group_id, flags, created_ms, category, instrument_id,
time_in_force. A parser makes this once per order id and hands it to ``build_order`` with every
update: every ``Order`` of that id refers to this one tuple (``Order.fixed``)."""


class _OrderSlots:
    """Same memory layout as the frozen ``Order``, but its slots can be assigned directly.

    The frozen dataclass ``__init__`` costs one ``object.__setattr__`` call per field, about
    three times the cost of decoding the frame. ``build_order`` fills this twin and re-labels it
    as ``Order``: the result is an ordinary, immutable ``Order``.
    """

    __slots__ = Order.__slots__


def _build_fast(
    fields: OrderFields, amount: Any, remaining: Any, status: OrderStatus, status_text: str,
    price: Any, avg_price: Any, updated_ms: int | None, trigger_price: Any = None,
) -> Order:
    o: Any = _OrderSlots()  # calling the class is cheaper than object.__new__(_OrderSlots)
    o._fixed = fields
    o.amount = amount
    o.remaining = remaining
    o.status = status
    o.status_text = status_text
    o.price = price
    o.avg_price = avg_price
    o.updated_ms = updated_ms
    o.trigger_price = trigger_price
    o.__class__ = Order
    return o  # type: ignore[no-any-return]


def _build_plain(
    fields: OrderFields, amount: Any, remaining: Any, status: OrderStatus, status_text: str,
    price: Any, avg_price: Any, updated_ms: int | None, trigger_price: Any = None,
) -> Order:
    o = Order.__new__(Order)
    put = object.__setattr__
    put(o, "_fixed", fields)
    for name, value in zip(
        _LIVE_NAMES,
        (amount, remaining, status, status_text, price, avg_price, updated_ms, trigger_price),
        strict=True,
    ):
        put(o, name, value)
    return o


def _fast_build_works() -> bool:
    """Whether the slot trick gives exactly what the constructor gives (checked at import)."""
    fields: OrderFields = (OrderKey("v", "a", "1"), "tX", Side.SELL, "LIMIT", "4", "2020-01-01",
                           "5", frozenset({Flag.HIDDEN}), 6, "spot", "m.x", "IOC")
    args = (fields, 2, 0.5, OrderStatus.PARTIALLY_FILLED, "t", Decimal(3), None, 7, 2.5)
    try:
        fast = _build_fast(*args)
        plain = _build_plain(*args)
        return (
            type(fast) is Order
            and fast == plain
            and hash(fast) == hash(plain)
            and repr(fast) == repr(plain)
            and fast.key == plain.key
            and all(getattr(fast, n) == getattr(plain, n) for n in _FIELD_NAMES)
            and fast == Order(*(getattr(plain, n) for n in _FIELD_NAMES))
            and fast.remaining == Decimal("0.5")
            and fast.trigger_price == Decimal("2.5")
        )
    except (TypeError, AttributeError, ValueError):  # pragma: no cover - Order's layout changed
        return False


FAST_ORDER_BUILD: Final = _fast_build_works()

build_order: Final[
    Callable[[OrderFields, Any, Any, OrderStatus, str, Any, Any, int | None, Any], Order]
] = _build_fast if FAST_ORDER_BUILD else _build_plain
"""``build_order(fields, amount, remaining, status, status_text, price, avg_price, updated_ms,
trigger_price)``

The parsers' hot path: the same ``Order`` the constructor makes from ``fields`` (what never
changes, made once per order id) and what an update may change, at about a third of the
constructor's cost. The numbers may be the decoder's floats or ints, or checked decimal text
(see ``Order``). Falls back to the constructor if the slot trick ever stops matching it
(``FAST_ORDER_BUILD`` says which is in use).
"""


def implausible_numbers(
    amount: Any, remaining: Any, price: Any, avg_price: Any, *, limit: bool
) -> str | None:
    """Why the numbers a venue sent for one order cannot be true, in words, or None when they
    can: an amount that is not a positive number, a remaining amount below zero or above the
    amount, a negative or non-finite price (or for a ``limit`` order a missing or zero one), a
    negative average price. Every venue counts such a record as unreadable, never as the
    venue's word. Takes the numbers as read: Decimals, or the decoder's floats and ints."""
    if not _finite(amount) or amount <= 0:
        return f"amount {amount} is not a positive number"
    if not _finite(remaining) or remaining < 0:
        return f"remaining {remaining} is not zero or more"
    if remaining > amount:
        return f"remaining {remaining} is above the amount {amount}"
    if price is None:
        if limit:
            return "a limit order without a price"
    elif not _finite(price) or price < 0:
        return f"price {price} is not a positive number"
    elif price == 0 and limit:
        return "a limit order with a price of 0"
    if avg_price is not None and (not _finite(avg_price) or avg_price < 0):
        return f"average price {avg_price} is negative"
    return None


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except (TypeError, ValueError):  # not a number at all, or a signalling NaN
        return False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The venue's complete list of an account's open orders: it replaces what we had.

    ``stream`` is set when full lists are how the stream speaks (a B2TRADER hub in snapshot
    mode): the list still checks the rows, but a difference is news, not something missed.
    ``finals`` are the venue's closing records of orders the list lacks, where the client
    looked them up (order history, order by id): those rows close as the venue says (filled,
    cancelled...), the others as closed while unseen.
    """

    account: AccountKey
    orders: tuple[Order, ...]
    stream: bool = False
    finals: tuple[Order, ...] = ()


@dataclass(frozen=True, slots=True)
class Upsert:
    """An order is new or changed and still open."""

    order: Order


@dataclass(frozen=True, slots=True)
class Closed:
    """An order left the book: cancelled, filled, rejected or expired (see ``order.status``)."""

    order: Order


OrderEvent = Snapshot | Upsert | Closed
