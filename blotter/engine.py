"""The engine: the venue clients of every account, run side by side, and cancels routed to them.

The UI and the command line talk to venues only through this object. It owns no Qt and no sockets
of its own; the clients do the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection, Iterable, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from blotter.core.cancel import (
    CancelPlan,
    CancelResult,
    CancelScope,
    OrderOutcome,
    Outcome,
    ScopeKind,
    plan_cancels,
)
from blotter.core.closes import ResyncDiff
from blotter.core.journal_records import action_record, reply_records, request_record
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.receipts import Proof, cancel_receipt, nothing_to_cancel
from blotter.core.store import OrderStore
from blotter.core.trust import Clock, TrustBoard, TrustReporter
from blotter.core.venue import Capabilities
from blotter.venues.net import now_ms
from blotter.venues.registry import notional, venue_title

if TYPE_CHECKING:  # the clients' network libraries load with the first client, not before
    from blotter.venues.base import VenueClient

log = logging.getLogger(__name__)

# the id of the cancel action the running task works for (its notices carry it in the journal)
_ACTION: ContextVar[str | None] = ContextVar("blotter_action", default=None)


def current_action() -> str | None:
    """The id of the cancel action the calling task is part of, or None."""
    return _ACTION.get()


class JournalSink(Protocol):
    """Where the engine's records of cancels go (``blotter.journal.Journal``)."""

    def record(self, record: dict[str, Any]) -> None: ...


PROOF_TIMEOUT = 15.0  # seconds one account may take to re-read its open orders after a cancel


