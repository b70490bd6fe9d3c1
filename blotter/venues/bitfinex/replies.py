"""What Bitfinex answers to our requests, pure: acknowledgements (``n`` notifications, on the
socket or as the body of a REST write) and REST errors.

A cancel input (or ``auth/w/order/cancel[/multi]``) is answered by a notification (bitfinex.md
§3.4): ``[MTS, TYPE, MESSAGE_ID, null, NOTIFY_INFO, CODE, STATUS, TEXT, ...]`` with the order
array(s) it concerns in NOTIFY_INFO. An acknowledgement is not a cancel: the order closes with
its own ``oc`` later. A REST call that fails answers ``["error", CODE, "TEXT"]`` (§5.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from blotter.core.order import Order
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.orders import OrderParser

NOTIFICATION_FIELDS: Final = 8

# Error codes (§1.7, §5.4) the client acts on.
ERR_AUTH_FAIL: Final = 10100
ERR_AUTH_NONCE: Final = 10114  # "nonce: small": someone used the key with a larger nonce
ERR_RATE_LIMIT: Final = 11010


@dataclass(frozen=True, slots=True)
class Notification:
    """An ``n`` frame (or a REST write answer): the venue's status keyword and text, verbatim.

    ``order_ids`` come from NOTIFY_INFO (one order array, or a list of them); ``orders`` holds
    those that are full order arrays (ERROR stubs carry only the id).
    """

    kind: str  # oc-req, oc_multi-req, on-req, ...
    status: str  # SUCCESS, ERROR, FAILURE, ...
    text: str
    code: int | None
    order_ids: tuple[str, ...]
    orders: tuple[Order, ...]
    mts: int | None
    client_ids: tuple[str, ...] = ()  # CID [2] of each listed array (stubs of cid cancels)

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"


@dataclass(frozen=True, slots=True)
class RestError:
    """``["error", CODE, "TEXT"]`` or any other non-success answer of the REST API."""

    http_status: int
    code: int | None
    text: str


def as_text(value: Any) -> str:
    """A text field as the venue sent it ("" for null)."""
    if value is None:
        return ""
    return value if type(value) is str else str(value)


def parse_notification(data: Any, orders: OrderParser) -> Notification:
    """``[MTS, TYPE, MESSAGE_ID, null, NOTIFY_INFO, CODE, STATUS, TEXT, ...]`` (§3.4).

    ``orders`` reads the listed order arrays; ids of id-only stubs (old SUCCESS stubs, ERROR
    stubs) are kept in ``order_ids``. Raises ``MalformedFrame`` for a notification without a
    type, a textual status, or its 8 fields.
    """
    if type(data) is not list or len(data) < NOTIFICATION_FIELDS:
        raise MalformedFrame("notification is not an array of 8 fields")
    kind = data[1]
    status = data[6]
    if type(kind) is not str:
        raise MalformedFrame("notification without a type")
    if status is not None and type(status) is not str:
        raise MalformedFrame("notification status is not text")
    info = data[4]
    arrays: list[Any]
    if type(info) is list and info and type(info[0]) is list:
        arrays = info  # oc_multi-req, REST on-req: a list of order arrays
    elif type(info) is list and info:
        arrays = [info]  # oc-req: one order array (or an id-only stub)
    else:
        arrays = []
    ids: list[str] = []
    cids: list[str] = []
    listed: list[Order] = []
    for arr in arrays:
        if type(arr) is not list or not arr:
            continue
        if type(arr[0]) is int and arr[0] > 0:
            ids.append(str(arr[0]))
        if len(arr) > 2 and type(arr[2]) is int:
            cids.append(str(arr[2]))
        try:
            listed.append(orders.parse_order(arr))
        except (MalformedFrame, LookupError, TypeError, ValueError, ArithmeticError):
            pass  # ERROR stubs and id-only acks carry no full order
    mts = data[0]
    code = data[5]
    return Notification(
        kind=kind,
        status=status or "",
        text=as_text(data[7]),
        code=code if type(code) is int else None,
        order_ids=tuple(ids),
        orders=tuple(listed),
        mts=mts if type(mts) is int else None,
        client_ids=tuple(cids),
    )


def parse_rest_error(http_status: int, body: bytes) -> RestError:
    """Read an error answer: ``["error", CODE, "TEXT"]`` (HTTP 500), or whatever a 429 carries."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if type(data) is list and len(data) >= 3 and data[0] == "error":
        code = data[1] if type(data[1]) is int else None
        return RestError(http_status, code, as_text(data[2]))
    if type(data) is dict:
        for field in ("error", "message", "msg"):
            if type(data.get(field)) is str:
                return RestError(http_status, None, data[field])
    if http_status == 429:
        return RestError(http_status, None, "ratelimit: too many requests (HTTP 429)")
    excerpt = body[:120].decode("utf-8", "replace").strip()
    return RestError(http_status, None, excerpt or f"HTTP {http_status}")
