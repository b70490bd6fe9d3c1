"""The B2TRADER venue client: the I/O shell around the pure parts (``requests``, ``replies``,
``orders``, ``stream``, ``notices``), with the ``TokenKeeper`` holding the login's JWT.

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
from collections.abc import Callable, Sequence
from dataclasses import replace

import httpx
from websockets.exceptions import WebSocketException

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import NoticeBus, StateBus, VenueState
from blotter.core.order import (
    AccountKey,
    Closed,
    Order,
    OrderKey,
    OrderStatus,
    Snapshot,
    Upsert,
)
from blotter.core.store import OrderStore
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.hub import HubSocket
from blotter.venues.b2trader.notices import (
    cancel_failed_notice,
    cancel_notice,
    error_notice,
    progress_notice,
    progress_summary_notice,
    stream_error_notice,
    unreadable_list_notice,
)
from blotter.venues.b2trader.orders import trading_account_keys
from blotter.venues.b2trader.replies import (
    CancelReply,
    CancelRetries,
    CancelStep,
    ErrorReply,
    TradingAccount,
    parse_accounts,
    parse_cancel_error,
    parse_cancel_reply,
    parse_error,
    select_accounts,
)
from blotter.venues.b2trader.requests import (
    CANCEL_CONCURRENCY,
    HttpRequest,
    accounts_request,
    cancel_request,
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
)
from blotter.venues.b2trader.tokens import TokenKeeper
from blotter.venues.base import Backoff, ReconnectingClient, RestFailure, SessionEnd
from blotter.venues.net import check_url, now_ms, send

log = logging.getLogger("blotter.venues.b2trader")

_PROGRESS_EVERY = 0.1  # s between progress lines in the status bar


class B2traderClient(ReconnectingClient):
    """One broker login and its trading accounts, kept equal to the venue (see the module).

    ``broker`` is the broker's name for the trader; ``trading_accounts`` the ids or names to
    show (all when empty); ``delta`` reads the stream as changes after the first list (§3.7);
    ``cancel_concurrency`` DELETEs go at a time for the whole login; ``keepalive`` and
    ``server_timeout`` are the hub's Ping interval and silence bound (§3.5).
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
        server_timeout: float = signalr.SERVER_TIMEOUT_S,
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
        self.malformed_records = 0

        # trading accounts: id → what the venue said, id → our account key, and back
        self.trading: dict[str, TradingAccount] = {}
        self._keys: dict[str, AccountKey] = {}
        self._ids: dict[AccountKey, str] = {}
        self._parser = StreamParser(account, delta=delta)  # the hub connection's state
        self._hub: HubSocket | None = None  # the account hub, while connected
        self._gate: asyncio.Semaphore | None = None

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
            await self._refresh(trading_id)
        return True

    async def close(self) -> None:
        await self._tokens.close()
        await super().close()

    # == lifecycle ===============================================================================
    async def _session(self) -> None:
        self._state(VenueState.AUTHENTICATING)
        try:
            token = await self._tokens.current()
            accounts = await self._load_accounts()
        except RestFailure as failure:
            raise SessionEnd(failure.text, failed=failure.status in (401, 403)) from None
        if not accounts:
            raise SessionEnd(
                "the broker lists no trading accounts for this API token"
                + (f" matching {', '.join(self.trading_filter)}" if self.trading_filter else ""),
                failed=True,
            )
        self._use_accounts(accounts)
        hub = await HubSocket.open(
            hub_url(self._ws_url, token.jwt), keepalive=self.keepalive,
            server_timeout=self.server_timeout, who=self.account, redact=self._redact,
            unauthorized=self._tokens.forget,
        )
        self._ws, self._hub = hub.ws, hub
        parser = self._parser
        parser.start()
        try:
            await hub.handshake(parser)
            for trading_id in self._keys:
                await hub.send(parser.subscribe(trading_id))
            hub.start_keep_alive()
            self._drain()  # what came with the handshake answer
            while True:
                self.handle_frame(await hub.recv())
        finally:
            self._live = False
            await hub.close()
            self._ws = self._hub = None

    def _use_accounts(self, accounts: Sequence[TradingAccount]) -> None:
        keys = trading_account_keys(self.account.account, accounts)
        for old in set(self._ids) - set(keys.values()):  # a trading account went away
            self._store.drop_account(old)
        self.trading = {a.account_id: a for a in accounts}
        self._keys = keys
        self._ids = {key: trading_id for trading_id, key in keys.items()}
        self._parser.use_accounts(keys)

    # == stream ==================================================================================
    def handle_frame(self, data: str | bytes) -> None:
        """One frame of the account hub → store events and notices. Bad records are counted
        and logged, never raised; ``SessionEnd`` when the hub closes the connection or sends an
        oversized record."""
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
                self._unreadable(exc)
                continue
            except MalformedFrame as exc:
                self.malformed_records += 1
                log.warning("%s: malformed record #%d (%s)", self.account,
                            self.malformed_records, exc)
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
                self._notices.publish(
                    stream_error_notice(event.error, self.account, event.name, now_ms())
                )
                # subscribe again after a pause; the first item then replaces the rows
                self._spawn(self._resubscribe_later(event.trading_id, self.backoff.delay(1)))
            elif type(event) is HubClosed:
                if event.token_refused:
                    self._tokens.forget()  # exchange the API token again
                delay = self.backoff.delay(0) if event.allow_reconnect else None
                raise SessionEnd(event.reason, delay=delay)

    def _take_list(self, trading_id: str) -> None:
        try:
            event = self._parser.take_list(trading_id)
        except UnreadableList as exc:
            self._unreadable(exc)
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
            store.apply(Snapshot(event.account, event.orders))
        else:
            for order in event.orders:
                if order.status.is_open:
                    store.apply(Upsert(order))
                elif store.get(order.key) is not None:
                    store.apply(Closed(order))
        if event.first and self._parser.all_listed and not self._live:
            self._went_live()

    def _unreadable(self, exc: UnreadableList) -> None:
        self.malformed_records += 1
        log.warning("%s: unreadable order list (%s)", exc.account, exc)
        self._notices.publish(
            unreadable_list_notice(exc.account, self.venue_label, str(exc), now_ms())
        )

    async def _resubscribe_later(self, trading_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        hub = self._hub
        if hub is None or trading_id not in self._keys or self._parser.subscribed(trading_id):
            return
        try:
            await hub.send(self._parser.subscribe(trading_id))
        except (OSError, WebSocketException):
            pass  # the session ends and subscribes everything again

    async def _refresh(self, trading_id: str) -> None:
        """Ask for a fresh complete list of one trading account: stop its stream and start a
        new one (the venue has no REST list of open orders, §2.3)."""
        hub = self._hub
        if hub is None:
            return
        try:
            for record in self._parser.unsubscribe(trading_id):
                await hub.send(record)
        except (OSError, WebSocketException):
            return
        try:
            await hub.send(self._parser.subscribe(trading_id))
        except (OSError, WebSocketException):
            pass

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
        retries = CancelRetries(order.order_id)
        while True:
            try:
                token = await self._tokens.current()
                response = await self._request(
                    cancel_request(order.order_id, trading_id, token.jwt),
                    f"Order {order.order_id}",
                )
            except RestFailure as failure:
                wait = retries.after_unreachable() if failure.reply is None else None
                if wait is None:
                    return self._refuse(order, failure.text, None)
                await asyncio.sleep(wait)  # the network: a DELETE may be sent again
                continue
            if response.status_code == 200:
                return await self._accepted(order, response.content, future, quiet)
            error = parse_cancel_error(
                response.status_code, response.content, order.order_id,
                headers=dict(response.headers), now_ms=now_ms(),
            )
            step, wait = retries.after_error(error)
            if step is CancelStep.RENEW:
                self._tokens.forget(token)
            elif step is CancelStep.RETRY:
                if error.http_status == 429:
                    log.info("%s: 429 on a cancel; waiting %.2f s", self.account, wait)
                await asyncio.sleep(wait)
            elif step is CancelStep.GONE:
                text = retries.gone_text
                self._pending.resolve(key, Outcome.CANCELLED, text)
                self._close_row(key, _cancelled)
                return OrderOutcome(key, Outcome.CANCELLED, text)
            else:
                return self._refuse(order, self._redact(error.text), error)

    async def _accepted(
        self, order: Order, body: bytes, future: asyncio.Future[OrderOutcome], quiet: bool
    ) -> OrderOutcome:
        key = order.key
        try:
            reply: CancelReply | None = parse_cancel_reply(body, order.account_key, order.order_id)
        except MalformedFrame as exc:
            self.malformed_records += 1
            log.warning("%s: unreadable cancel answer (%s)", key, exc)
            reply = None
        if reply is not None and reply.outcome is not None:
            if not quiet or reply.outcome is not Outcome.CANCELLED:
                self._notices.publish(cancel_notice(reply, order.account_key, now_ms()))
            self._close_row(key, reply.closed_order)
            self._pending.resolve(key, reply.outcome, reply.text)
            return OrderOutcome(key, reply.outcome, reply.text)
        # still open at the venue (or unreadable): the stream says when it is gone
        if reply is not None:
            self._notices.publish(cancel_notice(reply, order.account_key, now_ms()))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.cancel_timeout)
        except TimeoutError:
            text = (
                f"Order {order.order_id}: no confirmation from {self.venue_label} within "
                f"{self.cancel_timeout:g} s; the order may still be open"
            )
            self._pending.resolve(key, Outcome.TIMED_OUT, text)
            self._refresh_later(order)
            return OrderOutcome(key, Outcome.TIMED_OUT, text)

    def _close_row(self, key: OrderKey, closed: Callable[[Order], Order]) -> None:
        """Take the row out now, as ``closed(row)``: the venue said so (the stream follows,
        and a list it sent before this answer does not bring the row back)."""
        trading_id = self._ids.get(key.account_key)
        if trading_id is not None:
            self._parser.closed(trading_id, key.order_id)
        current = self._store.get(key)
        if current is not None:
            self._store.apply(Closed(closed(current)))

    def _refuse(self, order: Order, text: str, error: ErrorReply | None) -> OrderOutcome:
        key = order.key
        if error is not None:
            self._notices.publish(
                error_notice(error, order.account_key, now_ms(), (order.order_id,))
            )
        else:
            self._notices.publish(cancel_failed_notice(order, text, now_ms()))
        if error is not None and error.order_gone:
            self._pending.resolve(key, Outcome.NOT_FOUND, text)
            self._refresh_later(order)  # the row is stale: a fresh list settles it
            return OrderOutcome(key, Outcome.NOT_FOUND, text)
        self._pending.resolve(key, Outcome.REJECTED, text)
        return OrderOutcome(key, Outcome.REJECTED, text)

    def _refresh_later(self, order: Order) -> None:
        trading_id = self._ids.get(order.account_key)
        if trading_id is not None:
            self._spawn(self._refresh(trading_id))

    def _redact(self, text: str) -> str:
        return self._tokens.redact(super()._redact(text))


def _cancelled(row: Order) -> Order:
    return replace(row, status=OrderStatus.CANCELLED, status_text="Cancelled")


class _Progress:
    """"Cancelling 37/120 on Acme Main…" in the status bar while single cancels run."""

    def __init__(self, client: B2traderClient, account: AccountKey, total: int) -> None:
        self.notices = client._notices
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
        if self.quiet:
            self.notices.publish(
                progress_summary_notice(self.account, self._where, outcomes, now_ms())
            )

    def _show(self) -> None:
        self._shown_at = asyncio.get_running_loop().time()
        self.notices.publish(
            progress_notice(self.account, self._where, self.done, self.total, now_ms())
        )
