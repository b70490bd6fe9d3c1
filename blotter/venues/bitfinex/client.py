"""The Bitfinex venue client: the I/O shell around the pure modules of this package.

One client owns one account. ``run()`` connects, authenticates, loads the ``os`` snapshot into the
store (it replaces the account's rows), streams ``on``/``ou``/``oc``/``n``, and reconnects on
its own; it never raises for network or venue trouble, it reports it (``AccountState`` and
``Notice``). ``cancel()`` sends the venue's own primitive for the plan over the authenticated
socket, or over signed REST while the socket is not usable, and waits for the ``oc`` of each
order (an acknowledgement is not a cancel). Frames are read by ``stream``, requests built by
``requests``, acknowledgements matched by ``acks``; this module only moves data and waits.

Trust: a ``ping`` every few seconds keeps the stream provably alive (silence beyond
``silence_bound`` cuts the socket and reconnects); ``check()`` re-reads the open orders over REST
while the stream goes on, without losing what the stream said meanwhile; a frame about the
orders that cannot be read marks the rows unverified and re-reads them; and a cancel's order
that left the book unseen is looked up in the venue's order history, so a fill is reported as a
fill, never guessed as a cancel.
"""

from __future__ import annotations

import asyncio
import logging
import os

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderKey, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.base import Backoff, SessionEnd
from blotter.venues.bitfinex import requests
from blotter.venues.bitfinex.acks import AckBook
from blotter.venues.bitfinex.cancels import CancelCall
from blotter.venues.bitfinex.lists import ListSide, in_loop
from blotter.venues.bitfinex.nonce import NonceSource
from blotter.venues.bitfinex.notices import error_notice, info_notice, notification_notice
from blotter.venues.bitfinex.orders import salvage_close
from blotter.venues.bitfinex.replies import ERR_AUTH_NONCE, Notification
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
    Pong,
    StreamParser,
    VenueError,
    excerpt,
)
from blotter.venues.net import check_url, close_code, describe_error, now_ms, wire_logger

log = logging.getLogger("blotter.venues.bitfinex")
_wire_log = wire_logger("bitfinex")  # the auth frame carries the API key

_HANDSHAKE_TIMEOUT = 10.0  # info after open, auth reply after auth, snapshot after auth
_MAX_FRAME = 64 * 1024 * 1024  # a 100k-order snapshot is ~30 MB
PING_INTERVAL = 3.0  # seconds between pings on the authenticated socket
# seconds without any frame (a pong comes within one ping) = silence; with the keep-alive's
# check every 0.5 s, a silent stream is STALE within 10 s of its last frame
SILENCE_BOUND = 9.0
_CATCH_UP = 2.0  # at most this long for the stream to deliver what came before a re-read
_REREADS = 3  # re-reads in a row while unreadable frames keep arriving during one
MAINTENANCE = "venue maintenance (20060); cancels go over REST"


