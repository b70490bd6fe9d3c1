"""The B2TRADER venue client: the I/O shell around ``codec`` and ``signalr``.

One client owns one broker login (an API token on one broker's host) and every trading account
that login lists. Each trading account is an account of its own in the table, named
``<config name>/<trading account>``, so Cancel Account means one trading account.

``run()`` exchanges the API token for a JWT (renewed at 80 % of its life and on a 401), lists the
trading accounts, connects the SignalR account hub, subscribes ``OpenOrders`` per trading account
and treats each stream item as that account's complete list of open orders (or, per account
setting, as changes only). It reconnects on its own and never raises for network or venue
trouble: it reports it (``AccountState`` and ``Notice``).

``cancel()`` sends one ``DELETE`` per order (the venue has no bulk cancel and no groups), a few at
a time, with progress in the status bar; the 200's order status decides each outcome (Cancelled,
or Completed when a fill won).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Snapshot, Upsert
from blotter.core.store import OrderStore
from blotter.core.venue import Capabilities, MalformedFrame
from blotter.venues.b2trader import codec, signalr
from blotter.venues.b2trader.codec import (
    AccessToken,
    CancelReply,
    ErrorReply,
    HttpRequest,
    TradingAccount,
)
from blotter.venues.base import Backoff, ReconnectingClient, SessionEnd
from blotter.venues.net import (
    check_origin,
    check_url,
    close_code,
    describe_error,
    now_ms,
    rest_client,
)

log = logging.getLogger("blotter.venues.b2trader")
# The hub URL carries the JWT (P-14): the websockets library's own logger never goes below INFO.
_wire_log = logging.getLogger("blotter.venues.b2trader.wire")
_wire_log.setLevel(logging.INFO)

CAPABILITIES: Final = Capabilities(
    group_cancel=False,
    cancel_all=False,
    dead_man_switch=False,
    group_cancel_reason=(
        "B2TRADER has no order groups: select the orders and use Cancel Selected"
    ),
)

_REST_TIMEOUT: Final = 10.0
_CONNECT_TIMEOUT: Final = 10.0
_MAX_FRAME: Final = 16 * 1024 * 1024
_RETRY_WAIT_CAP: Final = 10.0  # s: never wait longer than this for one Retry-After
_RATE_RETRIES: Final = 5  # 429s per order before giving up
_SERVER_RETRIES: Final = 2  # 5xx / network failures per order before giving up
_PROGRESS_EVERY: Final = 0.1  # s between progress lines in the status bar
# the row's final status when the 200 names it but carries no readable order
_CLOSED_STATUS: Final = {
    "Cancelled": OrderStatus.CANCELLED,
    "Completed": OrderStatus.FILLED,
    "Expired": OrderStatus.EXPIRED,
    "Rejected": OrderStatus.REJECTED,
}
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_TOKEN_QUERY: Final = re.compile(r"(access_token=)[^&\s'\"]+")


class RestFailure(Exception):
    """A REST call that did not succeed; the text is for the trader (never holds a secret)."""

    def __init__(self, text: str, error: ErrorReply | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.error = error


class B2traderClient(ReconnectingClient):
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
        cancel_concurrency: int = codec.CANCEL_CONCURRENCY,
        cancel_timeout: float = 10.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        keepalive: float = signalr.KEEP_ALIVE_INTERVAL_S,
        server_timeout: float = signalr.SERVER_TIMEOUT_S,
    ) -> None:
        super().__init__(
            account, venue=codec.VENUE, store=store, notices=notices, states=states,
            capabilities=CAPABILITIES, venue_label=broker or account.account,
            secrets=(api_token,), cancel_timeout=cancel_timeout, backoff=backoff, log=log,
        )
        if "/" in account.account:
            raise ValueError("a B2TRADER account name cannot contain '/'")
        self._rest_origin, self._rest_loopback = check_origin(rest_url, "https://broker.example")
        self._ws_url, _ = check_url(ws_url, "wss", "ws", "ws_url")
        if not api_token:
            raise ValueError("B2TRADER needs an api_token")
        if cancel_concurrency < 1:
            raise ValueError("cancel_concurrency must be at least 1")

        self.trading_filter = tuple(trading_accounts or ())
        self.delta = delta
        self.cancel_concurrency = cancel_concurrency
        self.keepalive = keepalive
        self.server_timeout = server_timeout
        self.malformed_records = 0

        self._key = api_token
        self._token: AccessToken | None = None
        self._token_lock: asyncio.Lock | None = None
        # trading accounts: id → what the venue said, id → our account key, and back
        self.trading: dict[str, TradingAccount] = {}
        self._keys: dict[str, AccountKey] = {}
        self._ids: dict[AccountKey, str] = {}
        # the hub connection's streams: invocation id → trading account id
        self._streams: dict[str, str] = {}
        self._invocations = signalr.InvocationIds()
        self._awaiting_first: set[str] = set()
        self._latest_items: dict[str, signalr.StreamItem] = {}  # lists not read yet
        self._gate: asyncio.Semaphore | None = None
        # per trading account: reuses the Order of every order its previous list already had
        self._parsers: dict[str, codec.OpenOrdersParser] = {}
        self._last_sent = 0.0
        self._last_received = 0.0
        self._silent = False  # the keep-alive closed the socket: the hub went quiet

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

    async def check(self) -> bool:
        """Ask for a fresh complete list of every trading account (the venue has no REST list
        of open orders, §2.3): False while the hub is not connected."""
        if self._ws is None:
            return False
        for trading_id in list(self._keys):
            await self.refresh(trading_id)
        return True

    # == lifecycle ===============================================================================
    async def _session(self) -> None:
        self._state(VenueState.AUTHENTICATING)
        try:
            token = await self._ensure_token()
            accounts = await self._load_accounts()
        except RestFailure as failure:
            error = failure.error
            if error is not None and error.http_status in (401, 403):
                raise SessionEnd(failure.text, failed=True) from None
            raise SessionEnd(failure.text) from None
        if not accounts:
            raise SessionEnd(
                "the broker lists no trading accounts for this API token"
                + (f" matching {', '.join(self.trading_filter)}" if self.trading_filter else ""),
                failed=True,
            )
        self._use_accounts(accounts)
        url = codec.hub_url(self._ws_url, token.jwt)
        try:
            ws = await asyncio.wait_for(
                connect(
                    url, logger=_wire_log, max_size=_MAX_FRAME, open_timeout=None,
                    ping_interval=None, close_timeout=3.0, proxy=None,
                ),
                _CONNECT_TIMEOUT,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                self._token = None  # refused: a fresh one next time
            raise SessionEnd(f"the account hub refused the connection: HTTP {status}") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise SessionEnd(
                f"cannot reach the account hub: {self._redact(describe_error(exc))}"
            ) from None
        self._ws = ws
        loop = asyncio.get_running_loop()
        self._last_sent = self._last_received = loop.time()
        decoder = signalr.Decoder()
        keepalive: asyncio.Task[None] | None = None
        try:
            await self._send(ws, signalr.handshake_request())
            await self._handshake(ws, decoder)
            self._streams.clear()
            self._latest_items.clear()
            self._invocations = signalr.InvocationIds()
            self._awaiting_first = set(self._keys)
            for trading_id in self._keys:
                await self._subscribe(ws, trading_id)
            keepalive = loop.create_task(self._keep_alive(ws))
            await self._read(ws, decoder)
        finally:
            self._live = False
            if keepalive is not None:
                keepalive.cancel()
            try:
                await asyncio.wait_for(ws.close(), 3.0)
            except (OSError, TimeoutError, WebSocketException):
                pass
            self._ws = None

    def _use_accounts(self, accounts: Sequence[TradingAccount]) -> None:
        keys = codec.trading_account_keys(self.account.account, accounts)
        for old in set(self._ids) - set(keys.values()):  # a trading account went away
            self._store.drop_account(old)
        self.trading = {a.account_id: a for a in accounts}
        self._keys = keys
        self._ids = {key: trading_id for trading_id, key in keys.items()}

    async def _handshake(self, ws: ClientConnection, decoder: signalr.Decoder) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + signalr.HANDSHAKE_TIMEOUT_S
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SessionEnd("no handshake answer from the account hub")
            try:
                frame = await asyncio.wait_for(ws.recv(), remaining)
            except TimeoutError:
                raise SessionEnd("no handshake answer from the account hub") from None
            except ConnectionClosed as exc:
                raise SessionEnd(
                    f"the account hub closed during the handshake ({close_code(exc)})"
                ) from None
            self._last_received = loop.time()
            decoder.feed(frame)
            try:
                first = decoder.next_message()
            except signalr.MalformedRecord as exc:
                raise SessionEnd(f"unreadable handshake answer ({exc})") from None
            if first is None:
                continue
            if not isinstance(first, signalr.HandshakeResponse):
                raise SessionEnd("the account hub answered the handshake with a message")
            if not first.ok:
                raise SessionEnd(f"the account hub refused the handshake: {first.error}")
            # messages that came in the same frame are handled by the read loop
            return

    async def _subscribe(self, ws: ClientConnection, trading_id: str) -> None:
        invocation = self._invocations.next()
        self._streams[invocation] = trading_id
        await self._send(
            ws,
            signalr.stream_invocation(
                invocation, codec.STREAM_OPEN_ORDERS, codec.open_orders_arguments(trading_id)
            ),
        )

    async def _send(self, ws: ClientConnection, text: str) -> None:
        await ws.send(text)
        self._last_sent = asyncio.get_running_loop().time()

    async def _keep_alive(self, ws: ClientConnection) -> None:
        """A Ping after ``keepalive`` s without sending; the hub is dead after
        ``server_timeout`` s without anything from it (§3.5)."""
        loop = asyncio.get_running_loop()
        tick = max(0.05, min(self.keepalive, self.server_timeout) / 4)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            if now - self._last_received >= self.server_timeout:
                log.info("%s: nothing from the account hub in %g s", self.account,
                         self.server_timeout)
                self._silent = True
                try:
                    await asyncio.wait_for(ws.close(), 3.0)
                except (OSError, TimeoutError, WebSocketException):
                    pass
                return
            if now - self._last_sent >= self.keepalive:
                try:
                    await asyncio.wait_for(self._send(ws, signalr.ping()), 5.0)
                except (OSError, TimeoutError, WebSocketException):
                    return

    async def _read(self, ws: ClientConnection, decoder: signalr.Decoder) -> None:
        loop = asyncio.get_running_loop()
        self._silent = False
        while True:
            self._drain(decoder)
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                if self._silent:
                    raise SessionEnd(
                        f"no message from the account hub in {self.server_timeout:g} s"
                    ) from None
                raise SessionEnd(f"the account hub connection closed ({close_code(exc)})") from None
            self._last_received = loop.time()
            try:
                decoder.feed(frame)
            except signalr.RecordTooLarge as exc:
                raise SessionEnd(f"the account hub sent an oversized record ({exc})") from None

    def _drain(self, decoder: signalr.Decoder) -> None:
        while True:
            try:
                message = decoder.next_message()
            except signalr.RecordTooLarge as exc:
                raise SessionEnd(f"the account hub sent an oversized record ({exc})") from None
            except signalr.MalformedRecord as exc:
                self.malformed_records += 1
                log.warning("%s: malformed record #%d (%s)", self.account,
                            self.malformed_records, exc)
                continue
            if message is None:
                return
            self.handle_message(message)

    # == stream ==================================================================================
    def handle_message(self, message: Any) -> None:
        """One hub message → store events. Ends the session on Close; never raises otherwise."""
        if isinstance(message, signalr.StreamItem):
            try:
                self._on_item(message)
            except Exception:  # a bug in one handler must not stop the stream
                log.exception("%s: failed to handle an order list", self.account)
        elif isinstance(message, signalr.Completion):
            self._on_completion(message)
        elif isinstance(message, signalr.Close):
            self._on_close_message(message)
        elif isinstance(message, signalr.Ping):
            pass
        else:
            log.debug("%s: ignored hub message %s", self.account, type(message).__name__)

    def _on_item(self, item: signalr.StreamItem) -> None:
        trading_id = self._streams.get(item.invocation_id)
        if trading_id is None:
            return  # a stream we stopped
        if self.delta and trading_id not in self._awaiting_first:
            self._apply_item(trading_id, item)  # changes only: every one counts
            return
        # A complete list replaces the one before it: when several arrive back to back (one
        # per single cancel of a Cancel All), only the newest needs reading.
        waiting = self._latest_items.get(trading_id)
        self._latest_items[trading_id] = item
        if waiting is None:
            asyncio.get_running_loop().call_soon(self._apply_latest, trading_id)

    def _apply_latest(self, trading_id: str) -> None:
        item = self._latest_items.pop(trading_id, None)
        if item is None or trading_id not in self._keys:
            return
        try:
            self._apply_item(trading_id, item)
        except Exception:  # a bug in one handler must not stop the stream
            log.exception("%s: failed to handle an order list", self.account)

    def _apply_item(self, trading_id: str, item: signalr.StreamItem) -> None:
        key = self._keys[trading_id]
        parser = self._parsers.get(trading_id)
        if parser is None or parser.account != key:
            parser = self._parsers[trading_id] = codec.OpenOrdersParser(key)
        try:
            orders = parser.parse(item)
        except MalformedFrame as exc:
            self.malformed_records += 1
            log.warning("%s: unreadable order list (%s)", key, exc)
            self._notices.publish(Notice(
                key.venue, key.account, Level.ERROR,
                f"Unreadable order list from {self.venue_label} ({exc}); the rows of "
                f"{self.trading_name(trading_id)} may be out of date",
                ts_ms=now_ms(),
            ))
            return
        first = trading_id in self._awaiting_first
        if first or not self.delta:
            self._store.apply(Snapshot(key, orders))
        else:
            for order in orders:
                if order.status.is_open:
                    self._store.apply(Upsert(order))
                elif self._store.get(order.key) is not None:
                    self._store.apply(Closed(order))
        if first:
            self._awaiting_first.discard(trading_id)
            if not self._awaiting_first and not self._live:
                self._went_live()

    def _on_completion(self, completion: signalr.Completion) -> None:
        trading_id = self._streams.pop(completion.invocation_id, None)
        if trading_id is None:
            return  # the end of a stream we cancelled
        self._notices.publish(
            codec.stream_error_notice(
                completion, self.account, self.trading_name(trading_id), now_ms()
            )
        )
        # subscribe again after a pause; the first item then replaces the rows
        self._awaiting_first.add(trading_id)
        self._spawn(self._resubscribe_later(trading_id, self.backoff.delay(1)))

    async def _resubscribe_later(self, trading_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        ws = self._ws
        if ws is None or trading_id not in self._keys or trading_id in self._streams.values():
            return
        try:
            await self._subscribe(ws, trading_id)
        except (OSError, WebSocketException):
            pass  # the session ends and subscribes everything again

    def _on_close_message(self, close: signalr.Close) -> None:
        said = close.error or "no reason given"
        if close.error and re.search(r"unauthori|token|expired", close.error, re.IGNORECASE):
            self._token = None  # the hub turned the JWT away: exchange the API token again
        delay = self.backoff.delay(0) if close.allow_reconnect else None
        raise SessionEnd(f"the account hub closed the connection: {said}", delay=delay)

    async def refresh(self, trading_id: str) -> None:
        """Ask for a fresh complete list of one trading account: stop its stream and start a
        new one (the venue has no REST list of open orders, §2.3)."""
        ws = self._ws
        if ws is None:
            return
        for invocation, tid in list(self._streams.items()):
            if tid == trading_id:
                del self._streams[invocation]
                try:
                    await self._send(ws, signalr.cancel_invocation(invocation))
                except (OSError, WebSocketException):
                    return
        self._awaiting_first.add(trading_id)
        try:
            await self._subscribe(ws, trading_id)
        except (OSError, WebSocketException):
            pass

    def trading_name(self, trading_id: str) -> str:
        key = self._keys.get(trading_id)
        return key.account if key is not None else trading_id

    # == REST ====================================================================================
    async def _ensure_token(self) -> AccessToken:
        """The current JWT, exchanged again when none is held or it is due for renewal."""
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            token = self._token
            if token is not None and not token.needs_renewal(now_ms()):
                return token
            request = codec.access_token_request(self._key)
            response = await self._request(request, "API token")
            if response.status_code != 200:
                error = codec.parse_error(
                    response.status_code, response.content, "API token",
                    headers=dict(response.headers), now_ms=now_ms(),
                )
                text = error.text
                if response.status_code in (401, 403):
                    text = f"the broker refused the API token: {error.text}"
                raise RestFailure(self._redact(text), error)
            try:
                token = codec.parse_access_token(response.content, now_ms())
            except MalformedFrame as exc:
                raise RestFailure(f"unreadable access-token answer ({exc})") from None
            self._token = token
            self._spawn(self._renew_later(token))
            return token

    async def _renew_later(self, token: AccessToken) -> None:
        """Renew at 80 % of the JWT's life, so REST calls never carry an expired one."""
        await asyncio.sleep(max(0.0, (token.renew_at_ms - now_ms()) / 1000))
        if self._token is not token or self._closing:
            return
        try:
            await self._ensure_token()
        except RestFailure as failure:
            log.info("%s: token renewal failed: %s", self.account, failure.text)

    async def _load_accounts(self) -> list[TradingAccount]:
        response = await self._authorised(lambda jwt: codec.accounts_request(jwt), "Accounts")
        if response.status_code != 200:
            error = codec.parse_error(
                response.status_code, response.content, "Accounts",
                headers=dict(response.headers), now_ms=now_ms(),
            )
            raise RestFailure(self._redact(error.text), error)
        try:
            accounts = codec.parse_accounts(response.content)
        except MalformedFrame as exc:
            raise RestFailure(f"unreadable accounts list ({exc})") from None
        if self.trading_filter:
            wanted = set(self.trading_filter)
            accounts = tuple(
                a for a in accounts if a.account_id in wanted or a.name in wanted
            )
        return list(accounts)

    async def _authorised(self, build: Any, subject: str) -> httpx.Response:
        """Send with the current JWT; a 401 exchanges the API token again and sends once more."""
        token = await self._ensure_token()
        response = await self._request(build(token.jwt), subject)
        if response.status_code == 401:
            if self._token is token:
                self._token = None
            token = await self._ensure_token()
            response = await self._request(build(token.jwt), subject)
        return response

    async def _request(self, request: HttpRequest, subject: str) -> httpx.Response:
        http = self._http_client()
        try:
            return await asyncio.wait_for(
                http.request(
                    request.method, request.path, content=request.body or None,
                    headers=request.headers,
                ),
                _REST_TIMEOUT + 1.0,
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise RestFailure(
                f"{subject}: cannot reach {self.venue_label}: "
                f"{self._redact(describe_error(exc))}"
            ) from None

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = rest_client(self._rest_origin, self._rest_loopback, _REST_TIMEOUT)
        return self._http

    # == cancels =================================================================================
    async def cancel(self, plan: CancelPlan) -> CancelResult:
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = [o for o in plan.orders if self.serves(o.account_key)]
        if plan.everything:  # also rows that arrived since the plan was made
            scope = self._keys.values() if plan.account == self.account else [plan.account]
            listed = {o.key for o in orders}
            for key in scope:
                orders += [o for o in self._store.orders(key) if o.key not in listed]
        futures = self._pending.begin(orders)
        progress = _Progress(self, plan.account, len(orders))
        if self._gate is None:  # one limit for the login, however many plans run at once
            self._gate = asyncio.Semaphore(self.cancel_concurrency)
        gate = self._gate

        async def gated(order: Order) -> OrderOutcome:
            async with gate:  # a free gate does not suspend: a lone cancel goes out at once
                return await self._cancel_one(order, futures[order.key], progress)

        if len(orders) == 1:
            outcomes = [await gated(orders[0])]
        else:
            outcomes = list(await asyncio.gather(*(gated(o) for o in orders)))
        progress.finish(outcomes)
        texts: list[str] = []
        for outcome in outcomes:
            result.outcomes[outcome.key] = outcome
            if outcome.outcome is not Outcome.CANCELLED and outcome.text:
                texts.append(outcome.text)
        result.text = "; ".join(dict.fromkeys(texts))
        return result

    async def _cancel_one(
        self, order: Order, future: asyncio.Future[OrderOutcome], progress: _Progress
    ) -> OrderOutcome:
        try:
            outcome = await self._delete(order, future, progress.quiet)
        except Exception as exc:  # never lose one order's outcome to a bug
            log.exception("%s: cancel of %s failed", self.account, order.order_id)
            outcome = OrderOutcome(order.key, Outcome.REJECTED, f"cancel failed: {exc}")
            self._pending.resolve(order.key, Outcome.REJECTED, outcome.text)
        progress.step(outcome)
        return outcome

    async def _delete(
        self, order: Order, future: asyncio.Future[OrderOutcome], quiet: bool
    ) -> OrderOutcome:
        key = order.key
        trading_id = self._ids.get(order.account_key)
        if trading_id is None:
            text = f"Order {order.order_id}: {order.account} is not a trading account of this login"
            self._pending.resolve(key, Outcome.REJECTED, text)
            return OrderOutcome(key, Outcome.REJECTED, text)
        renewed = False
        rate_waits = server_tries = 0
        while True:
            try:
                token = await self._ensure_token()
                response = await self._request(
                    codec.cancel_request(order.order_id, trading_id, token.jwt),
                    f"Order {order.order_id}",
                )
            except RestFailure as failure:
                if failure.error is None and server_tries < _SERVER_RETRIES:
                    server_tries += 1  # the network: a DELETE may be sent again
                    await asyncio.sleep(0.2 * server_tries)
                    continue
                return self._refuse(order, failure.text, None)
            if response.status_code == 200:
                return await self._accepted(order, response.content, future, quiet)
            error = codec.parse_cancel_error(
                response.status_code, response.content, order.order_id,
                headers=dict(response.headers), now_ms=now_ms(),
            )
            if error.auth_failed and not renewed:
                renewed = True
                if self._token is token:
                    self._token = None
                continue
            if response.status_code == 429 and rate_waits < _RATE_RETRIES:
                rate_waits += 1
                wait = min(error.retry_after_s if error.retry_after_s is not None else 1.0,
                           _RETRY_WAIT_CAP)
                log.info("%s: 429 on a cancel; waiting %.2f s", self.account, wait)
                await asyncio.sleep(wait)
                continue
            if error.retryable and response.status_code != 429 and server_tries < _SERVER_RETRIES:
                server_tries += 1
                await asyncio.sleep(min(error.retry_after_s or 0.25 * server_tries,
                                        _RETRY_WAIT_CAP))
                continue
            if error.order_gone and (rate_waits or server_tries or renewed):
                # a DELETE sent again that finds the order gone: the first one cancelled it
                text = f"Order {order.order_id}: cancelled (the repeated request found it gone)"
                self._pending.resolve(key, Outcome.CANCELLED, text)
                self._close_row(order, OrderStatus.CANCELLED, "Cancelled")
                return OrderOutcome(key, Outcome.CANCELLED, text)
            return self._refuse(order, self._redact(error.text), error)

    async def _accepted(
        self, order: Order, body: bytes, future: asyncio.Future[OrderOutcome], quiet: bool
    ) -> OrderOutcome:
        key = order.key
        try:
            reply: CancelReply | None = codec.parse_cancel_reply(
                body, order.account_key, order.order_id
            )
        except MalformedFrame as exc:
            self.malformed_records += 1
            log.warning("%s: unreadable cancel answer (%s)", key, exc)
            reply = None
        if reply is not None and reply.outcome is not None:
            if not quiet or reply.outcome is not Outcome.CANCELLED:
                self._notices.publish(codec.cancel_notice(reply, order.account_key, now_ms()))
            final = reply.order
            status = _CLOSED_STATUS.get(reply.venue_status, OrderStatus.CANCELLED)
            if final is not None and final.key == key and not final.status.is_open:
                self._close_row(final, None, None)
            else:
                self._close_row(order, status, reply.venue_status)
            self._pending.resolve(key, reply.outcome, reply.text)
            return OrderOutcome(key, reply.outcome, reply.text)
        # still open at the venue (or unreadable): the stream says when it is gone
        if reply is not None:
            self._notices.publish(codec.cancel_notice(reply, order.account_key, now_ms()))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.cancel_timeout)
        except TimeoutError:
            text = (
                f"Order {order.order_id}: no confirmation from {self.venue_label} within "
                f"{self.cancel_timeout:g} s; the order may still be open"
            )
            self._pending.resolve(key, Outcome.TIMED_OUT, text)
            trading_id = self._ids.get(order.account_key)
            if trading_id is not None:
                self._spawn(self.refresh(trading_id))
            return OrderOutcome(key, Outcome.TIMED_OUT, text)

    def _close_row(self, order: Order, status: OrderStatus | None, text: str | None) -> None:
        """Take the row out now: the 200 is the venue's word (the stream follows)."""
        current = self._store.get(order.key)
        if current is None:
            return
        final = order if status is None else replace(
            current, status=status, status_text=text or current.status_text
        )
        self._store.apply(Closed(final))

    def _refuse(self, order: Order, text: str, error: ErrorReply | None) -> OrderOutcome:
        key = order.key
        if error is not None:
            self._notices.publish(
                codec.error_notice(error, order.account_key, now_ms(), (order.order_id,))
            )
        else:
            self._notices.publish(Notice(
                order.venue, order.account, Level.ERROR, text,
                order_ids=(order.order_id,), ts_ms=now_ms(),
            ))
        if error is not None and error.order_gone:
            self._pending.resolve(key, Outcome.NOT_FOUND, text)
            trading_id = self._ids.get(order.account_key)
            if trading_id is not None:  # the row is stale: a fresh list settles it
                self._spawn(self.refresh(trading_id))
            return OrderOutcome(key, Outcome.NOT_FOUND, text)
        self._pending.resolve(key, Outcome.REJECTED, text)
        return OrderOutcome(key, Outcome.REJECTED, text)

    # == small helpers ===========================================================================
    def _redact(self, text: str) -> str:
        text = super()._redact(text)
        token = self._token
        if token is not None and token.jwt:
            text = text.replace(token.jwt, "***")
        text = _TOKEN_QUERY.sub(r"\1***", text)
        return _JWT.sub("***", text)



