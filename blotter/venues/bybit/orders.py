"""Bybit v5 order objects → core ``Order`` (pure), and the checked readers every Bybit parser
uses.

One order object has the same fields in the REST list (``GET /v5/order/realtime``, §3.1) and
on the private ``order`` topic (§7.4); statuses and kinds follow §4. Numbers arrive as decimal
strings (``"0.10"``) and are kept as exact ``Decimal``s. Every reader raises ``MalformedFrame``
for input that is not what the protocol says; ``guarded`` turns any other slip into one.

Protocol notes: ``/work/shared/venues/bybit.md``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from decimal import Decimal
from typing import Any, Final

import orjson

from blotter.core.order import (
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderStatus,
    Side,
    Upsert,
    implausible_numbers,
)
from blotter.core.venue import MalformedFrame, guarded
from blotter.venues.bybit.spec import CATEGORIES

# -- checked readers of the venue's JSON -------------------------------------------------------
JSON_ERRORS: Final = (orjson.JSONDecodeError, TypeError, ValueError, UnicodeError, RecursionError)
DECIMAL_TEXT: Final = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")


def load_object(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object from a frame or body (a mapping is taken as already decoded)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        msg = orjson.loads(raw)
    except JSON_ERRORS as exc:
        raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
    if type(msg) is not dict:
        raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
    return msg


def as_str(value: Any, what: str) -> str:
    if type(value) is not str:
        raise MalformedFrame(f"{what} is not a string")
    return value


def opt_str(obj: Mapping[str, Any], key: str) -> str:
    """``obj[key]`` as text; absent or null is ``""``."""
    value = obj.get(key)
    if value is None:
        return ""
    return as_str(value, key)


def as_int(value: Any, what: str) -> int:
    """An integer, or its decimal digits as text (times come as ``"1684738540559"``)."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    raise MalformedFrame(f"{what} is not an integer")


def opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return as_int(value, key)


def as_decimal(value: Any, what: str) -> Decimal:
    if type(value) is not str or not DECIMAL_TEXT.fullmatch(value):
        raise MalformedFrame(f"{what} is not a decimal string")
    return Decimal(value)


def opt_decimal(obj: Mapping[str, Any], key: str) -> Decimal | None:
    """A price that may be absent: ``""``/``"0"`` (market orders, no fills) mean none."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    number = as_decimal(value, key)
    return None if number == 0 else number


# -- orders (§3.1 table, §4, §7.4) -------------------------------------------------------------
STATUSES: Final[Mapping[str, OrderStatus]] = {
    "New": OrderStatus.OPEN,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Untriggered": OrderStatus.UNTRIGGERED,
    "Triggered": OrderStatus.OPEN,  # a momentary step to New: keep the row (§4)
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
SIDES: Final = {"Buy": Side.BUY, "Sell": Side.SELL}
_NONE_WORDS: Final = frozenset({"", "UNKNOWN", "None"})


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise MalformedFrame(f"{key} is not a boolean")
    return value


def status_text(
    venue_status: str, status: OrderStatus, trigger: Decimal | None, trigger_by: str,
    cancel_type: str, reject: str,
) -> str:
    """The venue's words for the status column: ``"Cancelled · CancelByUser · EC_..."``."""
    text = venue_status
    if status is OrderStatus.UNTRIGGERED and trigger is not None:
        text += f" · trigger {trigger}" + (f" {trigger_by}" if trigger_by not in _NONE_WORDS else "")
    if cancel_type not in _NONE_WORDS:
        text += f" · {cancel_type}"
    if reject not in _NONE_WORDS and reject != "EC_NoError":
        text += f" · {reject}"
    return text


def order_kind(
    order_type: str, stop_type: str, time_in_force: str, reduce_only: bool, close: bool
) -> tuple[str, frozenset[Flag]]:
    """The type column (``"StopLoss Market"``, ``"Stop Limit"``) and the flags of an order."""
    order_type = order_type or "UNKNOWN"
    if stop_type not in _NONE_WORDS:
        order_type = f"{stop_type} {order_type}"
    flags = set()
    if reduce_only:
        flags.add(Flag.REDUCE_ONLY)
    if close:
        flags.add(Flag.CLOSE)
    if time_in_force == "PostOnly":
        flags.add(Flag.POST_ONLY)
    if stop_type == "OcoOrder":
        flags.add(Flag.OCO)
    return order_type, frozenset(flags)


