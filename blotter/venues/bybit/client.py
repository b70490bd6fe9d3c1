"""The Bybit v5 venue client: the I/O shell around the pure parts of this folder.

One client owns one (unified) account. ``run()`` reads the venue's clock, connects the private
websocket, authenticates, subscribes to ``order``, re-reads every open order over REST (Bybit
sends no snapshot and replays nothing) while buffering pushes, merges them by ``updatedTime``,
and streams; it reconnects on its own and never raises for network or venue trouble, it reports
it (``AccountState`` and ``Notice``). The stream proves itself alive with the venue's own
``{"op":"ping"}`` every few seconds: a socket silent for ``silence_bound`` seconds (a dead peer,
or a half-open socket that delivers nothing) turns the account STALE at once and is replaced.
``check()`` re-reads the open orders while the stream runs (the periodic audit): pushes that
arrive meanwhile are merged, and an order the stream closed never comes back. ``cancel()``
sends the venue's primitive for the plan over signed REST (``cancels``, ``rest``) and waits for
the stream (or a REST re-query) to show each order closed: a Bybit cancel reply is an
acknowledgement only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

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
from blotter.core.venue import MalformedFrame
from blotter.venues.base import Backoff, RestFailure, SessionEnd
from blotter.venues.bybit import replies, requests
from blotter.venues.bybit.cancels import BybitCancels
from blotter.venues.bybit.orders import merge_reread, newer_or_same, stream_behind
from blotter.venues.bybit.replies import VenueReply
from blotter.venues.bybit.rest import OpenOrders, RestCaller
from blotter.venues.bybit.spec import (
    CAPABILITIES,
    CATEGORIES,
    RECV_WINDOW,
    SETTLE_COINS,
    SPEC,
    VENUE,
)
from blotter.venues.bybit.stream import OpReply, OrderPush, StreamParser
from blotter.venues.net import (
    check_url,
    close_code,
    describe_error,
    now_ms,
    wire_logger,
)

log = logging.getLogger("blotter.venues.bybit")
_wire_log = wire_logger("bybit")  # the auth frame carries the API key

_HANDSHAKE_TIMEOUT: Final = 10.0  # connect, auth reply, subscribe reply (at most the bound)
_MAX_FRAME: Final = 16 * 1024 * 1024
_CLOSE_TIMEOUT: Final = 2.0  # s a closing handshake may take before the socket is dropped
_ENDED_LIMIT: Final = 4096  # closes the stream showed, remembered so a re-read cannot undo them
_LOOKUPS: Final = 20  # at most this many orders are looked up one by one per re-read

PING_INTERVAL: Final = 3.0
"""Seconds between the stream's ``{"op":"ping"}`` (the venue asks for one at least every 20 s;
often enough here that a quiet stream still proves itself well within ``SILENCE_BOUND``)."""

SILENCE_BOUND: Final = 9.0
"""Seconds without any frame (not even a pong) after which the stream counts as dead: caught
within 10 s of the last frame, as the watch looks only every half second."""

AUDIT_GRACE: Final = 1.0
"""Seconds an audit keeps listening after its list lacks rows the table has: a close already
on its way on the stream still arrives, and the row leaves with the venue's reason."""


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
        ping_interval: float = PING_INTERVAL,
        silence_bound: float = SILENCE_BOUND,
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
        self.silence_bound = silence_bound
        self.audit_grace = AUDIT_GRACE
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
        self._ended: OrderedDict[str, None] = OrderedDict()  # ids shown closed, oldest first
        self._doubted = False  # something could not be read: LIVE again after a whole re-read
        self._partial = False  # the last re-read's list could not be read whole

    def __repr__(self) -> str:  # never the key or the secret
        return f"BybitClient({self.account}, ws={self._ws_url!r})"

    @property
    def malformed_frames(self) -> int:
        """Frames and REST bodies that were not what the protocol says (logged and skipped)."""
        return self._malformed + self.rest.unreadable

    # == lifecycle ===============================================================================
    @property
    def _handshake_timeout(self) -> float:
        """How long the connect and the auth and subscribe replies may take: a stream silent
        for ``silence_bound`` is dead, in the handshake too."""
        return min(_HANDSHAKE_TIMEOUT, self.silence_bound)

    async def _session(self) -> None:
        try:
            await self.rest.sync_clock()
        except RestFailure as failure:
            raise SessionEnd(failure.text) from None
        try:
            async with asyncio.timeout(self._handshake_timeout):
                ws = await connect(
                    self._ws_url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=_CLOSE_TIMEOUT, proxy=None,
                )
        except InvalidStatus as exc:
            raise SessionEnd(f"websocket refused: HTTP {exc.response.status_code}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SessionEnd(f"cannot reach Bybit: {self._redact(describe_error(exc))}") from None
        self._ws = ws
        self._replies = asyncio.Queue()
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._reader(ws))
        watch: asyncio.Task[str] | None = None
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
            self._doubted = False  # this session's list decides
            # from here the stream must keep proving itself, also while the re-read runs
            watch = loop.create_task(
                self._keep_alive(self._ping, self.ping_interval, self.silence_bound)
            )
            ids = await self._resync()
            if watch.done():
                raise SessionEnd(watch.result())
            if ids is not None:
                self._went_live()
            elif self._partial:  # a record of the list could not be read: a re-read runs
                self._went_live(stale="some open orders could not be read; re-reading them")
            else:
                raise SessionEnd("could not read the open orders from Bybit")
            await asyncio.wait({reader, watch}, return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                # nothing came, not even a pong: the peer is gone or the socket half-open, so
                # there is no closing handshake to wait for
                ws.transport.abort()
                raise SessionEnd(watch.result())
            await reader  # the stream ended; a slip in the reader is raised here
        finally:
            self._live = False
            if watch is not None:
                watch.cancel()
            reader.cancel()
            await asyncio.gather(  # never left pending
                reader, *([watch] if watch is not None else []), return_exceptions=True
            )
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT):  # no task: never left unawaited
                    await ws.close()
            except (OSError, TimeoutError, WebSocketException):
                ws.transport.abort()
            self._ws = None

    async def _ping(self) -> None:
        """The venue's own keep-alive (§7.3); the venue's clock is read again when due."""
        ws = self._ws
        if ws is not None:
            await ws.send(requests.ws_ping_message(), text=True)
        if self.rest.clock_due():
            self._spawn(self.rest.refresh_clock_quietly())

    async def _op_reply(self, op: str, reader: asyncio.Task[None]) -> OpReply:
        queue = self._replies
        assert queue is not None
        loop = asyncio.get_running_loop()
        timeout = self._handshake_timeout
        deadline = loop.time() + timeout
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
                raise SessionEnd(f"no {op} reply from Bybit within {timeout:g} s")
            reply = get.result()
            if reply.op == op:
                return reply

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            while True:
                self.handle_frame(await ws.recv(decode=False))
        except ConnectionClosed as exc:
            log.info("%s: websocket closed (%s)", self.account, close_code(exc))

    # == stream ==================================================================================
    def handle_frame(self, data: bytes | str) -> None:
        """Frame → events → store. Never raises; bad frames are counted and logged, and while
        the client runs they make the rows unverified until a re-read (``_doubt``)."""
        self._rx += 1
        try:
            event = self._parser.parse_stream(data)
        except MalformedFrame as exc:
            self._malformed += 1
            log.warning("%s: malformed frame #%d (%s)", self.account, self._malformed, exc)
            if self._running:  # the private stream carries orders: it may have been one
                self._doubt(f"a message ({exc})")
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
                ended = self._ended
                for order in event:
                    key = order.key
                    current = get(key)
                    if current is not None:  # an older state arriving late is dropped
                        updated, before = order.updated_ms, current.updated_ms
                        if updated is not None and before is not None and updated < before:
                            continue
                    if order.status not in OPEN_STATUSES:
                        if len(ended) >= _ENDED_LIMIT:  # _ended_now, inline
                            ended.popitem(last=False)
                        ended[key[2]] = None  # key[2]: the order id, without two properties
                        if store.is_cancel_waiting(key):  # self._pending.is_waiting, inline
                            self._confirm(order)
                    elif current is None and key[2] in ended:
                        continue  # an open state arriving after its close: never reopened
                    # apply(Upsert(order)) or apply(Closed(order)), without the wrappers:
                    # put() closes an order whose status is not open
                    store.put(order)
            elif type(event) is OrderPush:  # some of its orders could not be read
                for ev in event.events:  # the readable ones still apply
                    self._on_order(ev.order)
                self._malformed += 1
                what = "; ".join(event.unreadable[:3])
                log.warning("%s: unreadable order update: %s", self.account, what)
                if self._running:  # a frame handed in outside any session has no re-read
                    self._doubt(f"an order update ({what})")
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
            self._close_row(order)
        elif order.order_id not in self._ended:  # a closed order never reopens
            self._store.apply(Upsert(order))

    def _close_row(self, order: Order) -> None:
        """The venue's word that ``order`` closed: the row leaves with it (a cancel waiting for
        it is settled as it says), and it is remembered as ended."""
        self._ended_now(order.order_id)
        if self._pending.is_waiting(order.key):
            self._confirm(order)
        self._store.apply(Closed(order))

    def _ended_now(self, order_id: str) -> None:
        ended = self._ended
        if order_id not in ended:
            if len(ended) >= _ENDED_LIMIT:
                ended.popitem(last=False)  # the oldest (O(1), unlike a dict's first key)
            ended[order_id] = None

    def _doubt(self, what: str) -> None:
        """``what`` about the account's orders could not be read: the rows are unverified and
        re-read at once (``_distrust``); LIVE again once a whole list was read. Until then a
        further slip is only logged: the trader is told once, and the audits keep trying."""
        if self._rereading or self._doubted:
            log.warning("%s: could not read %s (not verified yet)", self.account, what)
            self._doubted = True
            return
        self._doubted = True
        self._distrust(what)

    # == REST: orders ============================================================================
    async def check(self) -> bool:
        """See ``VenueClient.check``: safe while the stream runs (the periodic audit); True when
        the whole list was read and the rows now equal it."""
        ok = await self._resync() is not None
        if ok and self._doubted:
            self._doubted = False
            if self._live and not self._rereading:  # an audit after a failed re-read
                self._went_live()
        return ok

    async def _resync(self, *, grace: bool = True) -> set[str] | None:
        """Re-read every open order over REST and make the rows equal them.

        Pushes that arrive meanwhile are held, applied first (what the stream said is not news
        the list brings), and merged with the list by ``updatedTime`` (the newer state wins);
        an order the stream showed closed is not brought back by a list read before its close.
        While live, an audit whose list disagrees with what the stream said listens
        ``audit_grace`` longer (unless ``grace`` is False: a cancel waits for the list), so a
        push on its way still arrives before the stream is blamed.
        A row with a cancel waiting that the list lacks is looked up by id, so the cancel
        learns how the order ended. A list with a record that cannot be read applies only what
        it adds or updates (never a removal) and the rows are re-read (``_doubt``). Returns the
        ids open at the venue, or None when the venue could not be asked or the list could not
        be read whole.
        """
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        async with self._resync_lock:
            held: dict[str, Order] = {}
            self._buffer = held
            self._partial = False
            read: OpenOrders | None = None
            finals: tuple[Order, ...] = ()
            try:
                read = await self.rest.open_orders(self.scopes)
                if grace and self._live and self.audit_grace > 0 and not read.unreadable and (
                    stream_behind(self._rows(), read.orders, held, self._ended)
                ):
                    await asyncio.sleep(self.audit_grace)  # still holding pushes
                finals = await self._look_up(read.orders, held)
            except RestFailure as failure:
                log.warning("%s: open orders not read: %s", self.account, failure.text)
                reply = failure.reply
                if isinstance(reply, VenueReply):
                    self._notice(Level.ERROR, reply.ret_msg, status=str(reply.ret_code))
                else:
                    self._notice(Level.ERROR, failure.text)
                read = None
            finally:
                self._buffer = None
            for order in held.values():  # what the stream said meanwhile (and the lookups)
                self._on_order(order)
            if read is None:
                return None
            merged, _ = merge_reread(read.orders, held, self._ended)
            if read.unreadable:
                self._partial = True
                for order in merged.values():  # news, never a removal: the list is not whole
                    self._on_order(order)
                more = len(read.unreadable) - 1
                self._doubt(
                    f"the open orders ({read.unreadable[0]}"
                    + (f" and {more} more" if more else "") + ")"
                )
                return None
            self._store.apply(Snapshot(self.account, tuple(merged.values()), finals=finals))
            return set(merged)

    def _rows(self) -> dict[str, Order]:
        return {o.order_id: o for o in self._store.orders(self.account)}

    async def _look_up(self, listed: list[Order], held: dict[str, Order]) -> tuple[Order, ...]:
        """Read the rows the list lacks by their ids (``_LOOKUPS`` at most, those with a cancel
        waiting first), so the trader learns how each ended, not only that it is gone. The
        records of rows with a cancel waiting are held with the pushes (the cancel learns its
        outcome), as are records still open (the list missed them); the others are returned,
        for the list's snapshot to close them as the venue says. A lookup that fails leaves the row to the list (closed while unseen)."""
        ids = {o.order_id for o in listed}
        missing = [
            o for o in self._store.orders(self.account)
            if o.order_id not in ids and o.order_id not in held and o.order_id not in self._ended
        ]
        if not missing:
            return ()
        missing.sort(key=lambda o: not self._pending.is_waiting(o.key))
        records = await self.rest.orders_by_id(missing[:_LOOKUPS], log)
        finals: list[Order] = []
        for found in records.values():
            key = OrderKey(self.account.venue, self.account.account, found.order_id)
            if found.status not in OPEN_STATUSES and not self._pending.is_waiting(key):
                finals.append(found)
                continue
            current = held.get(found.order_id)
            if current is None or newer_or_same(found, current):
                held[found.order_id] = found
        return tuple(finals)

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
