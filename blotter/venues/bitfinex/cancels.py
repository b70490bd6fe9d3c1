"""Cancelling on Bitfinex: the venue's own primitive for a plan, over the authenticated socket
or signed REST, and the wait for the venue's word on each order (bitfinex.md §4, §5.3).

An acknowledgement is not a cancel: each order's cancel ends with its ``oc`` (cancelled, or
filled first), with what the venue refused, or, when its order left the book unseen (the socket
was down, a close was lost), with its close from the order history; what is left is "closed,
how unknown" or timed out, never a guess. ``CancelSide`` is the part of ``BitfinexClient`` that
does this; the client keeps the socket, the stream and the re-reads it relies on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from blotter.core.cancel import CancelPlan, CancelResult, OrderOutcome, Outcome
from blotter.core.notices import Level
from blotter.core.order import OrderKey
from blotter.core.venue import MalformedFrame
from blotter.venues.base import ReconnectingClient, RestFailure
from blotter.venues.bitfinex import requests
from blotter.venues.bitfinex.acks import AckBook, Answer, Settled, after_timeout, refusal
from blotter.venues.bitfinex.notices import notification_notice, rest_failure_notice
from blotter.venues.bitfinex.replies import RestError, parse_notification
from blotter.venues.bitfinex.requests import CancelInput
from blotter.venues.bitfinex.rest import SignedRest
from blotter.venues.bitfinex.stream import StreamParser
from blotter.venues.net import now_ms

log = logging.getLogger("blotter.venues.bitfinex")


@dataclass(eq=False)
class CancelCall:
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



class CancelSide(ReconnectingClient):
    """The cancels of one Bitfinex account (mixed into ``BitfinexClient``, which provides the
    socket, the signed REST calls, the parser and the re-reads declared here)."""

    _acks: AckBook
    _in_flight: dict[CancelInput, tuple[CancelCall, asyncio.Future[None]]]
    _rest: SignedRest
    _parser: StreamParser
    _authed: bool
    _maintenance: bool
    malformed_frames: int

    async def _resync(self, *, settle: bool | None = None) -> set[str] | None:
        raise NotImplementedError

    async def _closes_from_history(self, keys: list[OrderKey]) -> None:
        raise NotImplementedError

    def _apply(self, request: CancelCall, answer: Answer) -> None:
        """Carry out what the venue's answer to one input means for its ``cancel()`` call."""
        if answer.text:
            request.texts.append(answer.text)
        if answer.track:
            request.futures.update(self._pending.begin(answer.track))
        # an order of the table the venue no longer has closed somehow: the history says how
        gone = [s for s in answer.settled if s.outcome is Outcome.NOT_FOUND and s.key in self._store]
        for settled in answer.settled:
            if settled not in gone:
                self._pending.resolve(*settled)
        if answer.error is not None:
            request.error = answer.error
        if gone:
            self._spawn(self._not_found(gone))
        elif answer.resync:
            self._resync_soon()

    async def _not_found(self, gone: list[Settled]) -> None:
        """Orders of the table the venue says are not open: each settles with its close from
        the order history, or as the venue said (not found); then the rows are re-read."""
        await self._closes_from_history([s.key for s in gone])
        for settled in gone:
            self._pending.resolve(*settled)
        await self._resync()

    async def cancel(self, plan: CancelPlan) -> CancelResult:
        """See ``VenueClient.cancel``: the plan's inputs (``requests.cancel_inputs``: everything
        is ``all: 1``, a one-sided plan its orders by id) over the socket (signed REST while it
        is down or the venue is in maintenance), then the wait for each order's close."""
        refused = self._refuse_plan(plan)
        if refused is not None:
            return refused
        result = CancelResult(plan)
        orders = tuple(o for o in self._plan_rows(plan) if o.account_key == self.account)
        valid = tuple(o for o in orders if o.order_id.isdigit())
        for order in orders:
            if order not in valid:
                result.outcomes[order.key] = OrderOutcome(
                    order.key, Outcome.REJECTED, f"not a Bitfinex order id: {order.order_id!r}"
                )
        request = CancelCall(self._pending.begin(valid))
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

    def cancel_route(self, plan: CancelPlan) -> str:
        """See ``VenueClient.cancel_route`` (``requests.cancel_route``)."""
        valid = tuple(
            o for o in plan.orders if o.account_key == self.account and o.order_id.isdigit()
        )
        return requests.cancel_route(plan, valid)

    async def _send(self, request: CancelCall, sent: CancelInput) -> None:
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

    async def _send_rest(self, request: CancelCall, sent: CancelInput) -> None:
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

    async def _finish(self, request: CancelCall, result: CancelResult) -> None:
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

    def _settle_acked(self, open_ids: set[str]) -> None:
        """Acknowledged cancels whose order is gone although its ``oc`` never came: CLOSED."""
        for settled in self._acks.gone(open_ids):
            if self._pending.is_waiting(settled.key):
                self._pending.resolve(*settled)

    def _resync_soon(self) -> None:
        self._spawn(self._resync())
