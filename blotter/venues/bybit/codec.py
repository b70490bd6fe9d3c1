"""Bybit v5, sans-I/O: REST bodies and WS frames in, orders and replies out; requests built and
signed here, never sent.

Nothing in this module touches a socket or reads a clock: timestamps and ``expires`` are passed
in. The client (not written yet) only shuttles bytes between the network and these functions.

Protocol notes: ``/work/shared/venues/bybit.md``. Signing §1 and §7.1 (test vectors §9); open
orders ``GET /v5/order/realtime`` §3.1; cancels §3.2–§3.4; enums §4; error codes §5; the private
``order`` topic §7.4.

Numbers arrive as decimal strings (``"0.10"``) and are kept as exact ``Decimal``s. Every parser
raises ``MalformedFrame`` for input that is not what the protocol says, and nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final, ParamSpec, TypeVar
from urllib.parse import quote

import orjson

from blotter.core.notices import Level, Notice
from blotter.core.order import (
    OPEN_STATUSES,
    AccountKey,
    Closed,
    Flag,
    Order,
    OrderKey,
    OrderStatus,
    Side,
    Upsert,
    build_order,
)
from blotter.core.venue import MalformedFrame

VENUE: Final = "bybit"
_P = ParamSpec("_P")
_R = TypeVar("_R")
RECV_WINDOW: Final = 5000  # ms, sent in X-BAPI-RECV-WINDOW and part of the signed string
WS_AUTH_EXPIRY_MS: Final = 10_000  # expires = now + 10 s (§7.1, pitfall #2)
PAGE_LIMIT: Final = 50  # /v5/order/realtime maximum page size

PATH_SERVER_TIME: Final = "/v5/market/time"
PATH_OPEN_ORDERS: Final = "/v5/order/realtime"
PATH_CANCEL: Final = "/v5/order/cancel"
PATH_CANCEL_BATCH: Final = "/v5/order/cancel-batch"
PATH_CANCEL_ALL: Final = "/v5/order/cancel-all"

CATEGORIES: Final = ("spot", "linear", "inverse", "option")
# The queries that together list every open order of a unified account (§3.1).
OPEN_ORDER_SCOPES: Final[tuple[tuple[str, str | None], ...]] = (
    ("spot", None),
    ("linear", "USDT"),
    ("linear", "USDC"),
    ("inverse", None),
    ("option", None),
)
BATCH_LIMIT: Final = 20  # orders per cancel-batch call (linear, inverse, option)
BATCH_LIMIT_SPOT: Final = 10
CANCEL_ALL_FUTURES_CAP: Final = 500  # linear/inverse cancel-all cancels at most this many per call

# retCodes the client acts on (§5). Branch on these, never on retMsg.
OK: Final = 0
ERR_PARAMS: Final = 10001
ERR_TIMESTAMP: Final = 10002
ERR_API_KEY: Final = 10003
ERR_SIGN: Final = 10004
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



# -- signing (§1, §7.1, §9) --------------------------------------------------------------------
def sign(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` keyed with the API secret (both UTF-8)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def signature_payload(
    timestamp: int, api_key: str, payload: str | bytes, recv_window: int = RECV_WINDOW
) -> bytes:
    """``timestamp + apiKey + recvWindow + payload``: the exact query string or body bytes sent."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else payload
    return f"{timestamp}{api_key}{recv_window}".encode() + raw


def rest_headers(
    api_key: str,
    api_secret: str,
    timestamp: int,
    payload: str | bytes,
    recv_window: int = RECV_WINDOW,
    *,
    json_body: bool = False,
) -> dict[str, str]:
    """The auth headers of one REST call (§1.1); ``json_body`` adds the POST content type."""
    headers = {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp),
        "X-BAPI-RECV-WINDOW": str(recv_window),
        "X-BAPI-SIGN": sign(api_secret, signature_payload(timestamp, api_key, payload, recv_window)),
    }
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


