"""Bitfinex order arrays (bitfinex.md §3.2) → core ``Order``s, pure: no I/O, no clock.

An order is a 32-field array: ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT (remaining,
signed), AMOUNT_ORIG (signed: the side), TYPE, ..., FLAGS [12], STATUS [13], PRICE [16],
PRICE_AVG [17], ..., HIDDEN [24]. Longer arrays are fine (the venue appends fields); shorter
ones are not.

Every order array is read into an ``OrderArray`` first: its fields by name, with the JSON type of
each field the blotter reads checked while decoding, in C (``msgspec``). A frame's bytes decode
straight into one (``stream.py``); a list already decoded (a snapshot, a REST answer) is
converted. What is left to check in Python is what types cannot say: signs, the amounts' order,
whether the fixed fields are those already seen.

Numbers: the venue sends amounts and prices as JSON numbers. The decoder reads them as floats
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
import re
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any, Final

import msgspec

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


class OrderArray(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One order array (§3.2), its fields by name. Decoding checks the JSON type of every field
    the blotter reads; a field it does not read may hold anything. The array has 32 fields or
    more (the venue may append fields; they are ignored). ``gc=False``: an array holds only
    what JSON decodes to, never itself, so the collector need not track it."""

    id: Annotated[int, msgspec.Meta(gt=0)]
    gid: int | None
    cid: int | None
    symbol: str
    mts_create: int | None
    mts_update: int | None
    amount: int | float | None  # the remaining amount, signed as the side; null only in an oc
    amount_orig: int | float
    order_type: str
    type_prev: Any
    mts_tif: Any
    placeholder_11: Any
    flags: int | None
    status: str
    placeholder_14: Any
    placeholder_15: Any
    price: int | float | None
    price_avg: int | float | None
    price_trailing: Any
    price_aux_limit: Any  # the limit of a stop limit: checked where it is read
    placeholder_20: Any
    placeholder_21: Any
    placeholder_22: Any
    notify: Any
    hidden: Any
    placed_id: Any
    placeholder_26: Any
    placeholder_27: Any
    routing: Any
    placeholder_29: Any
    placeholder_30: Any
    meta: Any


_ORDER_ARRAYS: Final = list[OrderArray]
# What each field the decoder checks must be, in the words of a refusal (by index).
_FIELD_ERRORS: Final = {
    0: "order without an integer id",
    1: "group id is not an integer",
    2: "client id is not an integer",
    3: "symbol, type or status is not text",
    4: "MTS_CREATE is not an integer",
    5: "MTS_UPDATE is not an integer",
    6: "amount is not a number",
    7: "original amount is not a number",
    8: "symbol, type or status is not text",
    12: "flags are not an integer",
    13: "symbol, type or status is not text",
    16: "price is not a number",
    17: "average price is not a number",
}
_NOT_AN_ARRAY: Final = "order is not an array of 32 fields"
# where a decoder's refusal points: `$[6]` in an order array, `$[2][6]` in a frame, `$[0][6]`
# in a list of them
_ERROR_FIELD: Final = re.compile(r"at `\$(?:\[\d+\])?\[(\d+)\]`$")


def refusal(exc: msgspec.ValidationError, order: Any) -> MalformedFrame:
    """What is wrong with an order array the decoder refused, in the same words whether it came
    as bytes or as a decoded list: the field at fault, with the order's id when it can be read.
    ``order`` is the array as a decoded value (for its id), or None."""
    text = str(exc)
    found = _ERROR_FIELD.search(text)
    if found is None:
        return MalformedFrame(_NOT_AN_ARRAY if text.startswith("Expected `array`") else text)
    index = int(found.group(1))
    reason = _FIELD_ERRORS.get(index, f"field {index}: {text}")
    if index == 0:
        return MalformedFrame(reason)
    oid = order[0] if type(order) is list and order else None
    if type(oid) is int and oid > 0:
        return MalformedFrame(f"order {oid}: {reason}")
    return MalformedFrame(reason)


def as_array(data: Any) -> OrderArray:
    """A decoded order array (a list) as an ``OrderArray``; ``MalformedFrame`` saying which field
    is wrong when it cannot be one."""
    if type(data) is not list:  # a JSON object would be read by name: it is not an order array
        raise MalformedFrame(_NOT_AN_ARRAY)
    try:
        return msgspec.convert(data, OrderArray)
    except msgspec.ValidationError as exc:
        raise refusal(exc, data) from None


def as_arrays(data: Any) -> list[OrderArray]:
    """A decoded list of order arrays as ``OrderArray``s, whole or not at all (``as_array``
    says what is wrong with the first bad one)."""
    if type(data) is not list:
        raise MalformedFrame("order list is not an array")
    if all(type(a) is list for a in data):
        try:
            return msgspec.convert(data, _ORDER_ARRAYS)
        except msgspec.ValidationError:
            pass  # find the bad one, and say what is wrong with it
    return [as_array(a) for a in data]


# The fields of an order array that do not change while it is open (§3.2): GID, CID, SYMBOL,
# MTS_CREATE, AMOUNT_ORIG, TYPE, FLAGS, HIDDEN. One C call picks them for the known-order check.
_fixed_fields = attrgetter(
    "gid", "cid", "symbol", "mts_create", "amount_orig", "order_type", "flags", "hidden"
)
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
_tuple_new: Final[Any] = tuple.__new__