class _Progress:
    """"Cancelling 37/120 on Acme Main…" in the status bar while single cancels run."""

    def __init__(self, client: B2traderClient, account: AccountKey, total: int) -> None:
        self.client = client
        self.account = account
        self.total = total
        self.done = 0
        self.quiet = total > 1  # per-order confirmations would bury the progress line
        self._shown_at = -1.0
        self._where = (
            client.venue_label if account == client.account
            else account.account.split("/", 1)[-1]
        )
        if self.quiet:
            self._show()

    def step(self, outcome: OrderOutcome) -> None:
        self.done += 1
        now = asyncio.get_running_loop().time()
        if self.quiet and now - self._shown_at >= _PROGRESS_EVERY and self.done < self.total:
            self._show()

    def finish(self, outcomes: Sequence[OrderOutcome]) -> None:
        """The last line: how it ended ("Cancelled 118 of 120 on Acme Main: 2 filled")."""
        if not self.quiet:
            return
        cancelled = sum(1 for o in outcomes if o.outcome is Outcome.CANCELLED)
        others: dict[Outcome, int] = {}
        for o in outcomes:
            if o.outcome is not Outcome.CANCELLED:
                others[o.outcome] = others.get(o.outcome, 0) + 1
        text = f"Cancelled {cancelled} of {self.total} on {self._where}"
        if others:
            text += ": " + ", ".join(f"{n} {outcome.value}" for outcome, n in others.items())
        level = Level.SUCCESS if not others else (
            Level.ERROR if Outcome.REJECTED in others or Outcome.TIMED_OUT in others
            else Level.WARNING
        )
        self.client._notices.publish(Notice(
            self.account.venue, self.account.account, level, text, ts_ms=now_ms(),
        ))

    def _show(self) -> None:
        self._shown_at = asyncio.get_running_loop().time()
        self.client._notices.publish(Notice(
            self.account.venue, self.account.account, Level.INFO,
            f"Cancelling {self.done}/{self.total} on {self._where}…",
            ts_ms=now_ms(), transient=True,
        ))
