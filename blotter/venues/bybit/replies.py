"""Bybit v5 REST replies and venue errors (pure): the ``retCode``/``retMsg`` envelope (§2), the
open-orders page (§3.1), the cancel acknowledgements (§3.2–§3.4), server time, the rate-limit
headers (§6) and what an HTTP-level refusal means.

Business errors come as HTTP 200 with a non-zero ``retCode``; branch on the code (§5), never on
``retMsg``. Every parser raises ``MalformedFrame`` for a body that is not what the protocol says,
and nothing else.

Protocol notes: ``/work/shared/venues/bybit.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from blotter.core.order import AccountKey, Order
from blotter.core.venue import MalformedFrame, guarded
from blotter.venues.bybit.orders import (
    as_int,
    as_str,
    load_object,
    opt_str,
    read_order,
    unreadable_item,
)
from blotter.venues.bybit.spec import CATEGORIES

# retCodes the client acts on (§5). Branch on these, never on retMsg.
OK: Final = 0
ERR_TIMESTAMP: Final = 10002
ERR_RATE_LIMIT: Final = 10006
ERR_SERVER: Final = 10016
ERR_ORDER_NOT_EXISTS: Final = 110001  # derivatives/options: unknown or already final
ERR_PROCESSING: Final = 110079
ERR_SPOT_ORDER_NOT_EXISTS: Final = 170213
ALREADY_GONE: Final = frozenset({ERR_ORDER_NOT_EXISTS, ERR_SPOT_ORDER_NOT_EXISTS})
RETRYABLE: Final = frozenset({ERR_TIMESTAMP, ERR_RATE_LIMIT, ERR_SERVER, ERR_PROCESSING})

# The docs' texts (§5), used only when a reply carries an empty retMsg.
DOC_TEXTS: Final[Mapping[int, str]] = {
    10000: "Server Timeout",
    10001: "Request parameter error",
    10002: "The request time exceeds the time window range.",
    10003: "API key is invalid.",
    10004: "Error sign, please check your signature generation algorithm.",
    10005: "Permission denied, please check your API key permissions.",
    10006: "Too many visits. Exceeded the API Rate Limit.",
    10007: "User authentication failed.",
    10010: "Unmatched IP, please check your API key's bound IP addresses.",
    10016: "Server error.",
    10017: "Route not found.",
    110001: "Order does not exist",
    110008: "The order has been completed or cancelled.",
    110010: "The order has been cancelled",
    110079: "The order is processing and can not be operated, please try again later",
    170213: "Order does not exist.",
}

RATE_WINDOW: Final = 1.0  # s: the venue's rate budgets are per rolling second (§6)
RATE_WAIT_CAP: Final = 10.0  # s: never trust a reset time further out than this


# -- REST replies (§2, §3) ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VenueReply:
    """The ``retCode``/``retMsg`` of an envelope (or of one batch item)."""

    ret_code: int
    ret_msg: str
    time_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.ret_code == OK

    @property
    def already_gone(self) -> bool:
        """110001/170213 on a cancel: the order filled or was cancelled already (pitfall #9)."""
        return self.ret_code in ALREADY_GONE

    @property
    def retryable(self) -> bool:
        return self.ret_code in RETRYABLE

    def text(self) -> str:
        """``"110001: order not exists or too late to cancel"``: the venue's words, verbatim."""
        return f"{self.ret_code}: {self.ret_msg or DOC_TEXTS.get(self.ret_code, 'no message')}"


@dataclass(frozen=True, slots=True)
class Envelope:
    reply: VenueReply
    result: dict[str, Any]
    ret_ext_info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenOrdersPage:
    """One page of open orders: the orders read, and in words each item that could not be
    read (the page is then not the whole truth: it must not replace the rows)."""

    category: str
    orders: tuple[Order, ...]
    next_cursor: str  # "" on the last page; also stop on an empty page
    unreadable: tuple[str, ...] = ()

    @property
    def last(self) -> bool:
        return not (self.orders or self.unreadable) or not self.next_cursor


@dataclass(frozen=True, slots=True)
class CancelAck:
    """A cancel accepted (an acknowledgement only: the ``order`` stream confirms it)."""

    order_id: str
    order_link_id: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One item of a cancel-batch reply: ``result.list[n]`` with ``retExtInfo.list[n]``."""

    symbol: str
    order_id: str  # "" when the item failed
    order_link_id: str
    reply: VenueReply

    @property
    def ok(self) -> bool:
        return self.reply.ok


@dataclass(frozen=True, slots=True)
class CancelAllAck:
    acks: tuple[CancelAck, ...]
    success: bool | None  # "1"/"0", absent on some replies (pitfall #14)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``X-Bapi-Limit*`` response headers (§6); each may be missing (pybit#317)."""

    limit: int | None
    remaining: int | None
    reset_ms: int | None


def _envelope(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> Envelope:
    msg = load_object(raw)
    code = msg.get("retCode")
    if type(code) is not int:
        raise MalformedFrame("envelope without an integer retCode")
    ret_msg = opt_str(msg, "retMsg")
    time_ms = msg.get("time")
    result = msg.get("result")
    if result is None or result == []:
        result = {}
    ext = msg.get("retExtInfo")
    if ext is None or ext == []:
        ext = {}
    if type(result) is not dict or type(ext) is not dict:
        raise MalformedFrame("result/retExtInfo is not an object")
    return Envelope(
        VenueReply(code, ret_msg, time_ms if type(time_ms) is int else None), result, ext
    )


def _result_list(env: Envelope) -> list[Any]:
    """``result.list`` of a bulk reply; absent is empty."""
    items = env.result.get("list")
    if items is None:
        return []
    if type(items) is not list:
        raise MalformedFrame("result.list is not an array")
    return items


parse_envelope = guarded(_envelope)
"""Any REST body → ``Envelope`` (retCode/retMsg/result/retExtInfo/time)."""


@guarded
def parse_reply(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> VenueReply:
    """Only the retCode/retMsg of a REST body (or of a WS-Trade reply)."""
    return _envelope(raw).reply


_read_order: Final = guarded(read_order)


@guarded
def parse_open_orders(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any], account: AccountKey
) -> OpenOrdersPage | VenueReply:
    """One page of ``GET /v5/order/realtime``; an error envelope comes back as its ``VenueReply``.

    The list items carry no category: it is ``result.category`` (§3.1).
    """
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    result = env.result
    category = as_str(result.get("category"), "result.category")
    if category not in CATEGORIES:
        raise MalformedFrame("unknown result.category")
    items = result.get("list")
    if type(items) is not list:
        raise MalformedFrame("result.list is not an array")
    cursor = opt_str(result, "nextPageCursor")
    orders = []
    unreadable = []
    for item in items:  # one unreadable item does not hide the others
        try:
            orders.append(_read_order(item, account, category))
        except MalformedFrame as exc:
            unreadable.append(unreadable_item(item, exc))
    return OpenOrdersPage(category, tuple(orders), cursor, tuple(unreadable))


@guarded
def parse_cancel(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> CancelAck | VenueReply:
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    return CancelAck(opt_str(env.result, "orderId"), opt_str(env.result, "orderLinkId"))


@guarded
def parse_cancel_batch(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> tuple[BatchResult, ...] | VenueReply:
    """Index-aligned ``result.list`` and ``retExtInfo.list`` (§3.3). Top-level retCode 0 even
    when items fail; a non-zero top level (the whole batch refused) comes back as ``VenueReply``."""
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    items = _result_list(env)
    codes = env.ret_ext_info.get("list")
    if codes is None:
        codes = [{"code": OK, "msg": ""}] * len(items)
    if type(codes) is not list or len(codes) != len(items):
        raise MalformedFrame("retExtInfo.list does not align with result.list")
    out = []
    for item, code in zip(items, codes, strict=True):
        if type(item) is not dict or type(code) is not dict:
            raise MalformedFrame("batch item is not an object")
        reply = VenueReply(as_int(code.get("code"), "retExtInfo.list[].code"), opt_str(code, "msg"))
        out.append(
            BatchResult(
                opt_str(item, "symbol"),
                opt_str(item, "orderId"),
                opt_str(item, "orderLinkId"),
                reply,
            )
        )
    return tuple(out)


@guarded
def parse_cancel_all(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> CancelAllAck | VenueReply:
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    items = _result_list(env)
    acks = []
    for item in items:
        if type(item) is not dict:
            raise MalformedFrame("cancel-all item is not an object")
        acks.append(CancelAck(opt_str(item, "orderId"), opt_str(item, "orderLinkId")))
    success = env.result.get("success")
    if success is not None and success not in ("0", "1"):
        raise MalformedFrame("success is not \"0\"/\"1\"")
    return CancelAllAck(tuple(acks), None if success is None else success == "1")


@guarded
def parse_server_time(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> int:
    """``GET /v5/market/time`` → server time in ms (``timeNano`` // 10⁶, else envelope ``time``)."""
    env = _envelope(raw)
    if not env.reply.ok:
        raise MalformedFrame(f"server time refused: {env.reply.text()}")
    nano = env.result.get("timeNano")
    if nano is not None:
        return as_int(nano, "timeNano") // 1_000_000
    if env.reply.time_ms is not None:
        return env.reply.time_ms
    raise MalformedFrame("server time reply without a time")


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit:
    """The ``X-Bapi-Limit*`` headers (any case); missing or garbled values are ``None``."""
    lower = {str(k).lower(): v for k, v in headers.items()}

    def num(name: str) -> int | None:
        value = lower.get(name)
        if type(value) is str and value.isascii() and value.isdigit():
            return int(value)
        return None

    return RateLimit(
        num("x-bapi-limit"), num("x-bapi-limit-status"), num("x-bapi-limit-reset-timestamp")
    )


def retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (seconds only; anything else: one window)."""
    try:
        seconds = float(value) if value is not None else RATE_WINDOW
    except ValueError:
        seconds = RATE_WINDOW
    return min(max(seconds, 0.05), RATE_WAIT_CAP)


def http_text(status: int, path: str) -> str:
    """What an HTTP-level refusal means at Bybit (§2): business errors come as HTTP 200."""
    meaning = {
        401: "the API key or its headers were refused (check the key and its environment)",
        403: "access too frequent (IP rate limit: wait 10 minutes) or access from this region "
        "refused",
        404: "wrong path, or a category that does not match the account mode",
        429: "system busy (frequency protection); try again",
    }.get(status)
    text = f"HTTP {status} from Bybit on {path}"
    return f"{text}: {meaning}" if meaning else text
