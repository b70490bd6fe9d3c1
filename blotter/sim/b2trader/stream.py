"""The websocket side of the simulated B2TRADER broker: the SignalR account hub
``/frontoffice/ws/v4/account`` (A-6 .. A-12) with its ``OpenOrders`` streams, the keep-alive and
the client timeout (A-8), the Close when a token expires (U-8), and the stream faults of the
fault menu (split, batched, dropped and duplicated records, a silent socket, raw text).

``StreamSide`` is mixed into ``B2traderSimulator``, which holds the state it reads; the
SignalR records themselves are written by ``hub.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from blotter.sim._loopback import LoopbackVenue

from . import hub
from .auth import TokenError, bearer_token
from .orders import SimOrder
from .rest import json_response as _json
from .rest import unauthorized

# SignalR texts (stock ASP.NET Core wording where the notes or the spec give it)
ERR_CONNECTION = "Connection closed with an error."
ERR_TOKEN_EXPIRED = "Unauthorized: the access token has expired."
ERR_CLIENT_TIMEOUT = ("Connection closed with an error. "
                      "Client timeout elapsed without receiving a message from the client.")
ERR_SERVER_CLOSING = "The server is closing the connection."
ERR_HANDSHAKE = "An unexpected error occurred during connection handshake."


class HubConn:
    """One hub websocket. Records go out through a queue (None = close the socket), so their
    order is the order of events and synchronous actions can emit without awaiting."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
                 claims: dict[str, Any]) -> None:
        self.ws = ws
        self.transport = transport
        self.claims = claims
        self.expires_at = float(claims["exp"])
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.alive = True
        self.closing = False
        self.handshaken = False
        self.buffer = hub.RecordBuffer()
        self.streams: dict[str, str] = {}  # active invocationId -> accountId
        self.next_id = 0  # the invocationId the docs' "+1" rule expects next
        now = time.monotonic()
        self.opened = now
        self.last_recv = now
        self.last_sent = now
        self.tasks: list[asyncio.Task[None]] = []
        self.wake = asyncio.Event()  # the watchdog re-plans (the handshake arrived)

    def push(self, text: str) -> None:
        if self.alive and not self.closing:
            self.queue.put_nowait(text)

    def finish(self, last: str | None = None) -> None:
        """Send `last` (a Close message or a handshake error), then close the socket."""
        if not self.alive or self.closing:
            return
        if last is not None:
            self.queue.put_nowait(last)
        self.closing = True
        self.streams.clear()
        self.queue.put_nowait(None)