def read_order(item: Any, account: AccountKey, category: str) -> Order:
    """One order object → ``Order``, every field checked. Unguarded: a slip other than
    ``MalformedFrame`` may escape, so callers guard (``parse_order`` does). The stream's
    ``StreamParser`` is its faster twin and falls back to this for anything it does not
    recognise."""
    if type(item) is not dict:
        raise MalformedFrame("order is not an object")
    order_id = as_str(item.get("orderId"), "orderId")
    symbol = as_str(item.get("symbol"), "symbol")
    if not order_id or not symbol:
        raise MalformedFrame("order without orderId or symbol")
    side = SIDES.get(as_str(item.get("side"), "side"))
    if side is None:
        raise MalformedFrame("side is not Buy/Sell")
    venue_status = as_str(item.get("orderStatus"), "orderStatus")
    status = STATUSES.get(venue_status)
    if status is None:
        raise MalformedFrame(f"unknown orderStatus {venue_status[:40]!r}")

    amount = as_decimal(item.get("qty"), "qty")
    leaves = item.get("leavesQty")
    if leaves is None or leaves == "":
        filled = item.get("cumExecQty")
        remaining = amount - (as_decimal(filled, "cumExecQty") if filled not in (None, "") else 0)
    else:
        remaining = as_decimal(leaves, "leavesQty")
    if amount < 0 or remaining < 0:
        raise MalformedFrame("negative qty")

    order_type = opt_str(item, "orderType")
    stop_type = opt_str(item, "stopOrderType")
    trigger = opt_decimal(item, "triggerPrice")
    trigger_by = ""
    if status is OrderStatus.UNTRIGGERED and trigger is not None:
        trigger_by = opt_str(item, "triggerBy")
    cancel_type = opt_str(item, "cancelType")
    reject = opt_str(item, "rejectReason")
    text = status_text(venue_status, status, trigger, trigger_by, cancel_type, reject)
    reduce_only = _bool(item, "reduceOnly")
    close = _bool(item, "closeOnTrigger")
    time_in_force = opt_str(item, "timeInForce")
    order_type, flags = order_kind(order_type, stop_type, time_in_force, reduce_only, close)

    order = Order(
        venue=account.venue,
        account=account.account,
        order_id=order_id,
        symbol=symbol,
        side=side,
        order_type=order_type,
        amount=amount,
        remaining=remaining,
        status=status,
        status_text=text,
        price=opt_decimal(item, "price"),
        avg_price=opt_decimal(item, "avgPrice"),
        client_id=opt_str(item, "orderLinkId") or None,
        flags=flags,
        created_ms=opt_int(item, "createdTime"),
        updated_ms=opt_int(item, "updatedTime"),
        category=category,
        trigger_price=trigger or None,
        time_in_force=time_in_force or None,
    )
    reason = implausible(order)
    if reason is not None:
        raise MalformedFrame(f"implausible order: {reason}")
    return order


def is_limit(order_type: str) -> bool:
    """Whether the type column (``order_kind``) names a limit order: ``"Limit"``, ``"Stop
    Limit"``."""
    return order_type == "Limit" or order_type.endswith(" Limit")


def implausible(order: Order) -> str | None:
    """Why ``order`` cannot be what the venue holds, in words, or None when it can
    (``implausible_numbers``; only market orders go without a price). A record that fails
    this is unreadable, not the truth."""
    return implausible_numbers(
        order.amount, order.remaining, order.price, order.avg_price,
        limit=is_limit(order.order_type),
    )


def read_pushed_order(item: Any, account: AccountKey, topic: str) -> Order:
    """An order of an ``order`` push: its category is its own ``category``, else the topic's
    (``order.linear``); unguarded like ``read_order``."""
    if type(item) is not dict:
        raise MalformedFrame("order is not an object")
    category = item.get("category") or topic.partition(".")[2]
    if category not in CATEGORIES:
        raise MalformedFrame("order without a known category")
    return read_order(item, account, category)


def unreadable_item(item: Any, exc: MalformedFrame) -> str:
    """An order record that could not be read, in words: ``"order 123 (unknown orderStatus
    'Weird')"``, or without an id when it has none."""
    oid = item.get("orderId") if type(item) is dict else None
    if type(oid) is str and oid and len(oid) <= 64:
        return f"order {oid} ({exc})"
    return f"an order ({exc})"


@guarded
def parse_order(item: Mapping[str, Any], account: AccountKey, category: str) -> Order:
    """One order object (REST ``list[]`` or WS ``data[]``) → ``Order`` (venue ``bybit``)."""
    return read_order(dict(item) if isinstance(item, Mapping) else item, account, category)


def order_event(order: Order) -> Upsert | Closed:
    return Upsert(order) if order.status.is_open else Closed(order)


def newer_or_same(candidate: Order, than: Order) -> bool:
    """Bybit's merge rule: the state with the later ``updatedTime`` wins (ties: the later read).

    Every push and every REST row is an order's full state, and the venue replays nothing, so
    states of one order from the stream and a REST re-read are merged by this alone."""
    a, b = candidate.updated_ms, than.updated_ms
    if a is None or b is None:
        return True
    return a >= b


def merge_reread(
    fetched: list[Order], held: Mapping[str, Order], ended: Container[str] = ()
) -> tuple[dict[str, Order], list[Order]]:
    """A REST re-read of the open orders merged with the pushes ``held`` meanwhile (newest
    state per order id): the open orders by id, and the held closes that won (the closes carry
    how an order ended, so the caller applies them before the snapshot).

    ``ended`` are ids the stream already showed closed: an order never reopens, so a list
    that still shows one open was read before its close and does not bring it back."""
    merged = {o.order_id: o for o in fetched if o.order_id not in ended}
    closes: list[Order] = []
    for oid, pushed in held.items():
        current = merged.get(oid)
        if current is not None and not newer_or_same(pushed, current):
            continue
        if pushed.status.is_open:
            if oid not in ended:
                merged[oid] = pushed
        else:
            merged.pop(oid, None)
            closes.append(pushed)
    return merged, closes


def stream_behind(
    rows: Mapping[str, Order], listed: list[Order], held: Mapping[str, Order],
    ended: Container[str] = (),
) -> bool:
    """Whether a fresh list would change what the trader sees in ``rows`` (the table's, by id)
    once the pushes ``held`` meanwhile are applied: a row gone or new, or a remaining amount,
    price, amount or status that differs. ``ended`` as for ``merge_reread``."""
    merged, closes = merge_reread(listed, held, ended)
    seen = dict(rows)
    for order in closes:
        seen.pop(order.order_id, None)
    for oid, pushed in held.items():
        if pushed.status.is_open and oid not in ended:
            current = seen.get(oid)
            if current is None or newer_or_same(pushed, current):
                seen[oid] = pushed
    if seen.keys() != merged.keys():
        return True
    return any(_shows_differently(seen[oid], order) for oid, order in merged.items())


def _shows_differently(a: Order, b: Order) -> bool:
    return (
        a.remaining != b.remaining or a.price != b.price or a.amount != b.amount
        or a.status is not b.status
    )