class BitfinexClient(ListSide):
    """One Bitfinex account: its open orders streamed into ``store``, its cancels, its words.

    ``rest_url`` is the REST origin and ``ws_url`` the websocket endpoint (plain ``http``/``ws``
    only on loopback); ``api_key``/``api_secret`` sign the auth and every REST call, with a
    nonce kept per key in ``nonce_dir`` across restarts. ``cancel_timeout``: how long
    ``cancel()`` waits for the venue's word on each order. ``dead_man_switch``: the venue
    cancels every order of the account whenever the connection drops. ``ping_interval``: a
    ``ping`` goes out this often (the venue answers each with a ``pong``, and sends a heartbeat
    every 15 s besides); ``silence_bound``: after this long without any frame the stream is
    silent (STALE at once), and the socket is cut and replaced.
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
        ping_interval: float = PING_INTERVAL,
        silence_bound: float = SILENCE_BOUND,
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
        self.ping_interval = ping_interval
        self.silence_bound = silence_bound
        # HTTP 429 at the upgrade: too many connections lately. The venue's older docs speak
        # of a ban of about a minute, but a wait beyond the 10 s cap leaves the trader blind
        # longer than any retry costs: the next try comes at the cap, never sooner.
        self.rate_limit_delay = 10.0
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
        self._in_flight: dict[CancelInput, tuple[CancelCall, asyncio.Future[None]]] = {}

        self._authed = False  # inputs may be sent (auth OK on the current socket)
        self._maintenance = False  # between 20060 and 20061
        self._end: SessionEnd | None = None  # set by frame handlers to end the session
        self._rx = 0  # frames received (the keep-alive watches it move)
        self._resync_lock: asyncio.Lock | None = None
        self._touched: set[str] | None = None  # ids the stream changed during a REST resync
        self._snapshot_gen = 0
        # order events held while a snapshot waits for the history of the rows it lacks
        self._settling: list[BitfinexEvent] | None = None
        self._pings = 0  # the cid of the last ping
        self._pongs: dict[int, asyncio.Future[None]] = {}  # pings whose pong is awaited
        self._unreadable = 0  # frames about the orders that could not be read
        self._doubted = False  # the rows are in doubt until a re-read succeeds

    def __repr__(self) -> str:  # never the key or the secret
        return f"BitfinexClient({self.account}, ws={self._ws_url!r})"

    @property
    def connection_note(self) -> str:
        """"dead-man switch on" when the venue cancels everything on a drop, else ""."""
        return "dead-man switch on" if self.dead_man_switch else ""

    async def check(self) -> bool:
        """Re-read the open orders over REST and make the rows equal them (see ``_resync``);
        safe while the stream is live. Read again if a frame about the orders could not be read
        meanwhile. False if the venue could not be asked."""
        ok = False
        for _ in range(_REREADS):
            seen = self._unreadable
            ok = await self._resync() is not None
            if not ok or self._unreadable == seen:
                break
        if ok and self._doubted and self._authed:
            self._doubted = False
            self._went_live()  # the rows equal the venue's again
        return ok

    def _went_live(self, stale: str = "") -> None:
        """LIVE, except during maintenance: then STALE, saying so."""
        if not stale and self._maintenance:
            stale = MAINTENANCE
        super()._went_live(stale)

    # == one connection ==========================================================================
    async def _session(self) -> None:
        self._end = None
        ws = await _open(self._ws_url, self._ws_loopback, self.rate_limit_delay)
        self._ws = ws
        watch: asyncio.Task[None] | None = None
        try:
            await self._handshake(ws)
            watch = asyncio.get_running_loop().create_task(self._watch(ws))
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
            if watch is not None:
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)  # never left pending
            for pong in self._pongs.values():  # no pong will come: stop waiting
                if not pong.done():
                    pong.set_result(None)
            self._pongs.clear()
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
            async with asyncio.timeout(_HANDSHAKE_TIMEOUT):
                data = await ws.recv(decode=False)
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
            try:
                self._unreadable_frame(data)
            except Exception:  # a bug here must not stop the stream either
                log.exception("%s: failed to handle an unreadable frame", self.account)
            return
        try:
            if type(event) is Order:  # an on/ou: Upsert(event), without the wrapper
                if self._touched is not None:
                    self._touched.add(event.order_id)
                if self._settling is None:
                    self._store.put(event)
                else:  # a snapshot waits for the order history: what is newer follows it
                    self._settling.append(Upsert(event))
            elif type(event) is Closed:
                if self._touched is not None:
                    self._touched.add(event.order.order_id)
                if self._settling is None:
                    self._store.apply(event)
                else:
                    self._settling.append(event)
            else:
                self._on_event(event)  # type: ignore[arg-type]  # not an Order
        except Exception:  # a bug in one handler must not stop the stream
            log.exception("%s: failed to handle %s", self.account, excerpt(data))

    async def _watch(self, ws: ClientConnection) -> None:
        """Keep the stream provably alive: a ``ping`` every ``ping_interval`` s, and nothing
        received for ``silence_bound`` s is silence (STALE at once; the socket is cut, not
        closed politely, since a half-open one would never answer). Also ends the session when
        no snapshot follows the auth."""
        keep = asyncio.ensure_future(
            self._keep_alive(self._ping, self.ping_interval, self.silence_bound)
        )
        try:
            done, _ = await asyncio.wait({keep}, timeout=_HANDSHAKE_TIMEOUT)
            if not done and not self._live:
                self._end = SessionEnd("no order snapshot from Bitfinex after auth")
                await _close(ws)
                return
            self._end = SessionEnd(await keep)
        finally:
            keep.cancel()
            await asyncio.gather(keep, return_exceptions=True)  # never left pending
        _abort(ws)

    async def _ping(self) -> None:
        ws = self._ws
        if ws is not None:
            self._pings += 1
            await ws.send(requests.ping_message(self._pings), text=True)

    async def _catch_up(self) -> None:
        """Wait until the stream delivered every frame the venue sent before now (at most
        ``_CATCH_UP`` s): the venue answers a ping sent now after them."""
        ws = self._ws
        if ws is None or not self._authed:
            return
        self._pings += 1
        cid = self._pings
        pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[cid] = pong
        try:
            await ws.send(requests.ping_message(cid), text=True)
            await asyncio.wait_for(pong, _CATCH_UP)
        except (OSError, TimeoutError, WebSocketException):
            pass  # the keep-alive deals with a silent or closed socket
        finally:
            self._pongs.pop(cid, None)

    # == events ==================================================================================
    def _on_event(self, event: BitfinexEvent) -> None:
        if self._settling is not None and isinstance(event, (Snapshot, Upsert, Closed)):
            self._settling.append(event)  # after the snapshot they follow
        elif isinstance(event, Snapshot):
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
        elif isinstance(event, Pong):
            pong = self._pongs.pop(event.cid, None) if event.cid is not None else None
            if pong is not None and not pong.done():
                pong.set_result(None)
        # Heartbeat, AuthReply (mid-stream), Ignored: nothing to do

    def _unreadable_frame(self, data: bytes | str) -> None:
        """A frame refused by the parser: if it may have been about the orders, the rows are
        in doubt (a notice, unverified, re-read at once). The close of an ``oc`` whose order
        can still be named applies first: a bad field must not hide it."""
        bad = self._parser.unreadable(data)
        if bad is None:
            return
        if bad.close is not None and bad.order_id is not None:
            key = OrderKey(self.account.venue, self.account.account, bad.order_id)
            last = self._store.get(key)
            final = salvage_close(bad.close, last) if last is not None else None
            if final is not None:
                if self._touched is not None:
                    self._touched.add(bad.order_id)
                self._parser.orders.forget(bad.order_id)
                self._on_event(Closed(final))  # after a snapshot that waits, as any close
        self._doubt(bad.what)

    def _doubt(self, what: str) -> None:
        """``what`` about the orders could not be read: re-read them (one notice and one
        re-read at a time; a re-read under way reads again when it ends)."""
        self._unreadable += 1
        self._doubted = True
        if self._rereading:
            return
        if not in_loop():  # a frame handed in outside any loop (a test): nothing to re-read
            return
        self._distrust(what)

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

    def _malformed(self, data: bytes | str, exc: Exception) -> None:
        self.malformed_frames += 1
        log.warning(
            "%s: malformed frame #%d (%s): %s",
            self.account, self.malformed_frames, exc, excerpt(data),
        )

    # == re-reading the open orders ===============================================================


async def _open(url: str, loopback: bool, rate_limit_delay: float) -> ClientConnection:
    """The websocket to Bitfinex, or ``SessionEnd`` saying why not (after HTTP 429 at the
    upgrade the next try waits ``rate_limit_delay``, the longest wait between tries)."""
    try:
        async with asyncio.timeout(_HANDSHAKE_TIMEOUT + 2.0):
            return await connect(
                url,
                max_size=_MAX_FRAME,
                open_timeout=_HANDSHAKE_TIMEOUT,
                close_timeout=2.0,
                compression=None,
                proxy=None if loopback else True,
                user_agent_header="blotter",
                logger=_wire_log,
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


def _abort(ws: ClientConnection) -> None:
    """Cut the connection at once, without the closing handshake a silent peer never answers."""
    ws.transport.abort()


async def _close(ws: ClientConnection) -> None:
    try:
        async with asyncio.timeout(3.0):  # no task: never left unawaited
            await ws.close()
    except (OSError, TimeoutError, WebSocketException):
        pass
