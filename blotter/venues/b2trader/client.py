"""The B2TRADER venue client: the I/O shell around the pure parts (``requests``, ``replies``,
``orders``, ``stream``, ``notices``), with the ``TokenKeeper`` holding the login's JWT; its
cancels are in ``cancels.py``.

One client owns one broker login (an API token on one broker's host) and every trading account
that login lists. Each trading account is an account of its own in the table, named
``<config name>/<trading account>``, so Cancel Account means one trading account.

``run()`` exchanges the API token for a JWT (renewed at 80 % of its life and on a 401), lists the
trading accounts, connects the SignalR account hub with the JWT that listing used, subscribes
``OpenOrders`` per trading account and treats each stream item as that account's complete list
of open orders (or, per account setting, as changes only). The hub's keep-alive Pings prove it
alive: after ``server_timeout`` seconds (two of the hub's keep-alive periods) without a frame the
account turns STALE at once and the connection is dropped and made again; so is one whose
subscriptions have not all sent their first list within ``first_list_timeout`` seconds (the
socket alive, but the account not equal to the venue yet). It reconnects on its own and never
raises for network or venue trouble: it reports it (``AccountState`` and ``Notice``).

``check()`` asks the hub for a fresh complete list of every trading account (the venue has no
REST list of open orders, §2.3) and waits for them: a re-subscription, without a gap in the
stream. Each subscription's first list is a check of the rows (a difference is reported as
something the stream missed); in snapshot mode the lists after it are how the stream speaks. An
order list that cannot be read whole never replaces the rows: what reads of it applies, the
account turns unverified and its lists are asked for again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx
from websockets.exceptions import WebSocketException

from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, OrderKey, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.cancels import B2traderCancels
from blotter.venues.b2trader.hub import HubSocket
from blotter.venues.b2trader.notices import stream_error_notice
from blotter.venues.b2trader.orders import trading_account_keys
from blotter.venues.b2trader.replies import (
    RETRY_WAIT_CAP,
    ErrorReply,
    TradingAccount,
    parse_accounts,
    parse_error,
    select_accounts,
)
from blotter.venues.b2trader.requests import (
    CANCEL_CONCURRENCY,
    HttpRequest,
    accounts_request,
    hub_url,
)
from blotter.venues.b2trader.spec import CAPABILITIES, SPEC, VENUE
from blotter.venues.b2trader.stream import (
    HubClosed,
    ListWaiting,
    OrderList,
    StreamEnded,
    StreamParser,
    UnreadableList,
    invocation_number,
)
from blotter.venues.b2trader.tokens import TokenKeeper
from blotter.venues.base import Backoff, RestFailure, SessionEnd
from blotter.venues.net import check_url, now_ms, send

log = logging.getLogger("blotter.venues.b2trader")

CHECK_TIMEOUT = 10.0  # s a check waits for the fresh lists before it gives up
# s the hub may take to send every subscription's first list before the session starts again
# (a lost first item would leave the account waiting, unverified, for as long as it stays quiet)
FIRST_LIST_TIMEOUT = 10.0


class B2traderClient(B2traderCancels):
    """One broker login and its trading accounts, kept equal to the venue (see the module).

    ``broker`` is the broker's name for the trader; ``trading_accounts`` the ids or names to
    show (all when empty); ``delta`` reads the stream as changes after the first list (§3.7);
    ``cancel_concurrency`` DELETEs go at a time for the whole login; ``keepalive`` is how often
    the client Pings the hub, ``server_timeout`` how long the hub may be silent before it is
    taken for dead (§3.5: two of the hub's 15 s keep-alive periods).
    """

    def __init__(
        self,
        account: AccountKey,
        *,
        rest_url: str,
        ws_url: str,
        api_token: str,
        store: OrderStore,
        notices: NoticeBus,
        states: StateBus,
        broker: str | None = None,
        trading_accounts: Sequence[str] | None = None,
        delta: bool = False,
        cancel_concurrency: int = CANCEL_CONCURRENCY,
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        keepalive: float = signalr.KEEP_ALIVE_INTERVAL_S,
        server_timeout: float = 2 * signalr.KEEP_ALIVE_INTERVAL_S,
    ) -> None:
        super().__init__(
            account, venue=VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label=broker or account.account,
            rest_url=rest_url, rest_example=SPEC.rest_example, secrets=(api_token,),
            cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        if "/" in account.account:
            raise ValueError("a B2TRADER account name cannot contain '/'")
        self._ws_url, _ = check_url(ws_url, "wss", "ws", "ws_url")
        self._tokens = TokenKeeper(api_token, self._request, account)
        if cancel_concurrency < 1:
            raise ValueError("cancel_concurrency must be at least 1")

        self.trading_filter = tuple(trading_accounts or ())
        self.delta = delta
        self.cancel_concurrency = cancel_concurrency
        self.keepalive = keepalive
        self.server_timeout = server_timeout
        self.check_timeout = CHECK_TIMEOUT
        self.first_list_timeout = FIRST_LIST_TIMEOUT
        self.malformed_records = 0

        # trading accounts: id → what the venue said, id → our account key, and back
        self.trading: dict[str, TradingAccount] = {}
        self._keys: dict[str, AccountKey] = {}
        self._ids: dict[AccountKey, str] = {}
        self._parser = StreamParser(account, delta=delta)  # the hub connection's state
        self._hub: HubSocket | None = None  # the account hub, while connected
        self._gate: asyncio.Semaphore | None = None
        self._deleting: set[OrderKey] = set()
        self._held_out: set[OrderKey] = set()
        # trading account id → checks waiting for the first list of a subscription, by the
        # invocation it asked for (a later subscription's first list answers it as well)
        self._first_lists: dict[str, list[tuple[str, asyncio.Future[None]]]] = {}
        self._checking: asyncio.Future[bool] | None = None  # the check under way
        # a stream ended, or a list could not be read: STALE until every account listed again
        self._unsettled = False

    def __repr__(self) -> str:  # never the API token or the JWT
        return f"B2traderClient({self.account}, rest={self._rest_origin!r})"

    # == accounts this client serves ==============================================================
    def serves(self, account: AccountKey) -> bool:
        """This login's own key, or one of its trading accounts ``<name>/<trading account>``."""
        return account == self.account or (
            account.venue == self.account.venue
            and account.account.startswith(self.account.account + "/")
        )

    def accounts(self) -> tuple[AccountKey, ...]:
        """The login's trading accounts, once the broker has listed them."""
        return tuple(self._keys.values())

    async def close(self) -> None:
        await self._tokens.close()
        await super().close()

    # == checks ==================================================================================
    async def check(self) -> bool:
        """Ask the hub for a fresh complete list of every trading account and wait until each
        arrived and was applied (within ``check_timeout``); False when the hub is not connected
        or the lists did not come. A check already under way is shared."""
        if self._hub is None:
            return False
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(self._check_all())
        checking = self._checking
        try:
            return await asyncio.shield(checking)
        finally:
            if checking.done() and self._checking is checking:
                self._checking = None

    async def _check_all(self) -> bool:
        waits = [self._ask_again(trading_id) for trading_id in list(self._keys)]
        if not waits:
            return self._hub is not None
        try:
            await asyncio.wait_for(asyncio.gather(*waits), self.check_timeout)
        except (TimeoutError, ConnectionError) as exc:
            log.info("%s: no fresh order lists (%s)", self.account, str(exc) or "timed out")
            return False
        return True

    def _reread_account(self, trading_id: str) -> None:
        """See ``B2traderCancels._reread_account``."""
        self._ask_again(trading_id)

    def _ask_again(self, trading_id: str) -> asyncio.Future[None]:
        """Re-subscribe ``trading_id`` (in the background); done once its new first list has
        been applied, failed when the hub went away first."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # nobody may be waiting any more
        hub = self._hub
        if hub is None or trading_id not in self._keys:
            future.set_exception(ConnectionError("the account hub is not connected"))
            return future
        records = self._parser.resubscribe(trading_id)
        asked = self._parser.newest(trading_id) or ""
        self._first_lists.setdefault(trading_id, []).append((asked, future))
        self._spawn(self._send_all(hub, records))
        return future

    async def _send_all(self, hub: HubSocket, records: Sequence[str]) -> None:
        try:
            for record in records:
                await hub.send(record)
        except (OSError, WebSocketException):
            pass  # the session ends, and the next one subscribes everything again

    def _listed(self, trading_id: str, invocation: str) -> None:
        """The first list of subscription ``invocation`` was applied: it answers the checks
        that asked for it or for an earlier one."""
        waiting = self._first_lists.get(trading_id)
        if not waiting:
            return
        answered = invocation_number(invocation)
        still = []
        for asked, future in waiting:
            if invocation_number(asked) <= answered:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((asked, future))
        if still:
            self._first_lists[trading_id] = still
        else:
            del self._first_lists[trading_id]

    def _end_checks(self) -> None:
        waiting, self._first_lists = self._first_lists, {}
        for futures in waiting.values():
            for _, future in futures:
                if not future.done():
                    future.set_exception(ConnectionError("the account hub connection ended"))

    # == lifecycle ===============================================================================
    async def _session(self) -> None:
        self._state(VenueState.AUTHENTICATING)
        try:
            accounts = await self._load_accounts()
            # the JWT the listing ended with: it may have renewed a refused one
            token = await self._tokens.current()
        except RestFailure as failure:
            raise SessionEnd(
                failure.text, delay=_asked_wait(failure), failed=failure.status in (401, 403)
            ) from None
        if not accounts:
            raise SessionEnd(
                "the broker lists no trading accounts for this API token"
                + (f" matching {', '.join(self.trading_filter)}" if self.trading_filter else ""),
                failed=True,
            )
        self._use_accounts(accounts)
        hub = await HubSocket.open(
            hub_url(self._ws_url, token.jwt), who=self.account, redact=self._redact,
            unauthorized=self._tokens.forget, on_frame=self._count_frame,
        )
        self._ws, self._hub = hub.ws, hub
        parser = self._parser
        parser.start()
        self._unsettled = False
        try:
            # a hub that answers nothing is dead by the same bound as one that goes silent
            await hub.handshake(parser, min(signalr.HANDSHAKE_TIMEOUT_S, self.server_timeout))
            for trading_id in self._keys:
                await hub.send(parser.subscribe(trading_id))
            self._drain()  # what came with the handshake answer
            await self._stream(hub)
        finally:
            self._live = False
            self._hub = None
            self._end_checks()
            await hub.close()
            self._ws = None

    async def _stream(self, hub: HubSocket) -> None:
        """Read frames until the connection ends; Ping the hub every ``keepalive`` seconds,
        and drop the connection (STALE at once) when it was silent ``server_timeout`` s."""
        watch = asyncio.ensure_future(self._keep_alive(
            lambda: hub.send(signalr.ping()), self.keepalive, self.server_timeout
        ))
        receive = asyncio.ensure_future(self._receive(hub))
        listed = asyncio.ensure_future(self._lists_in_time())
        tasks = (watch, receive, listed)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if receive.done():
                receive.result()  # the SessionEnd that ended it
            hub.abort()  # silent, or a list that never came: no closing handshake to wait for
            raise SessionEnd(listed.result() if listed.done() else watch.result())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _lists_in_time(self) -> str:
        """Why the session must start again when the hub has not sent every subscription's
        first list ``first_list_timeout`` s after subscribing (the hub keeps the socket alive
        all the same); once they all came, nothing (it waits until the session ends)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.first_list_timeout
        while not self._parser.all_listed:
            if loop.time() >= deadline:
                return (f"no order list from the hub {self.first_list_timeout:g} s after "
                        "subscribing")
            await asyncio.sleep(0.05)
        await loop.create_future()  # cancelled with the session
        return ""

    async def _receive(self, hub: HubSocket) -> None:
        while True:
            self.handle_frame(await hub.recv())

    def _count_frame(self) -> None:
        self._rx += 1

    def _use_accounts(self, accounts: Sequence[TradingAccount]) -> None:
        keys = trading_account_keys(self.account.account, accounts)
        shown = {a for a in self._store.accounts() if self.serves(a)}  # the last run's too
        for old in (set(self._ids) | shown) - set(keys.values()):  # a trading account went away
            rows = len(self._store.orders(old))
            self._store.drop_account(old)
            if rows:
                self._notice(
                    Level.WARNING,
                    f"{old.account} is no longer listed by {self.venue_label}: its {rows} "
                    "orders are not shown (they may still be open there)",
                )
        self.trading = {a.account_id: a for a in accounts}
        self._keys = keys
        self._ids = {key: trading_id for trading_id, key in keys.items()}
        self._parser.use_accounts(keys)

    # == stream ==================================================================================
    def handle_frame(self, data: str | bytes) -> None:
        """One frame of the account hub → store events and notices. A record or order that
        cannot be read is counted, logged and re-read (the account is unverified meanwhile),
        never raised; ``SessionEnd`` when the hub closes the connection or sends an oversized
        record."""
        try:
            self._parser.feed(data)
        except signalr.RecordTooLarge as exc:
            raise SessionEnd(f"the account hub sent an oversized record ({exc})") from None
        self._drain()

    def _drain(self) -> None:
        next_event = self._parser.next_event
        while True:
            try:
                event = next_event()
            except signalr.RecordTooLarge as exc:
                raise SessionEnd(f"the account hub sent an oversized record ({exc})") from None
            except UnreadableList as exc:
                self._unreadable_list(exc)
                continue
            except MalformedFrame as exc:  # it may have been about orders: ask again
                self._unreadable(self.account, f"a record of the account hub ({exc})")
                continue
            if event is None:
                return
            if type(event) is ListWaiting:
                # A complete list replaces the one before it: when several arrive back to back
                # (one per single cancel of a Cancel All), only the newest needs reading.
                asyncio.get_running_loop().call_soon(self._take_list, event.trading_id)
            elif type(event) is OrderList:
                self._apply_guarded(event)
            elif type(event) is StreamEnded:
                self._stream_ended(event)
            elif type(event) is HubClosed:
                if event.token_refused:
                    self._tokens.forget()  # exchange the API token again
                delay = self.backoff.delay(0) if event.allow_reconnect else None
                raise SessionEnd(event.reason, delay=delay)

    def _take_list(self, trading_id: str) -> None:
        try:
            event = self._parser.take_list(trading_id)
        except UnreadableList as exc:
            self._unreadable_list(exc)
            return
        if event is not None:
            self._apply_guarded(event)

    def _apply_guarded(self, event: OrderList) -> None:
        try:
            self._apply(event)
        except Exception:  # a bug in one handler must not stop the stream
            log.exception("%s: failed to handle an order list", self.account)

    def _apply(self, event: OrderList) -> None:
        store = self._store
        if event.complete:
            orders = self._with_held(event.account, event.orders)
            # a subscription's first list checks the rows; the lists after it are the stream
            store.apply(Snapshot(event.account, orders, stream=not event.first))
        else:
            # changes (a delta stream), or what reads of a list that cannot be read whole:
            # nothing leaves that the venue did not say is closed
            for order in event.orders:
                if order.status.is_open:
                    store.apply(Upsert(order))
                elif store.get(order.key) is not None:
                    store.apply(Closed(order))
        if event.unreadable:
            what = f"{len(event.unreadable)} order(s) of {event.account.account}"
            self._unreadable(event.account, f"{what} ({'; '.join(event.unreadable[:3])})")
            if event.due_first:
                self._ask_later(event.trading_id)
        if event.first:
            self._listed(event.trading_id, event.invocation)
            # LIVE again once every account listed (a re-read under way says so itself)
            settles = self._unsettled and not self._rereading
            if self._parser.all_listed and (not self._live or settles):
                self._went_live()

    def _went_live(self, stale: str = "") -> None:
        self._unsettled = False  # whoever says so: the rows equal the venue's again
        super()._went_live(stale)

    def _unreadable(self, account: AccountKey, what: str) -> None:
        """Part of an account's orders could not be read: say so, mark the rows unverified and
        ask for the lists again."""
        self.malformed_records += 1
        log.warning("%s: could not read %s", account, what)
        self._unsettled = True
        self._distrust(what)

    def _unreadable_list(self, exc: UnreadableList) -> None:
        self._unreadable(exc.account, f"the order list of {exc.account.account} ({exc})")
        if exc.due_first:
            self._ask_later(exc.trading_id)

    def _ask_later(self, trading_id: str) -> None:
        """The answer to a subscription could not be read whole, so whoever waits for it
        would wait in vain: subscribe again, after a pause (a venue that keeps sending what
        cannot be read is not asked in a tight loop)."""

        async def later(delay: float) -> None:
            await asyncio.sleep(delay)
            if self._hub is not None:
                self._reread_account(trading_id)

        self._spawn(later(self.backoff.delay(1)))

    def _stream_ended(self, event: StreamEnded) -> None:
        self._notices.publish(stream_error_notice(event.error, self.account, event.name, now_ms()))
        if self._live:
            self._unsettled = True
            self._state(VenueState.STALE, f"the order stream of {event.name} ended; "
                        "subscribing again")
        # subscribe again after a pause; the first item then replaces the rows
        self._spawn(self._resubscribe_later(event.trading_id, self.backoff.delay(1)))

    async def _resubscribe_later(self, trading_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        hub = self._hub
        if hub is None or trading_id not in self._keys or self._parser.subscribed(trading_id):
            return
        await self._send_all(hub, [self._parser.subscribe(trading_id)])

    # == REST ====================================================================================
    async def _load_accounts(self) -> list[TradingAccount]:
        response = await self._tokens.authorised(accounts_request, "Accounts")
        if response.status_code != 200:
            error = parse_error(
                response.status_code, response.content, "Accounts",
                headers=dict(response.headers), now_ms=now_ms(),
            )
            raise RestFailure(self._redact(error.text), status=error.http_status, reply=error)
        try:
            accounts = parse_accounts(response.content)
        except MalformedFrame as exc:
            raise RestFailure(f"unreadable accounts list ({exc})") from None
        return list(select_accounts(accounts, self.trading_filter))

    async def _request(self, request: HttpRequest, subject: str) -> httpx.Response:
        return await send(
            self._http_client(), request.method, request.path, content=request.body,
            headers=request.headers, unreachable=f"{subject}: cannot reach {self.venue_label}",
            redact=self._redact,
        )

    def _redact(self, text: str) -> str:
        return self._tokens.redact(super()._redact(text))


def _asked_wait(failure: RestFailure) -> float | None:
    """The wait a refusal asked for (a 429's or 503's Retry-After), capped; None if none."""
    reply = failure.reply
    if isinstance(reply, ErrorReply) and reply.retry_after_s is not None:
        return min(reply.retry_after_s, RETRY_WAIT_CAP)
    return None


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
