"""The Bybit v5 venue client: the I/O shell around ``codec``.

One client owns one (unified) account. ``run()`` reads the venue's clock, connects the private
websocket, authenticates, subscribes to ``order``, re-reads every open order over REST (Bybit
sends no snapshot and replays nothing) while buffering pushes, merges them by ``updatedTime``,
and streams; it reconnects on its own and never raises for network or venue trouble, it reports
it (``AccountState`` and ``Notice``). ``cancel()`` sends the venue's primitive for the plan over
signed REST and waits for the stream (or a REST re-query) to show each order closed: a Bybit
cancel reply is an acknowledgement only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome, ScopeKind
from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import (
    OPEN_STATUSES,
    AccountKey,
    Closed,
    Order,
    OrderKey,
    Snapshot,
    Upsert,
)
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities, MalformedFrame
from blotter.venues.base import Backoff, ReconnectingClient, SessionEnd
from blotter.venues.bybit import codec
from blotter.venues.bybit.codec import (
    BatchItem,
    BatchResult,
    CancelAck,
    CancelAllAck,
    OpenOrdersPage,
    OpReply,
    VenueReply,
)
from blotter.venues.net import (
    check_origin,
    check_url,
    close_code,
    describe_error,
    now_ms,
    rest_client,
)

log = logging.getLogger("blotter.venues.bybit")
# The websockets library logs every frame at DEBUG, and the auth frame carries the API key:
# its connection logger never goes below INFO, whatever the application's log level.
_wire_log = logging.getLogger("blotter.venues.bybit.wire")
_wire_log.setLevel(logging.INFO)

CAPABILITIES: Final = Capabilities(
    group_cancel=False,
    cancel_all=True,
    dead_man_switch=False,
    group_cancel_reason="Bybit has no order groups",
)

_HANDSHAKE_TIMEOUT: Final = 10.0  # connect, auth reply, subscribe reply
_REST_TIMEOUT: Final = 10.0
_MAX_FRAME: Final = 16 * 1024 * 1024
_MAX_PAGES: Final = 1000  # 50k orders per scope: a cursor loop must end
_CLOCK_REFRESH: Final = 300.0  # s between server-time reads while live
# spot cancel-all cancels normal orders unless told another kind (§3.4)
_SPOT_EXTRA_FILTERS: Final = ("StopOrder", "tpslOrder", "OcoOrder", "BidirectionalTpslOrder")
_CANCEL_ALL_ROUNDS: Final = 5  # futures cancel-all takes 500 per call: repeat at most this often
_RATE_RETRIES: Final = 20  # 10006 / HTTP 429 waits per call before giving up
_RATE_WAIT: Final = 1.0  # s to wait on 10006 when the venue names no reset time (a 1 s window)
_RATE_WAIT_CAP: Final = 10.0  # s: never trust a reset time further out than this
_SERVER_RETRIES: Final = 2  # 10016 "server error": retry shortly, twice
_SERVER_WAIT: Final = 0.25


class RestFailure(Exception):
    """A REST call that did not succeed; ``reply`` holds the venue's words (never a secret).

    ``ret_code`` -1 means the venue could not be reached or answered something unreadable.
    """

    def __init__(self, reply: VenueReply) -> None:
        super().__init__(reply.text())
        self.reply = reply


@dataclass(eq=False)
class _Request:
    """One cancel() call: the orders it waits for and the venue's words about it."""

    futures: dict[OrderKey, asyncio.Future[OrderOutcome]]
    texts: list[str]
    error: str | None = None
    acked: set[str] = field(default_factory=set)  # order ids a cancel-all acknowledged
    quiet: bool = False  # a bulk cancel: one summary line, not a line per order



def _transport_reply(text: str) -> VenueReply:
    return VenueReply(-1, text)


