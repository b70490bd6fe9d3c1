"""The websocket side of the simulated Bybit venue: the private stream `/v5/private`.

As the notes say (§7): `auth` with an `expires` in the future and its signature, `subscribe` to
`order` or `order.<category>` (never both in one request), `ping` answered by `pong`, and every
change of an order pushed as its full state on each subscribed socket. Never a snapshot: only
changes are pushed (§7.4). A socket idle for `idle_timeout` is closed.

Faults: a silent venue (every socket sends nothing, not even pongs), half-open sockets (the
open ones neither deliver nor read, and never close; new ones work), refused upgrades (HTTP
503), the next push carrying a close lost, the next push carrying one garbled order, the next
pushes cut in half (malformed frames).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import LoopbackVenue

from .auth import signature_ok, ws_auth_message
from .orders import CATEGORIES, SimOrder


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class Connection:
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
        self.frozen = False  # half-open: nothing goes out, nothing is read, no close

    def freeze(self) -> None:
        """The socket goes half-open: it stays connected but delivers and reads nothing."""
        self.frozen = True
        if self.transport is not None:
            self.transport.pause_reading()

    def push(self, frame: str | None) -> None:
        if self.alive:
            self.queue.put_nowait(frame)

    def topic_for(self, category: str) -> str | None:
        if "order" in self.topics:
            return "order"
        name = f"order.{category}"
        return name if name in self.topics else None


class StreamSide(LoopbackVenue):
    """The websocket side of `BybitSimulator`, which holds the state declared here."""

    uid: int
    idle_timeout: float
    refuse_key: bool
    silent_socket: bool
    refuse_upgrade: bool
    lose_next_close: bool
    garble_next_push: bool
    cut_pushes: int
    connections_opened: int
    auth_ok_count: int
    inputs_received: list[Any]
    input_listeners: list[Callable[[Any], None]]
    _conns: set[Connection]
    _push_seq: int
    _orders: dict[str, SimOrder]

    def server_ms(self) -> int:
        raise NotImplementedError

    async def send_raw(self, text: str) -> None:
        """Send `text` as is to every authenticated socket (malformed-frame tests)."""
        for conn in self._conns:
            if conn.api_key is not None:
                conn.push(text)
        await asyncio.sleep(0)

    async def half_open(self) -> None:
        """Every open websocket goes half-open: connected, but nothing is delivered either way
        and no close ever comes (a dead NAT entry, a stuck proxy). New sockets work."""
        for conn in self._conns:
            conn.freeze()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------------------------------
    # private websocket

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        # autoping off: protocol pongs go out only while the socket is not silenced
        ws = web.WebSocketResponse(autoping=False)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="websocket upgrade expected")
        if self.refuse_upgrade:
            return web.Response(status=503, text="service unavailable")
        await ws.prepare(request)
        self.connections_opened += 1
        conn_id = f"{uuid.uuid4().hex[:20]}-{self._rng.randint(1, 99999):x}"
        conn = Connection(ws, request.transport, conn_id)
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
            self._forget(conn)
        return ws

    async def _writer(self, conn: Connection) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if conn.frozen:
                    continue  # half-open: nothing reaches the peer, not even a close
                if item is None:
                    await conn.ws.close(code=1000)
                    return
                if not self.silent_socket:
                    await conn.ws.send_str(item)
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    async def _idle_watch(self, conn: Connection) -> None:
        while conn.alive:
            left = conn.last_seen + self.idle_timeout - time.monotonic()
            if left <= 0:
                conn.push(None)
                return
            await asyncio.sleep(min(left, 1.0))

    def _on_text(self, conn: Connection, text: str) -> None:
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

    def _ws_auth(self, conn: Connection, args: Any) -> tuple[bool, str]:
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

    def _ws_subscribe(self, conn: Connection, op: str, args: Any) -> tuple[bool, str]:
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
        if self.lose_next_close and any(not o.is_open for o in orders):
            self.lose_next_close = False  # the frame with the close is lost on the way
            return
        garbled: SimOrder | None = None
        if self.garble_next_push:
            self.garble_next_push = False
            garbled = next((o for o in self._orders.values() if o not in orders), None)
        creation = self.server_ms()
        cut = self.cut_pushes > 0
        if cut:
            self.cut_pushes -= 1  # this change goes out as a frame cut in half (not JSON)
        for conn in list(self._conns):
            if conn.api_key is None or not conn.alive:
                continue
            by_topic: dict[str, list[dict[str, Any]]] = {}
            for order in orders:
                topic = conn.topic_for(order.category)
                if topic is not None:
                    by_topic.setdefault(topic, []).append(order.to_dict(ws=True))
            if garbled is not None and by_topic:
                # another open order's state, with a status no protocol version knows
                item = dict(garbled.to_dict(ws=True), orderStatus="Parked")
                next(iter(by_topic.values())).append(item)
            for topic, data in by_topic.items():
                self._push_seq += 1
                frame = _dumps({"id": f"{self.uid}_{self._push_seq}_{creation}",
                                "topic": topic, "creationTime": creation, "data": data})
                conn.push(frame[: len(frame) // 2] if cut else frame)


__all__ = ["Connection", "StreamSide"]
