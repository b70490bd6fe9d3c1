"""Bitfinex order arrays (bitfinex.md §3.2) → core ``Order``s, pure: no I/O, no clock.

An order is a 32-field array: ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT (remaining,
signed), AMOUNT_ORIG (signed: the side), TYPE, ..., FLAGS [12], STATUS [13], PRICE [16],
PRICE_AVG [17], ..., HIDDEN [24]. Longer arrays are fine (the venue appends fields); shorter
ones are not.

Numbers: the venue sends amounts and prices as JSON numbers. ``orjson`` reads them as floats
and ``Decimal(repr(f))`` is the exact decimal that was printed (shortest round-trip repr, and
Bitfinex never prints more than 15 significant digits). Integers stay integers. Orders carry the
number as read and ``Order`` makes that conversion on the first read of the field.

STATUS is shown as the venue wrote it. In ``os``/``on``/``ou`` the order is open whatever the
text says; in ``oc`` (closed) the leading keyword says how it closed (§6.2): filled, cancelled
(by the trader or by the venue) or rejected.

A record that cannot be true (``implausible``: more remaining than the amount, no amount, a
limit price of zero or below, a negative average price) is as unreadable as a malformed one.
An ``oc`` that cannot be read whole may still say that, and how, its order closed
(``salvage_close``).
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final

from blotter.core.order import (
    AccountKey,
    Flag,
    Order,
    OrderFields,
    OrderKey,
    OrderStatus,
    Side,
    build_order,
    implausible_numbers,
)
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.spec import VENUE
from blotter.venues.recent import Recent

ORDER_FIELDS: Final = 32

# FLAGS bits the blotter shows (§6.1); HIDDEN [24] also sets Flag.HIDDEN.
_FLAG_BITS: Final = (
    (64, Flag.HIDDEN),
    (512, Flag.CLOSE),
    (1024, Flag.REDUCE_ONLY),
    (4096, Flag.POST_ONLY),
    (16384, Flag.OCO),
)
_FLAG_HIDDEN_BIT: Final = 64
_DAY_MS: Final = 86_400_000


def closed_status(text: str, fully_executed: bool) -> OrderStatus:
    """How an order in an ``oc`` frame closed, from the leading keyword of its STATUS (§6.2).

    Only the keyword before `` @``, `` was``, ``:`` or `` (`` decides: ``EXECUTED`` is filled,
    ``... CANCELED``, ``INSUFFICIENT ...`` and ``RSN_...`` are cancelled (``RSN_POS_...``:
    rejected). An unknown keyword is filled when nothing remains, else cancelled.
    """
    lead = text.partition(" was")[0].partition(" @")[0].partition(":")[0].partition(" (")[0]
    lead = lead.strip()
    if lead in ("EXECUTED", "FORCED EXECUTED"):
        return OrderStatus.FILLED
    if lead.endswith("CANCELED"):  # CANCELED, POSTONLY/IOC/FILLORKILL CANCELED
        return OrderStatus.CANCELLED
    if lead.startswith("INSUFFICIENT"):  # the venue cancelled it for margin/balance
        return OrderStatus.CANCELLED
    if lead.startswith("RSN_POS_"):  # reduce-only orders the venue refused to keep
        return OrderStatus.REJECTED
    if lead.startswith("RSN_"):  # RSN_DUST, RSN_PAUSE, RSN_BOOK_SLIP: removed by the venue
        return OrderStatus.CANCELLED
    return OrderStatus.FILLED if fully_executed else OrderStatus.CANCELLED


def _utc_date(day: int) -> str:
    # Days since the epoch -> YYYY-MM-DD (civil-from-days, Howard Hinnant), no datetime needed.
    z = day + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return f"{y:04d}-{m:02d}-{d:02d}"


# The fields of an order array that do not change while it is open (§3.2): GID, CID, SYMBOL,
# MTS_CREATE, AMOUNT_ORIG, TYPE, FLAGS, HIDDEN. One C call picks them for the known-order check.
_fixed_fields = itemgetter(1, 2, 3, 4, 7, 8, 12, 24)
# Orders whose fixed fields are remembered: at least those seen in the last 16,384 learnt or
# recalled, at most twice that (``Recent``); an order not seen for longer is read in full again.
RECENT_ORDERS: Final = 16_384
_TEXTS_LIMIT: Final = 4096
# Enum members as plain globals: ``OrderStatus.OPEN`` is a class attribute look-up each time.
_OPEN: Final = OrderStatus.OPEN
_SELL: Final = Side.SELL
# AMOUNT carries the side's sign as AMOUNT_ORIG does (§3.2): the other sign cannot be true
_OTHER_SIDE: Final = "its remaining amount is on the other side of the order"
_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED

# What OrderParser remembers of an order id: its fixed fields as sent (for the comparison), the
# JSON types of its numbers (GID, CID, MTS_CREATE, AMOUNT_ORIG, FLAGS as sent), then what was made
# of them: the order's fields for build_order, the amount (the unsigned JSON number of
# AMOUNT_ORIG, found positive), whether it sells, and whether its PRICE is a stop price.
_Known = tuple[
    tuple[Any, ...], type, type, type, type, type, OrderFields, Any, bool, bool
]

_ORDER_ERRORS: Final = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError)
# Order types with a limit price: for them a price of zero cannot be true (a market order, a
# stop or a trailing stop may carry none).
_LIMIT_TYPES: Final = ("LIMIT", "FOK", "IOC")
_STILL_OPEN: Final = ("ACTIVE", "PARTIALLY FILLED")  # STATUS of an order still on the book


def implausible(order: Order) -> str | None:
    """Why ``order`` cannot be a true record of an order (it then counts as unreadable), or
    None: the remaining amount above the amount, an amount of zero or below, a price that is
    negative or not finite, a limit price of zero, a negative average price."""
    return _implausible(
        order.amount, order.remaining, order.price, order.avg_price, order.order_type
    )


def _implausible(amount: Any, remaining: Any, price: Any, avg: Any, order_type: str) -> str | None:
    """``implausible`` on the numbers as read (JSON floats or ints, or Decimals)."""
    return implausible_numbers(
        amount, remaining, price, avg, limit=any(t in order_type for t in _LIMIT_TYPES)
    )


def _time_in_force(order_type: str) -> str:
    """A Bitfinex order rests until cancelled unless its type says fill-or-kill or
    immediate-or-cancel (an expiry time, MTS_TIF, is not shown)."""
    if order_type.endswith("FOK"):
        return "FOK"
    if order_type.endswith("IOC"):
        return "IOC"
    return "GTC"


class OrderParser:
    """Turns one account's order arrays into ``Order``s. Holds only caches: no I/O, no clock.

    ``parse_order`` and ``parse_orders`` raise ``MalformedFrame`` for anything that is not a
    valid order array.

    An order's fixed fields (id, symbol, side, client and group ids, ...) are validated and
    converted once per order id: an update whose fixed fields equal those already seen reuses
    them and only the changing fields (MTS_UPDATE, AMOUNT, STATUS, PRICE, PRICE_AVG) are checked.
    A closed order is forgotten.
    """

    def __init__(self, account: AccountKey, recent_orders: int = RECENT_ORDERS) -> None:
        if account.venue != VENUE:
            raise ValueError(f"not a Bitfinex account: {account}")
        self.account = account
        self._venue = account.venue
        self._account = account.account
        # Caches keep the hot path to dict lookups.
        self._recent: Recent[int, _Known] = Recent(recent_orders)
        self._known = self._recent.current  # the hot path's look-up, without a method call
        self._flags: dict[int, frozenset[Flag]] = {}
        self._days: dict[int, str] = {}
        self._closed: dict[str, OrderStatus] = {}
        # One object per distinct text (symbol, type, a status without a fill price): 100k open
        # orders share a few dozen, not 100k copies of each that the frames brought.
        self._texts: dict[str, str] = {}

    def parse_orders(self, data: Any) -> tuple[Order, ...]:
        """A list of order arrays (the ``os`` snapshot, or REST ``auth/r/orders``), whole or not
        at all: dropping a bad one would hide a live order."""
        if type(data) is not list:
            raise MalformedFrame("order list is not an array")
        try:
            return tuple([self.parse_order(a) for a in data])
        except MalformedFrame:
            raise
        except _ORDER_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None

    def parse_closed(self, data: Any) -> tuple[Order, ...]:
        """The closed orders of an order-history answer (``auth/r/orders/hist``), each read on
        its own: one that cannot be read, or one still open, is left out (nothing is learnt
        from it)."""
        if type(data) is not list:
            return ()
        found: list[Order] = []
        for a in data:
            if type(a) is list and len(a) > 13 and type(a[13]) is str and a[13].startswith(
                _STILL_OPEN
            ):
                continue
            try:
                found.append(self.parse_order(a, True))
            except (MalformedFrame, *_ORDER_ERRORS):
                continue
        return tuple(found)

    def parse_order(self, a: Any, closed: bool = False) -> Order:
        """One order array; ``closed`` for the order of an ``oc`` frame.

        This is the hot path (every ``ou``): plain local lookups, no decimal work, no regex.
        """
        if type(a) is not list or len(a) < ORDER_FIELDS:
            raise MalformedFrame("order is not an array of 32 fields")
        oid = a[0]
        if type(oid) is not int or oid <= 0:
            raise MalformedFrame("order without an integer id")
        fixed = _fixed_fields(a)
        known = self._known.get(oid)
        if known is None or fixed != known[0]:
            known = self._recall(oid, fixed)
        # == alone takes 1.0 or True for 1: the numbers' JSON types must be the known ones too
        # (the text fields compare equal only to text, and HIDDEN counts only as true/false).
        _, gid_t, cid_t, created_t, orig_t, bits_t, fields, amount, sell, stop = known
        if (
            type(a[1]) is not gid_t or type(a[2]) is not cid_t or type(a[4]) is not created_t
            or type(a[7]) is not orig_t or type(a[12]) is not bits_t
        ):
            _, _, _, _, _, _, fields, amount, sell, stop = self._learn(oid, fixed)
        if closed:
            self._recent.pop(oid)  # it left the book: forget it

        status_text = a[13]
        if type(status_text) is not str:
            raise MalformedFrame(f"order {oid}: symbol, type or status is not text")
        if "@" not in status_text:  # "ACTIVE": one object for every row (a fill price: unique)
            shared = self._texts.get(status_text)
            if shared is not None:
                status_text = shared
            elif len(self._texts) < _TEXTS_LIMIT:
                self._texts[status_text] = status_text
        # The remaining amount [6], unsigned (the sign is the side's, from AMOUNT_ORIG).
        rem = a[6]
        t = type(rem)
        if t is float or t is int:
            if rem < 0:
                if not sell:
                    raise MalformedFrame(f"order {oid}: {_OTHER_SIDE}")
                rem = -rem
            elif sell and rem:
                raise MalformedFrame(f"order {oid}: {_OTHER_SIDE}")
        elif rem is None and closed:
            rem = 0
        else:
            raise MalformedFrame(f"order {oid}: amount is not a number")
        price = a[16]
        trigger = None
        if stop:  # PRICE is the stop price; a stop limit's limit is [19] (§3.2)
            trigger, price = self._stop_prices(oid, price, a[19])
        else:
            t = type(price)
            if t is not float and t is not int and price is not None:
                raise MalformedFrame(f"order {oid}: price is not a number")
        avg = a[17]
        if not avg:  # PRICE_AVG is 0 (or null) until the first fill
            t = type(avg)
            if avg is not None and t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: average price is not a number")
            avg = None
        else:
            t = type(avg)
            if t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: average price is not a number")
        updated = a[5]
        if type(updated) is not int:
            if updated is not None:
                raise MalformedFrame(f"order {oid}: MTS_UPDATE is not an integer")
        elif updated == fields[8]:  # a new order's MTS_UPDATE is its MTS_CREATE: keep one int
            updated = fields[8]
        # plausible, as one cheap test on the hot path; the reason only when it fails (the
        # amount, one of the fixed fields, was found positive when the order was learnt)
        if rem > amount or (price is not None and price <= 0) or (avg is not None and avg < 0):
            reason = _implausible(amount, rem, price, avg, fields[3])
            if reason is not None:
                raise MalformedFrame(f"order {oid}: {reason}")
        elif rem == amount and type(rem) is type(amount):
            rem = amount  # nothing filled yet: one number object for both (the same digits)

        if closed:
            status = self._closed.get(status_text)
            if status is None:
                status = closed_status(status_text, rem == 0)
                if len(self._closed) < 1024 and "@" not in status_text:
                    self._closed[status_text] = status
        elif rem < amount or status_text.startswith("PARTIALLY"):
            status = _PARTIALLY_FILLED
        else:
            status = _OPEN  # ACTIVE, RSN_PAUSE, ...: in os/on/ou it is open

        return build_order(fields, amount, rem, status, status_text, price, avg, updated, trigger)

    @staticmethod
    def _stop_prices(oid: int, stop: Any, limit: Any) -> tuple[Any, Any]:
        """A stop order's trigger price (PRICE [16]) and limit price (PRICE_AUX_LIMIT [19]):
        either may be missing (None); a negative trigger or one that is not a number is not."""
        t = type(limit)
        if not limit:
            if limit is not None and t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: limit price is not a number")
            limit = None
        elif t is not float and t is not int:
            raise MalformedFrame(f"order {oid}: limit price is not a number")
        t = type(stop)
        if not stop:  # a stop may carry none (§3.2)
            if stop is not None and t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: price is not a number")
            stop = None
        elif t is not float and t is not int:
            raise MalformedFrame(f"order {oid}: price is not a number")
        elif stop < 0:
            raise MalformedFrame(f"order {oid}: stop price {stop} is not a positive number")
        return stop, limit

    def forget(self, order_id: str) -> None:
        """The order closed by other means than a readable ``oc``: drop what is known of it."""
        if order_id.isdigit():
            self._recent.pop(int(order_id))

    def knows(self, order_id: int) -> bool:
        """Whether the fixed fields of order ``order_id`` are remembered (an update of it reads
        only what may change)."""
        return order_id in self._recent

    def _recall(self, oid: int, fixed: tuple[Any, ...]) -> _Known:
        """What is remembered of an order seen a while ago, if its fixed fields are the same;
        else they are read in full (``_learn``)."""
        known = self._recent.recall(oid)
        if known is None or fixed != known[0]:
            known = self._learn(oid, fixed)
        return known

    def _learn(self, oid: int, fixed: tuple[Any, ...]) -> _Known:
        """Validate and convert the fixed fields of an order seen for the first time (or changed)."""
        gid, cid, symbol, created, orig, order_type, bits, hidden = fixed
        if type(symbol) is not str or type(order_type) is not str:
            raise MalformedFrame(f"order {oid}: symbol, type or status is not text")
        texts = self._texts
        if len(texts) >= _TEXTS_LIMIT:
            texts.clear()
        symbol = texts.setdefault(symbol, symbol)
        order_type = texts.setdefault(order_type, order_type)
        # the cached copy holds the shared texts, not the frame's (equal, so it compares alike)
        fixed = (gid, cid, symbol, created, orig, order_type, bits, hidden)
        # Amounts: the sign of the original [7] gives the side.
        t = type(orig)
        if t is float or t is int:
            if orig < 0:
                side = Side.SELL
                orig = -orig
            else:
                side = Side.BUY
        else:
            raise MalformedFrame(f"order {oid}: original amount is not a number")
        if not orig > 0 or orig == math.inf:  # not NaN, not 0: checked here once per order
            raise MalformedFrame(f"order {oid}: amount {orig} is not a positive number")
        if gid is not None:
            if type(gid) is not int:
                raise MalformedFrame(f"order {oid}: group id is not an integer")
            gid = str(gid)
        cid_date = None
        if created is not None and type(created) is not int:
            raise MalformedFrame(f"order {oid}: MTS_CREATE is not an integer")
        if cid is not None:
            if type(cid) is not int:
                raise MalformedFrame(f"order {oid}: client id is not an integer")
            cid = str(cid)
            if created is not None:
                # cid_date: the UTC day the order was created, as a cid cancel names it (§4.1)
                day = created // _DAY_MS
                cid_date = self._days.get(day)
                if cid_date is None:
                    cid_date = self._days[day] = _utc_date(day)
        if bits is not None and type(bits) is not int:  # before the look-up: 0.0 == 0
            raise MalformedFrame(f"order {oid}: flags are not an integer")
        if hidden:  # the HIDDEN field
            bits = (bits or 0) | _FLAG_HIDDEN_BIT
        flags = self._flags.get(bits)
        if flags is None:
            flags = self._flag_set(bits)
        order_id = str(oid)
        fields: OrderFields = (
            OrderKey(self._venue, self._account, order_id), symbol, side, order_type, cid,
            cid_date, gid, flags, created, None, None, _time_in_force(order_type),
        )
        known: _Known = (
            fixed, type(fixed[0]), type(fixed[1]), type(created), type(orig), type(fixed[6]),
            fields, orig,
            side is _SELL, "STOP" in order_type,
        )
        self._recent.put(oid, known)
        return known

    def _flag_set(self, bits: Any) -> frozenset[Flag]:
        if bits is None:
            bits = 0
        elif type(bits) is not int:
            raise MalformedFrame("order flags are not an integer")
        flags = frozenset(f for bit, f in _FLAG_BITS if bits & bit)
        if len(self._flags) < 4096:
            self._flags[bits] = flags
        return flags


def salvage_close(a: Any, last: Order) -> Order | None:
    """The close an ``oc`` order array still states when it cannot be read whole: ``last``
    (the row as last known) closed as its STATUS keyword says (§6.2), with the remaining
    amount, prices and update time of the array where they can be read and are plausible, and
    the last known ones where not. None when the array is not about ``last`` or its STATUS is
    not text: how the order closed is then unknown (a re-read of the open orders decides)."""
    if type(a) is not list or len(a) < 14 or type(a[0]) is not int or str(a[0]) != last.order_id:
        return None
    text = a[13]
    if type(text) is not str:
        return None
    remaining = _number(a[6])
    if remaining is not None:
        remaining = abs(remaining)
        if remaining > last.amount:
            remaining = None
    status = closed_status(text, remaining == 0)
    if remaining is None:
        remaining = Decimal(0) if status is OrderStatus.FILLED else last.remaining
    price = _number(a[16]) if len(a) > 16 else None
    if price is None or price <= 0:
        price = last.price
    avg = _number(a[17]) if len(a) > 17 else None
    if avg is None or avg <= 0:
        avg = last.avg_price
    updated = a[5] if type(a[5]) is int else None
    return dataclasses.replace(
        last, remaining=remaining, status=status, status_text=text, price=price,
        avg_price=avg, updated_ms=updated,
    )


def _number(value: Any) -> Decimal | None:
    """A JSON number as its exact decimal; None for anything else (or one not finite)."""
    t = type(value)
    if t is int:
        return Decimal(value)
    if t is float and math.isfinite(value):
        return Decimal(repr(value))
    return None
