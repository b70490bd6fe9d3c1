"""The REST side of the simulated Bybit venue: `/v5/market/time` and the authenticated
`/v5/order/...` endpoints.

Every private call is checked as the notes say (§1–§2, §6): the key, the signature over the exact
bytes received, the timestamp window, the per-endpoint rate budget with its limit headers; then
answered in the `retCode`/`retMsg` envelope, business errors as HTTP 200. The open orders page by
cursor (§3.1); cancels are acknowledged first and the orders close a moment later on the stream
(§3.2–§3.4), with the 500-order cap of futures cancel-all and per-item batch errors.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from blotter.sim._loopback import LoopbackVenue

from .auth import DEFAULT_RECV_WINDOW, rest_signed_message, signature_ok, window_ok
from .orders import CATEGORIES, SPOT_FILTERS, SimOrder, matches_filter

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


class RestSide(LoopbackVenue):
    """The REST endpoints of `BybitSimulator`, which holds the state and the switches declared
    here and closes the accepted cancels (`_accept_cancels`)."""

    clock_skew: float
    refuse_key: bool
    force_rate_limit: int
    force_server_error: int
    force_sign_error: int
    force_http_status: list[int]
    garble_lists: int
    rate_limits_enabled: bool
    cancel_all_cap: int
    rest_calls: list[str]
    input_listeners: list[Callable[[Any], None]]
    call_listeners: list[Callable[[str, str], None]]
    _orders: dict[str, SimOrder]
    _closed: dict[str, deque[SimOrder]]
    _hits: dict[tuple[str, str, str], deque[float]]

    def server_ms(self) -> int:
        raise NotImplementedError

    def _accept_cancels(self, orders: list[SimOrder]) -> None:
        raise NotImplementedError

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/market/time", self._market_time)
        app.router.add_get("/v5/order/realtime", self._rest_realtime)
        app.router.add_post("/v5/order/cancel", self._rest_cancel)
        app.router.add_post("/v5/order/cancel-batch", self._rest_cancel_batch)
        app.router.add_post("/v5/order/cancel-all", self._rest_cancel_all)

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
        for on_call in list(self.call_listeners):
            on_call(request.method, request.path)
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
                pool = [o for o in pool if matches_filter(o, flt)]
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
        items = [o.to_dict() for o in page]
        if self.garble_lists > 0 and items and not (order_id or link_id):
            self.garble_lists -= 1  # one record with a status no one knows
            items[0]["orderStatus"] = "Parked"
        return {"list": items, "nextPageCursor": next_cursor, "category": cat}, {}

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
            pool = [o for o in pool if matches_filter(o, flt)]
            if flt == "StopOrder" and p.get("stopOrderType") == "Stop":
                pool = [o for o in pool if o.stop_order_type == "Stop"]
        if cat in ("linear", "inverse") and len(pool) > self.cancel_all_cap:
            pool = self._rng.sample(pool, self.cancel_all_cap)
        self._accept_cancels(pool)
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id}
                         for o in pool], "success": "1"}, {}


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


__all__ = ["BybitError", "RestSide"]
