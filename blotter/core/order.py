"""The venue-neutral order and the events that change the set of open orders.

Every venue codec turns its frames into these; the store and the UI know nothing else.
Amounts and prices are exact decimals; times are integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Final, NamedTuple


class Side(Enum):
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
        # A tuple compares by identity first; a frozenset would call Enum.__hash__ (Python code)
        # on every store update.
        return self in _OPEN_STATUSES


_OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED)


class Flag(Enum):
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
        return AccountKey(self.venue, self.account)


class _Keyed:
    """The slot that caches ``Order.key`` (not a dataclass field: not compared, not shown)."""

    __slots__ = ("_key",)
    _key: OrderKey


@dataclass(frozen=True, slots=True)
class Order(_Keyed):
    """One order as the venue last described it. Frozen: a change is a new ``Order``.

    ``amount``, ``remaining``, ``price`` and ``avg_price`` read as exact ``Decimal``s. A codec
    may store the JSON number it parsed (a float, or an int) instead: the first read converts it
    exactly (``Decimal(repr(f))``, the shortest round-trip repr, i.e. the digits that were sent)
    and keeps the result, so a frame costs no decimal work unless its numbers are shown.
    """

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
    price: Decimal | None = None
    avg_price: Decimal | None = None
    client_id: str | None = None
    client_id_date: str | None = None  # YYYY-MM-DD, for venues whose client ids repeat daily
    group_id: str | None = None
    flags: frozenset[Flag] = field(default_factory=frozenset)
    created_ms: int | None = None
    updated_ms: int | None = None
    category: str | None = None  # venue-specific market kind (spot, linear, ...), when it matters

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", OrderKey(self.venue, self.account, self.order_id))

    @property
    def key(self) -> OrderKey:
        try:
            return self._key
        except AttributeError:  # built without __init__ (e.g. unpickled): make it now
            key = OrderKey(self.venue, self.account, self.order_id)
            object.__setattr__(self, "_key", key)
            return key

    @property
    def account_key(self) -> AccountKey:
        return AccountKey(self.venue, self.account)

    @property
    def filled(self) -> Decimal:
        return self.amount - self.remaining


def _exact_decimal(slot: Any) -> property:
    """Turn a slot of ``Order`` into a property that reads as an exact ``Decimal``.

    The slot keeps its name and place (``Order.__slots__`` and the dataclass fields do not
    change); it may hold a float or an int from a codec until the first read converts it.
    """
    get = slot.__get__
    put = slot.__set__

    def read(self: Order) -> Decimal | None:
        value = get(self, Order)
        t = type(value)
        if t is float:
            value = Decimal(repr(value))
            put(self, value)
        elif t is int:
            value = Decimal(value)
            put(self, value)
        return value  # type: ignore[no-any-return]

    return property(read, put, None, "exact decimal (converted from the codec's number once)")


for _name in ("amount", "remaining", "price", "avg_price"):
    setattr(Order, _name, _exact_decimal(Order.__dict__[_name]))
del _name

OPEN_STATUSES: Final = _OPEN_STATUSES  # a tuple: membership tests by identity, in C


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The venue's complete list of an account's open orders: it replaces what we had."""

    account: AccountKey
    orders: tuple[Order, ...]


@dataclass(frozen=True, slots=True)
class Upsert:
    """An order is new or changed and still open."""

    order: Order


@dataclass(frozen=True, slots=True)
class Closed:
    """An order left the book: cancelled, filled, rejected or expired (see ``order.status``)."""

    order: Order


OrderEvent = Snapshot | Upsert | Closed
