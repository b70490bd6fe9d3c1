"""The Bitfinex venue client: the I/O shell around the pure modules of this package.

One client owns one account. ``run()`` connects, authenticates, loads the ``os`` snapshot into the
store (it replaces the account's rows), streams ``on``/``ou``/``oc``/``n``, and reconnects on
its own; it never raises for network or venue trouble, it reports it (``AccountState`` and
``Notice``). ``cancel()`` sends the venue's own primitive for the plan over the authenticated
socket, or over signed REST while the socket is not usable, and waits for the ``oc`` of each
order (an acknowledgement is not a cancel). Frames are read by ``stream``, requests built by
``requests``, acknowledgements matched by ``acks``; this module only moves data and waits.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderKey, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.base import Backoff, ReconnectingClient, RestFailure, SessionEnd
from blotter.venues.bitfinex import requests
from blotter.venues.bitfinex.acks import AckBook, Answer, after_timeout, refusal
from blotter.venues.bitfinex.nonce import NonceSource
from blotter.venues.bitfinex.notices import (
    error_notice,
    info_notice,
    notification_notice,
    rest_failure_notice,
)
from blotter.venues.bitfinex.replies import (
    ERR_AUTH_NONCE,
    Notification,
    RestError,
    parse_notification,
)
from blotter.venues.bitfinex.requests import CancelInput
from blotter.venues.bitfinex.rest import SignedRest
from blotter.venues.bitfinex.spec import CAPABILITIES, SPEC, VENUE
from blotter.venues.bitfinex.stream import (
    INFO_MAINTENANCE_END,
    INFO_MAINTENANCE_START,
    INFO_RESTART,
    AuthReply,
    BitfinexEvent,
    Info,
    StreamParser,
    VenueError,
    excerpt,
)
from blotter.venues.net import (
    check_url,
    close_code,
    describe_error,
    now_ms,
    wire_logger,
)

log = logging.getLogger("blotter.venues.bitfinex")
_wire_log = wire_logger("bitfinex")  # the auth frame carries the API key

_HANDSHAKE_TIMEOUT = 10.0  # info after open, auth reply after auth
_MAX_FRAME = 64 * 1024 * 1024  # a 100k-order snapshot is ~30 MB


@dataclass(eq=False)
class _Request:
    """One cancel() call: the orders it waits for, its inputs waiting for an answer on the
    socket, and the venue's words about it."""

    futures: dict[OrderKey, asyncio.Future[OrderOutcome]]
    acks: list[asyncio.Future[None]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: str | None = None
    via_rest: bool = False

    async def wait(
        self,
        timeout: float,
        stream_up: Callable[[], bool],
        reread: Callable[[], Awaitable[object]],
    ) -> None:
        """Wait up to ``timeout`` seconds for every answer and every close. While the stream
        is down after a REST cancel no ``oc`` can come: ``reread`` the open orders now and then
        (after 0.25 s, then twice as long each time, at most every 2 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        poll_every = 0.25
        poll_at = loop.time() + poll_every
        while True:
            waiting: list[asyncio.Future[Any]] = [f for f in self.acks if not f.done()]
            waiting += [f for f in self.futures.values() if not f.done()]
            now = loop.time()
            if not waiting or now >= deadline:
                return
            polling = self.via_rest and not stream_up()
            left = deadline - now
            if polling:
                left = min(left, max(0.0, poll_at - now))
            await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if polling and loop.time() >= poll_at:
                await reread()
                poll_every = min(2.0, poll_every * 2)
                poll_at = loop.time() + poll_every

    def fill(self, result: CancelResult) -> list[OrderOutcome]:
        """Put the settled outcomes, the venue's words and the error into ``result``; returns
        the outcomes."""
        settled = [f.result() for f in self.futures.values() if f.done() and not f.cancelled()]
        result.outcomes.update((o.key, o) for o in settled)
        result.text = "; ".join(dict.fromkeys(t for t in self.texts if t))
        if self.error is not None:
            result.error = self.error
        return settled


class BitfinexClient(ReconnectingClient):
    """One Bitfinex account: its open orders streamed into ``store``, its cancels, its words.

    ``rest_url`` is the REST origin and ``ws_url`` the websocket endpoint (plain ``http``/``ws``
    only on loopback); ``api_key``/``api_secret`` sign the auth and every REST call, with a
    nonce kept per key in ``nonce_dir`` across restarts. ``cancel_timeout``: how long
    ``cancel()`` waits for the venue's word on each order. ``dead_man_switch``: the venue
    cancels every order of the account whenever the connection drops. ``heartbeat_timeout``:
    after this long without a frame (the venue sends a heartbeat every 15 s) the socket is
    taken for dead and replaced.
    """

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
        nonce_dir: str | os.PathLike[str] | None = None,
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        dead_man_switch: bool = False,
        heartbeat_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            account, venue=VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label=SPEC.title, rest_url=rest_url,
            rest_example=SPEC.rest_example, secrets=(api_key, api_secret),
            cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        self._ws_url, self._ws_loopback = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_key or not api_secret:
            raise ValueError("Bitfinex needs an api_key and an api_secret")

        self.dead_man_switch = dead_man_switch
        self.heartbeat_timeout = heartbeat_timeout
        # HTTP 429 at the upgrade: the venue bans for about a minute.
        self.rate_limit_delay = 60.0
        self.malformed_frames = 0

        self._key = api_key
        self._secret = api_secret
        self._parser = StreamParser(account)
        self._rest = SignedRest(
            api_key, api_secret, NonceSource.for_key(api_key, nonce_dir), self._http_client,
            self._redact,
        )
        self._acks = AckBook(account)
        # the socket inputs in flight: the cancel() call of each, and its answer to come
        self._in_flight: dict[CancelInput, tuple[_Request, asyncio.Future[None]]] = {}

        self._authed = False  # inputs may be sent (auth OK on the current socket)
        self._maintenance = False  # between 20060 and 20061
        self._end: SessionEnd | None = None  # set by frame handlers to end the session
        self._rx = 0  # frames received (the watchdog watches it move)
        self._resync_lock: asyncio.Lock | None = None
        self._touched: set[str] | None = None  # ids the stream changed during a REST resync
        self._snapshot_gen = 0

    def __repr__(self) -> str:  # never the key or the secret
        return f"BitfinexClient({self.account}, ws={self._ws_url!r})"

    @property
    def connection_note(self) -> str:
        """"dead-man switch on" when the venue cancels everything on a drop, else ""."""
        return "dead-man switch on" if self.dead_man_switch else ""

    async def check(self) -> bool:
        """Re-read the open orders over REST (see ``_resync``); False if the venue could not
        be asked."""
        return await self._resync() is not None

    # == one connection ==========================================================================
    async def _session(self) -> None:
        self._end = None
        ws = await _open(self._ws_url, self._ws_loopback, self.rate_limit_delay)
        self._ws = ws
        watchdog: asyncio.Task[None] | None = None
        try:
            await self._handshake(ws)
            watchdog = asyncio.get_running_loop().create_task(self._watchdog(ws))
            await self._stream(ws)
        except ConnectionClosed as exc:
            if self._end is not None:
                raise self._end from None
            raise SessionEnd(f"connection lost ({close_code(exc)})") from None
        except TimeoutError:
            raise SessionEnd("no answer from Bitfinex during the handshake") from None
        finally:
            self._authed = False
            self._live = False
            self._ws = None
            if watchdog is not None:
                watchdog.cancel()
            # No answer will come for inputs in flight: the next snapshot decides.
            for sent in self._acks.drop():
                _, done = self._in_flight.pop(sent)
                if not done.done():
                    done.set_result(None)
            await _close(ws)
        if self._end is not None:
            raise self._end

    async def _handshake(self, ws: ClientConnection) -> None:
        # 1. the info event with the stream version
        while True:
            event = await self._recv_event(ws)
            if isinstance(event, Info):
                if event.version is not None:
                    if event.version != 2:
                        self._notice(Level.ERROR, f"unsupported API version {event.version}")
                        raise SessionEnd(f"unsupported API version {event.version}")
                    if event.platform_status is not None:
                        # 0: maintenance (cancels go over REST until it ends), 1: operative
                        self._maintenance = event.platform_status == 0
                    break
                self._on_info(event)
                if self._end is not None:
                    raise self._end
            elif isinstance(event, VenueError):
                self._on_event(event)
        # 2. auth (the nonce lock keeps REST calls of this key from overtaking the auth nonce)
        self._state(VenueState.AUTHENTICATING)
        async with self._rest.nonce_lock():
            nonce = self._rest.nonce.next()
            await ws.send(
                requests.auth_message(
                    self._key, self._secret, nonce, dead_man_switch=self.dead_man_switch
                ),
                text=True,
            )
            while True:
                event = await self._recv_event(ws)
                if isinstance(event, AuthReply):
                    reply = event
                    break
                self._on_event(event)
                if self._end is not None:
                    raise self._end
            if not reply.ok:
                text = reply.msg or "authentication failed"
                self._notices.publish(error_notice(reply.code, text, self.account, now_ms()))
                if reply.code == ERR_AUTH_NONCE:
                    # Someone used the key with a larger nonce: jump ahead and retry soon.
                    self._rest.skip_nonces()
                    raise SessionEnd(f"auth refused: {text} ({reply.code}); retrying")
                raise SessionEnd(f"{text} ({reply.code})" if reply.code else text, failed=True)
        self._authed = True
        # 3. the os snapshot arrives next; LIVE once it is in the store (see _on_snapshot)

    async def _recv_event(self, ws: ClientConnection) -> BitfinexEvent:
        """One parsed event during the handshake (malformed frames are counted and skipped)."""
        while True:
            data = await asyncio.wait_for(ws.recv(decode=False), _HANDSHAKE_TIMEOUT)
            self._rx += 1
            try:
                return self._parser.parse(data)
            except MalformedFrame as exc:
                self._malformed(data, exc)

    async def _stream(self, ws: ClientConnection) -> None:
        recv = ws.recv
        handle = self.handle_frame
        while True:
            handle(await recv(decode=False))
            if self._end is not None:
                return

    def handle_frame(self, data: bytes | str) -> None:
        """The hot path: frame → event → store. Never raises; bad frames are counted and logged."""
        self._rx += 1
        try:
            event = self._parser.parse_stream(data)
        except MalformedFrame as exc:
            self._malformed(data, exc)
            return
        try:
            if type(event) is Order:  # an on/ou: Upsert(event), without the wrapper
                if self._touched is not None:
                    self._touched.add(event.order_id)
                self._store.put(event)
            elif type(event) is Closed:
                if self._touched is not None:
                    self._touched.add(event.order.order_id)
                self._store.apply(event)
            else:
                self._on_event(event)  # type: ignore[arg-type]  # not an Order
        except Exception:  # a bug in one handler must not stop the stream
            log.exception("%s: failed to handle %s", self.account, excerpt(data))

    async def _watchdog(self, ws: ClientConnection) -> None:
        """Nothing (data or hb) for ``heartbeat_timeout`` → the socket is dead: reconnect."""
        loop = asyncio.get_running_loop()
        seen = self._rx
        started = quiet_since = loop.time()
        step = max(0.05, min(1.0, self.heartbeat_timeout / 4))
        while True:
            await asyncio.sleep(step)
            if not self._live and loop.time() - started >= _HANDSHAKE_TIMEOUT:
                self._end = SessionEnd("no order snapshot from Bitfinex after auth")
                break
            if self._rx != seen:
                seen = self._rx
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= self.heartbeat_timeout:
                self._end = SessionEnd(
                    f"no data from Bitfinex for {self.heartbeat_timeout:g} s (heartbeat lost)"
                )
                break
        await _close(ws)

    # == events ==================================================================================
    def _on_event(self, event: BitfinexEvent) -> None:
        if isinstance(event, Snapshot):
            self._on_snapshot(event)
        elif isinstance(event, Notification):
            self._notices.publish(notification_notice(event, self.account, now_ms()))
            sent = self._acks.match(event)
            if sent is not None:
                request, done = self._in_flight.pop(sent)
                self._apply(request, self._acks.answer(sent, event))
                if not done.done():
                    done.set_result(None)
        elif isinstance(event, (Upsert, Closed)):
            self._store.apply(event)
        elif isinstance(event, Info):
            self._on_info(event)
        elif isinstance(event, VenueError):
            self._notices.publish(error_notice(event.code, event.msg, self.account, now_ms()))
        # Heartbeat, Pong, AuthReply (mid-stream), Ignored: nothing to do

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot_gen += 1
        self._settle_acked({o.order_id for o in snapshot.orders})
        self._store.apply(snapshot)
        if not self._live:
            if self._maintenance:
                self._went_live(stale="venue maintenance (20060); cancels go over REST")
            else:
                self._went_live()

    def _on_info(self, info: Info) -> None:
        notice = info_notice(info, self.account, now_ms())
        if notice is not None:
            self._notices.publish(notice)
        code = info.code
        if code == INFO_RESTART:
            self._end = SessionEnd(f"venue restarting ({code})", delay=0.0)
        elif code == INFO_MAINTENANCE_START:
            self._maintenance = True
            if self._live:
                self._state(VenueState.STALE, f"venue maintenance ({code})")
        elif code == INFO_MAINTENANCE_END:
            self._maintenance = False
            self._end = SessionEnd(f"maintenance over ({code}); reloading", delay=0.0)

    def _apply(self, request: _Request, answer: Answer) -> None:
        """Carry out what the venue's answer to one input means for its ``cancel()`` call."""
        if answer.text:
            request.texts.append(answer.text)
        if answer.track:
            request.futures.update(self._pending.begin(answer.track))
        for settled in answer.settled:
            self._pending.resolve(*settled)
        if answer.error is not None:
            request.error = answer.error
        if answer.resync:
            self._resync_soon()

    def _malformed(self, data: bytes | str, exc: Exception) -> None:
        self.malformed_frames += 1
        log.warning(
            "%s: malformed frame #%d (%s): %s",
            self.account, self.malformed_frames, exc, excerpt(data),
        )

    # == cancels =================================================================================
    async def cancel(self, plan: CancelPlan) -> CancelResult:
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = tuple(o for o in plan.orders if o.account_key == self.account)
        valid = tuple(o for o in orders if o.order_id.isdigit())
        for order in orders:
            if order not in valid:
                result.outcomes[order.key] = OrderOutcome(
                    order.key, Outcome.REJECTED, f"not a Bitfinex order id: {order.order_id!r}"
                )
        request = _Request(self._pending.begin(valid))
        try:
            inputs = requests.cancel_inputs(plan, valid)
        except ValueError as exc:  # not an input the venue could take
            for order in valid:
                self._pending.resolve(order.key, Outcome.REJECTED, str(exc))
            inputs = ()
        for sent in inputs:
            await self._send(request, sent)
        await self._finish(request, result)
        return result

    async def _send(self, request: _Request, sent: CancelInput) -> None:
        """Send one cancel input: on the socket when it is authenticated, else signed REST."""
        ws = self._ws
        if ws is not None and self._authed and not self._maintenance:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            # expected before sending: the answer may come before send() returns
            self._in_flight[sent] = (request, done)
            self._acks.expect(sent)
            try:
                await ws.send(sent.frame, text=True)
                request.acks.append(done)
                return
            except (ConnectionClosed, OSError) as exc:
                log.info("%s: socket send failed (%s); cancelling over REST", self.account, exc)
                self._acks.withdraw(sent)
                self._in_flight.pop(sent, None)
        await self._send_rest(request, sent)

    async def _send_rest(self, request: _Request, sent: CancelInput) -> None:
        request.via_rest = True
        try:
            data = await self._rest.call(sent.path, sent.body)
        except RestFailure as failure:
            code = failure.reply.code if isinstance(failure.reply, RestError) else None
            self._notices.publish(rest_failure_notice(
                failure.text, self.account, status=failure.status, code=code,
                order_ids=(o.order_id for o in sent.asked), ts_ms=now_ms(),
            ))
            self._apply(request, refusal(sent, failure.text, status=failure.status, code=code))
            return
        try:
            n = parse_notification(data, self._parser.orders)
        except MalformedFrame as exc:
            self.malformed_frames += 1
            log.warning("%s: unreadable cancel answer (%s)", self.account, exc)
            request.texts.append("unreadable answer from Bitfinex")
            return  # the stream or the resync decides
        self._notices.publish(notification_notice(n, self.account, now_ms()))
        self._apply(request, self._acks.answer(sent, n))

    async def _finish(self, request: _Request, result: CancelResult) -> None:
        """Wait for every close, resync what stayed open, and fill in the outcomes."""
        await request.wait(self.cancel_timeout, lambda: self._live, self._resync)
        unresolved = [k for k, f in request.futures.items() if not f.done()]
        if unresolved:
            open_ids = await self._resync(settle=True)
            for settled in after_timeout(unresolved, open_ids, self.cancel_timeout):
                self._pending.resolve(*settled)
        self._acks.forget(request.futures)
        for outcome in request.fill(result):
            if outcome.outcome is Outcome.FILLED:
                oid = outcome.key.order_id
                self._notice(
                    Level.WARNING, f"Order {oid} was filled before the cancel: {outcome.text}",
                    order_ids=(oid,),
                )

    # == re-reading the open orders ===============================================================
    async def _resync(self, *, settle: bool | None = None) -> set[str] | None:
        """Re-read the open orders over REST and make the rows equal them.

        Returns the ids open at the venue, or None when the venue could not be asked. Orders the
        stream changed while the request was in flight keep the stream's (newer) version.

        ``settle``: whether acknowledged cancels whose order is gone are settled now (as CLOSED).
        By default only while the stream is down; while it is up their ``oc`` is on its way
        and says how they closed, so their rows stay until it comes.
        """
        if settle is None:
            settle = not self._live
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        async with self._resync_lock:
            touched: set[str] = set()
            self._touched = touched
            generation = self._snapshot_gen
            try:
                data = await self._rest.call(requests.PATH_ORDERS, {})
                orders = self._parser.orders.parse_orders(data)
            except RestFailure as failure:
                log.warning("%s: resync failed: %s", self.account, failure.text)
                return None
            except MalformedFrame as exc:
                self.malformed_frames += 1
                log.warning("%s: unreadable open orders (%s)", self.account, exc)
                return None
            finally:
                self._touched = None
            if self._snapshot_gen != generation:
                # A fresh os snapshot arrived meanwhile: it is at least as new as this answer.
                return {o.order_id for o in self._store.orders(self.account)}
            merged = [o for o in orders if o.order_id not in touched]
            for oid in touched:
                current = self._store.get(OrderKey(self.account.venue, self.account.account, oid))
                if current is not None:
                    merged.append(current)
            open_ids = {o.order_id for o in merged}
            if settle:
                self._settle_acked(open_ids)
            else:
                for key in self._acks.acknowledged:
                    current = self._store.get(key)
                    if key.order_id not in open_ids and current is not None:
                        merged.append(current)  # closing: its oc will say how
            self._store.apply(Snapshot(self.account, tuple(merged)))
            return open_ids

    def _settle_acked(self, open_ids: set[str]) -> None:
        """Acknowledged cancels whose order is gone although its ``oc`` never came: CLOSED."""
        for settled in self._acks.gone(open_ids):
            if self._pending.is_waiting(settled.key):
                self._pending.resolve(*settled)

    def _resync_soon(self) -> None:
        self._spawn(self._resync())

async def _open(url: str, loopback: bool, rate_limit_delay: float) -> ClientConnection:
    """The websocket to Bitfinex, or ``SessionEnd`` saying why not (after HTTP 429 at the
    upgrade the next try waits ``rate_limit_delay``: the venue bans for about a minute)."""
    try:
        return await asyncio.wait_for(
            connect(
                url,
                max_size=_MAX_FRAME,
                open_timeout=_HANDSHAKE_TIMEOUT,
                close_timeout=2.0,
                compression=None,
                proxy=None if loopback else True,
                user_agent_header="blotter",
                logger=_wire_log,
            ),
            _HANDSHAKE_TIMEOUT + 2.0,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status == 429:
            raise SessionEnd(
                f"rate limited by Bitfinex at connect (HTTP 429); "
                f"retrying in {rate_limit_delay:.0f} s",
                delay=rate_limit_delay,
            ) from None
        raise SessionEnd(f"connect refused (HTTP {status})") from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise SessionEnd(f"cannot connect: {describe_error(exc)}") from None


async def _close(ws: ClientConnection) -> None:
    try:
        await asyncio.wait_for(ws.close(), 3.0)
    except (OSError, TimeoutError, WebSocketException):
        pass