class BybitClient(ReconnectingClient):
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
        recv_window: int = codec.RECV_WINDOW,
        categories: Sequence[str] | None = None,
        settle_coins: Sequence[str] = ("USDT", "USDC"),
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        ping_interval: float = 20.0,
    ) -> None:
        super().__init__(
            account, venue=codec.VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label="Bybit", secrets=(api_key, api_secret),
            cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        self._rest_origin, self._rest_loopback = check_origin(rest_url, "https://api.bybit.com")
        self._ws_url, _ = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_key or not api_secret:
            raise ValueError("Bybit needs an api_key and an api_secret")
        wanted = tuple(categories) if categories is not None else codec.CATEGORIES
        unknown = [c for c in wanted if c not in codec.CATEGORIES]
        if unknown:
            raise ValueError(f"unknown Bybit categories: {unknown}")

        self.categories = wanted
        self.settle_coins = tuple(settle_coins)
        # linear needs a settle coin per query (§3.1): one scope per coin the account trades
        self.scopes = tuple(
            scope
            for category in wanted
            for scope in (
                [("linear", coin) for coin in self.settle_coins] if category == "linear"
                else [s for s in codec.OPEN_ORDER_SCOPES if s[0] == category]
            )
        )
        self.recv_window = recv_window
        self.cancel_all_rounds = _CANCEL_ALL_ROUNDS
        self.ping_interval = ping_interval
        self.clock_offset_ms = 0  # venue clock minus ours
        self.malformed_frames = 0
        self._parser = codec.WsParser(account)  # the stream's parser (caches only)

        self._key = api_key
        self._secret = api_secret
        self._clock_at = 0.0  # loop time of the last server-time read
        self._buffer: dict[str, Order] | None = None  # pushes held during a REST re-fetch
        self._resync_lock: asyncio.Lock | None = None
        self._replies: asyncio.Queue[OpReply] | None = None
        self._rx = 0
        # per (endpoint, category): loop time until which the venue's rate budget is spent
        self._spent: dict[tuple[str, str], float] = {}
        self._quiet: set[OrderKey] = set()  # orders of bulk cancels: no line each

    def __repr__(self) -> str:  # never the key or the secret
        return f"BybitClient({self.account}, ws={self._ws_url!r})"

    # == lifecycle ===============================================================================
    async def _session(self) -> None:
        try:
            await self.sync_clock()
        except RestFailure as failure:
            raise SessionEnd(failure.reply.ret_msg) from None
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
            expires = now_ms() + self.clock_offset_ms + codec.WS_AUTH_EXPIRY_MS
            await ws.send(codec.ws_auth_message(self._key, self._secret, expires), text=True)
            reply = await self._op_reply("auth", reader)
            if not reply.success:
                raise SessionEnd(
                    f"Bybit refused the API key: {self._redact(reply.text())}", failed=True
                )
            await ws.send(codec.ws_subscribe_message(("order",)), text=True)
            reply = await self._op_reply("subscribe", reader)
            if not reply.success:
                raise SessionEnd(f"Bybit refused the order subscription: {reply.text()}")
            pinger = asyncio.get_running_loop().create_task(self._pinger(ws))
            if await self.resync() is None:
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
                await asyncio.wait_for(ws.send(codec.ws_ping_message(), text=True), 5.0)
            except (OSError, TimeoutError, WebSocketException):
                return
            if loop.time() - self._clock_at >= _CLOCK_REFRESH:
                self._spawn(self._refresh_clock_quietly())

    async def _refresh_clock_quietly(self) -> None:
        try:
            await self.sync_clock()
        except RestFailure as failure:
            log.info("%s: server time not read: %s", self.account, failure.reply.text())

    # == stream ==================================================================================
    def handle_frame(self, data: bytes | str) -> None:
        """Frame → events → store. Never raises; bad frames are counted and logged."""
        self._rx += 1
        try:
            event = self._parser.parse_stream(data)
        except MalformedFrame as exc:
            self.malformed_frames += 1
            log.warning("%s: malformed frame #%d (%s)", self.account, self.malformed_frames, exc)
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
            if held is None or _newer_or_same(order, held):
                buffer[order.order_id] = order
            return
        current = self._store.get(order.key)
        if current is not None and not _newer_or_same(order, current):
            return  # an older state arriving late
        if not order.status.is_open:
            if self._pending.is_waiting(order.key):
                self._confirm(order)
            self._store.apply(Closed(order))
        else:
            self._store.apply(Upsert(order))

    # == REST: orders ============================================================================
    async def resync(self) -> set[str] | None:
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
                orders = await self.fetch_open_orders()
            except RestFailure as failure:
                log.warning("%s: open orders not read: %s", self.account, failure.reply.text())
                self._notice(Level.ERROR, failure.reply.ret_msg, status=_status(failure.reply))
                orders = None
            finally:
                self._buffer = None
            if orders is None:
                for order in buffer.values():  # keep what the stream said meanwhile
                    self._on_order(order)
                return None
            merged = {o.order_id: o for o in orders}
            closes: list[Order] = []
            for oid, pushed in buffer.items():
                fetched = merged.get(oid)
                if fetched is not None and not _newer_or_same(pushed, fetched):
                    continue
                if pushed.status.is_open:
                    merged[oid] = pushed
                else:
                    merged.pop(oid, None)
                    closes.append(pushed)
            for order in closes:  # closes first: they carry how the order ended
                if self._store.get(order.key) is not None:
                    if self._pending.is_waiting(order.key):
                        self._confirm(order)
                    self._store.apply(Closed(order))
            self._store.apply(Snapshot(self.account, tuple(merged.values())))
            return set(merged)

    async def fetch_open_orders(self) -> list[Order]:
        """Every open order in every scope (§3.1), following each cursor to the end."""
        orders: dict[str, Order] = {}
        for category, settle in self.scopes:
            cursor: str | None = None
            for _ in range(_MAX_PAGES):
                query = codec.open_orders_query(
                    category, settle_coin=settle, limit=codec.PAGE_LIMIT, cursor=cursor
                )
                raw = await self._call("GET", codec.PATH_OPEN_ORDERS, query=query)
                try:
                    page = codec.parse_open_orders(raw, self.account)
                except MalformedFrame as exc:
                    self.malformed_frames += 1
                    raise RestFailure(
                        _transport_reply(f"unreadable open orders from Bybit ({exc})")
                    ) from None
                if isinstance(page, VenueReply):
                    raise RestFailure(self._clean(page))
                assert isinstance(page, OpenOrdersPage)
                for order in page.orders:
                    orders[order.order_id] = order
                if page.last:
                    break
                cursor = page.next_cursor
        return list(orders.values())

    async def probe(self) -> str | None:
        """One signed REST call (a page of open orders): the venue's refusal in its words
        ("10003: API key is invalid."), or None when the key is accepted. For Test connection."""
        try:
            await self.sync_clock()
            category, settle = self.scopes[0]
            raw = await self._call(
                "GET", codec.PATH_OPEN_ORDERS,
                query=codec.open_orders_query(category, settle_coin=settle, limit=1),
            )
            reply = codec.parse_reply(raw)
        except RestFailure as failure:
            return self._clean(failure.reply).text()
        except MalformedFrame as exc:
            return f"unreadable answer from Bybit ({exc})"
        return None if reply.ok else self._clean(reply).text()

    # == REST: plumbing ==========================================================================
    async def sync_clock(self) -> int:
        """Read ``/v5/market/time`` and set the offset (venue minus local, ms) used to sign."""
        http = self._http_client()
        t0 = now_ms()
        try:
            response = await asyncio.wait_for(
                http.get(codec.PATH_SERVER_TIME), _REST_TIMEOUT + 1.0
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise RestFailure(
                _transport_reply(f"cannot reach Bybit: {self._redact(describe_error(exc))}")
            ) from None
        t1 = now_ms()
        try:
            server = codec.parse_server_time(response.content)
        except MalformedFrame as exc:
            raise RestFailure(_transport_reply(f"unreadable server time ({exc})")) from None
        self.clock_offset_ms = server - (t0 + t1) // 2
        self._clock_at = asyncio.get_running_loop().time()
        return self.clock_offset_ms

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: dict[str, Any] | None = None,
    ) -> bytes:
        """One signed call; returns the body bytes (any retCode but the ones handled here) or
        raises ``RestFailure`` when the venue could not be reached or refused us at HTTP level.

        Handled here: the rate-limit headers (a spent budget makes the next call on that endpoint
        wait for its reset), 10006 and HTTP 429 (wait, then send again), 10002 (re-read the
        venue's clock, send once more), 10016 (retry shortly). A cancel waits for the budget
        rather than being refused.
        """
        bucket = _bucket(path, query, body)
        loop = asyncio.get_running_loop()
        clock_retried = False
        waits = 0
        while True:
            spent_until = self._spent.get(bucket, 0.0)
            if spent_until > loop.time():
                await asyncio.sleep(spent_until - loop.time())
            response = await self._send(method, path, query, body)
            limit = codec.parse_rate_limit(response.headers)
            if limit.remaining == 0:
                self._spend(bucket, limit.reset_ms, 0.0)
            status = response.status_code
            if status == 429 and waits < _RATE_RETRIES:
                waits += 1
                delay = _retry_after(response.headers.get("retry-after"))
                self._spend(bucket, None, delay)
                self._rate_notice(path, "HTTP 429 (system busy)", delay, waits)
                continue
            if status != 200:
                raise RestFailure(_transport_reply(_http_text(status, path)))
            content = response.content
            try:
                code = codec.parse_reply(content).ret_code
            except MalformedFrame:
                return content  # the caller's parser says what is wrong with it
            if code == codec.ERR_TIMESTAMP and not clock_retried:
                clock_retried = True
                log.info("%s: 10002 on %s; re-reading the server clock", self.account, path)
                await self.sync_clock()
                continue
            if code == codec.ERR_RATE_LIMIT and waits < _RATE_RETRIES:
                waits += 1
                delay = self._spend(bucket, limit.reset_ms, _RATE_WAIT)
                self._rate_notice(path, codec.parse_reply(content).text(), delay, waits)
                continue
            if code == codec.ERR_SERVER and waits < _SERVER_RETRIES:
                waits += 1
                log.info("%s: 10016 on %s; retrying", self.account, path)
                await asyncio.sleep(_SERVER_WAIT * waits)
                continue
            return content

    async def _send(
        self, method: str, path: str, query: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        """Sign (with a fresh timestamp on the venue's clock) and send once."""
        http = self._http_client()
        ts = now_ms() + self.clock_offset_ms
        if method == "GET":
            request = codec.get_request(path, query, self._key, self._secret, ts, self.recv_window)
        else:
            request = codec.post_request(
                path, body or {}, self._key, self._secret, ts, self.recv_window
            )
        try:
            return await asyncio.wait_for(
                http.request(
                    request.method, request.target, content=request.body or None,
                    headers=request.headers,
                ),
                _REST_TIMEOUT + 1.0,
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise RestFailure(
                _transport_reply(f"cannot reach Bybit: {self._redact(describe_error(exc))}")
            ) from None

    def _spend(self, bucket: tuple[str, str], reset_ms: int | None, fallback: float) -> float:
        """Mark ``bucket`` spent until the venue's reset time (on its clock), or for
        ``fallback`` seconds when it gave none; returns the wait in seconds."""
        if reset_ms is not None:
            delay = (reset_ms - (now_ms() + self.clock_offset_ms)) / 1000.0
            delay = min(max(delay, 0.0), _RATE_WAIT_CAP)
            if delay == 0.0:
                delay = fallback
        else:
            delay = fallback
        if delay > 0:
            until = asyncio.get_running_loop().time() + delay
            self._spent[bucket] = max(self._spent.get(bucket, 0.0), until)
        return delay

    def _rate_notice(self, path: str, said: str, delay: float, attempt: int) -> None:
        log.info("%s: rate limit on %s (%s); waiting %.2f s", self.account, path, said, delay)
        if attempt == 1:  # once per call: the trader sees why a cancel takes a moment
            code, sep, words = said.partition(": ")
            status = code if sep and code.isdigit() else None
            self._notice(
                Level.INFO,
                f"{words if status else said}: rate limit reached on {path}; "
                f"sending again in {delay:.1f} s",
                status=status,
            )

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = rest_client(self._rest_origin, self._rest_loopback, _REST_TIMEOUT)
        return self._http

    # == cancels =================================================================================
    async def check(self) -> bool:
        return await self.resync() is not None

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = tuple(o for o in plan.orders if o.account_key == self.account)
        valid = tuple(o for o in orders if o.category in codec.CATEGORIES)
        for order in orders:
            if order not in valid:
                result.outcomes[order.key] = OrderOutcome(
                    order.key, Outcome.REJECTED, f"no Bybit category for order {order.order_id}"
                )
        request = _Request(self._pending.begin(valid), [])
        request.quiet = len(valid) > 1 or plan.everything
        if request.quiet:
            self._quiet.update(request.futures)
        try:
            if plan.everything:
                rows = list(valid) + [
                    o for o in self._store.orders(self.account) if o.key not in request.futures
                ]
                await self._cancel_all(request, valid, self._account_bodies(rows))
            elif plan.kind is ScopeKind.SYMBOL and plan.symbol is not None and valid:
                await self._cancel_all(request, valid, _symbol_bodies(plan.symbol, valid))
            elif plan.kind is ScopeKind.ORDER and len(valid) == 1:
                await self._cancel_one(request, valid[0])
            elif valid:
                await self._cancel_batches(request, valid)
        except RestFailure as failure:  # the venue could not be reached
            text = failure.reply.ret_msg
            request.error = text
            request.texts.append(text)
            self._notice(Level.ERROR, text)
            for key, future in request.futures.items():
                if not future.done():
                    self._pending.resolve(key, Outcome.REJECTED, text)
        await self._finish(request, result)
        return result

    async def _cancel_one(self, request: _Request, order: Order) -> None:
        assert order.category is not None
        body = codec.cancel_body(order.category, order.symbol, order_id=order.order_id)
        raw = await self._call("POST", codec.PATH_CANCEL, body=body)
        try:
            reply = codec.parse_cancel(raw)
        except MalformedFrame as exc:
            self.malformed_frames += 1
            request.texts.append(f"unreadable cancel answer from Bybit ({exc})")
            return  # the stream or the re-query decides
        if isinstance(reply, VenueReply):
            self._refused(request, (order,), reply)
        else:
            assert isinstance(reply, CancelAck)

    async def _cancel_batches(self, request: _Request, orders: Iterable[Order]) -> None:
        """cancel-batch per category in chunks of the venue's size; items the venue refused for
        the rate limit (a batch over the budget: the leading items pass, §6) go again once the
        budget is back."""
        by_category: dict[str, list[Order]] = {}
        for order in orders:
            assert order.category is not None
            by_category.setdefault(order.category, []).append(order)
        for category, members in by_category.items():
            size = codec.batch_limit(category)
            queue = [members[i : i + size] for i in range(0, len(members), size)]
            again = 0
            while queue:
                chunk = queue.pop(0)
                items = [BatchItem(o.symbol, order_id=o.order_id) for o in chunk]
                (body,) = codec.cancel_batch_bodies(category, items)
                raw = await self._call("POST", codec.PATH_CANCEL_BATCH, body=body)
                try:
                    reply = codec.parse_cancel_batch(raw)
                except MalformedFrame as exc:
                    self.malformed_frames += 1
                    request.texts.append(f"unreadable cancel answer from Bybit ({exc})")
                    continue
                if isinstance(reply, VenueReply):
                    self._refused(request, chunk, reply)
                    continue
                results: tuple[BatchResult, ...] = reply
                limited: list[Order] = []
                for order, item in zip(chunk, results, strict=False):
                    if item.ok:
                        continue
                    if item.reply.ret_code == codec.ERR_RATE_LIMIT and again < _RATE_RETRIES:
                        limited.append(order)
                    else:
                        self._refused(request, (order,), item.reply)
                if limited:
                    again += 1
                    bucket = (codec.PATH_CANCEL_BATCH, category)
                    # the reply's headers usually said when the budget is back; else a window
                    delay = self._spent.get(bucket, 0.0) - asyncio.get_running_loop().time()
                    if delay <= 0:
                        delay = self._spend(bucket, None, _RATE_WAIT)
                    self._rate_notice(
                        codec.PATH_CANCEL_BATCH,
                        f"{codec.ERR_RATE_LIMIT}: {codec.DOC_TEXTS[codec.ERR_RATE_LIMIT]}",
                        delay, again,
                    )
                    queue.insert(0, limited)

    def _account_bodies(self, rows: Sequence[Order]) -> list[dict[str, str]]:
        """cancel-all calls that together cover the whole account (§3.4)."""
        calls: list[dict[str, str]] = []
        for category in self.categories:
            if category == "spot":
                calls += _spot_bodies(o for o in rows if o.category == "spot")
            elif category == "linear":
                calls += [
                    codec.cancel_all_body("linear", settle_coin=coin) for coin in self.settle_coins
                ]
            elif category == "inverse":
                symbols = sorted({o.symbol for o in rows if o.category == "inverse"})
                calls += [codec.cancel_all_body("inverse", symbol=s) for s in symbols]
            else:
                calls.append(codec.cancel_all_body(category))
        return calls

    async def _cancel_all(
        self, request: _Request, known: Sequence[Order], calls: Sequence[dict[str, str]]
    ) -> None:
        """cancel-all per category and scope (§3.4); orders it names that the table had not
        shown yet are waited for too. Futures cancel at most 500 per call: a full answer means
        there may be more, so the call is repeated; what is still open after the last round is
        reported, not left pending."""
        for body in calls:
            category = body["category"]
            capped = category in ("linear", "inverse")
            for _ in range(self.cancel_all_rounds):
                raw = await self._call("POST", codec.PATH_CANCEL_ALL, body=body)
                try:
                    reply = codec.parse_cancel_all(raw)
                except MalformedFrame as exc:
                    self.malformed_frames += 1
                    request.texts.append(f"unreadable cancel answer from Bybit ({exc})")
                    capped = False
                    break
                if isinstance(reply, VenueReply):
                    self._refused(request, [o for o in known if _in_scope(o, body)], reply)
                    capped = False
                    break
                assert isinstance(reply, CancelAllAck)
                self._track(request, reply.acks)
                if len(reply.acks) < codec.CANCEL_ALL_FUTURES_CAP:
                    capped = False
                    break
            if capped:
                await self._report_left(request, body)

    async def _report_left(self, request: _Request, body: dict[str, str]) -> None:
        """After the last cancel-all round came back full: re-read the venue and say how many
        orders in that scope are still open (and not already on their way out)."""
        open_ids = await self.resync()
        if open_ids is None:
            return
        left = [
            o for o in self._store.orders(self.account)
            if o.order_id in open_ids and _in_scope(o, body) and o.order_id not in request.acked
        ]
        if not left:
            return
        scope = " ".join(v for k, v in body.items() if k != "category")
        text = (
            f"{len(left)} {body['category']} orders{' (' + scope + ')' if scope else ''} still "
            f"open at Bybit after {self.cancel_all_rounds} cancel-all rounds of "
            f"{codec.CANCEL_ALL_FUTURES_CAP}; cancel again"
        )
        request.texts.append(text)
        self._notice(Level.ERROR, text, order_ids=[o.order_id for o in left[:50]])
        for order in left:
            if order.key in request.futures:
                self._pending.resolve(order.key, Outcome.REJECTED, text)

    def _track(self, request: _Request, acks: Iterable[CancelAck]) -> None:
        """Orders a cancel-all acknowledged that the plan did not list: wait for them too."""
        venue, name = self.account.venue, self.account.account
        fresh = []
        for ack in acks:
            request.acked.add(ack.order_id)
            key = OrderKey(venue, name, ack.order_id)
            if ack.order_id and key not in request.futures:
                current = self._store.get(key)
                if current is not None:
                    fresh.append(current)
        if fresh:
            request.futures.update(self._pending.begin(fresh))
            if request.quiet:
                self._quiet.update(o.key for o in fresh)

    def _refused(self, request: _Request, orders: Sequence[Order], reply: VenueReply) -> None:
        reply = self._clean(reply)
        text = reply.text()
        request.texts.append(text)
        self._notices.publish(
            codec.error_notice(reply, self.account, now_ms(), tuple(o.order_id for o in orders))
        )
        outcome = Outcome.NOT_FOUND if reply.already_gone else Outcome.REJECTED
        for order in orders:
            self._pending.resolve(order.key, outcome, text)
        if not orders:
            request.error = text
        if reply.already_gone:
            self._spawn(self.resync())

    async def _finish(self, request: _Request, result: CancelResult) -> None:
        """Wait for every close; re-query what stayed open; fill in the outcomes."""
        pending = [f for f in request.futures.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.cancel_timeout)
        unresolved = [k for k, f in request.futures.items() if not f.done()]
        if unresolved:
            open_ids = await self.resync()
            for key in unresolved:
                if self._pending.is_waiting(key):
                    if open_ids is None:
                        text = (
                            f"no confirmation from Bybit within {self.cancel_timeout:g} s, and "
                            "the open orders could not be re-read; state unknown"
                        )
                    else:
                        text = (
                            f"no confirmation from Bybit within {self.cancel_timeout:g} s; "
                            "the order is still open at the venue"
                        )
                    self._pending.resolve(key, Outcome.TIMED_OUT, text)
        for key, future in request.futures.items():
            if future.done() and not future.cancelled():
                outcome = future.result()
                result.outcomes[key] = outcome
                if outcome.outcome is Outcome.FILLED:
                    self._notice(
                        Level.WARNING,
                        f"Order {key.order_id} was filled before the cancel: {outcome.text}",
                        order_ids=(key.order_id,),
                    )
        result.text = "; ".join(dict.fromkeys(t for t in request.texts if t))
        if request.error is not None:
            result.error = request.error
        if request.quiet:
            self._quiet.difference_update(request.futures)
            self._summarise(result)

    def _summarise(self, result: CancelResult) -> None:
        """One line for a bulk cancel: "Cancelled 40 of 40 on bybit-demo" (+ what did not)."""
        total = len(result.outcomes)
        if not total:
            return
        cancelled = result.count(Outcome.CANCELLED)
        others = [
            f"{result.count(o)} {o.value}" for o in Outcome
            if o is not Outcome.CANCELLED and result.count(o)
        ]
        text = f"Cancelled {cancelled} of {total} on {self.account.account}"
        if others:
            text += ": " + ", ".join(others)
        trouble = result.count(Outcome.REJECTED) or result.count(Outcome.TIMED_OUT)
        level = Level.SUCCESS if not others else Level.ERROR if trouble else Level.WARNING
        self._notice(level, text)

    def _confirm(self, order: Order) -> None:
        """The venue's word that a cancelled order closed, for the status bar; the orders of a
        bulk cancel get one line for all of them instead (see ``_finish``)."""
        if order.key not in self._quiet:
            self._notices.publish(codec.closed_notice(order, now_ms()))

    # == small helpers ===========================================================================
    def _clean(self, reply: VenueReply) -> VenueReply:
        """The venue's words without our key: a 10004 echoes the string it signed, key and all."""
        clean = self._redact(reply.ret_msg)
        return reply if clean == reply.ret_msg else replace(reply, ret_msg=clean)



def _newer_or_same(candidate: Order, than: Order) -> bool:
    """Bybit's merge rule: the state with the later ``updatedTime`` wins (ties: the later read)."""
    a, b = candidate.updated_ms, than.updated_ms
    if a is None or b is None:
        return True
    return a >= b


def _spot_filter(order: Order) -> str:
    """The spot cancel-all ``orderFilter`` that reaches this order (§3.4): plain orders need
    none; the stop kind is the first word of ``order_type`` ("tpslOrder Limit", "Stop Limit")."""
    kind, _, rest = order.order_type.partition(" ")
    if not rest:
        return "Order"
    return {"Stop": "StopOrder", "StopOrder": "StopOrder"}.get(kind, kind)


def _spot_bodies(orders: Iterable[Order], symbol: str | None = None) -> list[dict[str, str]]:
    """Spot cancel-all cancels normal orders only unless told a kind: one call for normal
    orders, plus one per other kind present (unknown kinds: every kind, to be sure)."""
    kinds = {_spot_filter(o) for o in orders}
    extra = [f for f in _SPOT_EXTRA_FILTERS if f in kinds]
    if kinds - {"Order", *_SPOT_EXTRA_FILTERS}:
        extra = list(_SPOT_EXTRA_FILTERS)
    return [codec.cancel_all_body("spot", symbol=symbol)] + [
        codec.cancel_all_body("spot", symbol=symbol, order_filter=f) for f in extra
    ]


def _symbol_bodies(symbol: str, orders: Sequence[Order]) -> list[dict[str, str]]:
    """Cancel Symbol: cancel-all scoped to the symbol in each category it is open in."""
    calls: list[dict[str, str]] = []
    for category in codec.CATEGORIES:
        members = [o for o in orders if o.category == category]
        if not members:
            continue
        if category == "spot":
            calls += _spot_bodies(members, symbol)
        else:
            calls.append(codec.cancel_all_body(category, symbol=symbol))
    return calls


def _in_scope(order: Order, body: dict[str, str]) -> bool:
    """Whether a cancel-all ``body`` reaches ``order`` (filters aside)."""
    if order.category != body["category"]:
        return False
    if "symbol" in body:
        return order.symbol == body["symbol"]
    if "settleCoin" in body:  # linear: USDT contracts end in USDT, the rest settle in USDC
        return order.symbol.endswith("USDT") == (body["settleCoin"] == "USDT")
    if body["category"] == "spot":
        return _spot_filter(order) == body.get("orderFilter", "Order")
    return True


def _bucket(path: str, query: str, body: dict[str, Any] | None) -> tuple[str, str]:
    """Bybit counts rate limits per endpoint and category (§6); open orders share one budget."""
    if path == codec.PATH_OPEN_ORDERS:
        return (path, "*")
    category = str((body or {}).get("category", ""))
    if not category:
        for pair in query.split("&"):
            if pair.startswith("category="):
                category = pair[len("category=") :]
    return (path, category)


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (seconds only; anything else: one second)."""
    try:
        seconds = float(value) if value is not None else _RATE_WAIT
    except ValueError:
        seconds = _RATE_WAIT
    return min(max(seconds, 0.05), _RATE_WAIT_CAP)


def _http_text(status: int, path: str) -> str:
    """What an HTTP-level refusal means at Bybit (§2): business errors come as HTTP 200."""
    meaning = {
        401: "the API key or its headers were refused (check the key and its environment)",
        403: "access too frequent (IP rate limit: wait 10 minutes) or access from this region "
        "refused",
        404: "wrong path, or a category that does not match the account mode",
        429: "system busy (frequency protection); try again",
    }.get(status)
    text = f"HTTP {status} from Bybit on {path}"
    return f"{text}: {meaning}" if meaning else text


def _status(reply: VenueReply) -> str | None:
    return None if reply.ret_code < 0 else str(reply.ret_code)