class Engine:
    """The clients side by side over one store and one pair of buses.

    It also keeps the ``TrustBoard`` (which rows a live stream vouches for) and reports what
    the trader did not ask for: closes at the venue, what a fresh list changed, and connection
    events (silence, a lost connection, back live) as notices.
    """

    def __init__(
        self, store: OrderStore, notices: NoticeBus, states: StateBus, clock: Clock = now_ms
    ) -> None:
        self.store = store
        self.notices = notices
        self.states = states
        self.clock = clock
        store.clock = clock
        self.clients: dict[AccountKey, VenueClient] = {}
        self._tasks: dict[AccountKey, asyncio.Task[None]] = {}
        self.trust = TrustBoard(clock)
        self._reporter = TrustReporter(self.trust, notices, clock)
        self._down_since: dict[AccountKey, int] = {}
        self.journal: JournalSink | None = None  # set by blotter.journal.attach
        states.subscribe(self._on_state)
        store.add_resync_listener(self._reporter.on_resync)
        store.add_resync_listener(self.trust.on_resync)
        store.add_close_listener(self._reporter.on_close)

    # -- connection events -------------------------------------------------------------------
    def _on_state(self, state: AccountState) -> None:
        """Follow the trust board, and put connection events in the notice log: silence, a
        lost connection (its first retry), and back live after an outage. (A refused key is
        the client's own notice, in the venue's words.)"""
        before = self.trust.state(state.account_key)
        self.trust.on_state(state)
        if before is None or state.state is before.state and state.reason == before.reason:
            return
        key = state.account_key
        name = state.account
        if state.state is VenueState.STALE:
            # a silence began with the last message heard, not when the bound ran out
            self._down_since.setdefault(key, state.heard_ms or state.ts_ms or self.clock())
            self._say(key, Level.WARNING, f"{name} is stale: {state.reason}")
        elif state.state is VenueState.RECONNECTING and state.attempt <= 1:
            self._down_since.setdefault(key, state.ts_ms or self.clock())
            wait = f"; next try in {state.retry_in:.0f} s" if state.retry_in is not None else ""
            self._say(key, Level.WARNING, f"{name} lost its connection: {state.reason}{wait}")
        elif state.state is VenueState.FAILED:
            self._down_since.setdefault(key, state.ts_ms or self.clock())
        elif state.state is VenueState.LIVE:
            since = self._down_since.pop(key, None)
            if since is not None:
                seconds = max(1, round(((state.ts_ms or self.clock()) - since) / 1000))
                self._say(key, Level.SUCCESS, f"{name} is live again after {seconds} s")

    def _say(self, account: AccountKey, level: Level, text: str) -> None:
        self.notices.publish(
            Notice(account.venue, account.account, level, text, ts_ms=self.clock())
        )

    def reconnect_now(self, account: AccountKey) -> bool:
        """Try to connect ``account`` now instead of after its wait; False if unknown."""
        client = self.client_for(account)
        if client is None:
            return False
        client.reconnect_now()
        return True

    async def check(self, account: AccountKey) -> bool:
        """Re-read the open orders of ``account`` from the venue ("Check now"): what differs
        is reported by the trust reporter; an equal table says so. False when the venue could
        not be asked."""
        client = self.client_for(account)
        if client is None:
            return False
        diffs: list[ResyncDiff] = []
        self.store.add_resync_listener(diffs.append)
        try:
            ok = await client.check()
        finally:
            self.store.remove_resync_listener(diffs.append)
        if ok and not any(diffs):
            rows = sum(len(self.store.orders(a)) for a in {d.account for d in diffs})
            self._say(client.account, Level.SUCCESS,
                      f"Checked {client.account.account}: the table equals the venue "
                      f"({rows} open orders)")
        elif not ok:
            self._say(client.account, Level.ERROR,
                      f"Could not check {client.account.account}: the venue was not reached")
        return ok

    # -- clients ---------------------------------------------------------------------------
    def add_client(self, client: VenueClient, start: bool = True) -> None:
        self.clients[client.account] = client
        if start:
            self._start(client)

    def start(self) -> None:
        for client in self.clients.values():
            self._start(client)

    def _start(self, client: VenueClient) -> None:
        task = self._tasks.get(client.account)
        if task is not None and not task.done():
            return
        task = asyncio.get_running_loop().create_task(
            client.run(), name=f"run {client.account}"
        )
        task.add_done_callback(self._run_ended)
        self._tasks[client.account] = task

    def _run_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A client's run() must not die silently: say so where the trader looks.
            log.error("%s stopped: %s", task.get_name(), exc, exc_info=exc)
            account = next((a for a, t in self._tasks.items() if t is task), None)
            if account is not None:
                self.notices.publish(
                    Notice(account.venue, account.account, Level.ERROR,
                           f"Connection stopped after an internal error: {exc}")
                )

    async def remove_client(self, account: AccountKey) -> None:
        client = self.clients.pop(account, None)
        task = self._tasks.pop(account, None)
        if client is not None:
            await client.close()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.states.publish(AccountState(account.venue, account.account, VenueState.REMOVED))
        self.store.drop_account(account)
        for other in {o.account_key for o in self.store.orders()}:
            if other.venue == account.venue and other.account.startswith(account.account + "/"):
                self.store.drop_account(other)  # its trading accounts

    async def stop(self) -> None:
        for account in list(self.clients):
            client = self.clients[account]
            await client.close()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def client_for(self, account: AccountKey) -> VenueClient | None:
        """The client that serves ``account``: its own, or the login whose trading accounts
        are named ``<login>/<trading account>`` (B2TRADER)."""
        client = self.clients.get(account)
        if client is not None:
            return client
        head, sep, _ = account.account.partition("/")
        if sep:
            return self.clients.get(AccountKey(account.venue, head))
        return None

    def capabilities(self, account: AccountKey) -> Capabilities | None:
        client = self.client_for(account)
        return client.capabilities if client is not None else None

    def account_note(self, venue: str, account: str) -> str:
        """What the trader must know about how an account is connected (shown beside its
        connection light): today, a Bitfinex dead-man switch that is on."""
        client = self.client_for(AccountKey(venue, account))
        return client.connection_note if client is not None else ""

    def notional(self, order: Order) -> tuple[Decimal, str] | None:
        """``order``'s notional in its quote currency, as its venue reckons it (price ×
        remaining for most; an inverse contract's quantity is already dollars), or None."""
        return notional(order)

    def venue_label(self, venue: str, account: str) -> str:
        """What the trader calls the venue of an account: "Bitfinex", "Bybit", or a B2TRADER
        broker's own name ("Acme")."""
        client = self.client_for(AccountKey(venue, account))
        return client.venue_label if client is not None else venue_title(venue)

    # -- cancels ---------------------------------------------------------------------------
    def plan(self, scope: CancelScope) -> list[CancelPlan]:
        """The per-account plans of ``scope`` over the open rows. Cancel All also covers every
        connected account with no rows showing, and an instrument on every account of a venue
        every connected account of that venue (the venue may have orders the table has not)."""
        store = self.store
        if scope.kind is ScopeKind.ORDER or scope.kind is ScopeKind.SELECTED:
            # the rows named, looked up: a click's plan costs the same with 10 or 100k rows
            named = (store.get(key) for key in dict.fromkeys(scope.keys))
            plans = plan_cancels(scope, [o for o in named if o is not None])
        else:
            plans = plan_cancels(scope, store)
        if scope.kind is ScopeKind.ALL:
            wanted = list(self.clients)
        elif scope.kind is ScopeKind.SYMBOL and scope.account is None:
            wanted = [a for a in self.clients if a.venue == scope.venue]
        else:
            return plans
        served = {self._client_key(p.account) for p in plans}
        plans += [
            CancelPlan(account, scope.kind, (), symbol=scope.symbol, category=scope.category,
                       side=scope.side)
            for account in wanted
            if account not in served
        ]
        return plans

    def cancel_route(self, plan: CancelPlan) -> str:
        """How the account's client will send ``plan``, in the trader's words ("one cancel-all
        request", "one request per order"), or "" when no client serves the account."""
        client = self.client_for(plan.account)
        if client is None:
            return ""
        try:
            return str(client.cancel_route(plan))
        except Exception:  # a wording slip must not keep the trader from cancelling
            log.exception("cancel_route of %s failed", plan.account)
            return ""

    def nothing_to_cancel(self, scope: CancelScope) -> str:
        """What to say when ``scope`` matches no open order, with what is open where it
        aimed (see ``core.receipts.nothing_to_cancel``)."""
        return nothing_to_cancel(scope, self.store)

    async def cancel(
        self,
        scope: CancelScope,
        plans: Sequence[CancelPlan] | None = None,
        *,
        prove: bool = False,
        origin: str = "window",
    ) -> list[CancelResult]:
        """Cancel ``scope`` and end with its receipt: one notice that says how it ended, with
        every order's outcome as its details. ``plans`` are the plans a confirmation showed
        (``plan(scope)`` computed then): exactly those are sent; without them the plan is made
        from the rows as they are now. With ``prove`` each affected account re-reads its open
        orders from the venue once the outcomes are in, and the receipt says what is left
        (the notice's ``rest``: the orders to offer for "Cancel the rest"). The journal gets
        the action (with ``origin``: "window" or "command line"), each request, the replies and
        outcomes, all under one action id, which the receipt notice carries too."""
        plans = self.plan(scope) if plans is None else plans
        action = uuid.uuid4().hex[:12]
        token = _ACTION.set(action)
        try:
            if self.journal is not None:
                self.journal.record(action_record(self.clock(), action, scope, plans, origin))
            return await self._cancel(scope, plans, prove)
        finally:
            _ACTION.reset(token)

    async def _cancel(
        self, scope: CancelScope, plans: Sequence[CancelPlan], prove: bool
    ) -> list[CancelResult]:
        for plan in plans:
            self.store.name_cancel(plan.keys, scope.describe())
        shown = frozenset(o.key for o in self.store) if prove else frozenset()
        results = await self.cancel_plans(plans)
        if not results:
            self.notices.publish(Notice("blotter", "", Level.INFO, self.nothing_to_cancel(scope),
                                        receipt=True))
            return results
        proof = await self.prove(plans, shown) if prove else None
        self._receipt(results, plans, proof)
        return results

    async def cancel_plans(self, plans: Iterable[CancelPlan]) -> list[CancelResult]:
        plans = list(plans)
        if len(plans) == 1:
            # no task hop for the common case: the request goes on the wire in this loop turn
            return [await self._cancel_plan(plans[0])]
        return list(await asyncio.gather(*(self._cancel_plan(p) for p in plans)))

    def _client_key(self, account: AccountKey) -> AccountKey:
        head, sep, _ = account.account.partition("/")
        if sep and AccountKey(account.venue, head) in self.clients:
            return AccountKey(account.venue, head)
        return account

    async def _cancel_plan(self, plan: CancelPlan) -> CancelResult:
        action = _ACTION.get()
        journal = self.journal if action is not None else None
        if journal is None or action is None:
            return await self._send_plan(plan)
        journal.record(request_record(self.clock(), action, plan, self.cancel_route(plan)))
        result = await self._send_plan(plan)
        for record in reply_records(self.clock(), action, result):
            journal.record(record)
        return result

    async def _send_plan(self, plan: CancelPlan) -> CancelResult:
        client = self.client_for(plan.account)
        if client is None:
            error = f"{plan.account.account} is not connected"
            result = CancelResult(plan, error=error)
            for order in plan.orders:
                result.outcomes[order.key] = OrderOutcome(order.key, Outcome.REJECTED, error)
            return result
        try:
            return await client.cancel(plan)
        except Exception as exc:  # a client bug must not lose the trader's request silently
            log.exception("cancel on %s failed", plan.account)
            result = CancelResult(plan, error=f"cancel failed: {exc}")
            for order in plan.orders:
                self.store.end_cancel(order.key, Outcome.REJECTED, str(exc))
                result.outcomes[order.key] = OrderOutcome(order.key, Outcome.REJECTED, str(exc))
            return result

    async def prove(
        self, plans: Sequence[CancelPlan], shown: Collection[OrderKey] = ()
    ) -> Proof:
        """Re-read the open orders of every account ``plans`` touched from its venue (each
        client once, side by side, at most ``PROOF_TIMEOUT`` seconds each) and say which
        orders within the plans are still open (left: among ``shown``, the rows when the
        cancel was sent; else arrived since), and which accounts could not be re-read."""
        unread: list[str] = []

        async def reread(key: AccountKey) -> None:
            client = self.clients.get(key)
            try:
                ok = False
                if client is not None:
                    async with asyncio.timeout(PROOF_TIMEOUT):
                        ok = await client.check()
            except Exception as exc:  # noqa: BLE001 - said in the receipt as "not re-read"
                log.info("re-reading %s after a cancel failed: %s", key, exc)
                ok = False
            if not ok:
                unread.append(key.account)

        keys = list(dict.fromkeys(self._client_key(p.account) for p in plans))
        await asyncio.gather(*(reread(k) for k in keys))
        still = [o for o in self.store if any(self._within(p, o) for p in plans)]
        return Proof(
            left=tuple(o for o in still if o.key in shown),
            unread=tuple(a for a in (k.account for k in keys) if a in unread),
            arrived=tuple(o for o in still if o.key not in shown),
        )

    def _within(self, plan: CancelPlan, order: Order) -> bool:
        account = order.account_key
        if account != plan.account and self._client_key(account) != plan.account:
            return False  # a plan made on a login covers its trading accounts
        return plan.covers(order)

    def _receipt(
        self, results: list[CancelResult], plans: Sequence[CancelPlan], proof: Proof | None
    ) -> None:
        """Publish the one line that ends the action (``core.receipts.cancel_receipt``)."""
        order = {key: n for n, key in enumerate(self.clients)}  # venues as the trader added them
        results = sorted(results, key=lambda r: order.get(self._client_key(r.plan.account), -1))
        known = {o.key: o for p in plans for o in p.orders}
        missing = {k for r in results for k in r.outcomes if k not in known}
        if missing:  # a venue-wide cancel named orders the plan did not list: their closes
            for closed in reversed(self.store.closed):
                if closed.key in missing:
                    known[closed.key] = closed.order
                    missing.discard(closed.key)
                    if not missing:
                        break
        receipt = cancel_receipt(
            results, lambda a: self.venue_label(a.venue, a.account), known, proof
        )
        accounts = {r.plan.account for r in results}
        venue, account = (("blotter", "") if len(accounts) != 1
                          else (results[0].plan.account.venue, results[0].plan.account.account))
        self.notices.publish(Notice(
            venue, account, receipt.level, receipt.text,
            order_ids=tuple(k.order_id for r in results for k in r.outcomes),
            ts_ms=self.clock(), details=receipt.details,
            rest=tuple(o.key for o in proof.rest) if proof is not None else (), receipt=True,
        ))
