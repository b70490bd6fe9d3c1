"""The engine: the venue clients of every account, run side by side, and cancels routed to them.

The UI and the command line talk to venues only through this object. It owns no Qt and no sockets
of its own; the clients do the I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

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
from blotter.core.notices import AccountState, Level, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey
from blotter.core.store import OrderStore
from blotter.core.trust import Clock, TrustBoard, TrustReporter
from blotter.core.venue import Capabilities
from blotter.venues.base import VenueClient
from blotter.venues.net import now_ms
from blotter.venues.registry import venue_title

log = logging.getLogger(__name__)


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
            self._down_since.setdefault(key, state.ts_ms or self.clock())
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
                seconds = max(0, ((state.ts_ms or self.clock()) - since) // 1000)
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

    def venue_label(self, venue: str, account: str) -> str:
        """What the trader calls the venue of an account: "Bitfinex", "Bybit", or a B2TRADER
        broker's own name ("Acme")."""
        client = self.client_for(AccountKey(venue, account))
        return client.venue_label if client is not None else venue_title(venue)

    # -- cancels ---------------------------------------------------------------------------
    def plan(self, scope: CancelScope) -> list[CancelPlan]:
        """The per-account plans of ``scope`` over the open rows; Cancel All also covers every
        connected account with no rows showing (the venue may have orders the table has not)."""
        plans = plan_cancels(scope, self.store)
        if scope.kind is ScopeKind.ALL:
            # Cancel All covers every connected account, also those with no rows showing.
            served = {self._client_key(p.account) for p in plans}
            plans += [
                CancelPlan(account, ScopeKind.ALL, ())
                for account in self.clients
                if account not in served
            ]
        return plans

    async def cancel(
        self, scope: CancelScope, plans: Sequence[CancelPlan] | None = None
    ) -> list[CancelResult]:
        """Cancel ``scope`` and say how it ended where the venues' own words are not the whole
        story. ``plans`` are the plans a confirmation showed (``plan(scope)`` computed then):
        exactly those are sent; without them the plan is made from the rows as they are now."""
        plans = self.plan(scope) if plans is None else plans
        for plan in plans:
            self.store.name_cancel(plan.keys, scope.describe())
        results = await self.cancel_plans(plans)
        self._summarise(scope, results)
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

    def _summarise(self, scope: CancelScope, results: list[CancelResult]) -> None:
        """Say what happened when the venues' own words are not the whole story.

        A single clean cancel is left to the venue's notification; anything that did not end as
        cancelled, and every cancel that spanned several accounts, gets a summary line.
        """
        if not results:
            if scope.kind in (ScopeKind.ORDER, ScopeKind.SELECTED) and scope.keys:
                # the row was on screen, but the venue had already closed it
                what = (f"Order {scope.keys[0].order_id} is" if len(scope.keys) == 1
                        else f"The {len(scope.keys)} selected orders are")
                text = f"{what} no longer open; nothing to cancel."
            else:
                text = f"Nothing to cancel for {scope.describe()}."
            self.notices.publish(Notice("blotter", "", Level.INFO, text))
            return
        trouble = [r for r in results if not r.ok]
        if len(results) == 1 and not trouble:
            return
        total = sum(len(r.outcomes) for r in results)
        cancelled = sum(r.count(Outcome.CANCELLED) for r in results)
        # one part per venue as the trader names it ("Bitfinex 12, Bybit 17, Acme 12"), with
        # what did not end as cancelled spelled out
        by_venue: dict[str, list[CancelResult]] = {}
        order = {key: n for n, key in enumerate(self.clients)}  # venues as the trader added them
        results = sorted(results, key=lambda r: order.get(self._client_key(r.plan.account), -1))
        for r in results:
            label = self.venue_label(r.plan.account.venue, r.plan.account.account)
            by_venue.setdefault(label, []).append(r)
        parts = []
        detailed = False
        for label, group in by_venue.items():
            counts = [f"{sum(r.count(Outcome.CANCELLED) for r in group)}"]
            for outcome in (Outcome.FILLED, Outcome.NOT_FOUND, Outcome.CLOSED,
                            Outcome.REJECTED, Outcome.TIMED_OUT):
                n = sum(r.count(outcome) for r in group)
                if n:
                    counts.append(f"{n} {outcome.value}")
            if len(counts) > 1:
                counts[0] += " cancelled"
                detailed = True
            part = f"{label} {', '.join(counts)}"
            errors = [f"{r.plan.account.account}: {r.error}" for r in group if r.error]
            if errors:
                detailed = True
                part += " (" + "; ".join(errors) + ")"
            parts.append(part)
        level = Level.SUCCESS if not trouble else Level.WARNING
        if any(r.error or r.count(Outcome.REJECTED) or r.count(Outcome.TIMED_OUT) for r in results):
            level = Level.ERROR
        venue = results[0].plan.account.venue if len(results) == 1 else "blotter"
        account = results[0].plan.account.account if len(results) == 1 else ""
        ids = tuple(k.order_id for r in results for k in r.outcomes)
        self.notices.publish(
            Notice(venue, account, level,
                   f"Cancelled {cancelled} of {total}: "
                   + ("; " if detailed else ", ").join(parts), order_ids=ids)
        )