@dataclass(frozen=True, slots=True)
class RestRequest:
    """A signed REST call. ``query`` / ``body`` are the exact text/bytes that were signed: send
    them as they are (no re-encoding of the query, no re-serialising of the body)."""

    method: str  # "GET" or "POST"
    path: str  # e.g. "/v5/order/cancel"
    query: str  # the text after "?" (GET), "" for POST
    body: bytes  # the JSON body (POST), b"" for GET
    headers: dict[str, str]

    @property
    def target(self) -> str:
        """Path plus query, as it goes on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def __repr__(self) -> str:  # never show the key or the signature
        return f"RestRequest({self.method} {self.target!r}, body={self.body[:80]!r})"


def get_request(
    path: str,
    query: str,
    api_key: str,
    api_secret: str,
    timestamp: int,
    recv_window: int = RECV_WINDOW,
) -> RestRequest:
    headers = rest_headers(api_key, api_secret, timestamp, query, recv_window)
    return RestRequest("GET", path, query, b"", headers)


def post_request(
    path: str,
    body: Mapping[str, Any] | bytes,
    api_key: str,
    api_secret: str,
    timestamp: int,
    recv_window: int = RECV_WINDOW,
) -> RestRequest:
    raw = body if isinstance(body, bytes) else encode_body(body)
    headers = rest_headers(api_key, api_secret, timestamp, raw, recv_window, json_body=True)
    return RestRequest("POST", path, "", raw, headers)


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact JSON in insertion order: the bytes that are both signed and sent."""
    return orjson.dumps(dict(body))


def ws_auth_signature(api_secret: str, expires: int) -> str:
    return sign(api_secret, f"GET/realtime{expires}")


def ws_auth_message(
    api_key: str, api_secret: str, expires: int, req_id: str | None = None
) -> bytes:
    """``{"op":"auth","args":[key, expires, sig]}`` (§7.1); ``expires`` in ms, in the future."""
    msg: dict[str, Any] = {}
    if req_id is not None:
        msg["req_id"] = req_id
    msg["op"] = "auth"
    msg["args"] = [api_key, expires, ws_auth_signature(api_secret, expires)]
    return orjson.dumps(msg)


def ws_subscribe_message(topics: Sequence[str] = ("order",), req_id: str | None = None) -> bytes:
    msg: dict[str, Any] = {}
    if req_id is not None:
        msg["req_id"] = req_id
    msg["op"] = "subscribe"
    msg["args"] = list(topics)
    return orjson.dumps(msg)


def ws_ping_message(req_id: str | None = None) -> bytes:
    return orjson.dumps({"req_id": req_id, "op": "ping"} if req_id is not None else {"op": "ping"})


# -- request builders (§3) ---------------------------------------------------------------------
_CURSOR_UNSAFE: Final = re.compile(r"[&#\s]")


