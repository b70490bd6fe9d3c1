"""The cancel side of the Bybit client (I/O): the venue's cancel primitive for each plan over
signed REST, then the wait for the stream's word on every order.

A Bybit cancel reply is an acknowledgement only (§3.2–§3.4): an order counts as cancelled when
the ``order`` stream (or a REST re-read) shows it closed. One order goes by ``/v5/order/cancel``,
a selection or one side of anything by ``cancel-batch`` per category, an instrument (both sides)
by ``cancel-all`` for it, and the whole account by a fresh list and ``cancel-all`` per category
and scope; the outcome of each order is what the venue said of it. While the stream is down the
open orders are re-read now and then until each order's end is known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level
from blotter.core.order import Order, OrderKey
from blotter.core.venue import MalformedFrame
from blotter.venues.base import ReconnectingClient, RestFailure
from blotter.venues.bybit import notices, replies, requests
from blotter.venues.bybit.replies import BatchResult, CancelAck, CancelAllAck, VenueReply
from blotter.venues.bybit.requests import BatchItem
from blotter.venues.bybit.rest import RATE_RETRIES, RestCaller
from blotter.venues.bybit.spec import CATEGORIES
from blotter.venues.net import now_ms

_GONE_LOOKUPS = 20  # orders an "already gone" answer looks up one by one, at most
# failures that show the request never left (no connection was made): nothing happened
_NOT_SENT = ("ConnectError", "ConnectTimeout", "PoolTimeout")


def _never_sent(failure: RestFailure) -> bool:
    """Whether a failed cancel surely did nothing at the venue: refused at HTTP level with a
    4xx, or no connection was made. A 5xx or a timeout may have been acted on."""
    if failure.status:
        return failure.status < 500
    return any(name in failure.text for name in _NOT_SENT)


@dataclass(eq=False)
class _Request:
    """One cancel() call: the orders it waits for and the venue's words about it."""

    futures: dict[OrderKey, asyncio.Future[OrderOutcome]]
    texts: list[str]
    error: str | None = None
    acked: set[str] = field(default_factory=set)  # order ids a cancel-all acknowledged
    unseen: set[str] = field(default_factory=set)  # of them, orders that were never rows
    quiet: bool = False  # a bulk cancel: one summary line, not a line per order


