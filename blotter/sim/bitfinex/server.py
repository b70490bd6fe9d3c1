"""Loopback simulator of the Bitfinex API v2 (websocket `/ws/2` and authenticated REST `/v2/...`).

It speaks the wire protocol described in `venues/bitfinex.md` for the features a blotter uses:
auth with HMAC signatures and per-key nonces, the account channel (snapshots, `on`/`ou`/`oc`, `n`,
heartbeats), cancel inputs, REST order reads and cancels, and faults on demand. REST and the
websocket share one port, as `rest_url` is an origin and `ws_url` the full endpoint.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import Fault, LoopbackVenue

from .auth import (
    MAX_NONCE,
    NonceBook,
    parse_nonce,
    random_credentials,
    rest_signed_message,
    signature_ok,
)
from .market import OrderBook, as_int
from .orders import SimOrder, not_found_stub, quantize_amount

WS_PATH = "/ws/2"
INFO_TEXTS = {
    20051: "Stopping. Please try to reconnect",
    20060: "Websocket server resyncing... please reconnect later",
    20061: "Websocket server resync complete. please reconnect",
    5000: "Info message",
}
CAPS = {
    "orders": {"read": 1, "write": 1},
    "account": {"read": 1, "write": 0},
    "funding": {"read": 1, "write": 0},
    "history": {"read": 1, "write": 0},
    "wallets": {"read": 1, "write": 0},
    "withdraw": {"read": 0, "write": 0},
    "positions": {"read": 1, "write": 1},
    "ui_withdraw": {"read": 0, "write": 0},
}
_HB = '[0,"hb"]'


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class _Abort:
    """Queue marker: cut the TCP connection once everything queued before it is on the wire."""


@dataclass(frozen=True)
class _Close:
    """Queue marker: close the websocket cleanly with this code after the queued frames."""

    code: int


_ABORT = _Abort()


class _Conn:
    """One client websocket. Frames go out through a queue so their order is the order of events,
    and so synchronous scripted actions can emit without awaiting."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.ws = ws
        self.transport = transport
        self.queue: asyncio.Queue[str | _Abort | _Close] = asyncio.Queue()
        self.alive = True
        self.authenticated = False
        self.api_key: str | None = None
        self.filters: frozenset[str] | None = None  # None: everything
        self.dms = False
        self.tasks: list[asyncio.Task[None]] = []

    def push(self, frame: str | _Abort | _Close) -> None:
        if self.alive:
            self.queue.put_nowait(frame)

    def wants(self, group: str, symbol: str | None = None) -> bool:
        """Whether the auth `filter` lets this kind of account message through (notes §2.5)."""
        f = self.filters
        if f is None:
            return True
        if group in f:
            return True
        if group == "trading" and symbol is not None:
            return f"trading-{symbol}" in f
        if group in ("wallet", "funding"):
            return any(x.startswith(group + "-") for x in f)
        return False


