"""Loopback simulator of the Bybit v5 API: authenticated REST (`/v5/...`) and the private
websocket `/v5/private`, on one port.

It speaks the wire protocol described in `venues/bybit.md` for what a blotter uses: signatures
over the exact bytes received, the timestamp window (with a configurable clock skew), key checks,
per-endpoint rate limits with the limit headers, open orders per category with cursor paging,
the three cancel endpoints (acknowledge first, then push the final state on the `order` topic),
the 500-order cap of futures cancel-all, batch per-item errors, the cancel/fill race, and faults
on demand. Written from the notes only; it does not import the blotter's own client.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import Fault, LoopbackVenue

from .auth import (
    DEFAULT_RECV_WINDOW,
    random_credentials,
    rest_signed_message,
    signature_ok,
    window_ok,
    ws_auth_message,
)
from .orders import (
    CATEGORIES,
    INSTRUMENTS,
    SPOT_FILTERS,
    IdMaker,
    SimOrder,
    random_fill_qty,
    random_order,
)

WS_PATH = "/v5/private"
CLOSED_CACHE = 500  # openOnly=1 keeps this many recent closed orders per category
FUTURES_CANCEL_ALL_CAP = 500
BATCH_CAP = {"spot": 10, "linear": 20, "inverse": 20, "option": 20}
# per key, endpoint and category, per rolling second (notes §6, default tier)
RATE_LIMITS: dict[str, dict[str, int]] = {
    "/v5/order/cancel": {"spot": 20, "linear": 10, "inverse": 10, "option": 10},
    "/v5/order/cancel-all": {"spot": 20, "linear": 10, "inverse": 10, "option": 1},
    "/v5/order/cancel-batch": {"spot": 20, "linear": 10, "inverse": 10, "option": 10},
    "/v5/order/realtime": {"*": 50},
}
MSG_10003 = "API key is invalid."
MSG_10006 = "Too many visits!"
MSG_10016 = "System error. Please try again later."
MSG_110001 = "order not exists or too late to cancel"
MSG_170213 = "Order does not exist."


class BybitError(Exception):
    """A business error answered as HTTP 200 with this retCode/retMsg."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class _Conn:
    """One private websocket; frames go out through a queue so their order is the order of
    events and synchronous actions can emit without awaiting."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None,
                 conn_id: str) -> None:
        self.ws = ws
        self.transport = transport
        self.conn_id = conn_id
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.alive = True
        self.api_key: str | None = None
        self.topics: set[str] = set()
        self.last_seen = time.monotonic()
        self.tasks: list[asyncio.Task[None]] = []

    def push(self, frame: str | None) -> None:
        if self.alive:
            self.queue.put_nowait(frame)

    def topic_for(self, category: str) -> str | None:
        if "order" in self.topics:
            return "order"
        name = f"order.{category}"
        return name if name in self.topics else None


class BybitSimulator(LoopbackVenue):
    """The Bybit v5 venue (unified account) on 127.0.0.1, for tests and demo mode."""

    WS_PATH = WS_PATH
    VENUE = "bybit"

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        initial_orders: int = 0,
        flow_rate: float = 0.0,
        seed: int | None = None,
        ack_to_close_delay: float = 0.005,
        idle_timeout: float = 600.0,
    ) -> None:
        self._init_credentials(seed, api_key, api_secret, random_credentials)
        self.uid = self._rng.randint(10_000_000, 199_999_999)
        self._ids = IdMaker(self._rng)

        self.initial_orders = initial_orders
        self.flow_rate = flow_rate
        self.ack_to_close_delay = ack_to_close_delay
        self.idle_timeout = idle_timeout

        # fault switches, read at the moment they matter; the one-shot ones reset themselves
        self.clock_skew = 0.0  # seconds added to the venue's clock
        self.refuse_key = False  # every private call: 10003; websocket auth fails
        self.silent_socket = False  # websockets send nothing (no pushes, no pongs, no pings)
        self.force_rate_limit = 0  # the next N private REST calls: 10006
        self.force_server_error = 0  # the next N private REST calls: 10016
        self.force_sign_error = 0  # the next N private REST calls: 10004 (echoes what it signed)
        # the next private REST calls answer these HTTP statuses instead (429 with Retry-After)
        self.force_http_status: list[int] = []
        self.fill_on_cancel = False  # the next cancelled order fills instead (double Filled)
        self.reply_delay = 0.0
        self.rate_limits_enabled = True
        self.cancel_all_cap = FUTURES_CANCEL_ALL_CAP

        # counters for tests
        self.connections_opened = 0
        self.auth_ok_count = 0
        self.rest_calls: list[str] = []
        self.inputs_received: list[Any] = []
        # called with each decoded websocket request or (method, path, body) of a REST write
        self.input_listeners: list[Callable[[Any], None]] = []

        self._orders: dict[str, SimOrder] = {}
        self._closed: dict[str, deque[SimOrder]] = {c: deque(maxlen=CLOSED_CACHE)
                                                    for c in CATEGORIES}
        self._hits: dict[tuple[str, str, str], deque[float]] = {}
        self._conns: set[_Conn] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._init_server()
        self._push_seq = 0
        self._seed_orders(initial_orders)

    # ------------------------------------------------------------------------------------------
    # lifecycle

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/market/time", self._market_time)
        app.router.add_get("/v5/order/realtime", self._rest_realtime)
        app.router.add_post("/v5/order/cancel", self._rest_cancel)
        app.router.add_post("/v5/order/cancel-batch", self._rest_cancel_batch)
        app.router.add_post("/v5/order/cancel-all", self._rest_cancel_all)

    def server_ms(self) -> int:
        """The venue's clock in ms, including `clock_skew`."""
        return int((time.time() + self.clock_skew) * 1000)

    # ------------------------------------------------------------------------------------------
    # state and scripted actions

    def open_orders(self, category: str | None = None) -> list[dict[str, Any]]:
        """Open orders as the `order` topic shows them (REST fields plus `category`)."""
        return [o.to_dict(ws=True) for o in self._orders.values()
                if category is None or o.category == category]

    def order(self, order_id: str) -> dict[str, Any] | None:
        found = self._orders.get(order_id)
        if found is None:
            for cache in self._closed.values():
                found = next((o for o in cache if o.order_id == order_id), None)
                if found is not None:
                    break
        return None if found is None else found.to_dict(ws=True)

    def place_order(
        self,
        category: str,
        symbol: str,
        side: str,
        qty: str | float | Decimal,
        price: str | float | Decimal,
        *,
        order_link_id: str | None = None,
        trigger_price: str | float | Decimal | None = None,
        order_filter: str = "Order",
        created_time: int | None = None,
        push: bool = True,
    ) -> str:
        """Add an open order (New, or Untriggered with a trigger price) and push it;
        returns its orderId."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        now = created_time if created_time is not None else self._now()
        oid = self._ids.order_id(category)
        order = SimOrder(
            category=category, symbol=symbol, order_id=oid,
            order_link_id=self._ids.link_id(category, oid, order_link_id), side=side,
            price=Decimal(str(price)), qty=Decimal(str(qty)), created=now, updated=now,
        )
        if trigger_price is not None:
            order.trigger_price = Decimal(str(trigger_price))
            order.status = "Untriggered"
            order.kind = order_filter if order_filter != "Order" else "StopOrder"
            order.stop_order_type = "Stop" if order.kind == "StopOrder" else order.kind
        self._orders[oid] = order
        if push:
            self._push([order])
        return oid

    def fill(self, order_id: str, qty: str | float | Decimal | None = None) -> None:
        """Fill `qty` (default: all that is left) at the order's price and push the state."""
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        left = order.qty - order.cum_qty
        part = left if qty is None else min(Decimal(str(qty)), left)
        if part <= 0:
            raise ValueError("fill quantity must be positive")
        order.cum_qty += part
        order.updated = self._now(order.updated)
        if order.cum_qty >= order.qty:
            order.status = "Filled"
            self._close(order)
        else:
            order.status = "PartiallyFilled"
        self._push([order])

    def cancel_external(self, order_id: str, cancel_type: str = "CancelByUser") -> None:
        """The order is cancelled from elsewhere (another app, the venue): push its end."""
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        self._finish_cancel(order, cancel_type)

    # ------------------------------------------------------------------------------------------
    # faults on demand

    async def send_raw(self, text: str) -> None:
        """Send `text` as is to every authenticated socket (malformed-frame tests)."""
        for conn in self._conns:
            if conn.api_key is not None:
                conn.push(text)
        await asyncio.sleep(0)

    # ------------------------------------------------------------------------------------------
    # REST plumbing

    async def _market_time(self, request: web.Request) -> web.Response:
        ns = time.time_ns() + int(self.clock_skew * 1e9)
        ms = ns // 1_000_000
        return _json(_envelope({"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)},
                               ms))

    async def _private(
        self,
        request: web.Request,
        answer: Callable[[str, dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> web.Response:
        """Auth, limits and the envelope around one private endpoint. `answer` gets the key and
        the parameters and returns (result, retExtInfo) or raises BybitError."""
        self.rest_calls.append(request.path)
        raw_path = request.raw_path
        raw_query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
        raw = await request.read()
        if self.reply_delay > 0:
            await asyncio.sleep(self.reply_delay)
        now = self.server_ms()
        headers: dict[str, str] = {"Traceid": uuid.uuid4().hex, "Timenow": str(now)}
        if self.force_http_status:
            status = self.force_http_status.pop(0)
            extra = {"Retry-After": "1"} if status == 429 else {}
            return web.Response(status=status, text="", headers={**headers, **extra})
        try:
            key = self._check_auth(request, raw_query if request.method == "GET" else raw, now)
            if request.method == "GET":
                params: dict[str, Any] = dict(parse_qsl(raw_query, keep_blank_values=True))
            else:
                params = _json_body(raw)
                for listener in self.input_listeners:
                    listener((request.method, request.path, dict(params)))
            category = params.get("category")
            if category not in CATEGORIES:
                raise BybitError(10001, "params error: category is invalid")
            units = 1
            if request.path == "/v5/order/cancel-batch" and category != "option":
                items = params.get("request")
                units = len(items) if isinstance(items, list) else 1
            granted = self._rate_check(key, request.path, category, units, now, headers)
            params["_granted"] = granted
            if self.force_server_error > 0:
                self.force_server_error -= 1
                raise BybitError(10016, MSG_10016)
            result, ext = answer(key, params)
            body = _envelope(result, self.server_ms(), ext)
        except BybitError as err:
            body = _envelope({}, self.server_ms(), code=err.code, msg=err.msg)
        return _json(body, headers)

    def _check_auth(self, request: web.Request, payload: str | bytes, now: int) -> str:
        h = request.headers
        key = h.get("X-BAPI-API-KEY", "")
        secret = self._keys.get(key)
        if self.refuse_key or secret is None:
            raise BybitError(10003, MSG_10003)
        ts_text = h.get("X-BAPI-TIMESTAMP", "")
        recv_text = h.get("X-BAPI-RECV-WINDOW")
        sig = h.get("X-BAPI-SIGN")
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        forms = [recv_text] if recv_text is not None else [str(DEFAULT_RECV_WINDOW), ""]
        messages = [rest_signed_message(ts_text, key, form, data) for form in forms]
        if self.force_sign_error > 0 or not any(signature_ok(secret, m, sig) for m in messages):
            self.force_sign_error = max(0, self.force_sign_error - 1)
            origin = messages[0].decode("utf-8", "replace")
            raise BybitError(10004, f"error sign! origin_string[{origin}]")
        try:
            ts = int(ts_text)
            recv = int(recv_text) if recv_text is not None else DEFAULT_RECV_WINDOW
        except ValueError:
            raise BybitError(10001, "params error: timestamp or recv_window invalid") from None
        if not window_ok(ts, now, recv):
            raise BybitError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]",
            )
        return key

    def _rate_check(self, key: str, path: str, category: str, units: int, now_ms: int,
                    headers: dict[str, str]) -> int:
        """Take up to `units` from the rolling one-second budget; returns how many were granted
        (a batch may get fewer than it asked for) and raises 10006 when none are left."""
        limits = RATE_LIMITS.get(path, {})
        limit = limits.get(category, limits.get("*", 0))
        if self.force_rate_limit > 0:
            self.force_rate_limit -= 1
            headers.update({"X-Bapi-Limit": str(limit or 10), "X-Bapi-Limit-Status": "0",
                            "X-Bapi-Limit-Reset-Timestamp": str(now_ms + 1000)})
            raise BybitError(10006, MSG_10006)
        if not limit or not self.rate_limits_enabled:
            if limit:
                headers.update({"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(limit),
                                "X-Bapi-Limit-Reset-Timestamp": str(now_ms)})
            return units
        bucket = "*" if "*" in limits else category
        hits = self._hits.setdefault((key, path, bucket), deque())
        mono = time.monotonic()
        while hits and mono - hits[0] >= 1.0:
            hits.popleft()
        left = limit - len(hits)
        granted = max(0, min(units, left))
        hits.extend([mono] * granted)
        reset = now_ms + int((1.0 - (mono - hits[0])) * 1000) if hits else now_ms
        headers.update({"X-Bapi-Limit": str(limit),
                        "X-Bapi-Limit-Status": str(limit - len(hits)),
                        "X-Bapi-Limit-Reset-Timestamp": str(reset if granted < units
                                                            else now_ms)})
        if granted == 0:
            raise BybitError(10006, MSG_10006)
        return granted

    # ------------------------------------------------------------------------------------------
    # GET /v5/order/realtime

    async def _rest_realtime(self, request: web.Request) -> web.Response:
        return await self._private(request, self._answer_realtime)

    def _answer_realtime(self, key: str, p: dict[str, Any]) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
        cat = p["category"]
        symbol, base, settle = p.get("symbol"), p.get("baseCoin"), p.get("settleCoin")
        order_id, link_id = p.get("orderId"), p.get("orderLinkId")
        # an order id is taken as scope enough (the notes leave it open)
        if cat == "linear" and not (symbol or base or settle or order_id or link_id):
            raise BybitError(10001, "Missing some parameters that must be filled in, "
                                    "symbol or settleCoin")
        try:
            limit = int(p.get("limit") or 20)
        except ValueError:
            raise BybitError(10001, "params error: limit invalid") from None
        if not 1 <= limit <= 50:
            raise BybitError(10001, "params error: limit invalid")
        open_only = str(p.get("openOnly", "0"))
        if order_id or link_id:
            pool = [o for o in self._orders.values() if o.category == cat]
            pool += [o for o in self._closed[cat]]
            if order_id:
                pool = [o for o in pool if o.order_id == order_id]
            else:
                pool = [o for o in pool if o.order_link_id == link_id]
            if not pool and cat == "spot":
                raise BybitError(170213, MSG_170213)
        else:
            pool = (list(self._closed[cat]) if open_only == "1"
                    else [o for o in self._orders.values() if o.category == cat])
            if symbol:
                pool = [o for o in pool if o.symbol == symbol]
            elif base:
                pool = [o for o in pool if o.base == base]
            if settle and cat != "spot":
                pool = [o for o in pool if o.settle == settle]
            flt = p.get("orderFilter")
            if flt:
                pool = [o for o in pool if _matches_filter(o, flt)]
        pool.sort(key=lambda o: (o.created, o.order_id), reverse=True)
        cursor = p.get("cursor")
        if cursor:
            pos = _parse_cursor(cursor)
            if pos is None:
                raise BybitError(10001, "params error: cursor invalid")
            pool = [o for o in pool if (o.created, o.order_id) < pos]
        page = pool[:limit]
        next_cursor = ""
        if len(pool) > limit:
            last = page[-1]
            next_cursor = f"page_args%3D{last.order_id}%26created%3D{last.created}%26"
        return {"list": [o.to_dict() for o in page], "nextPageCursor": next_cursor,
                "category": cat}, {}

    # ------------------------------------------------------------------------------------------
    # cancels

    async def _rest_cancel(self, request: web.Request) -> web.Response:
        return await self._private(request, self._answer_cancel)

    async def _rest_cancel_batch(self, request: web.Request) -> web.Response:
        return await self._private(request, self._answer_cancel_batch)

    async def _rest_cancel_all(self, request: web.Request) -> web.Response:
        return await self._private(request, self._answer_cancel_all)

    def _find_for_cancel(self, cat: str, item: dict[str, Any]) -> SimOrder:
        """The open order a cancel item names, or BybitError as the venue answers it."""
        symbol = item.get("symbol")
        order_id, link_id = item.get("orderId"), item.get("orderLinkId")
        if not symbol or not isinstance(symbol, str):
            raise BybitError(10001, "symbol params err")
        if not order_id and not link_id:
            raise BybitError(10001, "params error: OrderId or orderLinkId is required")
        if order_id:
            order = self._orders.get(str(order_id))
        else:
            order = next((o for o in self._orders.values()
                          if o.category == cat and o.order_link_id == link_id), None)
        if (order is None or order.category != cat or order.symbol != symbol
                or order.pending_cancel or not order.is_open):
            if cat == "spot":
                raise BybitError(170213, MSG_170213)
            raise BybitError(110001, MSG_110001)
        return order

    def _answer_cancel(self, key: str, p: dict[str, Any]) -> tuple[dict[str, Any],
                                                                    dict[str, Any]]:
        order = self._find_for_cancel(p["category"], p)
        self._accept_cancels([order])
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}, {}

    def _answer_cancel_batch(self, key: str, p: dict[str, Any]) -> tuple[dict[str, Any],
                                                                          dict[str, Any]]:
        cat = p["category"]
        items = p.get("request")
        if not isinstance(items, list) or not items:
            raise BybitError(10001, "params error: request is empty")
        if len(items) > BATCH_CAP[cat]:
            raise BybitError(10001, f"params error: the number of orders exceeds the limit "
                                    f"of {BATCH_CAP[cat]}")
        granted = p.get("_granted", len(items))
        results: list[dict[str, Any]] = []
        infos: list[dict[str, Any]] = []
        accepted: list[SimOrder] = []
        for n, item in enumerate(items):
            item = item if isinstance(item, dict) else {}
            entry = {"category": cat, "symbol": str(item.get("symbol") or ""),
                     "orderId": "", "orderLinkId": str(item.get("orderLinkId") or "")}
            try:
                if n >= granted:
                    raise BybitError(10006, MSG_10006)
                order = self._find_for_cancel(cat, item)
                order.pending_cancel = True
                accepted.append(order)
                entry["orderId"], entry["orderLinkId"] = order.order_id, order.order_link_id
                infos.append({"code": 0, "msg": "OK"})
            except BybitError as err:
                infos.append({"code": err.code, "msg": err.msg})
            results.append(entry)
        self._accept_cancels(accepted)
        return {"list": results}, {"list": infos}

    def _answer_cancel_all(self, key: str, p: dict[str, Any]) -> tuple[dict[str, Any],
                                                                        dict[str, Any]]:
        cat = p["category"]
        symbol, base, settle = p.get("symbol"), p.get("baseCoin"), p.get("settleCoin")
        flt = p.get("orderFilter")
        if cat in ("linear", "inverse") and not (symbol or base or settle):
            raise BybitError(10001, "Missing some parameters that must be filled in, "
                                    "symbol or settleCoin")
        if cat == "spot" and settle:
            raise BybitError(10001, "params error: settleCoin is not supported for spot")
        if cat == "spot":
            flt = flt or "Order"
            if flt not in SPOT_FILTERS:
                raise BybitError(170201, "Invalid orderFilter parameter")
        elif flt and flt not in ("Order", "StopOrder", "OpenOrder"):
            raise BybitError(10001, "params error: orderFilter invalid")
        pool = [o for o in self._orders.values()
                if o.category == cat and o.is_open and not o.pending_cancel]
        if symbol:
            pool = [o for o in pool if o.symbol == symbol]
        elif base:
            pool = [o for o in pool if o.base == base]
        elif settle:
            pool = [o for o in pool if o.settle == settle]
        if flt:
            pool = [o for o in pool if _matches_filter(o, flt)]
            if flt == "StopOrder" and p.get("stopOrderType") == "Stop":
                pool = [o for o in pool if o.stop_order_type == "Stop"]
        if cat in ("linear", "inverse") and len(pool) > self.cancel_all_cap:
            pool = self._rng.sample(pool, self.cancel_all_cap)
        self._accept_cancels(pool)
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id}
                         for o in pool], "success": "1"}, {}

    def _accept_cancels(self, orders: list[SimOrder]) -> None:
        """The ack is sent now; the orders close a moment later, pushed on the stream."""
        for order in orders:
            order.pending_cancel = True
        if orders:
            self._later(self.ack_to_close_delay, lambda: self._close_cancelled(orders))

    def _close_cancelled(self, orders: list[SimOrder]) -> None:
        for order in orders:
            if order.order_id not in self._orders:
                continue  # filled or cancelled in the meantime
            if self.fill_on_cancel:
                # the race: the order filled before the cancel reached the book (notes §7.4)
                self.fill_on_cancel = False
                order.cum_qty = order.qty
                order.status = "Filled"
                order.updated = self._now(order.updated)
                self._close(order)
                self._push([order])
                order.cancel_type = "CancelByUser"
                order.reject_reason = "EC_OrigClOrdIDDoesNotExist"
                self._push([order])
                continue
            self._finish_cancel(order, "CancelByUser")

    def _finish_cancel(self, order: SimOrder, cancel_type: str) -> None:
        if order.category == "spot" and order.status == "Untriggered":
            order.status = "Deactivated"
        elif order.category == "spot" and order.cum_qty > 0:
            order.status = "PartiallyFilledCanceled"
        else:
            order.status = "Cancelled"
        order.cancel_type = cancel_type
        order.reject_reason = "EC_PerCancelRequest"
        order.updated = self._now(order.updated)
        self._close(order)
        self._push([order])

    def _close(self, order: SimOrder) -> None:
        self._orders.pop(order.order_id, None)
        order.pending_cancel = False
        self._closed[order.category].append(order)

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        if delay <= 0:
            action()
            return
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            action()

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    # ------------------------------------------------------------------------------------------
    # private websocket

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        # autoping off: protocol pongs go out only while the socket is not silenced
        ws = web.WebSocketResponse(autoping=False)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="websocket upgrade expected")
        await ws.prepare(request)
        self.connections_opened += 1
        conn_id = f"{uuid.uuid4().hex[:20]}-{self._rng.randint(1, 99999):x}"
        conn = _Conn(ws, request.transport, conn_id)
        self._conns.add(conn)
        conn.tasks.append(asyncio.create_task(self._writer(conn)))
        conn.tasks.append(asyncio.create_task(self._idle_watch(conn)))
        try:
            async for msg in ws:
                conn.last_seen = time.monotonic()
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.PING:
                    if not self.silent_socket:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    pass
                elif msg.type == WSMsgType.BINARY:
                    continue
                else:
                    break
        finally:
            conn.alive = False
            self._conns.discard(conn)
            for task in conn.tasks:
                task.cancel()
        return ws

    async def _writer(self, conn: _Conn) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if item is None:
                    await conn.ws.close(code=1000)
                    return
                if not self.silent_socket:
                    await conn.ws.send_str(item)
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    async def _idle_watch(self, conn: _Conn) -> None:
        while conn.alive:
            left = conn.last_seen + self.idle_timeout - time.monotonic()
            if left <= 0:
                conn.push(None)
                return
            await asyncio.sleep(min(left, 1.0))

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            conn.push(_dumps({"success": False, "ret_msg": "error:request invalid",
                              "conn_id": conn.conn_id}))
            return
        self.inputs_received.append(data)
        for listener in self.input_listeners:
            listener(data)
        op = data.get("op")
        reply: dict[str, Any] = {}
        if "req_id" in data:
            reply["req_id"] = data["req_id"]
        if op == "ping":
            conn.push(_dumps({**reply, "op": "pong", "args": [str(self.server_ms())],
                              "conn_id": conn.conn_id}))
            return
        if op == "auth":
            ok, msg = self._ws_auth(conn, data.get("args"))
            conn.push(_dumps({**reply, "success": ok, "ret_msg": msg, "op": "auth",
                              "conn_id": conn.conn_id}))
            return
        if op in ("subscribe", "unsubscribe"):
            ok, msg = self._ws_subscribe(conn, op, data.get("args"))
            conn.push(_dumps({**reply, "success": ok, "ret_msg": msg, "op": op,
                              "conn_id": conn.conn_id}))
            return
        conn.push(_dumps({**reply, "success": False, "ret_msg": f"error:op {op} not found",
                          "op": op, "conn_id": conn.conn_id}))

    def _ws_auth(self, conn: _Conn, args: Any) -> tuple[bool, str]:
        # failure texts for a bad key or signature are not documented (notes §7.1, §12)
        if conn.api_key is not None:
            return False, "Repeat auth"
        if not isinstance(args, list) or len(args) != 3:
            return False, "Params Error"
        key, expires, sig = args
        secret = self._keys.get(key) if isinstance(key, str) else None
        if self.refuse_key or secret is None:
            return False, "Invalid apikey"
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return False, "Params Error"
        if exp <= self.server_ms():
            return False, "Params Error"
        if not signature_ok(secret, ws_auth_message(expires), sig):
            return False, "Invalid sign"
        conn.api_key = key
        self.auth_ok_count += 1
        return True, ""

    def _ws_subscribe(self, conn: _Conn, op: str, args: Any) -> tuple[bool, str]:
        if conn.api_key is None:
            return False, "Request not authorized"
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return False, "error:args invalid"
        known = {"order", "execution", "position", "wallet", "greeks", "dcp"} | {
            f"{t}.{c}" for t in ("order", "execution", "position") for c in CATEGORIES}
        for topic in args:
            if topic not in known:
                return False, f"error:handler not found,topic:{topic}"
        orders = [a for a in args if a.split(".")[0] == "order"]
        if "order" in orders and len(orders) > 1:
            return False, "error:order and order.* cannot be subscribed in one request"
        if op == "subscribe":
            conn.topics.update(args)
        else:
            conn.topics.difference_update(args)
        return True, ""

    def _push(self, orders: list[SimOrder]) -> None:
        """One `order` message per socket and topic with the full state of each order.
        Never a snapshot: only changes are pushed (notes §7.4)."""
        if not orders:
            return
        creation = self.server_ms()
        for conn in list(self._conns):
            if conn.api_key is None or not conn.alive:
                continue
            by_topic: dict[str, list[dict[str, Any]]] = {}
            for order in orders:
                topic = conn.topic_for(order.category)
                if topic is not None:
                    by_topic.setdefault(topic, []).append(order.to_dict(ws=True))
            for topic, data in by_topic.items():
                self._push_seq += 1
                conn.push(_dumps({"id": f"{self.uid}_{self._push_seq}_{creation}",
                                  "topic": topic, "creationTime": creation, "data": data}))

    # ------------------------------------------------------------------------------------------
    # flow and seeding

    def _seed_orders(self, count: int) -> None:
        """Open orders at start, across every category, newest last; some partly filled.
        The first orders cover one instrument of each category so small books show them all."""
        mts = self._now() - 6 * 3600 * 1000
        cover = [next(i for i in INSTRUMENTS if i.category == c and i.settle == s)
                 for c, s in (("spot", "USDT"), ("linear", "USDT"), ("linear", "USDC"),
                              ("inverse", "BTC"), ("option", "USDC"))]
        for n in range(count):
            mts += self._rng.randint(5_000, 600_000)
            inst = cover[n] if n < len(cover) else None
            order = random_order(self._rng, self._ids, mts, inst)
            if order.status == "New" and (n == 1 or self._rng.random() < 0.2):
                part = random_fill_qty(self._rng, order)
                if part:
                    order.cum_qty = part
                    order.status = "PartiallyFilled"
                    order.updated = mts + self._rng.randint(1_000, 300_000)
            self._orders[order.order_id] = order

    async def _flow(self) -> None:
        while self.flow_rate > 0:
            await asyncio.sleep(self._rng.expovariate(self.flow_rate))
            self.flow_step()

    def flow_step(self) -> None:
        """One automatic event; the open count drifts back towards the initial size."""
        rng = self._rng
        target = max(self.initial_orders, 5)
        deficit = (target - len(self._orders)) / target
        p_new = min(0.95, max(0.05, 0.25 + 0.6 * deficit))
        live = [o for o in self._orders.values() if not o.pending_cancel]
        if not live or rng.random() < p_new:
            # a few orders on one instrument, as a ladder, in one push
            inst = rng.choice(INSTRUMENTS)
            side = rng.choice(("Buy", "Sell"))
            now = self._now()
            made = [random_order(rng, self._ids, now, inst, side)
                    for _ in range(rng.choice((1, 1, 2, 3)))]
            for order in made:
                self._orders[order.order_id] = order
            self._push(made)
            return
        order = rng.choice(live)
        roll = rng.random()
        if order.status == "Untriggered":
            if roll < 0.3:
                order.status = "Triggered"
                order.updated = self._now(order.updated)
                self._push([order])
                order.status = "New"
                order.updated = self._now(order.updated)
                self._push([order])
            else:
                self.cancel_external(order.order_id)
        elif roll < 0.45:
            part = random_fill_qty(rng, order)
            self.fill(order.order_id, part or None)
        elif roll < 0.75:
            self.fill(order.order_id)
        else:
            self.cancel_external(order.order_id)

    # ------------------------------------------------------------------------------------------

    def faults(self, name: str) -> list[Fault]:
        def skew() -> str:
            self.clock_skew = 0.0 if self.clock_skew else -3.0
            return f"{name}'s clock " + ("3 s behind ours." if self.clock_skew else "on time.")

        def silent() -> str:
            self.silent_socket = not self.silent_socket
            return f"{name}'s websocket " + ("silent." if self.silent_socket else "talking.")

        def rate_limit() -> str:
            self.force_rate_limit = 3
            return f"{name} answers the next 3 calls with 10006 (rate limit)."

        async def refuse_key() -> str:
            self.refuse_key = not self.refuse_key
            if self.refuse_key:
                await self.drop_connections()
            return f"{name} " + ("refuses" if self.refuse_key else "accepts") + " the API key."

        def server_error() -> str:
            self.force_server_error = 1
            return f"{name} answers the next call with 10016 (server error)."

        return [
            Fault("Drop the connection", "The venue cuts the websocket (close 1006)",
                  self._dropped),
            Fault("Silent socket on/off", "The websocket stays open but sends nothing", silent),
            Fault("Clock 3 s behind on/off", "The venue's clock runs 3 s behind (10002)", skew),
            Fault("Rate limit (10006)", "The next 3 calls are refused for the rate limit",
                  rate_limit),
            Fault("Server error (10016)", "The next call fails with 10016", server_error),
            Fault("Refuse the API key on/off", "Every call and login answers 10003", refuse_key),
            *self.common_faults(name),
        ]

    def _now(self, after: int = 0) -> int:
        """The venue's ms clock, strictly after `after` so updates never go back in time."""
        return max(self.server_ms(), after + 1)


def _matches_filter(order: SimOrder, flt: str) -> bool:
    if flt in ("Order", "OpenOrder"):
        return order.kind == "Order"
    if flt == "StopOrder":
        # derivatives put conditional, TP/SL and trailing orders under StopOrder
        return order.kind != "Order" if order.category != "spot" else order.kind == "StopOrder"
    return order.kind == flt


def _parse_cursor(cursor: str) -> tuple[int, str] | None:
    """The position a `nextPageCursor` we issued points after (aiohttp has already decoded
    the query once, so the cursor arrives as `page_args=<id>&created=<ms>&`)."""
    fields = dict(parse_qsl(cursor))
    try:
        return int(fields["created"]), fields["page_args"]
    except (KeyError, ValueError):
        return None


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise BybitError(10001, "params error: body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BybitError(10001, "params error: body is not a JSON object")
    return body


def _envelope(result: dict[str, Any], ms: int, ext: dict[str, Any] | None = None, *,
              code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": ext or {},
            "time": ms}


def _json(body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=200, body=orjson.dumps(body), content_type="application/json",
                        headers=headers)


__all__ = ["BybitError", "BybitSimulator"]
