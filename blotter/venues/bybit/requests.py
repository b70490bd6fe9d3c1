"""Bybit v5 requests, sans-I/O: signing (§1, §7.1; test vectors §9), the REST request builders
(open orders §3.1, cancels §3.2–§3.4) and the private websocket's frames.

Nothing here touches a socket or reads a clock: timestamps and ``expires`` are passed in. A
signed request carries the exact bytes that were signed; the client sends them as they are.

Protocol notes: ``/work/shared/venues/bybit.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import orjson

from blotter.core.cancel import CancelPlan, ScopeKind, instrument_text
from blotter.core.order import Order
from blotter.venues.bybit.spec import CATEGORIES, RECV_WINDOW, SETTLE_COINS

WS_AUTH_EXPIRY_MS: Final = 10_000  # expires = now + 10 s (§7.1, pitfall #2)
PAGE_LIMIT: Final = 50  # /v5/order/realtime maximum page size

PATH_SERVER_TIME: Final = "/v5/market/time"
PATH_OPEN_ORDERS: Final = "/v5/order/realtime"
PATH_CANCEL: Final = "/v5/order/cancel"
PATH_CANCEL_BATCH: Final = "/v5/order/cancel-batch"
PATH_CANCEL_ALL: Final = "/v5/order/cancel-all"

BATCH_LIMIT: Final = 20  # orders per cancel-batch call (linear, inverse, option)
BATCH_LIMIT_SPOT: Final = 10
CANCEL_ALL_FUTURES_CAP: Final = 500  # linear/inverse cancel-all cancels at most this many per call
# spot cancel-all cancels normal orders unless told another kind (§3.4): these kinds are always
# asked for when everything of a spot scope goes, the others when such orders are shown
SPOT_FILTERS: Final = ("Order", "tpslOrder", "StopOrder")
SPOT_EXTRA_FILTERS: Final = ("StopOrder", "tpslOrder", "OcoOrder", "BidirectionalTpslOrder")


def open_order_scopes(
    categories: Iterable[str], settle_coins: Iterable[str]
) -> tuple[tuple[str, str | None], ...]:
    """The ``(category, settleCoin)`` queries that together list every open order of a unified
    account in ``categories`` (§3.1): linear needs a settle coin per query, one per coin the
    account trades; the others take the category alone."""
    coins = tuple(settle_coins)
    return tuple(
        scope
        for category in categories
        for scope in (
            [("linear", coin) for coin in coins] if category == "linear" else [(category, None)]
        )
    )


# The queries that list every open order with the default settle coins.
OPEN_ORDER_SCOPES: Final = open_order_scopes(CATEGORIES, SETTLE_COINS)


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
    """A signed GET: ``query`` is signed and sent as it is (build it with ``open_orders_query``)."""
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
    """A signed POST: a mapping is encoded once (``encode_body``), and bytes are signed and
    sent exactly as given."""
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
    order_id: str | None = None,
    limit: int = PAGE_LIMIT,
    cursor: str | None = None,
) -> str:
    """The query string of ``GET /v5/order/realtime``, in this order: category, symbol,
    baseCoin, settleCoin, orderFilter, orderId, limit, cursor.

    ``cursor`` is the previous page's ``nextPageCursor``, already percent-encoded by the venue:
    it goes back verbatim (re-encoding its ``%`` breaks the signature, pitfall #3). With
    ``order_id`` the venue answers that order in whatever state, open or recently closed
    (``openOnly`` is ignored for it, §3.1).
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
        ("orderId", order_id),
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


# -- cancel-all per category and scope (§3.4) ---------------------------------------------------
def spot_filter(order: Order) -> str:
    """The spot cancel-all ``orderFilter`` that reaches this order (§3.4): plain orders need
    none; the stop kind is the first word of ``order_type`` ("tpslOrder Limit", "Stop Limit")."""
    kind, _, rest = order.order_type.partition(" ")
    if not rest:
        return "Order"
    return {"Stop": "StopOrder", "StopOrder": "StopOrder"}.get(kind, kind)


def spot_cancel_all_bodies(
    orders: Iterable[Order], symbol: str | None = None
) -> list[dict[str, str]]:
    """Spot cancel-all cancels normal orders only unless told a kind (§3.4): one call each for
    normal orders, TP/SL and stop orders whether shown or not, plus one per other kind present
    in ``orders`` (unknown kinds: every kind, to be sure)."""
    kinds = {spot_filter(o) for o in orders}
    extra = [f for f in SPOT_EXTRA_FILTERS if f in kinds and f not in SPOT_FILTERS]
    if kinds - {*SPOT_FILTERS, *SPOT_EXTRA_FILTERS}:
        extra = [f for f in SPOT_EXTRA_FILTERS if f not in SPOT_FILTERS]
    return [cancel_all_body("spot", symbol=symbol)] + [
        cancel_all_body("spot", symbol=symbol, order_filter=f) for f in (*SPOT_FILTERS[1:], *extra)
    ]


def symbol_cancel_all_bodies(
    symbol: str, category: str | None, orders: Sequence[Order]
) -> list[dict[str, str]]:
    """Cancel Symbol: cancel-all scoped to the symbol in its ``category`` (the instrument), or
    with no category in each category it is open in among ``orders``."""
    calls: list[dict[str, str]] = []
    for kind in CATEGORIES:
        members = [o for o in orders if o.category == kind]
        if kind != category and (category is not None or not members):
            continue
        if kind == "spot":
            calls += spot_cancel_all_bodies(members, symbol)
        else:
            calls.append(cancel_all_body(kind, symbol=symbol))
    return calls


def inverse_coin(symbol: str) -> str | None:
    """The coin an inverse contract is quoted and settled in: what comes before "USD"
    ("BTCUSD", "BTCUSDH26" → "BTC"); None for a symbol of another form."""
    head, sep, _ = symbol.partition("USD")
    return head if sep and head else None


def everything_settle_coins(settle_coins: Iterable[str]) -> tuple[str, ...]:
    """The linear settle coins a cancel of everything goes through: the account's, then USDT
    and USDC (an order in a coin the account does not show is still the account's)."""
    return tuple(dict.fromkeys((*settle_coins, *SETTLE_COINS)))


def account_cancel_all_bodies(
    categories: Iterable[str], settle_coins: Iterable[str], rows: Sequence[Order]
) -> list[dict[str, str]]:
    """cancel-all calls that together cover the whole account (§3.4): every settle coin of
    linear (``everything_settle_coins``), each coin of inverse with open ``rows`` (inverse
    needs a scope: a fresh list names them), every spot kind, option whole."""
    calls: list[dict[str, str]] = []
    for category in categories:
        if category == "spot":
            calls += spot_cancel_all_bodies(o for o in rows if o.category == "spot")
        elif category == "linear":
            calls += [
                cancel_all_body("linear", settle_coin=coin)
                for coin in everything_settle_coins(settle_coins)
            ]
        elif category == "inverse":
            symbols = {o.symbol for o in rows if o.category == "inverse"}
            coins = sorted({c for c in map(inverse_coin, symbols) if c})
            odd = sorted(s for s in symbols if inverse_coin(s) is None)
            calls += [cancel_all_body("inverse", base_coin=c) for c in coins]
            calls += [cancel_all_body("inverse", symbol=s) for s in odd]
        else:
            calls.append(cancel_all_body(category))
    return calls


def in_cancel_all_scope(order: Order, body: dict[str, str]) -> bool:
    """Whether a cancel-all ``body`` reaches ``order`` (filters aside)."""
    if order.category != body["category"]:
        return False
    if "symbol" in body:
        return order.symbol == body["symbol"]
    if "baseCoin" in body:  # inverse: the coin before "USD"
        return inverse_coin(order.symbol) == body["baseCoin"]
    if "settleCoin" in body:  # linear: USDT contracts end in USDT, the rest settle in USDC
        return order.symbol.endswith("USDT") == (body["settleCoin"] == "USDT")
    if body["category"] == "spot":
        return spot_filter(order) == body.get("orderFilter", "Order")
    return True


# -- which primitive sends a plan, and how the trader reads it ---------------------------------
def cancel_primitive(plan: CancelPlan, orders: Sequence[Order]) -> str:
    """Which of the venue's primitives sends ``plan`` (``orders``: its orders that have a Bybit
    category): "account" (a fresh list, then cancel-all per category and scope) for everything
    on the account; "symbol" (cancel-all scoped to the instrument) for an instrument on both
    sides; "cancel" for one order; "batch" for any other list, a one-sided one included
    (cancel-all would take the other side too); "" when there is nothing to send."""
    if plan.everything:
        return "account"
    if (plan.kind is ScopeKind.SYMBOL and plan.side is None and plan.symbol
            and (plan.category in CATEGORIES or (plan.category is None and orders))):
        return "symbol"
    if not orders:
        return ""
    if plan.kind is ScopeKind.ORDER and len(orders) == 1:
        return "cancel"
    return "batch"


_SPOT_WORDS: Final = {"Order": "orders", "tpslOrder": "TP/SL", "StopOrder": "stop orders",
                      "OcoOrder": "OCO", "BidirectionalTpslOrder": "bidirectional TP/SL"}


def _spot_kinds(bodies: Iterable[dict[str, str]]) -> str:
    return ", ".join(_SPOT_WORDS[b.get("orderFilter", "Order")] for b in bodies)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def cancel_route(
    plan: CancelPlan,
    orders: Sequence[Order],
    categories: Sequence[str],
    settle_coins: Sequence[str],
) -> str:
    """How the client sends ``plan`` (see ``cancel_primitive``), in the trader's words:
    "a fresh list, then cancel-all per category: linear (USDT, USDC), ...", "one cancel-all
    for BTCUSDT Linear", "one cancel-batch (3 orders)", "2 cancel-batch requests of up to 10
    (14 orders)", "one cancel"."""
    primitive = cancel_primitive(plan, orders)
    if primitive == "account":
        parts = []
        for category in categories:
            if category == "linear":
                parts.append(f"linear ({', '.join(everything_settle_coins(settle_coins))})")
            elif category == "inverse":
                parts.append("inverse (each coin with open orders)")
            elif category == "spot":
                spot = spot_cancel_all_bodies(o for o in orders if o.category == "spot")
                parts.append(f"spot ({_spot_kinds(spot)})")
            else:
                parts.append(category)
        return "a fresh list of the open orders, then cancel-all per category: " + ", ".join(
            parts
        )
    if primitive == "symbol":
        assert plan.symbol is not None
        bodies = symbol_cancel_all_bodies(plan.symbol, plan.category, orders)
        if plan.category is not None:
            what = instrument_text(plan.symbol, plan.category)
            if plan.category == "spot":
                return f"{_count(len(bodies), 'cancel-all request')} for {what}: " + (
                    _spot_kinds(bodies)
                )
            return f"one cancel-all for {what}"
        kinds = list(dict.fromkeys(b["category"] for b in bodies))
        return (f"cancel-all for {plan.symbol} in {' and '.join(kinds)} "
                f"({_count(len(bodies), 'request')})")
    if primitive == "cancel":
        return "one cancel"
    if primitive == "batch":
        chunks: dict[int, int] = {}  # batch size → requests
        for category in CATEGORIES:
            n = sum(1 for o in orders if o.category == category)
            if n:
                size = batch_limit(category)
                chunks[size] = chunks.get(size, 0) + -(-n // size)
        total = sum(chunks.values())
        if total == 1:
            return f"one cancel-batch ({_count(len(orders), 'order')})"
        sizes = " or ".join(str(s) for s in sorted(chunks, reverse=True))
        return f"{total} cancel-batch requests of up to {sizes} ({_count(len(orders), 'order')})"
    return "nothing to send"


def rate_bucket(path: str, query: str, body: dict[str, Any] | None) -> tuple[str, str]:
    """The rate budget a call spends: Bybit counts per endpoint and category (§6); the open
    orders share one budget."""
    if path == PATH_OPEN_ORDERS:
        return (path, "*")
    category = str((body or {}).get("category", ""))
    if not category:
        for pair in query.split("&"):
            if pair.startswith("category="):
                category = pair[len("category=") :]
    return (path, category)
