"""The scopes a trader pulls, sent to the Bybit simulator over loopback (cancels.py): an
instrument is a symbol in its category, a side is never sent as a cancel-all, and everything
means everything the account has at the venue, shown or not.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.notices import VenueState
from blotter.core.order import Side
from tests.helpers import until
from tests.venues.bybit.env import ACCOUNT, Env, connected
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)

CANCEL_ALL = "/v5/order/cancel-all"


def record_writes(env: Env) -> list[tuple[str, str, dict[str, Any]]]:
    """The REST writes the venue receives from now on: (method, path, body)."""
    writes: list[tuple[str, str, dict[str, Any]]] = []

    def keep(item: Any) -> None:
        if isinstance(item, tuple):
            writes.append(item)

    env.sim.input_listeners.append(keep)
    return writes


def venue_ids(env: Env) -> set[str]:
    return {d["orderId"] for d in env.sim.open_orders()}


async def book(env: Env) -> dict[str, str]:
    """Buys and sells of BTCUSDT in linear and in spot, and an ETHUSDT linear buy; shown."""
    sim = env.sim
    ids = {
        "linear buy": sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000"),
        "linear buy 2": sim.place_order("linear", "BTCUSDT", "Buy", "0.02", "49000"),
        "linear sell": sim.place_order("linear", "BTCUSDT", "Sell", "0.01", "70000"),
        "spot buy": sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000"),
        "spot sell": sim.place_order("spot", "BTCUSDT", "Sell", "0.01", "80000"),
        "eth buy": sim.place_order("linear", "ETHUSDT", "Buy", "1", "2000"),
    }
    await until(lambda: set(ids.values()) <= set(env.rows()))
    return ids


async def test_an_instrument_is_its_own_category_the_spot_orders_of_the_symbol_stay() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        writes = record_writes(env)
        linear = env.rows()[ids["linear buy"]]
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_instrument(linear))), 10
        )
        gone = {ids["linear buy"], ids["linear buy 2"], ids["linear sell"]}
        assert venue_ids(env) == set(ids.values()) - gone
        assert {k.order_id for k, o in result.outcomes.items()
                if o.outcome is Outcome.CANCELLED} == gone
        assert [body for _, path, body in writes if path == CANCEL_ALL] == [
            {"category": "linear", "symbol": "BTCUSDT"}
        ]
        await until(env.in_sync)


async def test_one_side_of_an_instrument_leaves_the_other_side_and_category_open() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        writes = record_writes(env)
        scope = CancelScope.for_symbol(ACCOUNT, "BTCUSDT", "linear", Side.BUY)
        result = await asyncio.wait_for(env.client.cancel(env.plan(scope)), 10)
        buys = {ids["linear buy"], ids["linear buy 2"]}
        assert venue_ids(env) == set(ids.values()) - buys  # the sell, the spot ones, ETH stay
        assert {k.order_id for k in result.outcomes} == buys
        assert result.count(Outcome.CANCELLED) == 2
        # exactly the listed orders, never a cancel-all (it would take the sell too)
        assert [path for _, path, _ in writes] == ["/v5/order/cancel-batch"]
        await until(env.in_sync)


async def test_one_side_of_the_account_takes_the_buys_that_arrived_since_and_nothing_else() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        plan = env.plan(CancelScope.for_account(ACCOUNT, Side.BUY))
        assert not plan.everything
        later = env.sim.place_order("spot", "ETHUSDT", "Buy", "0.1", "2000")  # after the plan
        await until(lambda: later in env.rows())
        writes = record_writes(env)
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        buys = {ids["linear buy"], ids["linear buy 2"], ids["spot buy"], ids["eth buy"], later}
        assert venue_ids(env) == {ids["linear sell"], ids["spot sell"]}
        assert {k.order_id for k, o in result.outcomes.items()
                if o.outcome is Outcome.CANCELLED} == buys
        assert CANCEL_ALL not in {path for _, path, _ in writes}
        await until(env.in_sync)


async def test_cancel_all_with_the_socket_down_takes_orders_never_shown_and_reports_them() -> None:
    async with connected(cancel_timeout=5.0) as env:
        await live(env)
        shown = env.sim.place_order("linear", "ETHPERP", "Buy", "0.1", "2000")
        await until(lambda: shown in env.rows())
        env.sim.refuse_upgrade = True  # the private socket stays down
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        # placed at the venue meanwhile: nothing tells the client
        inverse = env.sim.place_order("inverse", "ETHUSD", "Sell", "100", "4000")
        stop = env.sim.place_order("spot", "BTCUSDT", "Sell", "0.01", "30000",
                                   trigger_price="31000")
        assert {inverse, stop}.isdisjoint(env.rows())
        writes = record_writes(env)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.everything())), 15
        )
        assert env.sim.open_orders() == []
        assert env.sim.order(inverse)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert env.sim.order(stop)["orderStatus"] == "Deactivated"  # type: ignore[index]
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            shown: Outcome.CANCELLED, inverse: Outcome.CANCELLED, stop: Outcome.CANCELLED,
        }
        assert result.error is None
        calls = [body for _, path, body in writes if path == CANCEL_ALL]
        assert {"category": "inverse", "baseCoin": "ETH"} in calls
        assert {"category": "spot", "orderFilter": "StopOrder"} in calls
        assert not env.rows()
        assert env.state() is not VenueState.LIVE  # all of it without the stream
        env.sim.refuse_upgrade = False
        await live(env)
        assert env.in_sync()
