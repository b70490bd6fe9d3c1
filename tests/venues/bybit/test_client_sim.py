"""BybitClient against the loopback simulator, over real sockets.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from blotter.core.cancel import CancelPlan, CancelScope, Outcome, plan_cancels
from blotter.core.notices import AccountState, Notice, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderKey
from blotter.core.store import OrderStore
from blotter.sim.bybit import BybitSimulator
from blotter.venues.base import Backoff
from blotter.venues.bybit import CAPABILITIES, BybitClient
from blotter.venues.bybit.codec import parse_order
from tests.helpers import until

pytestmark = pytest.mark.timeout(30)

KEY, SECRET = "bybit-test-key", "bybit-test-secret"
ACCOUNT = AccountKey("bybit", "sim")
FAST = Backoff(base=0.05, factor=2.0, cap=0.3)


@dataclass
class Env:
    sim: BybitSimulator
    client: BybitClient
    store: OrderStore
    notices: list[Notice] = field(default_factory=list)
    states: list[AccountState] = field(default_factory=list)

    def rows(self) -> dict[str, Order]:
        return {o.order_id: o for o in self.store.orders(ACCOUNT)}

    def venue_orders(self) -> dict[str, Order]:
        return {
            d["orderId"]: parse_order(d, ACCOUNT, d["category"]) for d in self.sim.open_orders()
        }

    def in_sync(self) -> bool:
        return self.rows() == self.venue_orders()

    def state(self) -> VenueState | None:
        return self.states[-1].state if self.states else None

    def key(self, order_id: str) -> OrderKey:
        return OrderKey("bybit", "sim", order_id)

    def plan(self, scope: CancelScope) -> CancelPlan:
        plans = plan_cancels(scope, self.store)
        assert len(plans) == 1, plans
        return plans[0]

    def texts(self) -> list[str]:
        return [n.line() for n in self.notices]


@asynccontextmanager
async def connected(
    sim_options: dict[str, Any] | None = None, **client_options: Any
) -> AsyncIterator[Env]:
    options: dict[str, Any] = {"api_key": KEY, "api_secret": SECRET, "seed": 7}
    options.update(sim_options or {})
    sim = BybitSimulator(**options)
    await asyncio.wait_for(sim.start(), 10)
    try:
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        kwargs: dict[str, Any] = {"backoff": FAST, "cancel_timeout": 3.0}
        kwargs.update(client_options)
        client = BybitClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY, api_secret=SECRET,
            store=store, notices=notices, states=states, **kwargs,
        )
        env = Env(sim, client, store)
        notices.subscribe(env.notices.append)
        states.subscribe(env.states.append)
        task = asyncio.create_task(client.run())
        try:
            yield env
        finally:
            await asyncio.wait_for(client.close(), 10)
            await asyncio.wait_for(task, 10)
            assert env.state() is VenueState.STOPPED
    finally:
        await asyncio.wait_for(sim.stop(), 10)


async def live(env: Env) -> None:
    await until(lambda: env.state() is VenueState.LIVE, message="state LIVE")


# -- initial load and live updates -------------------------------------------------------------
async def test_initial_load_across_categories_and_pages_equals_the_venue() -> None:
    sim = BybitSimulator(api_key=KEY, api_secret=SECRET, seed=3, initial_orders=12)
    for n in range(60):  # more than one page (50) in one scope
        sim.place_order("linear", "BTCUSDT", "Buy", "0.01", 50_000 + n, push=False)
    await asyncio.wait_for(sim.start(), 10)
    store, states = OrderStore(), StateBus()
    seen: list[AccountState] = []
    states.subscribe(seen.append)
    client = BybitClient(
        ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY, api_secret=SECRET,
        store=store, notices=NoticeBus(), states=states, backoff=FAST,
    )
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: seen and seen[-1].state is VenueState.LIVE)
        rows = {o.order_id: o for o in store.orders(ACCOUNT)}
        venue = {d["orderId"]: parse_order(d, ACCOUNT, d["category"]) for d in sim.open_orders()}
        assert len(rows) == 72
        assert rows == venue
        assert {o.category for o in rows.values()} == {"spot", "linear", "inverse", "option"}
        assert [s.state for s in seen[:3]] == [
            VenueState.CONNECTING, VenueState.AUTHENTICATING, VenueState.LIVE
        ]
    finally:
        await asyncio.wait_for(client.close(), 10)
        await asyncio.wait_for(task, 10)
        await asyncio.wait_for(sim.stop(), 10)


async def test_live_pushes_reach_the_store() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "ETHUSDT", "Sell", "0.5", "3000")
        b = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
        c = env.sim.place_order("option", "BTC-27DEC24-80000-C", "Buy", "1", "500")
        await until(lambda: {a, b, c} <= set(env.rows()))
        env.sim.fill(a, "0.2")
        await until(lambda: env.rows()[a].remaining == Decimal("0.3"))
        env.sim.fill(b)
        env.sim.cancel_external(c)
        await until(lambda: set(env.rows()) == {a})
        assert env.in_sync()


async def test_capabilities_say_no_groups() -> None:
    assert CAPABILITIES.group_cancel is False
    assert CAPABILITIES.cancel_all is True
    assert "no order groups" in CAPABILITIES.group_cancel_reason


# -- cancels -----------------------------------------------------------------------------------
async def test_cancel_one_is_pending_then_gone() -> None:
    async with connected({"ack_to_close_delay": 0.3}) as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        b = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50001")
        await until(lambda: {a, b} <= set(env.rows()))
        task = asyncio.create_task(env.client.cancel(env.plan(CancelScope.order(env.key(a)))))
        await until(lambda: env.store.is_cancel_pending(env.key(a)))
        assert a in env.rows()  # the ack is not a cancel
        result = await asyncio.wait_for(task, 10)
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED
        assert a not in env.rows() and b in env.rows()
        assert env.sim.order(a)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert env.in_sync()
        assert any("Cancelled" in t for t in env.texts())


async def test_cancel_selected_across_categories_in_batches() -> None:
    async with connected() as env:
        await live(env)
        spot = [env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", 40_000 + n)
                for n in range(12)]  # two spot batches (10 + 2)
        linear = [env.sim.place_order("linear", "ETHUSDT", "Sell", "1", 3000 + n)
                  for n in range(3)]
        keep = env.sim.place_order("linear", "ETHUSDT", "Sell", "1", "3999")
        await until(lambda: set(spot + linear + [keep]) <= set(env.rows()))
        chosen = [env.key(i) for i in spot + linear]
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.selected(chosen))), 10
        )
        assert result.count(Outcome.CANCELLED) == 15, result
        assert set(env.rows()) == {keep}
        assert {d["orderId"] for d in env.sim.open_orders()} == {keep}


async def test_cancel_all_leaves_nothing_at_the_venue() -> None:
    async with connected({"initial_orders": 20}) as env:
        await live(env)
        assert len(env.rows()) == 20
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(ACCOUNT))), 10
        )
        assert env.sim.open_orders() == []
        await until(lambda: not env.rows())
        assert all(o.outcome.order_gone for o in result.outcomes.values()), result


async def test_cancel_of_an_order_gone_at_the_venue_shows_110001() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        plan = env.plan(CancelScope.order(env.key(a)))
        # gone at the venue without a push (as if the push was lost)
        env.sim._orders.pop(a)
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.NOT_FOUND
        assert outcome.text == "110001: order not exists or too late to cancel"
        assert "110001: order not exists or too late to cancel" in env.texts()
        await until(lambda: a not in env.rows())  # the re-query settles the row


# -- reconnect and clock -----------------------------------------------------------------------
async def test_reconnect_resyncs_changes_made_during_the_gap() -> None:
    # a fixed 0.5 s pause before reconnecting: the changes below surely fall in the gap
    async with connected({"initial_orders": 6}, backoff=Backoff(0.5, 1.0, 0.5)) as env:
        await live(env)
        gone, filled = list(env.rows())[:2]
        opened = env.sim.auth_ok_count
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert env.sim.auth_ok_count == opened
        # changes while the socket is down: their pushes are lost
        env.sim.cancel_external(gone)
        env.sim.fill(filled)
        new = env.sim.place_order("inverse", "BTCUSD", "Buy", "100", "60000")
        await until(lambda: env.sim.auth_ok_count > opened and env.state() is VenueState.LIVE)
        await until(env.in_sync)
        assert new in env.rows() and gone not in env.rows() and filled not in env.rows()
        assert VenueState.RECONNECTING in [s.state for s in env.states]


async def test_clock_skew_of_3_s_does_not_stop_a_cancel() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("spot", "ETHUSDT", "Buy", "0.1", "2000")
        await until(lambda: a in env.rows())
        env.sim.clock_skew = -3.0  # the venue's clock behind ours: our timestamps are "future"
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED, result
        assert env.sim.order(a)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert -3500 < env.client.clock_offset_ms < -2500


async def test_no_secret_in_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with connected({"initial_orders": 3}) as env:
        await live(env)
        await env.sim.drop_connections()
        await until(lambda: env.sim.auth_ok_count >= 2 and env.state() is VenueState.LIVE)
    assert caplog.records
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in text and SECRET not in text
    assert KEY not in repr(env.client) and SECRET not in repr(env.client)
