"""The Bitfinex venue client: the I/O shell around ``codec``.

One client owns one account. ``run()`` connects, authenticates, loads the ``os`` snapshot into the
store (it replaces the account's rows), streams ``on``/``ou``/``oc``/``n``, and reconnects on
its own; it never raises for network or venue trouble, it reports it (``AccountState`` and
``Notice``). ``cancel()`` sends the venue's own primitive for the plan over the authenticated
socket, or over signed REST while the socket is not usable, and waits for the ``oc`` of each
order (an acknowledgement is not a cancel).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome, ScopeKind
from blotter.core.notices import Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderKey, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities, MalformedFrame
from blotter.venues.base import Backoff, ReconnectingClient, SessionEnd
from blotter.venues.bitfinex import codec
from blotter.venues.bitfinex.codec import (
    AuthReply,
    FrameParser,
    Info,
    Notification,
    RestError,
    VenueError,
)
from blotter.venues.bitfinex.nonce import NonceSource
from blotter.venues.net import (
    check_origin,
    check_url,
    close_code,
    describe_error,
    now_ms,
    rest_client,
)

log = logging.getLogger("blotter.venues.bitfinex")
# The websockets library logs every frame at DEBUG, and the auth frame carries the API key:
# its connection logger never goes below INFO, whatever the application's log level.
_wire_log = logging.getLogger("blotter.venues.bitfinex.wire")
_wire_log.setLevel(logging.INFO)

CAPABILITIES = Capabilities(group_cancel=True, cancel_all=True, dead_man_switch=True)

_HANDSHAKE_TIMEOUT = 10.0  # info after open, auth reply after auth
_REST_TIMEOUT = 10.0
_MAX_FRAME = 64 * 1024 * 1024  # a 100k-order snapshot is ~30 MB


class RestFailure(Exception):
    """A REST call that did not succeed; ``error`` holds the venue's words (never a secret)."""

    def __init__(self, error: RestError) -> None:
        super().__init__(error.text)
        self.error = error


