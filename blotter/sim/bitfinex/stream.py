"""The websocket side of the simulated Bitfinex (`/ws/2`, bitfinex.md §1–§4): connections and
their limits, the auth handshake with its filters and dead-man switch, heartbeats, cancel
inputs, and the account's frames (`os`, `on`/`ou`/`oc`, `n`) to every authenticated socket.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import LoopbackVenue

from .auth import MAX_NONCE, NonceBook, parse_nonce, signature_ok
from .market import OrderBook
from .orders import SimOrder, not_found_stub

if TYPE_CHECKING:
    import random

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


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class _Abort:
    """Queue marker: cut the TCP connection once everything queued before it is on the wire."""


@dataclass(frozen=True)
class _Close:
    """Queue marker: close the websocket cleanly with this code after the queued frames."""

    code: int


ABORT = _Abort()


class Conn:
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


class StreamSide(LoopbackVenue):
    """The websocket side of the venue, mixed into ``BitfinexSimulator``.

    Its switches: ``rate_limit_connections`` (HTTP 429 after ``connection_limit`` opens in
    ``connection_window`` seconds), ``refuse_upgrade`` (an HTTP status every upgrade is
    answered with while set), ``stop_heartbeats``, ``silent_socket`` (every socket stays open
    but delivers nothing: no frame, no pong, no close, as a half-open connection),
    ``broadcast_notifications`` (a cancel's `n` to every socket of the account, or only the
    asking one) and ``rest_cancel_emits_n``; the one-shot ``lose_next_close`` (the next `oc`
    reaches no socket) and ``garble_next`` ("on", "ou" or "oc": the next such frame carries
    MTS_UPDATE as a string); its counters: ``connections_opened``, ``auth_ok_count``,
    ``pings_received``, ``inputs_received`` (with ``input_listeners`` called on each).
    """

    # what the venue (server.py) keeps
    _rng: random.Random
    _keys: dict[str, str]
    _book: OrderBook
    _stopping: bool
    nonces: NonceBook
    reply_delay: float
    refuse_auth: bool
    drop_after_ack: bool

    if TYPE_CHECKING:
        def _accept_cancels(
            self, orders: list[SimOrder], requester: Conn | None, *, multi: bool
        ) -> list[Any]: ...

        @staticmethod
        def _now(after: int = 0) -> int: ...

    def _init_stream(self, heartbeat_interval: float) -> None:
        self.user_id = self._rng.randint(1_000_000, 9_999_999)
        self._server_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self.heartbeat_interval = heartbeat_interval
        self.stop_heartbeats = False
        self.silent_socket = False
        self.refuse_upgrade: int | None = None
        self.lose_next_close = False
        self.garble_next: str | None = None
        self.rate_limit_connections = True
        self.connection_limit = 5
        self.connection_window = 15.0
        # venue behaviours the notes leave open (bitfinex.md §9)
        self.broadcast_notifications = True
        self.rest_cancel_emits_n = False
        # counters for tests
        self.connections_opened = 0
        self.auth_ok_count = 0
        self.pings_received = 0
        self.inputs_received: list[Any] = []
        # called with each decoded channel-0 input as it arrives (the latency benchmark times it)
        self.input_listeners: list[Callable[[Any], None]] = []
        self._conns: set[Conn] = set()
        self._opens: deque[float] = deque()

    # ------------------------------------------------------------------------------------------
    # faults on demand

    async def send_info(self, code: int, msg: str | None = None, close: bool = False) -> None:
        frame = dumps({"event": "info", "code": code, "msg": msg or INFO_TEXTS.get(code, "")})
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
    # connections

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_upgrade is not None:
            status = self.refuse_upgrade
            return web.Response(status=status, text=f"{status} upgrade refused")
        if self.rate_limit_connections and self._too_many_opens():
            return web.Response(status=429, text="429 Too Many Requests")
        # protocol pings and closes are answered here, so a silent socket can leave them
        # unanswered
        ws = web.WebSocketResponse(autoping=False, autoclose=False)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="websocket upgrade expected")
        await ws.prepare(request)
        self._opens.append(time.monotonic())
        self.connections_opened += 1
        conn = Conn(ws, request.transport)
        self._conns.add(conn)
        conn.tasks.append(asyncio.create_task(self._writer(conn)))
        conn.push(dumps({"event": "info", "version": 2, "serverId": self._server_id,
                          "platform": {"status": 1}}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.PING:
                    if not self.silent_socket:
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    continue
                elif msg.type == WSMsgType.BINARY:
                    conn.push(dumps({"event": "error", "msg": "Unknown event", "code": 10000}))
                else:
                    break
            # a half-open socket answers nothing, not even a close: hold it while it is silent
            while self.silent_socket and not self._stopping and not _gone(conn.transport):
                await asyncio.sleep(0.05)
            if not ws.closed:
                await ws.close()
        finally:
            self._forget(conn)
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

    async def _writer(self, conn: Conn) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if isinstance(item, str):
                    if not self.silent_socket:  # half-open: the frame never arrives
                        await conn.ws.send_str(item)
                elif isinstance(item, _Close):
                    if self.silent_socket:
                        continue
                    await conn.ws.close(code=item.code)
                    return
                else:
                    await _drain(conn.transport)
                    if conn.transport is not None:
                        conn.transport.abort()
                    return
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    def _authed(self) -> list[Conn]:
        return [c for c in self._conns if c.authenticated and c.alive]

    async def _on_text(self, conn: Conn, text: str) -> None:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.push(dumps({"event": "error", "msg": "Unknown event", "code": 10000}))
            return
        if isinstance(data, dict):
            self._on_event(conn, data)
        elif isinstance(data, list) and len(data) >= 2 and data[0] == 0:
            self.inputs_received.append(data)
            for listener in self.input_listeners:
                listener(data)
            if not conn.authenticated:
                conn.push(dumps({"event": "error", "msg": "auth: invalid", "code": 10100}))
                return
            await self._on_input(conn, data)
        else:
            conn.push(dumps({"event": "error", "msg": "Unknown event", "code": 10000}))

    def _on_event(self, conn: Conn, data: dict[str, Any]) -> None:
        event = data.get("event")
        if event == "auth":
            self._auth(conn, data)
        elif event == "ping":
            self.pings_received += 1
            conn.push(dumps({"event": "pong", "ts": self._now(), "cid": data.get("cid")}))
        elif event == "conf":
            flags = data.get("flags", 0)
            conn.push(dumps({"event": "conf", "status": "OK", "flags": flags}))
        elif event == "subscribe":
            # public channels are out of the simulator's scope
            conn.push(dumps({"event": "error", "msg": "subscribe: failed", "code": 10300}))
        elif event == "unsubscribe":
            conn.push(dumps({"event": "error", "msg": "unsubscribe: failed", "code": 10400}))
        else:
            conn.push(dumps({"event": "error", "msg": "Unknown event", "code": 10000}))

    def _auth(self, conn: Conn, data: dict[str, Any]) -> None:
        def failed(code: int, msg: str) -> None:
            conn.push(dumps({"event": "auth", "status": "FAILED", "chanId": 0,
                              "code": code, "msg": msg}))

        if conn.authenticated:
            conn.push(dumps({"event": "error", "msg": "auth: dup", "code": 10100}))
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
        conn.push(dumps({
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
            conn.push(dumps([0, "os", orders]))
        if conn.wants("funding"):
            conn.push('[0,"fos",[]]')
            conn.push('[0,"fcs",[]]')
            conn.push('[0,"fls",[]]')
        conn.tasks.append(asyncio.create_task(self._heartbeat(conn)))

    async def _heartbeat(self, conn: Conn) -> None:
        while conn.alive:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.stop_heartbeats:
                conn.push(_HB)

    # ------------------------------------------------------------------------------------------
    # cancel inputs

    async def _on_input(self, conn: Conn, data: list[Any]) -> None:
        kind = data[1]
        payload = data[3] if len(data) > 3 else None
        if kind not in ("oc", "oc_multi", "ox_multi"):
            conn.push(dumps({"event": "error", "msg": f"{kind}: unsupported input",
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
                conn.push(dumps({"event": "error", "msg": "ops: invalid", "code": 10020}))
            for op in ops:
                if isinstance(op, list) and len(op) == 2 and op[0] == "oc":
                    self._ws_cancel(conn, op[1])
                elif isinstance(op, list) and len(op) == 2 and op[0] == "oc_multi":
                    self._ws_cancel_multi(conn, op[1])
                else:
                    conn.push(dumps({"event": "error", "msg": "ox_multi: op unsupported",
                                      "code": 10020}))

    def _ws_cancel(self, conn: Conn, payload: Any) -> None:
        order, stub_id, stub_cid, error = self._book.resolve_one(payload)
        if order is None:
            note = [self._now(), "oc-req", None, None, not_found_stub(stub_id, stub_cid), None,
                    "ERROR", error or "Order not found."]
            if conn.wants("notify"):
                # errors concern only the socket that asked
                conn.push(dumps([0, "n", note]))
            return
        self._accept_cancels([order], conn, multi=False)

    def _ws_cancel_multi(self, conn: Conn, payload: Any) -> None:
        orders, error = self._book.resolve_many(payload)
        if error is not None:
            note = [self._now(), "oc_multi-req", None, None, [], None, "ERROR", error]
            if conn.wants("notify"):
                conn.push(dumps([0, "n", note]))
            return
        self._accept_cancels(orders, conn, multi=True)

    def _deliver_ack(self, frame: str, requester: Conn | None) -> None:
        """Send a cancel's `n` to whom the venue sends it: every authenticated socket (the venue
        broadcasts account notifications), or only the one that asked; after a REST cancel only
        when `rest_cancel_emits_n`. `drop_after_ack` cuts the asking socket right after it."""
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
            requester.push(ABORT)
            requester.alive = False

    # ------------------------------------------------------------------------------------------
    # account events

    def _emit_order(self, kind: str, order: SimOrder, status: str | None = None) -> None:
        array = order.to_array(status)
        if kind == "oc":
            self._book.closed(array)
            if self.lose_next_close:  # a close the stream drops while pings still flow
                self.lose_next_close = False
                return
        if self.garble_next == kind:
            self.garble_next = None
            array = [*array[:5], str(array[5]), *array[6:]]  # MTS_UPDATE as text
        frame = dumps([0, kind, array])
        for conn in self._authed():
            if conn.wants("trading", order.symbol):
                conn.push(frame)

    def _emit_cancelled(self, order: SimOrder) -> None:
        order.mts_update = self._now(order.mts_update)
        self._emit_order("oc", order, order.cancelled_status())


def _gone(transport: asyncio.Transport | None) -> bool:
    return transport is None or transport.is_closing()


async def _drain(transport: asyncio.Transport | None) -> None:
    """Wait (briefly) until queued bytes left the socket, so an abort does not swallow them."""
    for _ in range(100):
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() == 0:
            return
        await asyncio.sleep(0.001)