class StreamSide(LoopbackVenue):
    """The account hub: negotiate (A-6), the websocket, and what each connection says."""

    # the broker's state, kept by B2traderSimulator
    _rng: random.Random
    _accounts: dict[str, dict[str, Any]]
    _conns: set[HubConn]
    _negotiated: dict[str, float]
    handshake_timeout: float
    client_timeout: float
    ping_interval: float
    close_on_token_expiry: bool
    delta_mode: bool
    split_records: bool
    batch_records: bool
    silent_socket: bool
    refuse_upgrade: int
    upgrades_refused: int
    bad_orders: int
    bad_order: dict[str, Any]
    drop_items: int
    duplicate_items: int
    connections_opened: int
    items_sent: int
    hub_messages: list[dict[str, Any]]
    protocol_errors: list[str]
    warnings: list[str]

    if TYPE_CHECKING:
        def _authenticate(self, token: str | None) -> dict[str, Any]: ...
        def open_orders(self, account_id: str | None = None) -> list[dict[str, Any]]: ...

    async def _negotiate(self, request: web.Request) -> web.Response:
        """A-6: the optional negotiate step; only the WebSockets transport is offered."""
        token = request.query.get("access_token") or bearer_token(
            request.headers.get("Authorization"))
        try:
            self._authenticate(token)
        except TokenError as err:
            return unauthorized(err)
        try:
            version = int(request.query.get("negotiateVersion", "0"))
        except ValueError:
            version = 0
        connection_id = _random_id(self._rng)
        body: dict[str, Any] = {"negotiateVersion": min(max(version, 0), 1),
                                "connectionId": connection_id}
        if version >= 1:
            connection_token = _random_id(self._rng)
            body["connectionToken"] = connection_token
            self._negotiated[connection_token] = time.monotonic()
        else:
            self._negotiated[connection_id] = time.monotonic()
        body["availableTransports"] = [{"transport": "WebSockets",
                                        "transferFormats": ["Text", "Binary"]}]
        return _json(body)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("access_token") or bearer_token(
            request.headers.get("Authorization"))
        try:
            claims = self._authenticate(token)
        except TokenError as err:
            self.upgrades_refused += 1
            return unauthorized(err)  # refused before the upgrade
        if self.refuse_upgrade:  # a gateway in front of the hub turns the upgrade away
            self.upgrades_refused += 1
            return web.Response(status=self.refuse_upgrade, text="Service Unavailable")
        ws = web.WebSocketResponse(max_msg_size=1 << 22)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Connection ID required")
        connection_token = request.query.get("id")
        if connection_token is not None and self._negotiated.pop(connection_token, None) is None:
            return web.Response(status=404, text="No Connection with that ID")
        await ws.prepare(request)
        self.connections_opened += 1
        conn = HubConn(ws, request.transport, claims)
        self._conns.add(conn)
        conn.tasks.append(asyncio.create_task(self._writer(conn)))
        conn.tasks.append(asyncio.create_task(self._watchdog(conn)))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    text = msg.data
                elif msg.type == WSMsgType.BINARY:
                    text = msg.data.decode("utf-8", "replace")
                else:
                    break
                conn.last_recv = time.monotonic()
                self._on_text(conn, text)
        finally:
            conn.streams.clear()
            self._forget(conn)
        return ws

    async def _writer(self, conn: HubConn) -> None:
        try:
            while True:
                items = [await conn.queue.get()]
                if self.batch_records:
                    while items[-1] is not None and not conn.queue.empty():
                        items.append(conn.queue.get_nowait())
                records = [i for i in items if i is not None]
                if records and not self.silent_socket:
                    frames = ["".join(records)] if self.batch_records else records
                    for frame in frames:
                        if self.split_records and len(frame) > 1:
                            cut = len(frame) // 2
                            await conn.ws.send_str(frame[:cut])
                            await conn.ws.send_str(frame[cut:])
                        else:
                            await conn.ws.send_str(frame)
                    conn.last_sent = time.monotonic()
                if items[-1] is None:
                    await conn.ws.close(code=1000)
                    return
        except (OSError, RuntimeError):  # the peer went away mid-send; the reader notices
            conn.alive = False

    async def _watchdog(self, conn: HubConn) -> None:
        """Handshake timeout (A-7), keep-alive pings and the client timeout (A-8), and the
        Close when the connection's token expires (U-8)."""
        while conn.alive and not conn.closing:
            now = time.monotonic()
            if not conn.handshaken:
                if now - conn.opened >= self.handshake_timeout:
                    conn.finish()
                    return
                deadline = conn.opened + self.handshake_timeout
            else:
                if now - conn.last_recv >= self.client_timeout:
                    conn.finish(hub.close(ERR_CLIENT_TIMEOUT))
                    return
                token_left = conn.expires_at - time.time()
                if self.close_on_token_expiry and token_left <= 0:
                    conn.finish(hub.close(ERR_TOKEN_EXPIRED, allow_reconnect=True))
                    return
                if now - conn.last_sent >= self.ping_interval:
                    conn.push(hub.PING_RECORD)
                    conn.last_sent = now
                deadline = min(conn.last_recv + self.client_timeout,
                               conn.last_sent + self.ping_interval)
                if self.close_on_token_expiry:
                    deadline = min(deadline, now + token_left)
            conn.wake.clear()
            # asyncio.timeout awaits the event in this task: wait_for would wrap it in a task
            # of its own, which a loop that ends first leaves never started ("never awaited")
            try:
                async with asyncio.timeout(min(max(deadline - now, 0.005), 1.0)):
                    await conn.wake.wait()
            except TimeoutError:
                pass

    def _on_text(self, conn: HubConn, text: str) -> None:
        if conn.closing:
            return
        try:
            records = conn.buffer.feed(text)
        except ValueError as err:
            self._protocol_error(conn, str(err))
            return
        for rec in records:
            if conn.closing:
                return
            if conn.handshaken:
                self._on_message(conn, rec)
            else:
                self._on_handshake(conn, rec)

    def _on_handshake(self, conn: HubConn, rec: str) -> None:
        """A-7: `{"protocol":"json","version":1}` → `{}`; anything else → `{"error":…}` and
        the socket closes."""
        try:
            msg = orjson.loads(rec)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            conn.finish(hub.handshake_error(ERR_HANDSHAKE))
            return
        protocol, version = msg.get("protocol"), msg.get("version")
        if not isinstance(protocol, str):
            conn.finish(hub.handshake_error("Missing required property 'protocol'."))
            return
        if isinstance(version, bool) or not isinstance(version, int):
            conn.finish(hub.handshake_error("Missing required property 'version'."))
            return
        if protocol != "json":
            conn.finish(hub.handshake_error(f"Requested protocol '{protocol}' is not available."))
            return
        if not 0 <= version <= 1:
            conn.finish(hub.handshake_error(
                f"The server does not support version {version} of the 'json' protocol."))
            return
        conn.handshaken = True
        conn.push(hub.HANDSHAKE_OK)
        conn.wake.set()

    def _protocol_error(self, conn: HubConn, detail: str) -> None:
        self.protocol_errors.append(detail)
        conn.finish(hub.close(f"{ERR_CONNECTION} InvalidDataException: {detail}"))

    def _on_message(self, conn: HubConn, rec: str) -> None:
        try:
            msg = orjson.loads(rec)
        except orjson.JSONDecodeError:
            self._protocol_error(conn, "Error reading JSON.")
            return
        if not isinstance(msg, dict):
            self._protocol_error(conn, "Unexpected JSON Token Type. Expected a JSON Object.")
            return
        kind = msg.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int):
            self._protocol_error(conn, "Missing required property 'type'.")
            return
        self.hub_messages.append(msg)
        if kind == hub.STREAM_INVOCATION:
            self._on_stream_invocation(conn, msg)
        elif kind == hub.CANCEL_INVOCATION:
            inv = msg.get("invocationId")
            if not isinstance(inv, str):
                self._protocol_error(conn, "Missing required property 'invocationId'.")
            elif conn.streams.pop(inv, None) is not None:
                conn.push(hub.completion(inv))
        elif kind == hub.INVOCATION:
            inv, target = msg.get("invocationId"), msg.get("target")
            if not isinstance(target, str):
                self._protocol_error(conn, "Missing required property 'target'.")
            elif isinstance(inv, str):  # no id = fire and forget: nothing to answer
                conn.push(hub.completion(inv, (
                    f"The client attempted to invoke the streaming '{target}' method with a "
                    "non-streaming invocation." if target == "OpenOrders"
                    else f"Unknown hub method '{target}'")))
        elif kind == hub.CLOSE:
            conn.finish()
        # Ping (6) only counts as traffic; Ack/Sequence (8, 9) and unknown types are ignored

    def _on_stream_invocation(self, conn: HubConn, msg: dict[str, Any]) -> None:
        inv, target, args = msg.get("invocationId"), msg.get("target"), msg.get("arguments", [])
        if not isinstance(inv, str) or not inv:
            self._protocol_error(conn, "Missing required property 'invocationId'.")
            return
        if not isinstance(target, str):
            self._protocol_error(conn, "Missing required property 'target'.")
            return
        if not isinstance(args, list):
            self._protocol_error(conn, "Expected 'arguments' to be of type Array.")
            return
        if inv in conn.streams:
            self._protocol_error(conn, f"Invocation ID '{inv}' is already in use.")
            return
        if inv != str(conn.next_id):  # the docs ask for +1; only noted
            self.warnings.append(f"invocationId {inv!r} where {conn.next_id!r} was expected")
        if inv.isdigit():
            conn.next_id = int(inv) + 1
        if target.lower() != "openorders":  # hub method names match case-insensitively
            conn.push(hub.completion(inv, f"Unknown hub method '{target}'"))
            return
        if len(args) != 1 or not isinstance(args[0], str):
            conn.push(hub.completion(inv, (
                "Failed to invoke 'OpenOrders' due to an error on the server. "
                f"InvalidDataException: Invocation provides {len(args)} argument(s) but target "
                "expects 1." if len(args) != 1 else
                "Failed to invoke 'OpenOrders' due to an error on the server. "
                "InvalidDataException: Error binding arguments. Make sure that the types of the "
                "provided values match the types of the hub method being invoked.")))
            return
        account_id = args[0]
        if account_id not in self._accounts:
            conn.push(hub.completion(inv, (
                "An error occurred on the server while streaming results. "
                f"HubException: Account '{account_id}' is not available.")))
            return
        conn.streams[inv] = account_id
        self._emit(conn, inv, self.open_orders(account_id))  # the first item, maybe []

    def _emit(self, conn: HubConn, inv: str, item: list[dict[str, Any]]) -> None:
        if self.drop_items > 0:
            self.drop_items -= 1
            return
        if self.bad_orders > 0:  # one order the client cannot read rides along
            self.bad_orders -= 1
            item = [*item, {**(item[0] if item else {}), **self.bad_order}]
        text = hub.stream_item(inv, item)
        conn.push(text)
        self.items_sent += 1
        if self.duplicate_items > 0:
            self.duplicate_items -= 1
            conn.push(text)
            self.items_sent += 1

    def _changed(self, account_id: str, orders: Iterable[SimOrder]) -> None:
        """Push a change of `account_id`'s orders to every stream of that account: the full
        open list (A-9 snapshot) or, in delta mode, one single-order item per changed order
        (terminal status = removal)."""
        changed = list(orders)
        snapshot: list[dict[str, Any]] | None = None
        for conn in list(self._conns):
            if not conn.alive or conn.closing:
                continue
            for inv, acc in list(conn.streams.items()):
                if acc != account_id:
                    continue
                if self.delta_mode:
                    for order in changed:
                        self._emit(conn, inv, [order.to_stream()])
                else:
                    if snapshot is None:
                        snapshot = self.open_orders(account_id)
                    self._emit(conn, inv, snapshot)


    # ------------------------------------------------------------------------------------------
    # faults on demand

    def close_streams(self, error: str = ERR_SERVER_CLOSING, allow_reconnect: bool = True) -> None:
        """Every hub connection gets a Close message (A-14) and its socket is closed."""
        for conn in list(self._conns):
            conn.finish(hub.close(error, allow_reconnect) if conn.handshaken else None)

    def half_open(self) -> None:
        """Every hub connection goes half-open: nothing more is sent on it and nothing read
        (not even a close frame), and the socket is not closed either. New connections work."""
        for conn in list(self._conns):
            conn.closing = True  # nothing more is queued for it
            for task in conn.tasks:
                task.cancel()  # no writer, no watchdog
            if isinstance(conn.transport, asyncio.ReadTransport):
                conn.transport.pause_reading()

    async def send_raw(self, text: str) -> None:
        """Send `text` as is (add the 0x1E yourself) to every handshaken hub connection."""
        for conn in self._conns:
            if conn.handshaken:
                conn.push(text)
        await asyncio.sleep(0)


def _random_id(rng: random.Random) -> str:
    """A 22-character base64url connection id, as SignalR makes them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(22))