def open_orders_query(
    category: str,
    *,
    symbol: str | None = None,
    base_coin: str | None = None,
    settle_coin: str | None = None,
    order_filter: str | None = None,
    limit: int = PAGE_LIMIT,
    cursor: str | None = None,
) -> str:
    """The query string of ``GET /v5/order/realtime``, in this order: category, symbol,
    baseCoin, settleCoin, orderFilter, limit, cursor.

    ``cursor`` is the previous page's ``nextPageCursor``, already percent-encoded by the venue:
    it goes back verbatim (re-encoding its ``%`` breaks the signature, pitfall #3).
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if category == "linear" and not (symbol or base_coin or settle_coin):
        raise ValueError("linear needs symbol, baseCoin or settleCoin (else 10001)")
    if category == "spot" and settle_coin:
        raise ValueError("spot does not take settleCoin")
    if not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(f"limit must be 1..{PAGE_LIMIT}")
    parts = [("category", category)]
    for name, value in (
        ("symbol", symbol),
        ("baseCoin", base_coin),
        ("settleCoin", settle_coin),
        ("orderFilter", order_filter),
    ):
        if value:
            parts.append((name, value))
    parts.append(("limit", str(limit)))
    text = "&".join(f"{k}={quote(v, safe='-_.')}" for k, v in parts)
    if cursor:
        if _CURSOR_UNSAFE.search(cursor):
            raise ValueError("cursor is not in its percent-encoded form")
        text += f"&cursor={cursor}"
    return text


def cancel_body(
    category: str,
    symbol: str,
    *,
    order_id: str | None = None,
    order_link_id: str | None = None,
    order_filter: str | None = None,
) -> dict[str, str]:
    """``POST /v5/order/cancel`` (§3.2): by orderId, else by orderLinkId. ``orderFilter`` is
    spot-only (conditional / TP/SL orders)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if not symbol:
        raise ValueError("symbol is required")
    body = {"category": category, "symbol": symbol}
    if order_id:
        body["orderId"] = order_id
    elif order_link_id:
        body["orderLinkId"] = order_link_id
    else:
        raise ValueError("orderId or orderLinkId is required")
    if order_filter:
        if category != "spot":
            raise ValueError("orderFilter on cancel is spot only")
        body["orderFilter"] = order_filter
    return body


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One order of a cancel-batch: its symbol and orderId (or, without one, orderLinkId)."""

    symbol: str
    order_id: str | None = None
    order_link_id: str | None = None

    def as_json(self) -> dict[str, str]:
        if not self.symbol:
            raise ValueError("symbol is required")
        if self.order_id:
            return {"symbol": self.symbol, "orderId": self.order_id}
        if self.order_link_id:
            return {"symbol": self.symbol, "orderLinkId": self.order_link_id}
        raise ValueError("orderId or orderLinkId is required")


def batch_limit(category: str) -> int:
    return BATCH_LIMIT_SPOT if category == "spot" else BATCH_LIMIT


def cancel_batch_bodies(category: str, items: Iterable[BatchItem]) -> list[dict[str, Any]]:
    """``POST /v5/order/cancel-batch`` bodies (§3.3): one category, ≤20 orders each (≤10 spot).

    The n-th entry of each reply's ``retExtInfo.list`` answers the n-th item of that body.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    request = [item.as_json() for item in items]
    size = batch_limit(category)
    return [
        {"category": category, "request": request[i : i + size]}
        for i in range(0, len(request), size)
    ]


def cancel_all_body(
    category: str,
    *,
    symbol: str | None = None,
    base_coin: str | None = None,
    settle_coin: str | None = None,
    order_filter: str | None = None,
    stop_order_type: str | None = None,
) -> dict[str, str]:
    """``POST /v5/order/cancel-all`` (§3.4) for one category and scope.

    linear/inverse need symbol, baseCoin or settleCoin; spot takes no settleCoin and cancels only
    normal orders unless ``order_filter`` names another kind (send one call per kind present);
    option takes ``category`` alone. Futures cancel at most 500 per call: re-query and repeat.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if category in ("linear", "inverse") and not (symbol or base_coin or settle_coin):
        raise ValueError(f"{category} cancel-all needs symbol, baseCoin or settleCoin")
    if category == "spot" and settle_coin:
        raise ValueError("spot cancel-all does not take settleCoin")
    if stop_order_type and (category not in ("linear", "inverse") or order_filter != "StopOrder"):
        raise ValueError("stopOrderType needs linear/inverse and orderFilter=StopOrder")
    body = {"category": category}
    for name, value in (
        ("symbol", symbol),
        ("baseCoin", base_coin),
        ("settleCoin", settle_coin),
        ("orderFilter", order_filter),
        ("stopOrderType", stop_order_type),
    ):
        if value:
            body[name] = value
    return body


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
    category: str
    orders: tuple[Order, ...]
    next_cursor: str  # "" on the last page; also stop on an empty ``orders``

    @property
    def last(self) -> bool:
        return not self.orders or not self.next_cursor


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


_PARSE_ERRORS: Final = (
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)


def _load(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        msg = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError, ValueError, UnicodeError, RecursionError) as exc:
        raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
    if type(msg) is not dict:
        raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
    return msg


def _guarded(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn any parsing slip inside ``func`` into ``MalformedFrame`` (and only that)."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except MalformedFrame:
            raise
        except _PARSE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}"[:200]) from None

    return wrapper


def _str(value: Any, what: str) -> str:
    if type(value) is not str:
        raise MalformedFrame(f"{what} is not a string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    return _str(value, key)


def _int(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    raise MalformedFrame(f"{what} is not an integer")


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _int(value, key)


_DECIMAL: Final = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")


def _decimal(value: Any, what: str) -> Decimal:
    if type(value) is not str or not _DECIMAL.fullmatch(value):
        raise MalformedFrame(f"{what} is not a decimal string")
    return Decimal(value)


def _opt_decimal(obj: Mapping[str, Any], key: str) -> Decimal | None:
    """A price that may be absent: ``""``/``"0"`` (market orders, no fills) mean none."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    number = _decimal(value, key)
    return None if number == 0 else number


