"""The cancels of a B2TRADER login (I/O): one ``DELETE`` per order (the venue has no bulk cancel
and no groups, §2.5), a few at a time, with progress in the status bar, retried after a 429, a
5xx, an expired token or no answer, and an outcome that is only ever what the venue said. A
cancel of everything first reads a fresh list of each trading account (``lists``).

``B2traderCancels`` is the half of ``B2traderClient`` that cancels; the client (``client.py``)
is the half that streams. They share the login's JWT, its trading accounts, the store and the
stream parser.

What a cancel's answers mean (§2.4, §2.8):
- a 200 whose order is Cancelled (or Completed: a fill won) settles it; one still open waits for
  the stream;
- a 400/404 to the first DELETE: the order was already gone — how, if the answer names the
  status ("cannot be cancelled in status Completed": filled), else "not found";
- a 400/404 to a DELETE sent again (after a 429, a 5xx, a renewed token or no answer): the first
  one was not processed, so the order ended some other way while the client waited — the
  stream's word if it came, the status the answer names, else "closed, how unknown". Never
  "cancelled" for an order merely found gone.

While a DELETE is out, a complete list without its order does not take the row away: the
cancel's own answer says how it ended (a list only says that it is gone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level
from blotter.core.order import AccountKey, Closed, Order, OrderKey, Snapshot, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.lists import ListFailure, read_first_lists
from blotter.venues.b2trader.notices import (
    cancel_failed_notice,
    cancel_notice,
    error_notice,
    progress_notice,
    progress_summary_notice,
)
from blotter.venues.b2trader.replies import (
    CancelReply,
    CancelRetries,
    CancelStep,
    ErrorReply,
    gone_outcome,
    parse_cancel_error,
    parse_cancel_reply,
)
from blotter.venues.b2trader.requests import HttpRequest, cancel_request, hub_url
from blotter.venues.base import ReconnectingClient, RestFailure
from blotter.venues.net import now_ms

if TYPE_CHECKING:
    from blotter.venues.b2trader.hub import HubSocket
    from blotter.venues.b2trader.stream import StreamParser
    from blotter.venues.b2trader.tokens import TokenKeeper

log = logging.getLogger("blotter.venues.b2trader")

_PROGRESS_EVERY = 0.1  # s between progress lines in the status bar


class B2traderCancels(ReconnectingClient):
    """Cancels of one login's orders (see the module); ``B2traderClient`` is the whole client."""

    # set by B2traderClient
    cancel_concurrency: int
    malformed_records: int
    _tokens: TokenKeeper
    _parser: StreamParser
    _keys: dict[str, AccountKey]  # trading account id → its key
    _ids: dict[AccountKey, str]  # and back
    _gate: asyncio.Semaphore | None
    _hub: HubSocket | None  # the account hub, while connected
    _ws_url: str
    check_timeout: float
    # rows with a DELETE out, and those of them a complete list no longer showed
    _deleting: set[OrderKey]
    _held_out: set[OrderKey]

    async def _request(self, request: HttpRequest, subject: str) -> httpx.Response:
        raise NotImplementedError

    def _ask_again(self, trading_id: str) -> asyncio.Future[None]:
        """Re-subscribe ``trading_id`` on the client's hub; done once its new first list has
        been applied."""
        raise NotImplementedError

    def _reread_account(self, trading_id: str) -> None:
        """Ask for a fresh complete list of one trading account, in the background."""
        raise NotImplementedError

    # == the plan ================================================================================
    async def cancel(self, plan: CancelPlan) -> CancelResult:
        """See ``VenueClient.cancel``: one DELETE per order, ``cancel_concurrency`` at a time
        for the whole login; the plan's orders and those of its scope that arrived since (a
        one-sided plan: of that side only). Everything on an account first gets a fresh list
        of its open orders (``_list_afresh``), so orders not shown yet go too; when none can be
        had, the receipt says so."""
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = self._plan_rows(plan)  # rows that arrived since the plan, too
        futures = self._pending.begin(orders)
        note = ""
        settled: list[OrderOutcome] = []  # settled by the fresh list: no DELETE for them
        if plan.everything:  # a fresh list first: orders not shown yet go too
            failure = await self._list_afresh(plan.account)
            if failure is not None:
                note = (f"no fresh list of the open orders ({failure}): orders not shown here "
                        "may still be open")
                self._notice(Level.WARNING, f"Cancel of everything on {plan.account.account}: "
                             f"{note}")
            listed = {o.key for o in orders}
            fresh = [o for o in self._plan_rows(plan) if o.key not in listed]
            futures.update(self._pending.begin(fresh))
            settled = [f.result() for f in futures.values() if f.done() and not f.cancelled()]
            orders = [o for o in orders if not futures[o.key].done()] + fresh
        progress = _Progress(self, plan.account, len(orders))
        if self._gate is None:  # one limit for the login, however many plans run at once
            self._gate = asyncio.Semaphore(self.cancel_concurrency)
        gate = self._gate

        async def gated(order: Order) -> OrderOutcome:
            async with gate:  # a free gate does not suspend: a lone cancel goes out at once
                return await self._cancel_one(order, futures[order.key], progress)

        if len(orders) == 1:
            outcomes = [await gated(orders[0])]
        elif not orders:
            outcomes = []
        else:
            outcomes = list(await asyncio.gather(*(gated(o) for o in orders)))
        outcomes += settled
        progress.finish(outcomes)
        texts: list[str] = [note] if note else []
        for outcome in outcomes:
            result.outcomes[outcome.key] = outcome
            if outcome.outcome is not Outcome.CANCELLED and outcome.text:
                texts.append(outcome.text)
        result.text = "; ".join(dict.fromkeys(texts))
        return result

    def cancel_route(self, plan: CancelPlan) -> str:
        """See ``VenueClient.cancel_route``: the broker has no bulk cancel (§2.5)."""
        n = sum(1 for o in plan.orders if self.serves(o.account_key))
        at_a_time = f"{self.cancel_concurrency} at a time (the broker has no bulk cancel)"
        if plan.everything:
            return f"a fresh list of each trading account, then one DELETE per order, {at_a_time}"
        if n == 0:
            return "nothing to send"
        if n == 1:
            return "one DELETE"
        return f"one DELETE per order ({n}), {at_a_time}"

    async def _list_afresh(self, account: AccountKey) -> str | None:
        """A fresh complete list of ``account``'s open orders (each trading account of the
        login, or the one named) applied to the rows: asked of the hub the client keeps while
        it is live, else on a connection of its own (``lists``). None when done, else why not."""
        scope = {tid: key for tid, key in self._keys.items() if account in (self.account, key)}
        if not scope:
            return "the broker has not listed the trading accounts yet"
        if self._hub is not None and self._live:
            waits = [self._ask_again(trading_id) for trading_id in scope]
            try:
                await asyncio.wait_for(asyncio.gather(*waits), self.check_timeout)
            except (TimeoutError, ConnectionError) as exc:
                return str(exc) or f"no lists from the account hub within {self.check_timeout:g} s"
            return None
        try:
            token = await self._tokens.current()
            lists = await read_first_lists(
                hub_url(self._ws_url, token.jwt), self.account, scope,
                timeout=self.check_timeout, redact=self._redact,
                unauthorized=self._tokens.forget,
            )
        except RestFailure as failure:
            return failure.text
        except ListFailure as failure:
            return self._redact(str(failure))
        for found in lists:
            if found.complete and not found.unreadable:
                orders = self._with_held(found.account, found.orders)
                self._store.apply(Snapshot(found.account, orders))
            else:  # what reads of it: nothing leaves that the venue did not say closed
                for order in found.orders:
                    self._store.apply(Upsert(order))
        unreadable = [f.account.account for f in lists if f.unreadable]
        if unreadable:
            return f"some orders of {', '.join(unreadable)} could not be read"
        return None

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

    # == one order ===============================================================================
    async def _delete(
        self, order: Order, future: asyncio.Future[OrderOutcome], quiet: bool
    ) -> OrderOutcome:
        key = order.key
        trading_id = self._ids.get(order.account_key)
        if trading_id is None:
            text = f"Order {order.order_id}: {order.account} is not a trading account of this login"
            self._pending.resolve(key, Outcome.REJECTED, text)
            return OrderOutcome(key, Outcome.REJECTED, text)
        self._deleting.add(key)
        try:
            answer = await self._send_delete(order, trading_id, future)
        finally:
            self._deleting.discard(key)
            held_out = key in self._held_out
            self._held_out.discard(key)
        if isinstance(answer, bytes):
            return await self._accepted(order, answer, future, quiet, held_out)
        if held_out or answer.outcome in (Outcome.CLOSED, Outcome.NOT_FOUND):
            # the row may be stale (a list showed it gone, or the venue did): a fresh list
            # settles it
            self._reread_order(order)
        return answer

    async def _send_delete(
        self, order: Order, trading_id: str, future: asyncio.Future[OrderOutcome]
    ) -> bytes | OrderOutcome:
        """The DELETE, sent again while the venue asks for it: the 200's body, or the outcome
        when there was none."""
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
                return response.content
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
            elif step is CancelStep.GONE or error.order_gone:
                return self._gone(order, error, future, repeated=step is CancelStep.GONE)
            else:
                return self._refuse(order, self._redact(error.text), error)

    async def _accepted(
        self,
        order: Order,
        body: bytes,
        future: asyncio.Future[OrderOutcome],
        quiet: bool,
        held_out: bool,
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
        if held_out:  # a list already showed it gone while the DELETE was out: ask again
            self._reread_order(order)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.cancel_timeout)
        except TimeoutError:
            text = (
                f"Order {order.order_id}: no confirmation from {self.venue_label} within "
                f"{self.cancel_timeout:g} s; the order may still be open"
            )
            self._pending.resolve(key, Outcome.TIMED_OUT, text)
            self._reread_order(order)
            return OrderOutcome(key, Outcome.TIMED_OUT, text)

    def _gone(
        self,
        order: Order,
        error: ErrorReply,
        future: asyncio.Future[OrderOutcome],
        *,
        repeated: bool,
    ) -> OrderOutcome:
        """The venue says the order is gone (400/404): how it ended is what the stream said
        meanwhile, or the status the answer names, or not known (the row stays marked until
        the stream or a re-read says how): "closed, how unknown" for a DELETE sent again,
        "not found" for the first."""
        key = order.key
        self._notices.publish(error_notice(error, order.account_key, now_ms(), (order.order_id,)))
        if future.done():  # the stream closed it while the DELETE was out
            return future.result()
        gone = gone_outcome(error, order.order_id, repeated)
        if gone.status is not None:
            status, word = gone.status, gone.status_text
            self._close_row(key, lambda row: replace(row, status=status, status_text=word))
            self._pending.resolve(key, gone.outcome, gone.text)
            return OrderOutcome(key, gone.outcome, gone.text)
        outcome = Outcome.CLOSED if repeated else Outcome.NOT_FOUND
        text = gone.text if repeated else self._redact(error.text)
        self._pending.resolve(key, outcome, text)
        return OrderOutcome(key, outcome, text)

    def _refuse(self, order: Order, text: str, error: ErrorReply | None) -> OrderOutcome:
        """The cancel failed and the order stays as it was (the venue refused, or was not
        reached)."""
        key = order.key
        if error is not None:
            self._notices.publish(
                error_notice(error, order.account_key, now_ms(), (order.order_id,))
            )
        else:
            self._notices.publish(cancel_failed_notice(order, text, now_ms()))
        self._pending.resolve(key, Outcome.REJECTED, text)
        return OrderOutcome(key, Outcome.REJECTED, text)

    # == rows ====================================================================================
    def _close_row(self, key: OrderKey, closed: Callable[[Order], Order]) -> None:
        """Take the row out now, as ``closed(row)``: the venue said so (the stream follows,
        and a list it sent before this answer does not bring the row back)."""
        trading_id = self._ids.get(key.account_key)
        if trading_id is not None:
            self._parser.closed(trading_id, key.order_id)
        current = self._store.get(key)
        if current is not None:
            self._store.apply(Closed(closed(current)))

    def _with_held(self, account: AccountKey, orders: tuple[Order, ...]) -> tuple[Order, ...]:
        """A complete list of ``account``, with the rows whose DELETE is out kept when the list
        no longer shows them: the cancel's answer says how they ended."""
        held = [k for k in self._deleting if k.account_key == account]
        if not held:
            return orders
        listed = {o.order_id for o in orders}
        kept = []
        for key in held:
            row = self._store.get(key)
            if key.order_id not in listed and row is not None:
                self._held_out.add(key)
                kept.append(row)
        return orders + tuple(kept)

    def _reread_order(self, order: Order) -> None:
        trading_id = self._ids.get(order.account_key)
        if trading_id is not None:
            self._reread_account(trading_id)


class _Progress:
    """"Cancelling 37/120 on Acme Main…" in the status bar while single cancels run."""

    def __init__(self, client: B2traderCancels, account: AccountKey, total: int) -> None:
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
