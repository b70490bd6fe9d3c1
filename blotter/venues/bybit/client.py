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
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome, ScopeKind
from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderKey, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.venues.base import (
    AccountReporter,
    Backoff,
    Capabilities,
    PendingCancels,
    check_url,
    close_code,
    describe_error,
    now_ms,
)
from blotter.venues.bybit import codec
from blotter.venues.bybit.codec import (
    BatchItem,
    BatchResult,
    CancelAck,
    CancelAllAck,
    MalformedFrame,
    OpenOrdersPage,
    OpReply,
    OrderPush,
    VenueReply,
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


class RestFailure(Exception):
    """A REST call that did not succeed; ``reply`` holds the venue's words (never a secret).

    ``ret_code`` -1 means the venue could not be reached or answered something unreadable.
    """

    def __init__(self, reply: VenueReply) -> None:
        super().__init__(reply.text())
        self.reply = reply


class _SessionEnd(Exception):
    def __init__(self, reason: str, delay: float | None = None, failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        self.failed = failed


@dataclass(eq=False)
class _Request:
    """One cancel() call: the orders it waits for and the venue's words about it."""

    futures: dict[OrderKey, asyncio.Future[OrderOutcome]]
    texts: list[str]
    error: str | None = None



def _transport_reply(text: str) -> VenueReply:
    return VenueReply(-1, text)


class BybitClient(AccountReporter):
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
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        ping_interval: float = 20.0,
    ) -> None:
        if account.venue != codec.VENUE:
            raise ValueError(f"BybitClient needs a bybit account, got {account}")
        rest_url, rest_loopback = check_url(rest_url, "https", "http", "rest_url")
        parts = urlsplit(rest_url)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"rest_url must be an origin such as https://api.bybit.com, got {rest_url!r}"
            )
        self._ws_url, _ = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_key or not api_secret:
            raise ValueError("Bybit needs an api_key and an api_secret")
        wanted = tuple(categories) if categories is not None else codec.CATEGORIES
        unknown = [c for c in wanted if c not in codec.CATEGORIES]
        if unknown:
            raise ValueError(f"unknown Bybit categories: {unknown}")
        self._rest_origin = f"{parts.scheme}://{parts.netloc}"
        self._rest_loopback = rest_loopback

        self.account = account
        self.capabilities = CAPABILITIES
        self.categories = wanted
        self.scopes = tuple(s for s in codec.OPEN_ORDER_SCOPES if s[0] in wanted)
        self.recv_window = recv_window
        self.cancel_timeout = cancel_timeout
        self.backoff = backoff
        self.ping_interval = ping_interval
        # A refused key must not hammer the venue: auth failures wait much longer.
        self.auth_backoff = Backoff(base=30.0, factor=2.0, cap=300.0)
        self.clock_offset_ms = 0  # venue clock minus ours
        self.malformed_frames = 0

        self._key = api_key
        self._secret = api_secret
        self._store = store
        self._notices = notices
        self._states = states
        self._pending = PendingCancels(store)

        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._live = False
        self._closing = False
        self._running = False
        self._stop = asyncio.Event()
        self._clock_at = 0.0  # loop time of the last server-time read
        self._buffer: dict[str, Order] | None = None  # pushes held during a REST re-fetch
        self._resync_lock: asyncio.Lock | None = None
        self._replies: asyncio.Queue[OpReply] | None = None
        self._rx = 0
        self._background: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:  # never the key or the secret
        return f"BybitClient({self.account}, ws={self._ws_url!r})"

    # == lifecycle ===============================================================================
    async def run(self) -> None:
        if self._running:
            raise RuntimeError("BybitClient.run() is already running")
        self._running = True
        attempt = 0
        self._state(VenueState.CONNECTING)
        try:
            while not self._closing:
                failed = False
                try:
                    await self._session()
                    reason = "connection closed"
                    delay = self.backoff.delay(attempt)
                except _SessionEnd as end:
                    reason = end.reason
                    failed = end.failed
                    delay = end.delay if end.delay is not None else self.backoff.delay(attempt)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must not end the feed: report, then retry
                    log.exception("%s: session failed", self.account)
                    reason = f"internal error: {type(exc).__name__}: {self._redact(str(exc))}"
                    delay = self.backoff.delay(attempt)
                self._live = False
                self._ws = None
                if self._closing:
                    break
                attempt += 1
                self._state(VenueState.FAILED if failed else VenueState.RECONNECTING, reason)
                log.info("%s: %s; reconnecting in %.2f s", self.account, reason, delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                if failed and not self._closing:
                    self._state(VenueState.RECONNECTING, reason)
        finally:
            self._running = False
            self._live = False
            self._state(VenueState.STOPPED)

    async def close(self) -> None:
        self._closing = True
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 3.0)
            except (OSError, TimeoutError, WebSocketException):
                pass
        for task in list(self._background):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _session(self) -> None:
        try:
            await self.sync_clock()
        except RestFailure as failure:
            raise _SessionEnd(failure.reply.ret_msg) from None
        try:
            ws = await asyncio.wait_for(
                connect(
                    self._ws_url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=3.0, proxy=None,
                ),
                _HANDSHAKE_TIMEOUT,
            )
        except InvalidStatus as exc:
            raise _SessionEnd(f"websocket refused: HTTP {exc.response.status_code}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise _SessionEnd(f"cannot reach Bybit: {self._redact(describe_error(exc))}") from None
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
                raise _SessionEnd(
                    f"Bybit refused the API key: {reply.text()}",
                    delay=self.auth_backoff.delay(0), failed=True,
                )
            await ws.send(codec.ws_subscribe_message(("order",)), text=True)
            reply = await self._op_reply("subscribe", reader)
            if not reply.success:
                raise _SessionEnd(f"Bybit refused the order subscription: {reply.text()}")
            pinger = asyncio.get_running_loop().create_task(self._pinger(ws))
            if await self.resync() is None:
                raise _SessionEnd("could not read the open orders from Bybit")
            self._live = True
            self._state(VenueState.LIVE)
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
                    raise _SessionEnd(f"connection closed during {op}")
                raise _SessionEnd(f"no {op} reply from Bybit within {_HANDSHAKE_TIMEOUT:g} s")
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
            event = codec.parse_ws(data, self.account)
        except MalformedFrame as exc:
            self.malformed_frames += 1
            log.warning("%s: malformed frame #%d (%s)", self.account, self.malformed_frames, exc)
            return
        try:
            if isinstance(event, OrderPush):
                for item in event.events:
                    self._on_order(item.order)
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
                self._notices.publish(codec.closed_notice(order, now_ms()))
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
                        self._notices.publish(codec.closed_notice(order, now_ms()))
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
                    raise RestFailure(page)
                assert isinstance(page, OpenOrdersPage)
                for order in page.orders:
                    orders[order.order_id] = order
                if page.last:
                    break
                cursor = page.next_cursor
        return list(orders.values())

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
        retry_clock: bool = True,
    ) -> bytes:
        """One signed call; returns the body bytes (any retCode) or raises ``RestFailure`` when
        the venue could not be reached. A 10002 refreshes the clock offset and retries once."""
        http = self._http_client()
        ts = now_ms() + self.clock_offset_ms
        if method == "GET":
            request = codec.get_request(path, query, self._key, self._secret, ts, self.recv_window)
        else:
            request = codec.post_request(
                path, body or {}, self._key, self._secret, ts, self.recv_window
            )
        try:
            response = await asyncio.wait_for(
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
        if response.status_code != 200:
            raise RestFailure(
                _transport_reply(f"HTTP {response.status_code} from Bybit on {path}")
            )
        content = response.content
        if retry_clock:
            try:
                code = codec.parse_reply(content).ret_code
            except MalformedFrame:
                code = None
            if code == codec.ERR_TIMESTAMP:
                log.info("%s: 10002 on %s; re-reading the server clock", self.account, path)
                await self.sync_clock()
                return await self._call(
                    method, path, query=query, body=body, retry_clock=False
                )
        return content

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self._rest_origin,
                timeout=httpx.Timeout(_REST_TIMEOUT, connect=5.0),
                trust_env=not self._rest_loopback,
                headers={"user-agent": "blotter"},
            )
        return self._http

    # == cancels =================================================================================
    async def cancel(self, plan: CancelPlan) -> CancelResult:
        result = CancelResult(plan)
        refusal = None
        if self._closing:
            refusal = "the Bybit connection is closed"
        elif plan.account != self.account:
            refusal = f"plan for {plan.account} sent to {self.account}"
        if refusal is not None:
            result.error = refusal
            for order in plan.orders:
                result.outcomes[order.key] = OrderOutcome(order.key, Outcome.REJECTED, refusal)
            return result
        orders = tuple(o for o in plan.orders if o.account_key == self.account)
        valid = tuple(o for o in orders if o.category in codec.CATEGORIES)
        for order in orders:
            if order not in valid:
                result.outcomes[order.key] = OrderOutcome(
                    order.key, Outcome.REJECTED, f"no Bybit category for order {order.order_id}"
                )
        request = _Request(self._pending.begin(valid), [])
        try:
            if plan.everything:
                await self._cancel_all(request, valid)
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
        by_category: dict[str, list[Order]] = {}
        for order in orders:
            assert order.category is not None
            by_category.setdefault(order.category, []).append(order)
        for category, members in by_category.items():
            size = codec.batch_limit(category)
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
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
                for order, item in zip(chunk, results, strict=False):
                    if not item.ok:
                        self._refused(request, (order,), item.reply)

    async def _cancel_all(self, request: _Request, known: Sequence[Order]) -> None:
        """cancel-all per category and scope (§3.4); orders it names that the table had not
        shown yet are waited for too."""
        rows = list(known) + [
            o for o in self._store.orders(self.account) if o.key not in request.futures
        ]
        calls: list[dict[str, str]] = []
        for category in self.categories:
            if category == "spot":
                calls.append(codec.cancel_all_body("spot"))
                if any(o.category == "spot" and " " in o.order_type for o in rows):
                    calls += [
                        codec.cancel_all_body("spot", order_filter=f) for f in _SPOT_EXTRA_FILTERS
                    ]
            elif category == "linear":
                calls += [
                    codec.cancel_all_body("linear", settle_coin=coin) for coin in ("USDT", "USDC")
                ]
            elif category == "inverse":
                symbols = sorted({o.symbol for o in rows if o.category == "inverse"})
                calls += [codec.cancel_all_body("inverse", symbol=s) for s in symbols]
            else:
                calls.append(codec.cancel_all_body(category))
        for body in calls:
            for _ in range(_CANCEL_ALL_ROUNDS):
                raw = await self._call("POST", codec.PATH_CANCEL_ALL, body=body)
                try:
                    reply = codec.parse_cancel_all(raw)
                except MalformedFrame as exc:
                    self.malformed_frames += 1
                    request.texts.append(f"unreadable cancel answer from Bybit ({exc})")
                    break
                if isinstance(reply, VenueReply):
                    scope = [
                        o for o in known
                        if o.category == body["category"]
                        and ("symbol" not in body or o.symbol == body["symbol"])
                    ]
                    self._refused(request, scope, reply)
                    break
                assert isinstance(reply, CancelAllAck)
                self._track(request, reply.acks, body["category"])
                if (
                    body["category"] not in ("linear", "inverse")
                    or len(reply.acks) < codec.CANCEL_ALL_FUTURES_CAP
                ):
                    break

    def _track(self, request: _Request, acks: Iterable[CancelAck], category: str) -> None:
        """Orders a cancel-all acknowledged that the plan did not list: wait for them too."""
        venue, name = self.account.venue, self.account.account
        fresh = []
        for ack in acks:
            key = OrderKey(venue, name, ack.order_id)
            if ack.order_id and key not in request.futures:
                current = self._store.get(key)
                if current is not None:
                    fresh.append(current)
        if fresh:
            request.futures.update(self._pending.begin(fresh))

    def _refused(self, request: _Request, orders: Sequence[Order], reply: VenueReply) -> None:
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

    # == small helpers ===========================================================================
    def _spawn(self, coro: Any) -> None:
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _newer_or_same(candidate: Order, than: Order) -> bool:
    """Bybit's merge rule: the state with the later ``updatedTime`` wins (ties: the later read)."""
    a, b = candidate.updated_ms, than.updated_ms
    if a is None or b is None:
        return True
    return a >= b


def _status(reply: VenueReply) -> str | None:
    return None if reply.ret_code < 0 else str(reply.ret_code)
