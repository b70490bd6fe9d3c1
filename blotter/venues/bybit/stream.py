"""Bybit v5 private stream, sans-I/O (§7): frames in, events out.

``StreamParser`` is one account's parser of the private websocket: an ``order`` push (§7.4)
becomes its orders, the answers to ``auth``/``subscribe`` become ``OpReply``, a pong ``Pong``,
anything else well-formed ``Ignored``. ``parse_ws`` is the same without state (the spec the
parser is checked against). Bad input raises ``MalformedFrame``, and nothing else. No socket,
no clock.

Protocol notes: ``/work/shared/venues/bybit.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final

import msgspec
import orjson

from blotter.core.order import (
    OPEN_STATUSES,
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderFields,
    OrderKey,
    OrderStatus,
    Upsert,
    build_order,
)
from blotter.core.venue import PARSE_ERRORS, MalformedFrame, guarded
from blotter.venues.bybit.orders import (
    JSON_ERRORS,
    SIDES,
    STATUSES,
    as_str,
    is_limit,
    load_object,
    opt_str,
    order_event,
    order_kind,
    read_pushed_order,
    status_text,
    unreadable_item,
)
from blotter.venues.bybit.replies import OK
from blotter.venues.bybit.spec import CATEGORIES, VENUE
from blotter.venues.recent import Recent


# -- private websocket (§7) --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderPush:
    """An ``order`` topic message: each order is the full current state (merge by updatedTime)."""

    topic: str
    message_id: str
    creation_ms: int | None
    events: tuple[Upsert | Closed, ...]
    # the items that could not be read, each in words (``unreadable_item``); the others apply
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpReply:
    """The answer to ``auth`` / ``subscribe`` / ``unsubscribe`` (or a WS-Trade op)."""

    op: str
    success: bool
    ret_msg: str
    req_id: str | None
    conn_id: str | None
    ret_code: int | None = None  # WS-Trade replies carry retCode/retMsg instead of success

    def text(self) -> str:
        head = f"{self.ret_code}: " if self.ret_code is not None else ""
        return f"{head}{self.ret_msg or ('OK' if self.success else 'failed')}"


@dataclass(frozen=True, slots=True)
class Pong:
    ts_ms: int | None
    req_id: str | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed message the blotter has no use for (other topics, ...)."""

    kind: str


BybitWsEvent = OrderPush | OpReply | Pong | Ignored


def _opt_id(msg: Mapping[str, Any], key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    return value if type(value) is str else str(value)


def _ws(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any], account: AccountKey
) -> BybitWsEvent:
    return _ws_message(load_object(raw), account)


def _ws_message(msg: dict[str, Any], account: AccountKey) -> BybitWsEvent:
    topic = msg.get("topic")
    if topic is not None:
        topic = as_str(topic, "topic")
        if not topic.startswith("order"):
            return Ignored(topic[:40])
        data = msg.get("data")
        if type(data) is not list:
            raise MalformedFrame("order push without a data array")
        events = []
        unreadable = []
        for item in data:  # one unreadable item does not hide the others
            try:
                events.append(order_event(_read_pushed(item, account, topic)))
            except MalformedFrame as exc:
                unreadable.append(unreadable_item(item, exc))
        creation = msg.get("creationTime")
        return OrderPush(
            topic,
            _opt_id(msg, "id") or "",
            creation if type(creation) is int else None,
            tuple(events),
            tuple(unreadable),
        )
    op = msg.get("op")
    if type(op) is not str:
        raise MalformedFrame("message without topic or op")
    req_id = _opt_id(msg, "req_id") or _opt_id(msg, "reqId")
    if op == "pong" or (op == "ping" and msg.get("ret_msg") == "pong"):
        args = msg.get("args")
        ts = None
        if type(args) is list and args and type(args[0]) is str and args[0].isdigit():
            ts = int(args[0]) if len(args[0]) <= 20 else None
        return Pong(ts, req_id)
    conn_id = _opt_id(msg, "conn_id") or _opt_id(msg, "connId")
    if "retCode" in msg:  # WS-Trade shape (§8)
        code = msg["retCode"]
        if type(code) is not int:
            raise MalformedFrame("retCode is not an integer")
        return OpReply(op, code == OK, opt_str(msg, "retMsg"), req_id, conn_id, code)
    success = msg.get("success")
    if type(success) is not bool:
        raise MalformedFrame(f"{op[:20]!r} reply without success")
    return OpReply(op, success, opt_str(msg, "ret_msg"), req_id, conn_id)