# What OrderParser remembers of an order id: its fixed fields as sent (for the comparison), the
# JSON type of AMOUNT_ORIG as sent (1 == 1.0, and the decoder allows either), then what was made
# of them: the order's fields for build_order, the amount (the unsigned JSON number of
# AMOUNT_ORIG, found positive), whether it sells, and whether its PRICE is a stop price.
_Known = tuple[tuple[Any, ...], type, OrderFields, Any, bool, bool]

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
        arrays = as_arrays(data)
        try:
            return tuple([self.parse_order(a) for a in arrays])
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
        """One order array, an ``OrderArray`` or a decoded list (``as_array``); ``closed`` for
        the order of an ``oc`` frame."""
        return self.read_array(a if type(a) is OrderArray else as_array(a), closed)

    def read_array(self, a: OrderArray, closed: bool = False) -> Order:
        """``parse_order`` of an ``OrderArray``: the hot path (every ``ou``). The decoder
        checked the types and that the id is above zero, so what is left is plain local
        look-ups and comparisons, no decimal work, no regex."""
        oid = a.id
        fixed = _fixed_fields(a)
        known = self._known.get(oid)
        if known is None or fixed != known[0]:
            known = self._recall(oid, fixed)
        # == alone takes 1.0 for 1: AMOUNT_ORIG's JSON type must be the known one too (the other
        # fixed fields are text, null or integers, which compare equal only to their own kind)
        _, orig_t, fields, amount, sell, stop = known
        if type(fixed[4]) is not orig_t:
            _, _, fields, amount, sell, stop = self._learn(oid, fixed)
        if closed:
            self._recent.pop(oid)  # it left the book: forget it

        status_text = a.status
        if "@" not in status_text:  # "ACTIVE": one object for every row (a fill price: unique)
            shared = self._texts.get(status_text)
            if shared is not None:
                status_text = shared
            elif len(self._texts) < _TEXTS_LIMIT:
                self._texts[status_text] = status_text
        # The remaining amount [6], unsigned (the sign is the side's, from AMOUNT_ORIG).
        rem = a.amount
        if rem is None:
            if not closed:
                raise MalformedFrame(f"order {oid}: amount is not a number")
            rem = 0
        elif rem < 0:
            if not sell:
                raise MalformedFrame(f"order {oid}: {_OTHER_SIDE}")
            rem = -rem
        elif sell and rem:
            raise MalformedFrame(f"order {oid}: {_OTHER_SIDE}")
        price = a.price
        trigger = None
        if stop:  # PRICE is the stop price; a stop limit's limit is [19] (§3.2)
            trigger, price = self._stop_prices(oid, price, a.price_aux_limit)
        avg = a.price_avg or None  # PRICE_AVG is 0 (or null) until the first fill
        updated = a.mts_update
        if updated is not None and updated == fields[8]:
            updated = fields[8]  # a new order's MTS_UPDATE is its MTS_CREATE: keep one int
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
        """A stop order's trigger price (PRICE [16], a number or null: the decoder checked it)
        and limit price (PRICE_AUX_LIMIT [19]): either may be missing (None); a negative
        trigger, or a limit that is not a number, is not."""
        t = type(limit)
        if not limit:
            if limit is not None and t is not float and t is not int:
                raise MalformedFrame(f"order {oid}: limit price is not a number")
            limit = None
        elif t is not float and t is not int:
            raise MalformedFrame(f"order {oid}: limit price is not a number")
        if not stop:  # a stop may carry none (§3.2)
            stop = None
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
        """Convert the fixed fields of an order seen for the first time (or changed); their
        types were checked by the decoder, what is left is the amount's sign and size."""
        gid, cid, symbol, created, orig, order_type, bits, hidden = fixed
        texts = self._texts
        if len(texts) >= _TEXTS_LIMIT:
            texts.clear()
        symbol = texts.setdefault(symbol, symbol)
        order_type = texts.setdefault(order_type, order_type)
        # the cached copy holds the shared texts, not the frame's (equal, so it compares alike)
        fixed = (gid, cid, symbol, created, orig, order_type, bits, hidden)
        orig_type = type(orig)
        # Amounts: the sign of the original [7] gives the side.
        if orig < 0:
            side = Side.SELL
            orig = -orig
        else:
            side = Side.BUY
        if not orig > 0 or orig == math.inf:  # not 0 (nor infinite): checked once per order
            raise MalformedFrame(f"order {oid}: amount {orig} is not a positive number")
        if gid is not None:
            gid = str(gid)
        cid_date = None
        if cid is not None:
            cid = str(cid)
            if created is not None:
                # cid_date: the UTC day the order was created, as a cid cancel names it (§4.1)
                day = created // _DAY_MS
                cid_date = self._days.get(day)
                if cid_date is None:
                    cid_date = self._days[day] = _utc_date(day)
        if hidden:  # the HIDDEN field
            bits = (bits or 0) | _FLAG_HIDDEN_BIT
        flags = self._flags.get(bits)
        if flags is None:
            flags = self._flag_set(bits)
        # OrderKey(venue, account, order id), without the NamedTuple's Python __new__
        key: OrderKey = _tuple_new(OrderKey, (self._venue, self._account, str(oid)))
        fields: OrderFields = (
            key, symbol, side, order_type, cid,
            cid_date, gid, flags, created, None, None, _time_in_force(order_type),
        )
        known: _Known = (fixed, orig_type, fields, orig, side is _SELL, "STOP" in order_type)
        self._recent.put(oid, known)
        return known

    def _flag_set(self, bits: int | None) -> frozenset[Flag]:
        if bits is None:
            bits = 0
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