class BitfinexSimulator(LoopbackVenue):
    """The Bitfinex venue on 127.0.0.1, for tests and demo mode."""

    WS_PATH = WS_PATH
    VENUE = "bitfinex"

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        initial_orders: int = 0,
        flow_rate: float = 0.0,
        seed: int | None = None,
        heartbeat_interval: float = 15.0,
        ack_to_close_delay: float = 0.003,
    ) -> None:
        self._init_credentials(seed, api_key, api_secret, random_credentials)
        self.nonces = NonceBook()
        self.user_id = self._rng.randint(1_000_000, 9_999_999)
        self._server_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

        self.initial_orders = initial_orders
        self.flow_rate = flow_rate
        self.heartbeat_interval = heartbeat_interval
        self.ack_to_close_delay = ack_to_close_delay

        # fault switches, read at the moment they matter; the one-shot ones reset themselves
        self.reply_delay = 0.0
        self.refuse_auth = False
        self.drop_after_ack = False
        self.fill_on_cancel = False
        self.stop_heartbeats = False
        self.rate_limit_connections = True
        self.connection_limit = 5
        self.connection_window = 15.0
        self.rest_rate_limit = 90
        self.rest_rate_window = 60.0
        self.rest_rate_limit_body: Any = ["error", 11010, "ratelimit: error"]
        # venue behaviours the notes leave open (bitfinex.md §9)
        self.broadcast_notifications = True
        self.rest_cancel_emits_n = False

        # counters for tests
        self.connections_opened = 0
        self.auth_ok_count = 0
        self.inputs_received: list[Any] = []
        # called with each decoded channel-0 input as it arrives (the latency benchmark times it)
        self.input_listeners: list[Callable[[Any], None]] = []
        self.rest_calls: list[str] = []

        self._book = OrderBook(self._rng, first_id=190_000_000_000 + self._rng.randint(0, 10**9))
        self._conns: set[_Conn] = set()
        self._opens: deque[float] = deque()
        self._rest_hits: dict[str, deque[float]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._init_server()
        self._seed_orders(initial_orders)

    # ------------------------------------------------------------------------------------------
    # lifecycle

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/auth/r/orders", self._rest_orders)
        app.router.add_post("/v2/auth/r/orders/{symbol}", self._rest_orders)
        app.router.add_post("/v2/auth/w/order/cancel", self._rest_cancel)
        app.router.add_post("/v2/auth/w/order/cancel/multi", self._rest_cancel_multi)

    # ------------------------------------------------------------------------------------------
    # state and scripted actions

    def open_orders(self) -> list[list[Any]]:
        return [o.to_array() for o in self._book.orders.values()]

    def order(self, order_id: int) -> list[Any] | None:
        found = self._book.get(order_id)
        return None if found is None else found.to_array()

    def place_order(
        self,
        symbol: str,
        amount: float | str,
        price: float | str,
        *,
        gid: int | None = None,
        cid: int | None = None,
        order_type: str = "EXCHANGE LIMIT",
        flags: int = 0,
        routing: str = "API>BFX",
    ) -> int:
        order = self._book.make_order(
            symbol, amount, price, mts=self._now(), gid=gid, cid=cid,
            order_type=order_type, flags=flags, routing=routing,
        )
        order.mts_update = order.mts_create
        self._book.add(order)
        self._emit_order("on", order)
        return order.id

    def fill(self, order_id: int, amount: float | str | Decimal | None = None) -> None:
        order = self._book.get(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        remaining = abs(order.amount)
        qty = remaining if amount is None else abs(quantize_amount(amount))
        if qty == 0:
            raise ValueError("fill amount must not be zero")
        if qty >= remaining:
            self._book.remove(order.id)
            self._emit_executed(order)
            return
        signed = qty if order.amount > 0 else -qty
        order.fills.append((order.price, signed))
        order.amount -= signed
        order.mts_update = self._now(order.mts_update)
        self._emit_order("ou", order)

    def cancel_external(self, order_id: int) -> None:
        order = self._book.remove(order_id)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        self._emit_cancelled(order)

    # ------------------------------------------------------------------------------------------
    # faults on demand

    async def send_info(self, code: int, msg: str | None = None, close: bool = False) -> None:
        frame = _dumps({"event": "info", "code": code, "msg": msg or INFO_TEXTS.get(code, "")})
        for conn in list(self._conns):
            conn.push(frame)
            if close:
                conn.push(_Close(1012))
                conn.alive = False
        await asyncio.sleep(0)

    async def send_raw(self, text: str) -> None:
        for conn in self._authed():
            conn.push(text)
        await asyncio.sleep(0)

    # ------------------------------------------------------------------------------------------
    # websocket

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if self.rate_limit_connections and self._too_many_opens():
            return web.Response(status=429, text="429 Too Many Requests")
        ws = web.WebSocketResponse(autoping=True)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="websocket upgrade expected")
        await ws.prepare(request)
        self._opens.append(time.monotonic())
        self.connections_opened += 1
        conn = _Conn(ws, request.transport)
        self._conns.add(conn)
        conn.tasks.append(asyncio.create_task(self._writer(conn)))
        conn.push(_dumps({"event": "info", "version": 2, "serverId": self._server_id,
                          "platform": {"status": 1}}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.push(_dumps({"event": "error", "msg": "Unknown event", "code": 10000}))
                else:
                    break
        finally:
            conn.alive = False
            self._conns.discard(conn)
            for task in conn.tasks:
                task.cancel()
            if conn.authenticated and conn.dms and not self._stopping:
                # dead-man switch: the venue cancels every open order when the socket goes
                for order in list(self._book.orders.values()):
                    self._book.remove(order.id)
                    self._emit_cancelled(order)
        return ws

    def _too_many_opens(self) -> bool:
        now = time.monotonic()
        while self._opens and now - self._opens[0] > self.connection_window:
            self._opens.popleft()
        return len(self._opens) >= self.connection_limit

    async def _writer(self, conn: _Conn) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if isinstance(item, str):
                    await conn.ws.send_str(item)
                elif isinstance(item, _Close):
                    await conn.ws.close(code=item.code)
                    return
                else:
                    await _drain(conn.transport)
                    if conn.transport is not None:
                        conn.transport.abort()
                    return
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    def _authed(self) -> list[_Conn]:
        return [c for c in self._conns if c.authenticated and c.alive]

    async def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.push(_dumps({"event": "error", "msg": "Unknown event", "code": 10000}))
            return
        if isinstance(data, dict):
            self._on_event(conn, data)
        elif isinstance(data, list) and len(data) >= 2 and data[0] == 0:
            self.inputs_received.append(data)
            for listener in self.input_listeners:
                listener(data)
            if not conn.authenticated:
                conn.push(_dumps({"event": "error", "msg": "auth: invalid", "code": 10100}))
                return
            await self._on_input(conn, data)
        else:
            conn.push(_dumps({"event": "error", "msg": "Unknown event", "code": 10000}))

    def _on_event(self, conn: _Conn, data: dict[str, Any]) -> None:
        event = data.get("event")
        if event == "auth":
            self._auth(conn, data)
        elif event == "ping":
            conn.push(_dumps({"event": "pong", "ts": self._now(), "cid": data.get("cid")}))
        elif event == "conf":
            flags = data.get("flags", 0)
            conn.push(_dumps({"event": "conf", "status": "OK", "flags": flags}))
        elif event == "subscribe":
            # public channels are out of the simulator's scope
            conn.push(_dumps({"event": "error", "msg": "subscribe: failed", "code": 10300}))
        elif event == "unsubscribe":
            conn.push(_dumps({"event": "error", "msg": "unsubscribe: failed", "code": 10400}))
        else:
            conn.push(_dumps({"event": "error", "msg": "Unknown event", "code": 10000}))

    def _auth(self, conn: _Conn, data: dict[str, Any]) -> None:
        def failed(code: int, msg: str) -> None:
            conn.push(_dumps({"event": "auth", "status": "FAILED", "chanId": 0,
                              "code": code, "msg": msg}))

        if conn.authenticated:
            conn.push(_dumps({"event": "error", "msg": "auth: dup", "code": 10100}))
            return
        key = data.get("apiKey")
        secret = self._keys.get(key) if isinstance(key, str) else None
        if self.refuse_auth or secret is None:
            failed(10100, "apikey: invalid")
            return
        payload = data.get("authPayload")
        if not isinstance(payload, str) or not payload.startswith("AUTH"):
            failed(10111, "authPayload: invalid")
            return
        # the signature covers whatever payload arrived (py lib: AUTH<n>, node lib: AUTH<n><n>)
        if not signature_ok(secret, payload, data.get("authSig")):
            failed(10100, "apikey: digest invalid")
            return
        nonce = parse_nonce(data.get("authNonce"))
        if nonce is None or nonce > MAX_NONCE:
            failed(10114, "nonce: invalid")
            return
        if not self.nonces.accept(key, nonce):  # type: ignore[arg-type]
            failed(10114, "nonce: small")
            return
        filters = data.get("filter")
        if filters is not None and not (
            isinstance(filters, list) and all(isinstance(f, str) for f in filters)
        ):
            failed(10020, "filter: invalid")
            return
        conn.authenticated = True
        conn.api_key = key
        # an empty list is treated like an absent filter (the notes leave it open)
        conn.filters = frozenset(filters) if filters else None
        conn.dms = data.get("dms") == 4
        self.auth_ok_count += 1
        conn.push(_dumps({
            "event": "auth", "status": "OK", "chanId": 0, "userId": self.user_id,
            "auth_id": str(uuid.uuid4()), "caps": CAPS,
        }))
        # the snapshot is taken in the same step that makes the socket receive updates,
        # so no event falls between the two
        if conn.wants("trading"):
            conn.push('[0,"ps",[]]')
        if conn.wants("wallet"):
            conn.push('[0,"ws",[]]')
        if conn.wants("trading") or any(f.startswith("trading-") for f in conn.filters or ()):
            orders = [o.to_array() for o in self._book.orders.values()
                      if conn.wants("trading", o.symbol)]
            conn.push(_dumps([0, "os", orders]))
        if conn.wants("funding"):
            conn.push('[0,"fos",[]]')
            conn.push('[0,"fcs",[]]')
            conn.push('[0,"fls",[]]')
        conn.tasks.append(asyncio.create_task(self._heartbeat(conn)))

    async def _heartbeat(self, conn: _Conn) -> None:
        while conn.alive:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.stop_heartbeats:
                conn.push(_HB)

    async def _on_input(self, conn: _Conn, data: list[Any]) -> None:
        kind = data[1]
        payload = data[3] if len(data) > 3 else None
        if kind not in ("oc", "oc_multi", "ox_multi"):
            conn.push(_dumps({"event": "error", "msg": f"{kind}: unsupported input",
                              "code": 10001}))
            return
        if self.reply_delay > 0:
            await asyncio.sleep(self.reply_delay)
        if kind == "oc":
            self._ws_cancel(conn, payload)
        elif kind == "oc_multi":
            self._ws_cancel_multi(conn, payload)
        else:
            ops = payload if isinstance(payload, list) else []
            if not ops:
                conn.push(_dumps({"event": "error", "msg": "ops: invalid", "code": 10020}))
            for op in ops:
                if isinstance(op, list) and len(op) == 2 and op[0] == "oc":
                    self._ws_cancel(conn, op[1])
                elif isinstance(op, list) and len(op) == 2 and op[0] == "oc_multi":
                    self._ws_cancel_multi(conn, op[1])
                else:
                    conn.push(_dumps({"event": "error", "msg": "ox_multi: op unsupported",
                                      "code": 10020}))

    def _ws_cancel(self, conn: _Conn, payload: Any) -> None:
        order, stub_id, stub_cid, error = self._resolve_one(payload)
        if order is None:
            note = [self._now(), "oc-req", None, None, not_found_stub(stub_id, stub_cid), None,
                    "ERROR", error or "Order not found."]
            if conn.wants("notify"):
                # errors concern only the socket that asked
                conn.push(_dumps([0, "n", note]))
            return
        self._accept_cancels([order], conn, multi=False)

    def _ws_cancel_multi(self, conn: _Conn, payload: Any) -> None:
        orders, error = self._resolve_many(payload)
        if error is not None:
            note = [self._now(), "oc_multi-req", None, None, [], None, "ERROR", error]
            if conn.wants("notify"):
                conn.push(_dumps([0, "n", note]))
            return
        self._accept_cancels(orders, conn, multi=True)

    # ------------------------------------------------------------------------------------------
    # cancels (shared by websocket and REST)

    def _resolve_one(self, payload: Any) -> tuple[SimOrder | None, int | None, int | None,
                                                   str | None]:
        """(order, stub id, stub cid, error text) for a single-cancel payload."""
        if not isinstance(payload, dict):
            return None, None, None, "id: invalid"
        if "id" in payload:
            order_id = as_int(payload["id"])
            if order_id is None:
                return None, None, None, "id: invalid"
            return self._book.get(order_id), order_id, None, None
        if "cid" in payload:
            cid = as_int(payload["cid"])
            if cid is None:
                return None, None, None, "cid: invalid"
            cid_date = payload.get("cid_date")
            if not isinstance(cid_date, str) or not cid_date:
                return None, None, cid, "cid_date: invalid"
            return self._book.by_cid(cid, cid_date), None, cid, None
        return None, None, None, "id: invalid"

    def _resolve_many(self, payload: Any) -> tuple[list[SimOrder], str | None]:
        """Live orders matched by an `oc_multi` payload (id / cid pairs / gid / all), deduplicated.
        Unknown IDs are skipped: only matched orders are listed (notes §4.2)."""
        if not isinstance(payload, dict) or not any(
            k in payload for k in ("id", "cid", "gid", "all")
        ):
            return [], "id: invalid"
        found: list[SimOrder] = []
        if "id" in payload:
            ids = _int_list(payload["id"])
            if ids is None:
                return [], "id: invalid"
            found += [o for o in (self._book.get(i) for i in ids) if o is not None]
        if "cid" in payload:
            pairs = payload["cid"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs
            ):
                return [], "cid: invalid"
            found += [o for o in (self._book.by_cid(c, d) for c, d in pairs) if o is not None]
        if "gid" in payload:
            gids = _int_list(payload["gid"])
            if gids is None:
                return [], "gid: invalid"
            found += self._book.by_gids(gids)
        if "all" in payload:
            if payload["all"] not in (1, True):
                return [], "all: invalid"
            found += list(self._book.orders.values())
        unique: dict[int, SimOrder] = {}
        for order in found:
            unique.setdefault(order.id, order)
        return list(unique.values()), None

    def _accept_cancels(self, orders: list[SimOrder], requester: _Conn | None, *,
                        multi: bool) -> list[Any]:
        """Take the orders off the book, acknowledge with `n`, and close them shortly after.

        Returns the notification array (the REST answer). `requester` is None for REST.
        """
        as_was = [o.to_array() for o in orders]
        for order in orders:
            self._book.remove(order.id)
        if multi:
            note = [self._now(), "oc_multi-req", None, None, as_was, None, "SUCCESS",
                    f"Submitting {len(orders)} order cancellations."]
        else:
            note = [self._now(), "oc-req", None, None, as_was[0], None, "SUCCESS",
                    f"Submitted for cancellation; waiting for confirmation (ID: {orders[0].id})."]
        frame = _dumps([0, "n", note])
        if requester is None:
            if self.rest_cancel_emits_n:
                for conn in self._authed():
                    if conn.wants("notify"):
                        conn.push(frame)
        elif self.broadcast_notifications:
            for conn in self._authed():
                if conn.wants("notify"):
                    conn.push(frame)
        elif requester.wants("notify"):
            requester.push(frame)
        if requester is not None and self.drop_after_ack:
            self.drop_after_ack = False
            requester.push(_ABORT)
            requester.alive = False
        if orders:
            self._later(self.ack_to_close_delay, lambda: self._close_cancelled(orders))
        return note

    def _close_cancelled(self, orders: list[SimOrder]) -> None:
        for order in orders:
            if self.fill_on_cancel:
                # the race a trader dreads: the order filled before the cancel reached the book
                self.fill_on_cancel = False
                self._emit_executed(order)
            else:
                self._emit_cancelled(order)

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
    # account events

    def _emit_order(self, kind: str, order: SimOrder, status: str | None = None) -> None:
        frame = _dumps([0, kind, order.to_array(status)])
        for conn in self._authed():
            if conn.wants("trading", order.symbol):
                conn.push(frame)

    def _emit_cancelled(self, order: SimOrder) -> None:
        order.mts_update = self._now(order.mts_update)
        self._emit_order("oc", order, order.cancelled_status())

    def _emit_executed(self, order: SimOrder) -> None:
        """Fill the whole remaining amount at the order's price and close it with `oc`."""
        status = order.executed_status(order.price, order.amount)
        order.fills.append((order.price, order.amount))
        order.amount = Decimal(0)
        order.mts_update = self._now(order.mts_update)
        self._emit_order("oc", order, status)

    # ------------------------------------------------------------------------------------------
    # REST

    async def _rest_orders(self, request: web.Request) -> web.Response:
        return await self._rest(request, self._answer_orders)

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
        if self._rest_limited(endpoint):
            return _json(429, self.rest_rate_limit_body)
        if self.reply_delay > 0:
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
        status, result = answer(request, body)
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
            ids = _int_list(body["id"])
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

    def _answer_cancel(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        order, _, _, error = self._resolve_one(body)
        if error is not None:
            return 500, ["error", 10020, error]
        if order is None:
            return 500, ["error", 10001, "Order not found."]
        return 200, self._accept_cancels([order], None, multi=False)

    def _answer_cancel_multi(self, request: web.Request, body: dict[str, Any]) -> tuple[int, Any]:
        orders, error = self._resolve_many(body)
        if error is not None:
            return 500, ["error", 10020, error]
        return 200, self._accept_cancels(orders, None, multi=True)

    # ------------------------------------------------------------------------------------------
    # flow and seeding

    def _seed_orders(self, count: int) -> None:
        """Open orders at start: several markets, ladders sharing a GID, some partly filled."""
        mts = self._now() - 8 * 3600 * 1000
        created: list[SimOrder] = []
        while len(created) < count:
            mts += self._rng.randint(20_000, 900_000)
            batch = self._book.random_orders(mts, allow_group=count - len(created) >= 2)
            created += batch[: count - len(created)]
        for i, order in enumerate(created):
            # the second order is always partly filled so small books still show one
            if i == 1 or self._rng.random() < 0.2:
                for _ in range(self._rng.randint(1, 2)):
                    part = self._book.random_fill_amount(order)
                    if part <= 0 or part >= abs(order.amount):
                        break
                    signed = part if order.amount > 0 else -part
                    order.fills.append((order.price, signed))
                    order.amount -= signed
                    order.mts_update += self._rng.randint(1_000, 600_000)
            self._book.add(order)

    async def _flow(self) -> None:
        while self.flow_rate > 0:
            await asyncio.sleep(self._rng.expovariate(self.flow_rate))
            self.flow_step()

    def flow_step(self) -> None:
        """One automatic event; the open count drifts back towards the initial size."""
        rng = self._rng
        book = self._book.orders
        target = max(self.initial_orders, 5)
        deficit = (target - len(book)) / target
        p_new = min(0.95, max(0.05, 0.22 + 0.6 * deficit))
        if not book or rng.random() < p_new:
            self._flow_new_orders()
            return
        order = rng.choice(list(book.values()))
        roll = rng.random()
        if roll < 0.45:
            part = self._book.random_fill_amount(order)
            self.fill(order.id, part if 0 < part < abs(order.amount) else None)
        elif roll < 0.75:
            self.fill(order.id)
        elif order.gid is not None and rng.random() < 0.4:
            for member in self._book.by_gids([order.gid]):
                self.cancel_external(member.id)
        else:
            self.cancel_external(order.id)

    async def flood(self, rate: float, seconds: float, *, tick: float = 0.01,
                    new_share: float = 0.1, close_share: float = 0.1) -> dict[str, Any]:
        """A burst of account traffic at ``rate`` events/s for ``seconds`` (the flood benchmark).

        Events are applied to the book and sent in batches every ``tick``, as many as are due by
        then, so one process keeps up with thousands a second. Mostly partial fills (`ou`); a
        ``new_share`` of new orders (`on`) and a ``close_share`` of closes (`oc`, half fully
        executed, half cancelled); the open count is pulled back towards where it started.
        Returns the frames sent: {"events", "on", "ou", "oc", "seconds"}.
        """
        rng, book = self._rng, self._book
        ids = list(book.orders)  # random picks in O(1); closed ids are swapped out
        target = max(len(ids), 5)
        counts = {"on": 0, "ou": 0, "oc": 0}

        def drop(i: int) -> None:
            ids[i] = ids[-1]
            ids.pop()

        def one() -> None:
            deficit = (target - len(book.orders)) / target
            p_new = min(0.9, max(0.0, new_share + 4 * deficit))
            roll = rng.random()
            if not ids or roll < p_new:
                orders = book.random_orders(self._now())
                for order in orders:
                    book.add(order)
                    ids.append(order.id)
                    self._emit_order("on", order)
                counts["on"] += len(orders)
                return
            while True:
                i = rng.randrange(len(ids))
                found = book.get(ids[i])
                if found is not None:
                    order = found
                    break
                drop(i)  # closed by someone else (a cancel from the client)
                if not ids:
                    return
            if roll < p_new + close_share:
                drop(i)
                book.remove(order.id)
                if rng.random() < 0.5:
                    self._emit_executed(order)
                else:
                    self._emit_cancelled(order)
                counts["oc"] += 1
                return
            part = book.random_fill_amount(order)
            if not 0 < part < abs(order.amount):  # too small to split: it fills
                drop(i)
                book.remove(order.id)
                self._emit_executed(order)
                counts["oc"] += 1
                return
            self.fill(order.id, part)
            counts["ou"] += 1

        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0  # frames, not actions: a new ladder is 2–4 `on`
        while (elapsed := loop.time() - start) < seconds:
            due = int(rate * elapsed)
            while sent < due:
                one()
                sent = counts["on"] + counts["ou"] + counts["oc"]
            await asyncio.sleep(tick)
        return {"events": sent, **counts, "seconds": loop.time() - start}

    def _flow_new_orders(self) -> None:
        orders = self._book.random_orders(self._now())
        roll = self._rng.random()
        if len(orders) == 1 and roll < 0.04:
            # filled on arrival: the venue sends only `oc`, never `on` (notes §3.3)
            self._emit_executed(orders[0])
            return
        if len(orders) == 1 and roll < 0.10:
            # partly filled on arrival: `on` already carries the PARTIALLY FILLED status
            order = orders[0]
            part = self._book.random_fill_amount(order)
            if 0 < part < abs(order.amount):
                signed = part if order.amount > 0 else -part
                order.fills.append((order.price, signed))
                order.amount -= signed
        for order in orders:
            self._book.add(order)
            self._emit_order("on", order)

    # ------------------------------------------------------------------------------------------

    def faults(self, name: str) -> list[Fault]:
        async def restart() -> str:
            await self.send_info(20051, close=True)
            return ""

        async def malformed() -> str:
            await self.send_raw('[0,"ou",[1,')
            return ""

        return [
            Fault("Drop the connection", "The venue cuts the websocket (close 1006)",
                  self._dropped),
            Fault("Venue restart (info 20051)", "The venue says it is restarting, then closes",
                  restart),
            Fault("Send a malformed frame", "The venue sends a frame that is not valid JSON",
                  malformed),
            *self.common_faults(name),
        ]

    @staticmethod
    def _now(after: int = 0) -> int:
        """Milliseconds now, strictly after `after` so updates never go back in time."""
        return max(int(time.time() * 1000), after + 1)


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _int_list(value: Any) -> list[int] | None:
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    out = [as_int(v) for v in items]
    if any(v is None for v in out):
        return None
    return [v for v in out if v is not None]


async def _drain(transport: asyncio.Transport | None) -> None:
    """Wait (briefly) until queued bytes left the socket, so an abort does not swallow them."""
    for _ in range(100):
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() == 0:
            return
        await asyncio.sleep(0.001)