_read_pushed: Final = guarded(read_pushed_order)


@guarded
def parse_ws(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any], account: AccountKey
) -> BybitWsEvent:
    """One private-stream (or WS-Trade) message → ``OrderPush`` / ``OpReply`` / ``Pong`` /
    ``Ignored``."""
    return _ws(raw, account)


# -- the private stream's hot path -------------------------------------------------------------
_loads: Final = orjson.loads


def _decoded(*names: str) -> tuple[str, ...]:
    """``names`` as the decoder makes them: orjson keeps one str per short key and hands out that
    very object for it in every object it decodes, so a look-up with it finds the entry by
    identity instead of comparing text (about 2.5 times faster for a 20-key itemgetter). Speed
    only: an equal str finds the same entry, should the decoder ever make a new one."""
    return tuple(_loads(orjson.dumps(dict.fromkeys(names))))


# The fields of an order object read on the hot path, in one C call: first those that do not
# change while it lives (an amend changes qty and price, not these), then those that do.
# cumExecQty is read only without leavesQty, triggerBy only for a waiting conditional order.
_FIELD_NAMES: Final = (
    "orderId", "category", "symbol", "side", "orderType", "stopOrderType", "timeInForce",
    "reduceOnly", "closeOnTrigger", "orderLinkId", "createdTime",  # fixed
    "orderStatus", "qty", "leavesQty", "triggerPrice", "cancelType", "rejectReason", "price",
    "avgPrice", "updatedTime",
)
_order_fields: Final = itemgetter(*_decoded(*_FIELD_NAMES))