def _envelope(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> Envelope:
    msg = _load(raw)
    code = msg.get("retCode")
    if type(code) is not int:
        raise MalformedFrame("envelope without an integer retCode")
    ret_msg = _opt_str(msg, "retMsg")
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


parse_envelope = _guarded(_envelope)
"""Any REST body → ``Envelope`` (retCode/retMsg/result/retExtInfo/time)."""


@_guarded
def parse_reply(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> VenueReply:
    """Only the retCode/retMsg of a REST body (or of a WS-Trade reply)."""
    return _envelope(raw).reply


@_guarded
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
    category = _str(result.get("category"), "result.category")
    if category not in CATEGORIES:
        raise MalformedFrame("unknown result.category")
    items = result.get("list")
    if type(items) is not list:
        raise MalformedFrame("result.list is not an array")
    orders = tuple(_order(item, account, category) for item in items)
    return OpenOrdersPage(category, orders, _opt_str(result, "nextPageCursor"))


@_guarded
def parse_cancel(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> CancelAck | VenueReply:
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    return CancelAck(_opt_str(env.result, "orderId"), _opt_str(env.result, "orderLinkId"))


@_guarded
def parse_cancel_batch(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> tuple[BatchResult, ...] | VenueReply:
    """Index-aligned ``result.list`` and ``retExtInfo.list`` (§3.3). Top-level retCode 0 even
    when items fail; a non-zero top level (the whole batch refused) comes back as ``VenueReply``."""
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    items = env.result.get("list")
    if items is None:
        items = []
    if type(items) is not list:
        raise MalformedFrame("result.list is not an array")
    codes = env.ret_ext_info.get("list")
    if codes is None:
        codes = [{"code": OK, "msg": ""}] * len(items)
    if type(codes) is not list or len(codes) != len(items):
        raise MalformedFrame("retExtInfo.list does not align with result.list")
    out = []
    for item, code in zip(items, codes, strict=True):
        if type(item) is not dict or type(code) is not dict:
            raise MalformedFrame("batch item is not an object")
        reply = VenueReply(_int(code.get("code"), "retExtInfo.list[].code"), _opt_str(code, "msg"))
        out.append(
            BatchResult(
                _opt_str(item, "symbol"),
                _opt_str(item, "orderId"),
                _opt_str(item, "orderLinkId"),
                reply,
            )
        )
    return tuple(out)


@_guarded
def parse_cancel_all(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any],
) -> CancelAllAck | VenueReply:
    env = _envelope(raw)
    if not env.reply.ok:
        return env.reply
    items = env.result.get("list")
    if items is None:
        items = []
    if type(items) is not list:
        raise MalformedFrame("result.list is not an array")
    acks = []
    for item in items:
        if type(item) is not dict:
            raise MalformedFrame("cancel-all item is not an object")
        acks.append(CancelAck(_opt_str(item, "orderId"), _opt_str(item, "orderLinkId")))
    success = env.result.get("success")
    if success is not None and success not in ("0", "1"):
        raise MalformedFrame("success is not \"0\"/\"1\"")
    return CancelAllAck(tuple(acks), None if success is None else success == "1")


@_guarded
def parse_server_time(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> int:
    """``GET /v5/market/time`` → server time in ms (``timeNano`` // 10⁶, else envelope ``time``)."""
    env = _envelope(raw)
    if not env.reply.ok:
        raise MalformedFrame(f"server time refused: {env.reply.text()}")
    nano = env.result.get("timeNano")
    if nano is not None:
        return _int(nano, "timeNano") // 1_000_000
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


# -- orders (§3.1 table, §4, §7.4) -------------------------------------------------------------
_STATUSES: Final[Mapping[str, OrderStatus]] = {
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
_SIDES: Final = {"Buy": Side.BUY, "Sell": Side.SELL}
_NONE_WORDS: Final = frozenset({"", "UNKNOWN", "None"})


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise MalformedFrame(f"{key} is not a boolean")
    return value


def _status_text(
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


def _order_kind(
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


def _order(item: Any, account: AccountKey, category: str) -> Order:
    """One order object → ``Order``, every field checked. ``WsParser`` is the stream's faster
    twin and falls back to this for anything it does not recognise."""
    if type(item) is not dict:
        raise MalformedFrame("order is not an object")
    order_id = _str(item.get("orderId"), "orderId")
    symbol = _str(item.get("symbol"), "symbol")
    if not order_id or not symbol:
        raise MalformedFrame("order without orderId or symbol")
    side = _SIDES.get(_str(item.get("side"), "side"))
    if side is None:
        raise MalformedFrame("side is not Buy/Sell")
    venue_status = _str(item.get("orderStatus"), "orderStatus")
    status = _STATUSES.get(venue_status)
    if status is None:
        raise MalformedFrame(f"unknown orderStatus {venue_status[:40]!r}")

    amount = _decimal(item.get("qty"), "qty")
    leaves = item.get("leavesQty")
    if leaves is None or leaves == "":
        filled = item.get("cumExecQty")
        remaining = amount - (_decimal(filled, "cumExecQty") if filled not in (None, "") else 0)
    else:
        remaining = _decimal(leaves, "leavesQty")
    if amount < 0 or remaining < 0:
        raise MalformedFrame("negative qty")

    order_type = _opt_str(item, "orderType")
    stop_type = _opt_str(item, "stopOrderType")
    trigger = _opt_decimal(item, "triggerPrice")
    trigger_by = ""
    if status is OrderStatus.UNTRIGGERED and trigger is not None:
        trigger_by = _opt_str(item, "triggerBy")
    cancel_type = _opt_str(item, "cancelType")
    reject = _opt_str(item, "rejectReason")
    text = _status_text(venue_status, status, trigger, trigger_by, cancel_type, reject)
    reduce_only = _bool(item, "reduceOnly")
    close = _bool(item, "closeOnTrigger")
    order_type, flags = _order_kind(
        order_type, stop_type, _opt_str(item, "timeInForce"), reduce_only, close
    )

    return Order(
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
        price=_opt_decimal(item, "price"),
        avg_price=_opt_decimal(item, "avgPrice"),
        client_id=_opt_str(item, "orderLinkId") or None,
        flags=flags,
        created_ms=_opt_int(item, "createdTime"),
        updated_ms=_opt_int(item, "updatedTime"),
        category=category,
    )


@_guarded
def parse_order(item: Mapping[str, Any], account: AccountKey, category: str) -> Order:
    """One order object (REST ``list[]`` or WS ``data[]``) → ``Order`` (venue ``bybit``)."""
    return _order(dict(item) if isinstance(item, Mapping) else item, account, category)


def order_event(order: Order) -> Upsert | Closed:
    return Upsert(order) if order.status.is_open else Closed(order)


# -- private websocket (§7) --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderPush:
    """An ``order`` topic message: each order is the full current state (merge by updatedTime)."""

    topic: str
    message_id: str
    creation_ms: int | None
    events: tuple[Upsert | Closed, ...]


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
    return _ws_message(_load(raw), account)


def _ws_message(msg: dict[str, Any], account: AccountKey) -> BybitWsEvent:
    topic = msg.get("topic")
    if topic is not None:
        topic = _str(topic, "topic")
        if not topic.startswith("order"):
            return Ignored(topic[:40])
        data = msg.get("data")
        if type(data) is not list:
            raise MalformedFrame("order push without a data array")
        _, _, topic_category = topic.partition(".")
        events = []
        for item in data:
            if type(item) is not dict:
                raise MalformedFrame("order is not an object")
            category = item.get("category") or topic_category
            if category not in CATEGORIES:
                raise MalformedFrame("order without a known category")
            events.append(order_event(_order(item, account, category)))
        creation = msg.get("creationTime")
        return OrderPush(
            topic,
            _opt_id(msg, "id") or "",
            creation if type(creation) is int else None,
            tuple(events),
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
        return OpReply(op, code == OK, _opt_str(msg, "retMsg"), req_id, conn_id, code)
    success = msg.get("success")
    if type(success) is not bool:
        raise MalformedFrame(f"{op[:20]!r} reply without success")
    return OpReply(op, success, _opt_str(msg, "ret_msg"), req_id, conn_id)


@_guarded
def parse_ws(
    raw: bytes | bytearray | memoryview | str | Mapping[str, Any], account: AccountKey
) -> BybitWsEvent:
    """One private-stream (or WS-Trade) message → ``OrderPush`` / ``OpReply`` / ``Pong`` / ``Ignored``."""
    return _ws(raw, account)


# -- the private stream's hot path -------------------------------------------------------------
_loads: Final = orjson.loads
_JSON_ERRORS: Final = (orjson.JSONDecodeError, TypeError, ValueError, UnicodeError, RecursionError)
# The fields of an order object that do not change while it lives (an amend changes qty and
# price, not these), and those that do. cumExecQty is read only without leavesQty, triggerBy
# only for a waiting conditional order. Each set is one C call.
_fixed_fields: Final = itemgetter(
    "orderId", "category", "symbol", "side", "orderType", "stopOrderType", "timeInForce",
    "reduceOnly", "closeOnTrigger", "orderLinkId", "createdTime",
)
_live_fields: Final = itemgetter(
    "orderStatus", "qty", "leavesQty", "triggerPrice", "cancelType", "rejectReason", "price",
    "avgPrice", "updatedTime",
)
_CATEGORY_SET: Final = frozenset(CATEGORIES)
_UNTRIGGERED: Final = OrderStatus.UNTRIGGERED
_MISSING: Final[Any] = object()
_MEMO_LIMIT: Final = 65_536
_KNOWN_LIMIT: Final = 262_144
_NO_PRICE: Final[Mapping[Any, Decimal | None]] = {None: None, "": None}

# What WsParser remembers of an open order: its fixed fields as sent (compared with each push),
# then what was made of them: key, symbol, side, type, flags, client id, createdTime, category.
_Known = tuple[
    tuple[Any, ...], OrderKey, str, Side, str, frozenset[Flag], str | None, int | None, str
]


class WsParser:
    """One account's private stream: ``parse(frame)`` gives exactly what ``parse_ws`` gives, and
    raises ``MalformedFrame`` (only) where it raises, with the same words.

    The ``order`` push is the hot path, and it is built like the Bitfinex ``FrameParser``: an
    order's fixed fields (id, category, symbol, side, type, flags, client id, createdTime) are
    checked and converted once per order; a push whose fixed fields equal those seen reuses
    them. The changing fields go through memos: a decimal string is checked and converted once
    (``Decimal`` is immutable, so equal strings share one), and so are the status words. Anything
    missing or odd goes through the full parser (``_order``, the spec), which decides. Caches
    only: no I/O, no clock.
    """

    def __init__(self, account: AccountKey) -> None:
        if account.venue != VENUE:
            raise ValueError(f"not a Bybit account: {account}")
        self.account = account
        self._venue = account.venue
        self._account = account.account
        self._known: dict[str, _Known] = {}  # open orders, by orderId
        self._quantities: dict[str, Decimal] = {}  # checked, non-negative
        self._prices: dict[Any, Decimal | None] = dict(_NO_PRICE)  # "0" and "" mean none
        # (orderStatus, cancelType, rejectReason) -> status, status text
        self._statuses: dict[tuple[Any, Any, Any], tuple[OrderStatus, str]] = {}
        # (orderType, stopOrderType, timeInForce, reduceOnly, closeOnTrigger) -> type, flags
        self._kinds: dict[tuple[Any, ...], tuple[str, frozenset[Flag]]] = {}

    def parse(self, raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> BybitWsEvent:
        if type(raw) is not bytes and type(raw) is not str:
            return parse_ws(raw, self.account)
        msg = _load_text(raw)
        orders = self._push(msg)
        if orders is None:
            return _parse_ws_message(msg, self.account)
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
        """``parse``, except that an ``order`` push comes back as the bare list of its orders
        (the push's events are ``order_event`` of each): the client's hot path, without the
        wrappers."""
        if type(raw) is bytes or type(raw) is str:
            try:
                msg = _loads(raw)
            except _JSON_ERRORS as exc:
                raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
            if type(msg) is not dict:
                raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
            orders = self._push(msg)
            return orders if orders is not None else _parse_ws_message(msg, self.account)
        event = parse_ws(raw, self.account)
        if type(event) is OrderPush:
            return [e.order for e in event.events]
        return event

    def _push(self, msg: dict[str, Any]) -> list[Order] | None:
        """The orders of an ``order`` push; None for any other message (or a push without a
        data array: ``parse_ws`` has the words for it)."""
        topic = msg.get("topic")
        if type(topic) is not str or not topic.startswith("order"):
            return None
        data = msg.get("data")
        if type(data) is not list:
            return None
        order = self._order
        orders = []
        for item in data:
            if type(item) is not dict:
                raise MalformedFrame("order is not an object")
            orders.append(order(item, topic))
        return orders

    def _order(self, item: dict[str, Any], topic: str) -> Order:
        try:
            fixed = _fixed_fields(item)
            (
                venue_status, qty, leaves, trigger, cancel_type, reject, price, avg_price, updated
            ) = _live_fields(item)
        except KeyError:
            return self._full(item, topic)
        # A look-up finds only text equal to text already checked (text equals nothing else);
        # a miss, or anything unhashable (TypeError), takes the checks, or the full parser.
        try:
            known = self._known.get(fixed[0])
            known_status = self._statuses.get((venue_status, cancel_type, reject))
            quantities = self._quantities
            amount = quantities.get(qty)
            remaining = quantities.get(leaves)
            prices = self._prices
            trigger_d = prices.get(trigger, _MISSING)
            price_d = prices.get(price, _MISSING)
            avg_d = prices.get(avg_price, _MISSING)
        except TypeError:
            return self._full(item, topic)
        # the booleans by identity: 0 == False, so equality alone does not prove one
        if known is None or fixed != known[0] or fixed[7] is not known[0][7] or (
            fixed[8] is not known[0][8]
        ):
            known = self._learn(fixed)
            if known is None:
                return self._full(item, topic)
        if known_status is None:
            known_status = self._status(venue_status, cancel_type, reject)
            if known_status is None:
                return self._full(item, topic)
        if amount is None:
            amount = self._quantity(qty)
        if remaining is None:
            remaining = self._quantity(leaves)
        if trigger_d is _MISSING:
            trigger_d = self._price(trigger)
        if price_d is _MISSING:
            price_d = self._price(price)
        if avg_d is _MISSING:
            avg_d = self._price(avg_price)
        if type(updated) is str and updated.isdigit() and updated.isascii() and len(updated) <= 20:
            updated_ms: int | None = int(updated)
        elif updated is None or updated == "":
            updated_ms = None
        elif type(updated) is int:
            updated_ms = updated
        else:
            return self._full(item, topic)
        if (
            amount is None or remaining is None or trigger_d is _MISSING or price_d is _MISSING
            or avg_d is _MISSING
        ):
            return self._full(item, topic)
        status, text = known_status
        if status is _UNTRIGGERED and trigger_d is not None:  # the text names the trigger
            trigger_by = item.get("triggerBy")
            if trigger_by is not None and type(trigger_by) is not str:
                return self._full(item, topic)
            text = _status_text(venue_status, status, trigger_d, trigger_by or "",
                                cancel_type or "", reject or "")

        _, key, symbol, side, order_type, flags, client_id, created_ms, category = known
        if status not in OPEN_STATUSES:
            del self._known[key.order_id]  # it left the book: forget it
        return build_order(
            key, symbol, side, order_type, amount, remaining, status, text, price_d, avg_d,
            client_id, None, None, flags, created_ms, updated_ms, category,
        )

    def _full(self, item: dict[str, Any], topic: str) -> Order:
        """The full parser, with ``parse_ws``'s category rule and words for every slip."""
        try:
            category = item.get("category") or topic.partition(".")[2]
            if category not in CATEGORIES:
                raise MalformedFrame("order without a known category")
            order = _order(item, self.account, category)
        except MalformedFrame:
            raise
        except _PARSE_ERRORS as exc:
            raise MalformedFrame(f"{type(exc).__name__}: {exc}"[:200]) from None
        if not order.status.is_open:
            self._known.pop(order.order_id, None)
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
            or type(side) is not str or side not in _SIDES
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
        known: _Known = (
            fixed, OrderKey(self._venue, self._account, order_id), symbol, _SIDES[side],
            kind[0], kind[1], link or None, int(created), category,
        )
        cache = self._known
        if len(cache) >= _KNOWN_LIMIT:
            cache.clear()
        cache[order_id] = known
        return known

    def _quantity(self, value: Any) -> Decimal | None:
        if type(value) is not str or not _DECIMAL.fullmatch(value):
            return None
        number = Decimal(value)
        if number < 0:
            return None
        memo = self._quantities
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[value] = number
        return number

    def _price(self, value: Any) -> Any:
        if type(value) is not str or not _DECIMAL.fullmatch(value):
            return _MISSING
        number: Decimal | None = Decimal(value)
        if not number:  # zero
            number = None
        memo = self._prices
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
            memo.update(_NO_PRICE)
        memo[value] = number
        return number

    def _kind(
        self, order_type: Any, stop_type: Any, time_in_force: Any, reduce_only: Any, close: Any
    ) -> tuple[str, frozenset[Flag]] | None:
        if (
            (order_type is not None and type(order_type) is not str)
            or (stop_type is not None and type(stop_type) is not str)
            or (time_in_force is not None and type(time_in_force) is not str)
            or type(reduce_only) is not bool or type(close) is not bool
        ):
            return None
        kind = _order_kind(order_type or "", stop_type or "", time_in_force or "", reduce_only,
                           close)
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
        status = _STATUSES.get(venue_status)
        if status is None:
            return None
        text = _status_text(venue_status, status, None, "", cancel_type or "", reject or "")
        memo = self._statuses
        if len(memo) >= 4096:
            memo.clear()
        memo[(venue_status, cancel_type, reject)] = (status, text)
        return status, text


def _load_text(raw: bytes | str) -> dict[str, Any]:
    """``_load`` for a frame as it comes off the socket."""
    try:
        msg = _loads(raw)
    except _JSON_ERRORS as exc:
        raise MalformedFrame(f"not JSON: {type(exc).__name__}") from None
    if type(msg) is not dict:
        raise MalformedFrame(f"not a JSON object: {type(msg).__name__}")
    return msg


_parse_ws_message: Final = _guarded(_ws_message)


# -- notices -----------------------------------------------------------------------------------
def error_notice(
    reply: VenueReply, account: AccountKey, ts_ms: int | None = None,
    order_ids: tuple[str, ...] = (),
) -> Notice:
    """The venue's words for the status bar: ``Notice.line()`` reads ``"110001: <retMsg>"``.

    "Already gone" codes are a warning (the stream or a re-query settles the row), others errors.
    """
    level = Level.WARNING if reply.already_gone else Level.ERROR
    if reply.ok:
        level = Level.SUCCESS
    return Notice(
        venue=account.venue,
        account=account.account,
        level=level,
        text=reply.ret_msg or DOC_TEXTS.get(reply.ret_code, "no message"),
        status=str(reply.ret_code),
        order_ids=order_ids,
        ts_ms=ts_ms,
    )


def closed_notice(order: Order, ts_ms: int | None = None) -> Notice:
    """A confirmation when the stream reports an order closed, e.g.
    ``"Cancelled · CancelByUser · EC_PerCancelRequest: SOLUSDT buy 0.1 @ 99"``."""
    price = f" @ {order.price}" if order.price is not None else ""
    level = {
        OrderStatus.CANCELLED: Level.SUCCESS,
        OrderStatus.FILLED: Level.INFO,
    }.get(order.status, Level.WARNING)
    return Notice(
        venue=order.venue,
        account=order.account,
        level=level,
        text=f"{order.symbol} {order.side.value} {order.amount}{price} ({order.category})",
        status=order.status_text,
        order_ids=(order.order_id,),
        ts_ms=ts_ms,
    )
