"""The REST side of the simulated Bitfinex (bitfinex.md §5): the signed endpoints a blotter uses
(`auth/r/orders[/{symbol}]`, `auth/w/order/cancel[/multi]`), their signature and nonce checks,
the per-endpoint rate limit, and the venue's error answers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from blotter.sim._loopback import LoopbackVenue

from .auth import MAX_NONCE, NonceBook, parse_nonce, rest_signed_message, signature_ok
from .market import OrderBook, as_int, int_list
from .orders import SimOrder

if TYPE_CHECKING:
    from .stream import Conn


class RestSide(LoopbackVenue):
    """The REST endpoints of the venue, mixed into ``BitfinexSimulator``.

    ``rest_calls`` lists the paths called, ``rest_writes`` the (path, body) of each write it
    carried out; ``rest_rate_limit`` calls per endpoint in
    ``rest_rate_window`` seconds are answered, the next ones get HTTP 429 with
    ``rest_rate_limit_body``; while ``rest_failure`` holds an HTTP status (429, 500, 503),
    every call is answered with it (and the venue's body for it), unprocessed; with
    ``keep_history`` off the order history answers nothing.
    """

    # what the venue (server.py) keeps
    _keys: dict[str, str]
    _book: OrderBook
    nonces: NonceBook
    reply_delay: float

    if TYPE_CHECKING:
        def _accept_cancels(
            self, orders: list[SimOrder], requester: Conn | None, *, multi: bool
        ) -> list[Any]: ...

    def _init_rest(self) -> None:
        self.rest_rate_limit = 90
        self.rest_rate_window = 60.0
        self.rest_rate_limit_body: Any = ["error", 11010, "ratelimit: error"]
        self.rest_calls: list[str] = []
        self.rest_writes: list[tuple[str, Any]] = []  # (path, body) of each write it carried out
        self.rest_failure: int | None = None
        self.keep_history = True  # False: the order history answers nothing
        self._rest_hits: dict[str, deque[float]] = {}

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/auth/r/orders", self._rest_orders)
        # before "{symbol}", which "hist" would match too
        app.router.add_post("/v2/auth/r/orders/hist", self._rest_history)
        app.router.add_post("/v2/auth/r/orders/{symbol}/hist", self._rest_history)
        app.router.add_post("/v2/auth/r/orders/{symbol}", self._rest_orders)
        app.router.add_post("/v2/auth/w/order/cancel", self._rest_cancel)
        app.router.add_post("/v2/auth/w/order/cancel/multi", self._rest_cancel_multi)

    async def _rest_orders(self, request: web.Request) -> web.Response:
        return await self._rest(request, self._answer_orders)

    async def _rest_history(self, request: web.Request) -> web.Response:
        return await self._rest(request, self._answer_history)

    async def _rest_cancel(self, request: web.Request) -> web.Response:
        return await self._rest(request, self._answer_cancel)

    async def _rest_cancel_multi(self, request: web.Request) -> web.Response:
        return await self._rest(request, self._answer_cancel_multi)

    async def _rest(
        self,
        request: web.Request,
        answer: Callable[[web.Request, dict[str, Any]], tuple[int, Any]],
    ) -> web.Response:
        self.rest_calls.append(request.path)
        raw = await request.read()
        # limits count per endpoint: /v2/auth/r/orders/{symbol} is one, whatever the symbol
        resource = request.match_info.route.resource
        endpoint = resource.canonical if resource is not None else request.path
        if self.rest_failure is not None:
            status = self.rest_failure
            return _json(status, self.rest_rate_limit_body if status == 429
                         else _FAILURE_BODIES.get(status, ["error", 10000, "internal error"]))
        if self._rest_limited(endpoint):
            return _json(429, self.rest_rate_limit_body)
        # slow replies: a write waits before it is carried out; a read is answered as the
        # account was when it arrived, and the answer is slow to come back
        read = request.path.startswith("/v2/auth/r/")
        if self.reply_delay > 0 and not read:
            await asyncio.sleep(self.reply_delay)
        key = request.headers.get("bfx-apikey", "")
        secret = self._keys.get(key)
        if secret is None:
            return _json(500, ["error", 10100, "apikey: invalid"])
        nonce_text = request.headers.get("bfx-nonce", "")
        signature = request.headers.get("bfx-signature")
        # clients sign the path as they wrote it; accept it percent-encoded or not
        paths = {request.path, request.raw_path.split("?", 1)[0]}
        if not any(signature_ok(secret, rest_signed_message(p, nonce_text, raw), signature)
                   for p in paths):
            return _json(500, ["error", 10100, "apikey: digest invalid"])
        nonce = parse_nonce(nonce_text)
        if nonce is None or nonce > MAX_NONCE:
            return _json(500, ["error", 10114, "nonce: invalid"])
        if not self.nonces.accept(key, nonce):
            return _json(500, ["error", 10114, "nonce: small"])
        if raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _json(500, ["error", 10020, "body: invalid"])
            if not isinstance(body, dict):
                return _json(500, ["error", 10020, "body: invalid"])
        else:
            body = {}
        if not read:
            self.rest_writes.append((request.path, body))
        status, result = answer(request, body)
        if self.reply_delay > 0 and read:
            await asyncio.sleep(self.reply_delay)
        return _json(status, result)

    def _rest_limited(self, endpoint: str) -> bool:
        now = time.monotonic()
        hits = self._rest_hits.setdefault(endpoint, deque())
        while hits and now - hits[0] > self.rest_rate_window:
            hits.popleft()
        if len(hits) >= self.rest_rate_limit:
            return True
        hits.append(now)
        return False

    def _answer_orders(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        orders = list(self._book.orders.values())
        symbol = request.match_info.get("symbol")
        if symbol:
            orders = [o for o in orders if o.symbol == symbol]
        if body.get("id") is not None:
            ids = int_list(body["id"])
            if ids is None:
                return 500, ["error", 10020, "id: invalid"]
            orders = [o for o in orders if o.id in set(ids)]
        if body.get("gid") is not None:
            gid = as_int(body["gid"])
            if gid is None:
                return 500, ["error", 10020, "gid: invalid"]
            orders = [o for o in orders if o.gid == gid]
        if body.get("cid") is not None:
            cid = as_int(body["cid"])
            cid_date = body.get("cid_date")
            if cid is None or not isinstance(cid_date, str):
                return 500, ["error", 10020, "cid_date: invalid" if cid is not None
                             else "cid: invalid"]
            orders = [o for o in orders if o.cid == cid and o.cid_date == cid_date]
        return 200, [o.to_array() for o in orders]

    def _answer_history(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        """Closed orders, newest first: those of ``id`` (a list), else the last ``limit``
        (default 25, at most 2500), of one symbol when the path names it."""
        closed = list(reversed(self._book.history.values())) if self.keep_history else []
        symbol = request.match_info.get("symbol")
        if symbol:
            closed = [a for a in closed if a[3] == symbol]
        if body.get("id") is not None:
            ids = int_list(body["id"])
            if ids is None:
                return 500, ["error", 10020, "id: invalid"]
            wanted = set(ids)
            closed = [a for a in closed if a[0] in wanted]
        limit = as_int(body.get("limit", 25))
        if limit is None or limit <= 0:
            return 500, ["error", 10020, "limit: invalid"]
        return 200, closed[: min(limit, 2500)]

    def _answer_cancel(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        order, _, _, error = self._book.resolve_one(body)
        if error is not None:
            return 500, ["error", 10020, error]
        if order is None:
            return 500, ["error", 10001, "Order not found."]
        return 200, self._accept_cancels([order], None, multi=False)

    def _answer_cancel_multi(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        orders, error = self._book.resolve_many(body)
        if error is not None:
            return 500, ["error", 10020, error]
        return 200, self._accept_cancels(orders, None, multi=True)


_FAILURE_BODIES: dict[int, Any] = {
    500: ["error", 10000, "internal error"],
    503: {"code": 503, "error": "temporarily_unavailable",
          "error_description": "Sorry, the service is temporarily unavailable."},
}


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