@dataclass(eq=False)
class _Request:
    """One cancel() call: the orders it waits for and the venue's words about it."""

    futures: dict[OrderKey, asyncio.Future[OrderOutcome]]
    acks: list[asyncio.Future[None]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    error: str | None = None
    via_rest: bool = False


@dataclass(eq=False)
class _Ack:
    """A cancel input waiting for its ``n`` (``oc-req`` / ``oc_multi-req``).

    ``asked`` are the rows the table expects the input to cancel; ``track_new`` means the venue
    may also cancel orders the table has not seen (group, all, cid), so the ack's list is
    tracked too.
    """

    request: _Request
    multi: bool
    asked: tuple[Order, ...]
    track_new: bool
    done: asyncio.Future[None]
    order_id: str | None = None
    cid: str | None = None
    gid: str | None = None


class BitfinexClient(ReconnectingClient):
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
            account, venue=codec.VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label="Bitfinex", secrets=(api_key, api_secret),
            cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        self._rest_origin, self._rest_loopback = check_origin(rest_url, "https://api.bitfinex.com")
        self._ws_url, ws_loopback = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_key or not api_secret:
            raise ValueError("Bitfinex needs an api_key and an api_secret")
        self._ws_loopback = ws_loopback

        self.dead_man_switch = dead_man_switch
        self.heartbeat_timeout = heartbeat_timeout
        # HTTP 429 at the upgrade: the venue bans for about a minute.
        self.rate_limit_delay = 60.0
        self.malformed_frames = 0

        self._key = api_key
        self._secret = api_secret
        self._parser = FrameParser(account)
        self._nonce = NonceSource.for_key(api_key, nonce_dir)

        self._authed = False  # inputs may be sent (auth OK on the current socket)
        self._maintenance = False  # between 20060 and 20061
        self._end: SessionEnd | None = None  # set by frame handlers to end the session
        self._rx = 0  # frames received (the watchdog watches it move)
        self._nonce_lock: asyncio.Lock | None = None
        self._resync_lock: asyncio.Lock | None = None
        self._touched: set[str] | None = None  # ids the stream changed during a REST resync
        self._snapshot_gen = 0
        self._single_acks: deque[_Ack] = deque()
        self._multi_acks: deque[_Ack] = deque()
        self._acked: set[OrderKey] = set()  # cancels the venue acknowledged, close not yet seen

    def __repr__(self) -> str:  # never the key or the secret
        return f"BitfinexClient({self.account}, ws={self._ws_url!r})"

    @property
    def connection_note(self) -> str:
        return "dead-man switch on" if self.dead_man_switch else ""

    async def check(self) -> bool:
        return await self.resync() is not None

    # == one connection ==========================================================================
    async def _session(self) -> None:
        self._end = None
        try:
            ws = await asyncio.wait_for(
                connect(
                    self._ws_url,
                    max_size=_MAX_FRAME,
                    open_timeout=_HANDSHAKE_TIMEOUT,
                    close_timeout=2.0,
                    compression=None,
                    proxy=None if self._ws_loopback else True,
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
                    f"retrying in {self.rate_limit_delay:.0f} s",
                    delay=self.rate_limit_delay,
                ) from None
            raise SessionEnd(f"connect refused (HTTP {status})") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SessionEnd(f"cannot connect: {describe_error(exc)}") from None

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
            self._drop_acks()
            try:
                await asyncio.wait_for(ws.close(), 3.0)
            except (OSError, TimeoutError, WebSocketException):
                pass
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
        async with self._nonce_guard():
            nonce = self._nonce.next()
            await ws.send(
                codec.auth_message(
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
                self._notices.publish(
                    codec.error_notice(reply.code, text, self.account, now_ms())
                )
                if reply.code == codec.ERR_AUTH_NONCE:
                    # Someone used the key with a larger nonce: jump ahead and retry soon.
                    self._nonce.bump(self._nonce.last + 1_000_000)
                    raise SessionEnd(f"auth refused: {text} ({reply.code}); retrying")
                raise SessionEnd(f"{text} ({reply.code})" if reply.code else text, failed=True)
        self._authed = True
        # 3. the os snapshot arrives next; LIVE once it is in the store (see _on_snapshot)

    async def _recv_event(self, ws: ClientConnection) -> codec.BitfinexEvent:
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
            log.exception("%s: failed to handle %s", self.account, codec.excerpt(data))

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
                try:
                    await asyncio.wait_for(ws.close(), 3.0)
                except (OSError, TimeoutError, WebSocketException):
                    pass
                return
            if self._rx != seen:
                seen = self._rx
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= self.heartbeat_timeout:
                self._end = SessionEnd(
                    f"no data from Bitfinex for {self.heartbeat_timeout:g} s (heartbeat lost)"
                )
                try:
                    await asyncio.wait_for(ws.close(), 3.0)
                except (OSError, TimeoutError, WebSocketException):
                    pass
                return

    # == events ==================================================================================
    def _on_event(self, event: codec.BitfinexEvent) -> None:
        if isinstance(event, Snapshot):
            self._on_snapshot(event)
        elif isinstance(event, Notification):
            self._on_notification(event)
        elif isinstance(event, (Upsert, Closed)):
            self._store.apply(event)
        elif isinstance(event, Info):
            self._on_info(event)
        elif isinstance(event, VenueError):
            self._notices.publish(codec.error_notice(event.code, event.msg, self.account, now_ms()))
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
        code = info.code
        if code == codec.INFO_RESTART:
            self._notice(Level.WARNING, info.msg or "venue restarting", status=f"INFO {code}")
            self._end = SessionEnd(f"venue restarting ({code})", delay=0.0)
        elif code == codec.INFO_MAINTENANCE_START:
            self._maintenance = True
            self._notice(
                Level.WARNING,
                (info.msg or "maintenance") + " — cancels go over REST until it ends",
                status=f"INFO {code}",
            )
            if self._live:
                self._state(VenueState.STALE, f"venue maintenance ({code})")
        elif code == codec.INFO_MAINTENANCE_END:
            self._maintenance = False
            self._notice(Level.INFO, info.msg or "maintenance ended", status=f"INFO {code}")
            self._end = SessionEnd(f"maintenance over ({code}); reloading", delay=0.0)
        elif code is not None and info.msg:
            self._notice(Level.INFO, info.msg, status=f"INFO {code}")

    def _on_notification(self, n: Notification) -> None:
        self._notices.publish(codec.notification_notice(n, self.account, now_ms()))
        if n.kind == "oc-req":
            ack = self._match_single(n)
        elif n.kind == "oc_multi-req":
            ack = self._match_multi(n)
        else:
            return
        if ack is not None:
            self._apply_ack(ack, n)

    def _match_single(self, n: Notification) -> _Ack | None:
        acks = self._single_acks
        if not acks:
            return None
        oid = n.order_ids[0] if n.order_ids else None
        cid = n.client_ids[0] if n.client_ids else None
        for ack in acks:
            if (oid is not None and ack.order_id == oid) or (cid is not None and ack.cid == cid):
                acks.remove(ack)
                return ack
        if not n.ok and oid is None and cid is None:
            return acks.popleft()  # an old-style stub without the id: the oldest input
        return None

    def _match_multi(self, n: Notification) -> _Ack | None:
        """``oc_multi-req`` does not echo the request: take the oldest input it fits."""
        acks = self._multi_acks
        listed = set(n.order_ids)
        for ack in acks:
            if ack.track_new and ack.gid is None:
                fits = True  # all: anything fits
            elif ack.gid is not None:
                fits = all(o.group_id == ack.gid for o in n.orders)
            else:
                fits = listed <= {o.order_id for o in ack.asked}
            if fits:
                acks.remove(ack)
                return ack
        return None

    def _apply_ack(self, ack: _Ack, n: Notification) -> None:
        request = ack.request
        if n.text:
            request.texts.append(n.text)
        if n.ok:
            if ack.track_new:
                fresh = [o for o in n.orders if o.key not in request.futures]
                if fresh:
                    request.futures.update(self._pending.begin(fresh))
            venue, name = self.account.venue, self.account.account
            self._acked.update(
                key for key in (OrderKey(venue, name, oid) for oid in n.order_ids)
                if key in request.futures
            )
            listed = set(n.order_ids)
            missing = [o for o in ack.asked if o.order_id not in listed]
            if missing:
                for order in missing:
                    self._pending.resolve(
                        order.key, Outcome.NOT_FOUND,
                        "not open at Bitfinex (absent from the cancel acknowledgement)",
                    )
                self._resync_soon()
        else:
            text = n.text or n.status or "refused"
            if not ack.asked:
                request.error = text  # nothing known to resolve: the request itself failed
            if codec.is_not_found(text):
                for order in ack.asked:
                    self._pending.resolve(order.key, Outcome.NOT_FOUND, text)
                self._resync_soon()
            else:
                for order in ack.asked:
                    self._pending.resolve(order.key, Outcome.REJECTED, text)
        if not ack.done.done():
            ack.done.set_result(None)

    def _drop_acks(self) -> None:
        """The socket is gone: no ``n`` will come for inputs in flight; the snapshot decides."""
        for ack in (*self._single_acks, *self._multi_acks):
            if not ack.done.done():
                ack.done.set_result(None)
        self._single_acks.clear()
        self._multi_acks.clear()

    def _malformed(self, data: bytes | str, exc: Exception) -> None:
        self.malformed_frames += 1
        log.warning(
            "%s: malformed frame #%d (%s): %s",
            self.account, self.malformed_frames, exc, codec.excerpt(data),
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

        if plan.everything:
            await self._send_multi(request, {"all": 1}, valid, track_new=True)
        elif plan.kind is ScopeKind.GROUP:
            gid = plan.group_id or ""
            if gid.lstrip("-").isdigit():
                await self._send_multi(
                    request, {"gid": [int(gid)]}, valid, track_new=True, gid=gid
                )
            else:
                for order in valid:
                    self._pending.resolve(order.key, Outcome.REJECTED, f"not a group id: {gid!r}")
        elif len(valid) == 1 and plan.kind is ScopeKind.ORDER:
            await self._send_single(request, valid[0])
        elif valid:
            ordered = list(valid)
            for start in range(0, len(ordered), codec.MULTI_CANCEL_CHUNK):
                part = tuple(ordered[start : start + codec.MULTI_CANCEL_CHUNK])
                await self._send_multi(
                    request, {"id": [int(o.order_id) for o in part]}, part, track_new=False
                )
        await self._finish(request, result)
        return result

    async def _send_single(self, request: _Request, order: Order) -> None:
        oid = int(order.order_id)
        await self._send(
            request,
            ws_frame=codec.cancel_input(oid),
            rest_path=codec.PATH_CANCEL,
            rest_body={"id": oid},
            ack_args={
                "multi": False, "asked": (order,), "track_new": False,
                "order_id": order.order_id,
            },
        )

    async def _send_multi(
        self,
        request: _Request,
        payload: dict[str, Any],
        asked: tuple[Order, ...],
        *,
        track_new: bool,
        gid: str | None = None,
    ) -> None:
        await self._send(
            request,
            ws_frame=codec.cancel_multi_input(payload),
            rest_path=codec.PATH_CANCEL_MULTI,
            rest_body=payload,
            ack_args={"multi": True, "asked": asked, "track_new": track_new, "gid": gid},
        )

    async def _send(
        self,
        request: _Request,
        *,
        ws_frame: bytes,
        rest_path: str,
        rest_body: dict[str, Any],
        ack_args: dict[str, Any],
    ) -> None:
        """Send one cancel input: on the socket when it is authenticated, else signed REST."""
        loop = asyncio.get_running_loop()
        ack = _Ack(request=request, done=loop.create_future(), **ack_args)
        ws = self._ws
        if ws is not None and self._authed and not self._maintenance:
            queue = self._multi_acks if ack.multi else self._single_acks
            queue.append(ack)  # before sending: the answer may come before send() returns
            try:
                await ws.send(ws_frame, text=True)
                request.acks.append(ack.done)
                return
            except (ConnectionClosed, OSError) as exc:
                log.info("%s: socket send failed (%s); cancelling over REST", self.account, exc)
                if ack in queue:
                    queue.remove(ack)
        await self._send_rest(request, ack, rest_path, rest_body)

    async def _send_rest(
        self, request: _Request, ack: _Ack, path: str, body: dict[str, Any]
    ) -> None:
        request.via_rest = True
        try:
            data = await self._rest(path, body)
        except RestFailure as failure:
            err = failure.error
            self._notices.publish(
                Notice(
                    self.account.venue, self.account.account, Level.ERROR, err.text,
                    status=_rest_status(err), order_ids=tuple(o.order_id for o in ack.asked),
                    ts_ms=now_ms(),
                )
            )
            request.texts.append(err.text)
            if codec.is_not_found(err.text):
                for order in ack.asked:
                    self._pending.resolve(order.key, Outcome.NOT_FOUND, err.text)
                self._resync_soon()
            else:
                if err.http_status in (0, 429) or err.code in (codec.ERR_AUTH_FAIL, 11010):
                    request.error = err.text
                for order in ack.asked:
                    self._pending.resolve(order.key, Outcome.REJECTED, err.text)
            return
        try:
            n = self._parser.parse_notification(data)
        except MalformedFrame as exc:
            self.malformed_frames += 1
            log.warning("%s: unreadable cancel answer (%s)", self.account, exc)
            request.texts.append("unreadable answer from Bitfinex")
            return  # the stream or the resync decides
        self._notices.publish(codec.notification_notice(n, self.account, now_ms()))
        self._apply_ack(ack, n)

    async def _finish(self, request: _Request, result: CancelResult) -> None:
        """Wait for every close, resync what stayed open, and fill in the outcomes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cancel_timeout
        poll_every = 0.25
        poll_at = loop.time() + poll_every
        while True:
            waiting: list[asyncio.Future[Any]] = [f for f in request.acks if not f.done()]
            waiting += [f for f in request.futures.values() if not f.done()]
            if not waiting:
                break
            now = loop.time()
            if now >= deadline:
                break
            stream_down = not self._live
            timeout = deadline - now
            if stream_down and request.via_rest:
                timeout = min(timeout, max(0.0, poll_at - now))
            await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if stream_down and request.via_rest and loop.time() >= poll_at:
                # No stream to bring the oc: ask the venue what is still open.
                await self.resync()
                poll_every = min(2.0, poll_every * 2)
                poll_at = loop.time() + poll_every

        unresolved = [k for k, f in request.futures.items() if not f.done()]
        if unresolved:
            open_ids = await self.resync(settle=True)
            for key in unresolved:
                if open_ids is not None and key.order_id not in open_ids:
                    self._pending.resolve(key, Outcome.CLOSED, "no longer open at Bitfinex")
                elif open_ids is None:
                    self._pending.resolve(
                        key, Outcome.TIMED_OUT,
                        f"no confirmation from Bitfinex within {self.cancel_timeout:g} s, and "
                        "the open orders could not be re-read; state unknown",
                    )
                else:
                    self._pending.resolve(
                        key, Outcome.TIMED_OUT,
                        f"no confirmation from Bitfinex within {self.cancel_timeout:g} s; "
                        "the order is still open at the venue",
                    )
        self._acked.difference_update(request.futures)
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

    # == REST ====================================================================================
    async def resync(self, *, settle: bool | None = None) -> set[str] | None:
        """Re-read the open orders over REST and make the rows equal them.

        Returns the ids open at the venue, or None when the venue could not be asked. Orders the
        stream changed while the request was in flight keep the stream's (newer) version.

        ``settle``: whether acknowledged cancels whose order is gone are settled now (as CLOSED).
        By default only while the stream is down; while it is up their ``oc`` is on its way
        and says how they closed, so their rows stay until it comes.
        """
        if settle is None:
            settle = not self._live
        async with self._resync_guard():
            touched: set[str] = set()
            self._touched = touched
            generation = self._snapshot_gen
            try:
                data = await self._rest(codec.PATH_ORDERS, {})
                orders = self._parser.parse_orders(data)
            except RestFailure as failure:
                log.warning("%s: resync failed: %s", self.account, failure.error.text)
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
                for key in self._acked:
                    current = self._store.get(key)
                    if key.order_id not in open_ids and current is not None:
                        merged.append(current)  # closing: its oc will say how
            self._store.apply(Snapshot(self.account, tuple(merged)))
            return open_ids

    def _settle_acked(self, open_ids: set[str]) -> None:
        """Acknowledged cancels whose order is gone although its ``oc`` never came.

        The venue accepted the cancel, so the order most likely went by it; a fill in between
        cannot be ruled out, so the outcome is CLOSED, with words that say so.
        """
        for key in [k for k in self._acked if k.order_id not in open_ids]:
            self._acked.discard(key)
            if self._pending.is_waiting(key):
                self._pending.resolve(
                    key, Outcome.CLOSED,
                    "cancel acknowledged by Bitfinex; the order is no longer open (its final "
                    "status was not received while the stream was down)",
                )

    def _resync_soon(self) -> None:
        self._spawn(self.resync())

    async def _rest(self, path: str, body: dict[str, Any], retry_nonce: bool = True) -> Any:
        """One signed POST; returns the decoded JSON or raises ``RestFailure``."""
        http = self._http_client()
        async with self._nonce_guard():
            nonce = self._nonce.next()
            request = codec.rest_request(path, body, self._key, self._secret, nonce)
            try:
                response = await asyncio.wait_for(
                    http.post(request.path, content=request.body, headers=request.headers),
                    _REST_TIMEOUT + 1.0,
                )
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                raise RestFailure(
                    RestError(0, None, f"cannot reach Bitfinex: {self._redact(describe_error(exc))}")
                ) from None
        if response.status_code != 200:
            error = codec.parse_rest_error(response.status_code, response.content)
            if error.code == codec.ERR_AUTH_NONCE and retry_nonce:
                self._nonce.bump(self._nonce.last + 1_000_000)
                return await self._rest(path, body, retry_nonce=False)
            raise RestFailure(error)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise RestFailure(RestError(200, None, "unreadable answer from Bitfinex")) from None

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = rest_client(self._rest_origin, self._rest_loopback, _REST_TIMEOUT)
        return self._http

    def _nonce_guard(self) -> asyncio.Lock:
        if self._nonce_lock is None:
            self._nonce_lock = asyncio.Lock()
        return self._nonce_lock

    def _resync_guard(self) -> asyncio.Lock:
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        return self._resync_lock





def _rest_status(err: RestError) -> str:
    if err.http_status == 0:
        return "ERROR"
    if err.code is not None:
        return f"ERROR {err.code}"
    return f"HTTP {err.http_status}"