class PushedOrder(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """An order of an ``order`` push (§7.4) as the hot path reads it, decoded straight from the
    frame: the fields it reads, with the values JSON gives them (checked in Python, exactly as
    those of a decoded object), and none of the others, which are skipped without being built.
    A push whose order lacks one of them does not decode as ``OrderPush`` and is read the
    general way."""

    order_id: Any
    category: Any
    symbol: Any
    side: Any
    order_type: Any
    stop_order_type: Any
    time_in_force: Any
    reduce_only: Any
    close_on_trigger: Any
    order_link_id: Any
    created_time: Any
    order_status: Any
    qty: Any
    leaves_qty: Any
    trigger_price: Any
    cancel_type: Any
    reject_reason: Any
    price: Any
    avg_price: Any
    updated_time: Any
    trigger_by: Any = None  # read only for a waiting conditional order


class PushFrame(msgspec.Struct, frozen=True, gc=False):
    """A message with a topic and a data array of orders: how an ``order`` push is read."""

    topic: str
    data: list[PushedOrder]


_push_frame: Final = msgspec.json.Decoder(PushFrame).decode
_NOT_A_PUSH: Final = (msgspec.DecodeError, TypeError)  # ValidationError is a DecodeError
# A PushedOrder's fields as a tuple, in one C call: _FIELD_NAMES, then triggerBy (a test holds
# the struct to that order), as the general way reads them from an object (``_order``).
_pushed_fields: Final = msgspec.structs.astuple
_FIXED_COUNT: Final = 11
_CATEGORY_SET: Final = frozenset(CATEGORIES)
_UNTRIGGERED: Final = OrderStatus.UNTRIGGERED
# Orders whose fixed fields are remembered: at least those seen in the last 16,384 learnt or
# recalled, at most twice that (``Recent``); an order not seen for longer is read in full again.
RECENT_ORDERS: Final = 16_384
# An order's numbers joined by _BAR: qty, leavesQty, price, avgPrice, triggerPrice, the first
# two required, each as ``orders.DECIMAL_TEXT`` without its sign (a negative is implausible:
# the full parser says why), then updatedTime in digits (``orders.as_int``; a time in another
# shape, or none, is the full parser's).
# Possessive (nothing to give back: a digit is never a point or a bar), so the match never
# backtracks.
_DIGITS: Final = r"[0-9]{1,40}+(?:\.[0-9]{1,40}+)?+"
_BAR: Final = "|"
_NUMBERS: Final = re.compile(
    rf"{_DIGITS}\|{_DIGITS}\|(?:{_DIGITS})?+\|(?:{_DIGITS})?+\|(?:{_DIGITS})?+\|[0-9]{{1,20}}+"
).fullmatch

# What StreamParser remembers of an open order: its fixed fields as sent (compared with each
# push), then what was made of them, the order's fields for build_order, and whether it is a
# limit order (which must have a price).
_Known = tuple[tuple[Any, ...], OrderFields, bool]
# An order's type column, its flags, and whether it is a limit order (``order_kind``, ``is_limit``)
_Kind = tuple[str, frozenset[Flag], bool]
_tuple_new: Final[Any] = tuple.__new__


class StreamParser:
    """One account's private stream: ``parse(frame)`` gives exactly what ``parse_ws`` gives, and
    raises ``MalformedFrame`` (only) where it raises, with the same words.

    The ``order`` push is the hot path, and it is built like the Bitfinex stream parser: an
    order's fixed fields (id, category, symbol, side, type, flags, client id, createdTime) are
    checked and converted once per order; a push whose fixed fields equal those seen reuses
    them. The status words go through a memo. The numbers are checked together, as one text, and
    kept as the venue's text: the ``Order`` converts each exactly when it is first read. Anything
    missing or odd goes through the full parser (``orders.read_order``, the spec), which
    decides. Caches only: no I/O, no clock.

    ``parse_stream`` decodes a frame straight into a ``PushFrame`` first: only the fields the
    hot path reads are built. A frame that is not one, or a push with an order for the full
    parser, is read the general way (``parse``'s), to the same result.
    """

    def __init__(self, account: AccountKey, recent_orders: int = RECENT_ORDERS) -> None:
        if account.venue != VENUE:
            raise ValueError(f"not a Bybit account: {account}")
        self.account = account
        self._venue = account.venue
        self._account = account.account
        # open orders seen lately, by orderId; the hot path reads the current generation
        self._recent: Recent[str, _Known] = Recent(recent_orders)
        self._known = self._recent.current
        # (orderStatus, cancelType, rejectReason) -> status, status text
        self._statuses: dict[tuple[Any, Any, Any], tuple[OrderStatus, str]] = {}
        # (orderType, stopOrderType, timeInForce, reduceOnly, closeOnTrigger) -> type, flags,
        # whether a limit order
        self._kinds: dict[tuple[Any, ...], _Kind] = {}

    def knows(self, order_id: str) -> bool:
        """Whether the fixed fields of order ``order_id`` are remembered (a push of it reads
        only what may change)."""
        return order_id in self._recent

    @property
    def remembered(self) -> int:
        """How many orders' fixed fields are remembered (at most twice ``recent_orders``)."""
        return len(self._recent)

    def parse(self, raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> BybitWsEvent:
        if type(raw) is not bytes and type(raw) is not str:
            return parse_ws(raw, self.account)
        msg = _load_text(raw)
        orders = self._push(msg)
        if orders is None:
            return _parse_ws_message(msg, self.account)
        if isinstance(orders, OrderPush):
            return orders
        creation = msg.get("creationTime")
        return OrderPush(
            msg["topic"],
            _opt_id(msg, "id") or "",
            creation if type(creation) is int else None,
            tuple([order_event(o) for o in orders]),
        )

    def parse_stream(
        self, raw: bytes | bytearray | memoryview | str | Mapping[str, Any]
    ) -> list[Order] | BybitWsEvent:
        """``parse``, except that an ``order`` push whose items all read comes back as the bare
        list of its orders (the push's events are ``order_event`` of each): the client's hot
        path, without the wrappers. A push with an unreadable item is the ``OrderPush``."""
        if type(raw) is bytes or type(raw) is str:
            try:
                push = _push_frame(raw)
            except _NOT_A_PUSH:
                pass  # another message, or an odd push: the general way says which
            else:
                typed = self._typed_push(push)
                if typed is not None:
                    return typed
            try:  # _load_text, inline: one call less per frame
                msg = _loads(raw)
            except JSON_ERRORS as exc:
                raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
            if type(msg) is not dict:
                raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
            orders = self._push(msg)
            return orders if orders is not None else _parse_ws_message(msg, self.account)
        event = parse_ws(raw, self.account)
        if type(event) is OrderPush and not event.unreadable:
            return [e.order for e in event.events]
        return event

    def _push(self, msg: dict[str, Any]) -> list[Order] | OrderPush | None:
        """The orders of an ``order`` push (the whole ``OrderPush`` when an item could not be
        read); None for any other message (or a push without a data array: ``parse_ws`` has
        the words for it)."""
        topic = msg.get("topic")
        if type(topic) is not str or not topic.startswith("order"):
            return None
        data = msg.get("data")
        if type(data) is not list:
            return None
        order = self._order
        orders = []
        unreadable: list[str] | None = None
        for item in data:
            try:
                if type(item) is not dict:
                    raise MalformedFrame("order is not an object")
                orders.append(order(item, topic))
            except MalformedFrame as exc:  # the other items still apply
                if unreadable is None:
                    unreadable = []
                unreadable.append(unreadable_item(item, exc))
        if unreadable is None:
            return orders
        creation = msg.get("creationTime")
        return OrderPush(
            topic,
            _opt_id(msg, "id") or "",
            creation if type(creation) is int else None,
            tuple([order_event(o) for o in orders]),
            tuple(unreadable),
        )

    def _typed_push(self, push: PushFrame) -> list[Order] | None:
        """The orders of a push decoded as ``PushFrame``; None when it is not an ``order``
        push, or when one of its orders is for the full parser to judge (the general way then
        reads the whole push again, to the same orders)."""
        topic = push.topic
        if not topic.startswith("order"):
            return None
        fast = self._fast
        orders = []
        for item in push.data:
            order = fast(_pushed_fields(item))
            if order is None:
                return None
            orders.append(order)
        return orders

    def _order(self, item: dict[str, Any], topic: str) -> Order:
        try:
            fields = _order_fields(item)
        except KeyError:
            return self._full(item, topic)
        return self._fast((*fields, item.get("triggerBy"))) or self._full(item, topic)

    def _fast(self, fields: tuple[Any, ...]) -> Order | None:
        """The order of an order's ``fields`` (``_FIELD_NAMES``, then triggerBy) when every one
        of them is as an order's usually is; None when the full parser must judge the order."""
        (
            order_id, _, _, _, _, _, _, reduce_only, close, _, created,
            venue_status, qty, leaves, trigger, cancel_type, reject, price, avg_price, updated,
            trigger_by,
        ) = fields
        fixed = fields[:_FIXED_COUNT]
        # A look-up finds only text equal to text already checked (text equals nothing else);
        # a miss, or anything unhashable (TypeError), takes the checks, or the full parser.
        try:
            known = self._known.get(order_id)
            known_status = self._statuses.get((venue_status, cancel_type, reject))
            # the numbers as one text, checked in one match: not text (TypeError), a sign, an
            # exponent or anything else odd is the full parser's to judge
            numbers = _NUMBERS(_BAR.join((qty, leaves, price, avg_price, trigger, updated)))
        except TypeError:
            return None
        # the booleans by identity: 0 == False, so equality alone does not prove one
        if known is None:
            known = self._recent.recall(order_id)
        if known is None or fixed != known[0] or reduce_only is not known[0][7] or (
            close is not known[0][8]
        ):
            known = self._learn(fixed)
            if known is None:
                return None
        if known_status is None:
            known_status = self._status(venue_status, cancel_type, reject)
            if known_status is None:
                return None
        if numbers is None or not qty.strip("0."):  # the amount must be above zero
            return None
        if leaves != qty and leaves != "0":  # the remaining amount may not exceed it
            left, whole = float(leaves), float(qty)  # rounding keeps a strict order strict
            if left > whole or (left == whole and Decimal(leaves) > Decimal(qty)):
                return None
        # "" and "0" (any zero) mean no price: market orders, no fills, no trigger
        if not price.strip("0."):
            price = None
            if known[2]:  # a limit order without a price: the full parser refuses it
                return None
        if not avg_price.strip("0."):
            avg_price = None
        if not trigger.strip("0."):
            trigger = None
        order_fields = known[1]
        # a new order: updatedTime is createdTime, already read; else digits (matched above)
        updated_ms = order_fields[8] if updated == created else int(updated)
        status, text = known_status
        if status is _UNTRIGGERED and trigger is not None:  # the text names the trigger
            if trigger_by is not None and type(trigger_by) is not str:
                return None
            text = status_text(venue_status, status, Decimal(trigger), trigger_by or "",
                                cancel_type or "", reject or "")
        if status not in OPEN_STATUSES:
            self._recent.pop(order_id)  # it left the book: forget it
        # the numbers stay the venue's checked text: an Order reads them as exact Decimals
        return build_order(order_fields, qty, leaves, status, text, price, avg_price,
                           updated_ms, trigger)

    def _full(self, item: dict[str, Any], topic: str) -> Order:
        """The full parser, with ``parse_ws``'s category rule and words for every slip."""
        try:
            order = read_pushed_order(item, self.account, topic)
        except MalformedFrame:
            raise
        except PARSE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}"[:200]) from None
        if not order.status.is_open:
            self._recent.pop(order.order_id)
        return order

    # Each of these answers None (or _MISSING) for what the full parser must judge.
    def _learn(self, fixed: tuple[Any, ...]) -> _Known | None:
        """Check and convert the fixed fields of an order seen for the first time (or changed);
        remembered only while open (the caller forgets closed ones)."""
        (
            order_id, category, symbol, side, order_type, stop_type, time_in_force, reduce_only,
            close, link, created,
        ) = fixed
        if (
            type(order_id) is not str or not order_id or type(symbol) is not str or not symbol
            or type(category) is not str or category not in _CATEGORY_SET
            or type(side) is not str or side not in SIDES
            or (link is not None and type(link) is not str)
            or type(created) is not str or not created.isdigit() or not created.isascii()
            or len(created) > 20
        ):  # createdTime as text only: 5 == 5.0 == True, so a number is not cached
            return None
        try:
            kind = self._kinds.get((order_type, stop_type, time_in_force, reduce_only, close))
        except TypeError:  # unhashable
            return None
        if kind is None or type(reduce_only) is not bool or type(close) is not bool:
            kind = self._kind(order_type, stop_type, time_in_force, reduce_only, close)
            if kind is None:
                return None
        # OrderKey(venue, account, order_id), without the NamedTuple's Python __new__
        key: OrderKey = _tuple_new(OrderKey, (self._venue, self._account, order_id))
        fields: OrderFields = (
            key, symbol, SIDES[side], kind[0], link or None, None, None, kind[1], int(created),
            category, None, time_in_force or None,
        )
        known: _Known = (fixed, fields, kind[2])
        self._recent.put(order_id, known)
        return known

    def _kind(
        self, order_type: Any, stop_type: Any, time_in_force: Any, reduce_only: Any, close: Any
    ) -> _Kind | None:
        if (
            (order_type is not None and type(order_type) is not str)
            or (stop_type is not None and type(stop_type) is not str)
            or (time_in_force is not None and type(time_in_force) is not str)
            or type(reduce_only) is not bool or type(close) is not bool
        ):
            return None
        shown, flags = order_kind(order_type or "", stop_type or "", time_in_force or "",
                                  reduce_only, close)
        kind = (shown, flags, is_limit(shown))
        memo = self._kinds
        if len(memo) >= 4096:
            memo.clear()
        memo[(order_type, stop_type, time_in_force, reduce_only, close)] = kind
        return kind

    def _status(
        self, venue_status: Any, cancel_type: Any, reject: Any
    ) -> tuple[OrderStatus, str] | None:
        """The status and its words, without a trigger price (the caller adds one)."""
        if (
            type(venue_status) is not str
            or (cancel_type is not None and type(cancel_type) is not str)
            or (reject is not None and type(reject) is not str)
        ):
            return None
        status = STATUSES.get(venue_status)
        if status is None:
            return None
        text = status_text(venue_status, status, None, "", cancel_type or "", reject or "")
        memo = self._statuses
        if len(memo) >= 4096:
            memo.clear()
        memo[(venue_status, cancel_type, reject)] = (status, text)
        return status, text


def _load_text(raw: bytes | str) -> dict[str, Any]:
    """``load_object`` for a frame as it comes off the socket."""
    try:
        msg = _loads(raw)
    except JSON_ERRORS as exc:
        raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
    if type(msg) is not dict:
        raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
    return msg


_parse_ws_message: Final = guarded(_ws_message)

