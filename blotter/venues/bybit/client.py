"""The Bybit v5 venue client: the I/O shell around the pure parts of this folder.

One client owns one (unified) account. ``run()`` reads the venue's clock, connects the private
websocket, authenticates, subscribes to ``order``, re-reads every open order over REST (Bybit
sends no snapshot and replays nothing) while buffering pushes, merges them by ``updatedTime``,
and streams; it reconnects on its own and never raises for network or venue trouble, it reports
it (``AccountState`` and ``Notice``). ``cancel()`` sends the venue's primitive for the plan over
signed REST (``cancels``, ``rest``) and waits for the stream (or a REST re-query) to show each
order closed: a Bybit cancel reply is an acknowledgement only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import OPEN_STATUSES, AccountKey, Closed, Order, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.base import Backoff, RestFailure, SessionEnd
from blotter.venues.bybit import replies, requests
from blotter.venues.bybit.cancels import BybitCancels
from blotter.venues.bybit.orders import merge_reread, newer_or_same
from blotter.venues.bybit.replies import VenueReply
from blotter.venues.bybit.rest import RestCaller
from blotter.venues.bybit.spec import (
    CAPABILITIES,
    CATEGORIES,
    RECV_WINDOW,
    SETTLE_COINS,
    SPEC,
    VENUE,
)
from blotter.venues.bybit.stream import OpReply, StreamParser
from blotter.venues.net import (
    check_url,
    close_code,
    describe_error,
    now_ms,
    wire_logger,
)

log = logging.getLogger("blotter.venues.bybit")
_wire_log = wire_logger("bybit")  # the auth frame carries the API key

_HANDSHAKE_TIMEOUT: Final = 10.0  # connect, auth reply, subscribe reply
_MAX_FRAME: Final = 16 * 1024 * 1024


class BybitClient(BybitCancels):
    """One Bybit account: its private stream, its open orders, its cancels (``BybitCancels``)."""

    def __init__(
        self,
        account: AccountKey,
        *,
        rest_url: str,
        ws_url: str,
        api_key: str,
        api_secret: str,
        store: OrderStore,
        notices: NoticeBus,
        states: StateBus,
        recv_window: int = RECV_WINDOW,
        categories: Sequence[str] | None = None,
        settle_coins: Sequence[str] = SETTLE_COINS,
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        ping_interval: float = 20.0,
    ) -> None:
        super().__init__(
            account, venue=VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label=SPEC.title, rest_url=rest_url,
            rest_example=SPEC.rest_example, secrets=(api_key, api_secret),
            cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        self._ws_url, _ = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_key or not api_secret:
            raise ValueError("Bybit needs an api_key and an api_secret")
        wanted = tuple(categories) if categories is not None else CATEGORIES
        unknown = [c for c in wanted if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown Bybit categories: {unknown}")

        self.categories = wanted
        self.settle_coins = tuple(settle_coins)
        self.scopes = requests.open_order_scopes(wanted, self.settle_coins)
        self.ping_interval = ping_interval
        self.rest = RestCaller(
            account, self._http_client, api_key=api_key, api_secret=api_secret,
            recv_window=recv_window, redact=self._redact, notice_bus=notices, log=log,
        )
        self._key = api_key
        self._secret = api_secret
        self._parser = StreamParser(account)  # the stream's parser (caches only)
        self._malformed = 0
        self._buffer: dict[str, Order] | None = None  # pushes held during a REST re-fetch
        self._resync_lock: asyncio.Lock | None = None
        self._replies: asyncio.Queue[OpReply] | None = None
        self._rx = 0
        self._quiet = set()

    def __repr__(self) -> str:  # never the key or the secret
        return f"BybitClient({self.account}, ws={self._ws_url!r})"

    @property
    def malformed_frames(self) -> int:
        """Frames and REST bodies that were not what the protocol says (logged and skipped)."""
        return self._malformed + self.rest.unreadable

    # == lifecycle ===============================================================================
    async def _session(self) -> None:
        try:
            await self.rest.sync_clock()
        except RestFailure as failure:
            raise SessionEnd(failure.text) from None
        try:
            ws = await asyncio.wait_for(
                connect(
                    self._ws_url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=3.0, proxy=None,
                ),
                _HANDSHAKE_TIMEOUT,
            )
        except InvalidStatus as exc:
            raise SessionEnd(f"websocket refused: HTTP {exc.response.status_code}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SessionEnd(f"cannot reach Bybit: {self._redact(describe_error(exc))}") from None
        self._ws = ws
        self._replies = asyncio.Queue()
        reader = asyncio.get_running_loop().create_task(self._reader(ws))
        pinger: asyncio.Task[None] | None = None
        try:
            self._state(VenueState.AUTHENTICATING)
            expires = now_ms() + self.rest.clock_offset_ms + requests.WS_AUTH_EXPIRY_MS
            await ws.send(requests.ws_auth_message(self._key, self._secret, expires), text=True)
            reply = await self._op_reply("auth", reader)
            if not reply.success:
                raise SessionEnd(
                    f"Bybit refused the API key: {self._redact(reply.text())}", failed=True
                )
            await ws.send(requests.ws_subscribe_message(("order",)), text=True)
            reply = await self._op_reply("subscribe", reader)
            if not reply.success:
                raise SessionEnd(f"Bybit refused the order subscription: {reply.text()}")
            pinger = asyncio.get_running_loop().create_task(self._pinger(ws))
            if await self._resync() is None:
                raise SessionEnd("could not read the open orders from Bybit")
            self._went_live()
            await reader
        finally:
            self._live = False
            if pinger is not None:
                pinger.cancel()
            reader.cancel()
            try:
                await asyncio.wait_for(ws.close(), 3.0)
            except (OSError, TimeoutError, WebSocketException):
                pass
            self._ws = None

    async def _op_reply(self, op: str, reader: asyncio.Task[None]) -> OpReply:
        queue = self._replies
        assert queue is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _HANDSHAKE_TIMEOUT
        while True:
            get = loop.create_task(queue.get())
            done, _ = await asyncio.wait(
                {get, reader}, timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if get not in done:
                get.cancel()
                if reader in done:
                    raise SessionEnd(f"connection closed during {op}")
                raise SessionEnd(f"no {op} reply from Bybit within {_HANDSHAKE_TIMEOUT:g} s")
            reply = get.result()
            if reply.op == op:
                return reply

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            while True:
                self.handle_frame(await ws.recv(decode=False))
        except ConnectionClosed as exc:
            log.info("%s: websocket closed (%s)", self.account, close_code(exc))

    async def _pinger(self, ws: ClientConnection) -> None:
        """Ping every ``ping_interval``; a socket silent for two intervals is dead: close it."""
        loop = asyncio.get_running_loop()
        seen = self._rx
        quiet_since = loop.time()
        while True:
            await asyncio.sleep(self.ping_interval)
            if self._rx != seen:
                seen = self._rx
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= 2 * self.ping_interval:
                log.info("%s: no data or pong from Bybit; reconnecting", self.account)
                try:
                    await asyncio.wait_for(ws.close(), 3.0)
                except (OSError, TimeoutError, WebSocketException):
                    pass
                return
            try:
                await asyncio.wait_for(ws.send(requests.ws_ping_message(), text=True), 5.0)
            except (OSError, TimeoutError, WebSocketException):
                return
            if self.rest.clock_due():
                self._spawn(self.rest.refresh_clock_quietly())

    # == stream ==================================================================================
    def handle_frame(self, data: bytes | str) -> None:
        """Frame → events → store. Never raises; bad frames are counted and logged."""
        self._rx += 1
        try:
            event = self._parser.parse_stream(data)
        except MalformedFrame as exc:
            self._malformed += 1
            log.warning("%s: malformed frame #%d (%s)", self.account, self._malformed, exc)
            return
        try:
            if type(event) is list:  # an order push: its orders, without the event wrappers
                if self._buffer is not None:
                    for order in event:
                        self._on_order(order)
                    return
                # _on_order, inline (the stream's hot path)
                store = self._store
                get = store.get
                for order in event:
                    key = order.key
                    current = get(key)
                    if current is not None:  # an older state arriving late is dropped
                        updated, before = order.updated_ms, current.updated_ms
                        if updated is not None and before is not None and updated < before:
                            continue
                    if order.status not in OPEN_STATUSES and self._pending.is_waiting(key):
                        self._confirm(order)
                    # apply(Upsert(order)) or apply(Closed(order)), without the wrappers:
                    # put() closes an order whose status is not open
                    store.put(order)
            elif isinstance(event, OpReply) and self._replies is not None:
                self._replies.put_nowait(event)
        except Exception:  # a bug in one handler must not stop the stream
            log.exception("%s: failed to handle a frame", self.account)

    def _on_order(self, order: Order) -> None:
        buffer = self._buffer
        if buffer is not None:  # a REST re-fetch is in flight: keep the newest of each order
            held = buffer.get(order.order_id)
            if held is None or newer_or_same(order, held):
                buffer[order.order_id] = order
            return
        current = self._store.get(order.key)
        if current is not None and not newer_or_same(order, current):
            return  # an older state arriving late
        if not order.status.is_open:
            if self._pending.is_waiting(order.key):
                self._confirm(order)
            self._store.apply(Closed(order))
        else:
            self._store.apply(Upsert(order))

    # == REST: orders ============================================================================
    async def check(self) -> bool:
        return await self._resync() is not None

    async def _resync(self) -> set[str] | None:
        """Re-read every open order over REST and make the rows equal them.

        Pushes that arrive meanwhile are held and merged by ``updatedTime`` (the newer state wins).
        Returns the ids open at the venue, or None when the venue could not be asked.
        """
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        async with self._resync_lock:
            buffer: dict[str, Order] = {}
            self._buffer = buffer
            try:
                orders = await self.rest.open_orders(self.scopes)
            except RestFailure as failure:
                log.warning("%s: open orders not read: %s", self.account, failure.text)
                reply = failure.reply
                if isinstance(reply, VenueReply):
                    self._notice(Level.ERROR, reply.ret_msg, status=str(reply.ret_code))
                else:
                    self._notice(Level.ERROR, failure.text)
                orders = None
            finally:
                self._buffer = None
            if orders is None:
                for order in buffer.values():  # keep what the stream said meanwhile
                    self._on_order(order)
                return None
            merged, closes = merge_reread(orders, buffer)
            for order in closes:  # closes first: they carry how the order ended
                if self._store.get(order.key) is not None:
                    if self._pending.is_waiting(order.key):
                        self._confirm(order)
                    self._store.apply(Closed(order))
            self._store.apply(Snapshot(self.account, tuple(merged.values())))
            return set(merged)

    async def probe(self) -> str | None:
        """One signed REST call (a page of open orders): the venue's refusal in its words
        ("10003: API key is invalid."), or None when the key is accepted. For Test connection."""
        try:
            await self.rest.sync_clock()
            category, settle = self.scopes[0]
            raw = await self.rest.call(
                "GET", requests.PATH_OPEN_ORDERS,
                query=requests.open_orders_query(category, settle_coin=settle, limit=1),
            )
            reply = replies.parse_reply(raw)
        except RestFailure as failure:
            return failure.text
        except MalformedFrame as exc:
            return f"unreadable answer from Bybit ({exc})"
        return None if reply.ok else self.rest.clean(reply).text()