class BybitCancels(ReconnectingClient):
    """``cancel(plan)`` of ``BybitClient``, which sets what is declared here and re-reads the
    open orders (``_resync``) when an answer leaves an order's state in doubt."""

    rest: RestCaller
    categories: tuple[str, ...]
    settle_coins: tuple[str, ...]
    cancel_all_rounds: int = 5  # futures cancel-all takes 500 per call: repeat at most this often
    _quiet: set[OrderKey]  # orders of bulk cancels: no line each
    _malformed: int

    async def _resync(self, *, grace: bool = True) -> set[str] | None:
        raise NotImplementedError

    def _close_row(self, order: Order) -> None:
        raise NotImplementedError

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        """Send the venue's primitive for ``plan`` (``requests.cancel_primitive``: everything
        goes by a fresh list and cancel-all per category and scope, which also reaches orders
        not shown; an instrument on both sides by cancel-all for it; one order by cancel; any
        other list, a one-sided one too, by cancel-batch) and wait for each order's close: one
        outcome per order, as the venue stated it."""
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = self._plan_rows(plan)
        valid = tuple(o for o in orders if o.category in CATEGORIES)
        for order in orders:
            if order not in valid:
                result.outcomes[order.key] = OrderOutcome(
                    order.key, Outcome.REJECTED, f"no Bybit category for order {order.order_id}"
                )
        request = _Request(self._pending.begin(valid), [])
        request.quiet = len(valid) > 1 or plan.everything
        if request.quiet:
            self._quiet.update(request.futures)
        primitive = requests.cancel_primitive(plan, valid)
        try:
            if primitive == "account":
                await self._cancel_everything(request)
            elif primitive == "symbol":
                assert plan.symbol is not None
                bodies = requests.symbol_cancel_all_bodies(plan.symbol, plan.category, valid)
                await self._cancel_all(request, valid, bodies)
            elif primitive == "cancel":
                await self._cancel_one(request, valid[0])
            elif primitive == "batch":
                await self._cancel_batches(request, valid)
        except RestFailure as failure:  # the venue could not be reached, or failed
            request.error = failure.text
            request.texts.append(failure.text)
            self._notice(Level.ERROR, failure.text)
            if _never_sent(failure):  # the orders are as they were: say so now
                for key, future in request.futures.items():
                    if not future.done():
                        self._pending.resolve(key, Outcome.REJECTED, failure.text)
            # else the venue may have acted on it: the stream or the re-read says (_finish)
        await self._finish(request, result)
        return result

    def cancel_route(self, plan: CancelPlan) -> str:
        """See ``VenueClient.cancel_route`` (``requests.cancel_route``)."""
        valid = [o for o in plan.orders if o.category in CATEGORIES]
        return requests.cancel_route(plan, valid, self.categories, self.settle_coins)

    async def _cancel_everything(self, request: _Request) -> None:
        """Everything the account has at the venue, shown or not: a fresh list first (orders
        not shown yet become rows, reported like the rest, and it names the inverse coins to
        scope), then cancel-all per category and scope (§3.4)."""
        if await self._resync(grace=False) is None:
            request.texts.append(
                "the open orders could not be listed first: inverse orders not shown here "
                "may still be open"
            )
        rows = self._store.orders(self.account)
        fresh = [o for o in rows if o.key not in request.futures]
        if fresh:
            request.futures.update(self._pending.begin(fresh))
            self._quiet.update(o.key for o in fresh)
        bodies = requests.account_cancel_all_bodies(self.categories, self.settle_coins, rows)
        await self._cancel_all(request, rows, bodies)

    def _unreadable(self, request: _Request, exc: MalformedFrame) -> None:
        self._malformed += 1
        request.texts.append(f"unreadable cancel answer from Bybit ({exc})")

    async def _cancel_one(self, request: _Request, order: Order) -> None:
        assert order.category is not None
        body = requests.cancel_body(order.category, order.symbol, order_id=order.order_id)
        raw, sends = await self.rest.call_counted("POST", requests.PATH_CANCEL, body=body)
        try:
            reply = replies.parse_cancel(raw)
        except MalformedFrame as exc:
            self._unreadable(request, exc)
            return  # the stream or the re-query decides
        if isinstance(reply, VenueReply):
            await self._refused(request, (order,), reply, repeated=sends > 1)
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
            size = requests.batch_limit(category)
            queue = [members[i : i + size] for i in range(0, len(members), size)]
            sent_again: list[list[Order]] = []  # chunks sent before and refused for the rate
            again = 0
            while queue:
                chunk = queue.pop(0)
                items = [BatchItem(o.symbol, order_id=o.order_id) for o in chunk]
                (body,) = requests.cancel_batch_bodies(category, items)
                raw, sends = await self.rest.call_counted(
                    "POST", requests.PATH_CANCEL_BATCH, body=body
                )
                repeated = sends > 1 or chunk in sent_again
                try:
                    reply = replies.parse_cancel_batch(raw)
                except MalformedFrame as exc:
                    self._unreadable(request, exc)
                    continue
                if isinstance(reply, VenueReply):
                    await self._refused(request, chunk, reply, repeated=repeated)
                    continue
                results: tuple[BatchResult, ...] = reply
                limited: list[Order] = []
                for order, item in zip(chunk, results, strict=False):
                    if item.ok:
                        continue
                    if item.reply.ret_code == replies.ERR_RATE_LIMIT and again < RATE_RETRIES:
                        limited.append(order)
                    else:
                        await self._refused(request, (order,), item.reply, repeated=repeated)
                if limited:
                    again += 1
                    # the reply's headers usually said when the budget is back; else a window
                    delay = self.rest.rate_wait((requests.PATH_CANCEL_BATCH, category))
                    said = VenueReply(replies.ERR_RATE_LIMIT, "").text()
                    self.rest.rate_notice(requests.PATH_CANCEL_BATCH, said, delay, again)
                    queue.insert(0, limited)
                    sent_again.append(limited)

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
                raw = await self.rest.call("POST", requests.PATH_CANCEL_ALL, body=body)
                try:
                    reply = replies.parse_cancel_all(raw)
                except MalformedFrame as exc:
                    self._unreadable(request, exc)
                    capped = False
                    break
                if isinstance(reply, VenueReply):
                    scope = [o for o in known if requests.in_cancel_all_scope(o, body)]
                    await self._refused(request, scope, reply)
                    capped = False
                    break
                assert isinstance(reply, CancelAllAck)
                self._track(request, reply.acks)
                if len(reply.acks) < requests.CANCEL_ALL_FUTURES_CAP:
                    capped = False
                    break
            if capped:
                await self._report_left(request, body)

    async def _report_left(self, request: _Request, body: dict[str, str]) -> None:
        """After the last cancel-all round came back full: re-read the venue and say how many
        orders in that scope are still open (and not already on their way out)."""
        open_ids = await self._resync()
        if open_ids is None:
            return
        left = [
            o for o in self._store.orders(self.account)
            if o.order_id in open_ids and requests.in_cancel_all_scope(o, body)
            and o.order_id not in request.acked
        ]
        if not left:
            return
        text = notices.cancel_all_left_text(body, len(left), self.cancel_all_rounds)
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
                else:
                    request.unseen.add(ack.order_id)
        if fresh:
            request.futures.update(self._pending.begin(fresh))
            if request.quiet:
                self._quiet.update(o.key for o in fresh)

    async def _refused(
        self, request: _Request, orders: Sequence[Order], reply: VenueReply,
        repeated: bool = False,
    ) -> None:
        """The venue refused the cancel of ``orders``: the rows go back as they were, except
        for "already gone" (110001/170213), where ``_gone`` learns how each order ended."""
        reply = self.rest.clean(reply)
        text = reply.text()
        request.texts.append(text)
        self._notices.publish(
            notices.error_notice(reply, self.account, now_ms(), tuple(o.order_id for o in orders))
        )
        if not orders:
            request.error = text
        if reply.already_gone:
            await self._gone(orders, text, repeated)
            return
        for order in orders:
            self._pending.resolve(order.key, Outcome.REJECTED, text)

    async def _gone(self, orders: Sequence[Order], text: str, repeated: bool) -> None:
        """The venue says these orders are gone (``text``): look each up by id (a few at most)
        and settle its cancel with how it ended (the close is applied, so the row leaves with
        the venue's reason). The venue's word alone is "not found" for a first request; for a
        repeated one (the first was never processed) the order ended meanwhile, how unknown."""
        waiting = [o for o in orders if self._pending.is_waiting(o.key)]
        records = await self.rest.orders_by_id(waiting[:_GONE_LOOKUPS], self._log)
        unknown: list[Order] = []
        for order in waiting:
            found = records.get(order.order_id)
            if found is not None and not found.status.is_open:
                self._close_row(found)  # settles the cancel as the venue's record says
            elif found is not None:  # open after all: the cancel did not happen
                self._pending.resolve(
                    order.key, Outcome.REJECTED, f"{text}; the order is still open at Bybit"
                )
            else:
                unknown.append(order)
        outcome = Outcome.CLOSED if repeated else Outcome.NOT_FOUND
        for order in unknown:
            self._pending.resolve(order.key, outcome, text)
        if unknown:  # the rows leave with the next list
            self._spawn(self._resync())

    async def _wait(self, request: _Request) -> None:
        """Wait up to ``cancel_timeout`` for every close. While the stream is down no close
        can come on it: the open orders are re-read now and then instead (after 0.25 s, then
        twice as long each time, at most every 2 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cancel_timeout
        poll = 0.25
        while True:
            pending = [f for f in request.futures.values() if not f.done()]
            left = deadline - loop.time()
            if not pending or left <= 0:
                return
            live = self._live
            await asyncio.wait(pending, timeout=min(left, 1.0 if live else poll))
            if not live and not self._live and loop.time() < deadline and any(
                not f.done() for f in request.futures.values()
            ):
                await self._resync(grace=False)
                poll = min(2.0, poll * 2)

    async def _finish(self, request: _Request, result: CancelResult) -> None:
        """Wait for every close; re-query what stayed open; fill in the outcomes."""
        await self._wait(request)
        unresolved = [k for k, f in request.futures.items() if not f.done()]
        if unresolved:
            open_ids = await self._resync()
            text = notices.no_confirmation_text(self.cancel_timeout, open_ids is not None)
            for key in unresolved:
                if self._pending.is_waiting(key):
                    self._pending.resolve(key, Outcome.TIMED_OUT, text)
        for key, future in request.futures.items():
            if future.done() and not future.cancelled():
                outcome = future.result()
                result.outcomes[key] = outcome
                if outcome.outcome is Outcome.FILLED:
                    self._notices.publish(notices.filled_first_notice(outcome, now_ms()))
        unseen = request.unseen - {k.order_id for k in result.outcomes}
        if unseen:
            request.texts.append(
                f"Bybit also accepted the cancel of {len(unseen)} order"
                f"{'' if len(unseen) == 1 else 's'} not shown here"
            )
        result.text = "; ".join(dict.fromkeys(t for t in request.texts if t))
        if request.error is not None:
            result.error = request.error
        if request.quiet:
            self._quiet.difference_update(request.futures)
            summary = notices.bulk_cancel_notice(result, self.account, now_ms())
            if summary is not None:
                self._notices.publish(summary)

    def _confirm(self, order: Order) -> None:
        """The venue's word that a cancelled order closed, for the status bar; the orders of a
        bulk cancel get one line for all of them instead (see ``_finish``)."""
        if order.key not in self._quiet:
            self._notices.publish(notices.closed_notice(order, now_ms()))
