"""The venue-neutral order and the events that change the set of open orders.

Every venue codec turns its frames into these; the store and the UI know nothing else.
Amounts and prices are exact decimals; times are integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import NamedTuple


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


@dataclass(frozen=True, slots=True)
class AccountKey:
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


@dataclass(frozen=True, slots=True)
class Order:
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

    @property
    def key(self) -> OrderKey:
        return OrderKey(self.venue, self.account, self.order_id)

    @property
    def account_key(self) -> AccountKey:
        return AccountKey(self.venue, self.account)

    @property
    def filled(self) -> Decimal:
        return self.amount - self.remaining


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
