"""The scopes a trader pulls, sent to the B2TRADER simulator over loopback (cancels.py,
lists.py): an instrument is the broker's market (its id), a side cancels only its own orders,
and everything first reads a fresh list of the trading account, so orders not shown yet go too
— from the client's own hub while it is live, on a connection of its own while it is down.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.notices import VenueState
from blotter.core.order import Side
from blotter.venues.base import Backoff
from tests.helpers import until
from tests.venues.b2trader.env import LOGIN, MAIN, MARGIN, Env, connected
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)

SLOW = Backoff(base=30.0, factor=1.0, cap=30.0)  # a dropped hub stays down for the test


def deleted(env: Env) -> list[str]:
    return [r["orderId"] for r in env.sim.cancel_requests]


async def book(env: Env) -> dict[str, str]:
    """EUR/CHF as a CFD (buys and a sell) and as a spot market, on Acme Main; shown."""
    sim, main = env.sim, env.main_id
    ids = {
        "cfd buy": sim.add_order(main, "cfd.eur_chf", "Buy", "10000", "0.93"),
        "cfd buy 2": sim.add_order(main, "cfd.eur_chf", "Buy", "20000", "0.92"),
        "cfd sell": sim.add_order(main, "cfd.eur_chf", "Sell", "10000", "0.96"),
        "spot buy": sim.add_order(main, "spot.eur_chf", "Buy", "100", "0.93"),
        "margin buy": sim.add_order(env.margin_id, "cfd.eur_chf", "Buy", "10000", "0.93"),
    }
    await until(lambda: set(ids.values()) <= set(env.rows()))
    return ids


async def test_one_side_of_a_market_leaves_the_other_side_and_the_spot_market_open() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        row = env.rows()[ids["cfd buy"]]
        assert (row.symbol, row.category, row.instrument_id) == ("EUR/CHF", "cfd", "cfd.eur_chf")
        plan = env.plan(CancelScope.for_instrument(row, Side.BUY))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        buys = {ids["cfd buy"], ids["cfd buy 2"]}
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            i: Outcome.CANCELLED for i in buys
        }
        assert sorted(deleted(env)) == sorted(buys)
        assert env.venue_ids() == set(ids.values()) - buys
        await until(env.in_sync)


async def test_one_side_of_the_account_takes_the_buys_that_arrived_since() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        plan = env.plan(CancelScope.for_account(MAIN, Side.BUY))
        later = env.sim.add_order(env.main_id, "spot.btc_usdt", "Buy", "0.1", "50000")
        await until(lambda: later in env.rows())
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        buys = {ids["cfd buy"], ids["cfd buy 2"], ids["spot buy"], later}
        assert {k.order_id for k in result.outcomes} == buys
        assert result.count(Outcome.CANCELLED) == 4
        # the sell and the other trading account stay
        assert env.venue_ids() == {ids["cfd sell"], ids["margin buy"]}


async def test_everything_while_live_asks_the_hub_for_a_fresh_list_first() -> None:
    async with connected() as env:
        await live(env)
        ids = await book(env)
        plan = env.plan(CancelScope.for_account(MAIN))
        unseen = env.sim.add_order(env.main_id, "cfd.xau_usd", "Sell", "1", "2700", push=False)
        assert unseen not in env.rows()
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert env.venue_ids(env.main_id) == set()
        assert env.venue_ids(env.margin_id) == {ids["margin buy"]}  # another trading account
        expected = {i for k, i in ids.items() if k != "margin buy"} | {unseen}
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            i: Outcome.CANCELLED for i in expected
        }
        assert env.state() is VenueState.LIVE


async def test_everything_with_the_hub_down_lists_on_a_connection_of_its_own() -> None:
    async with connected(backoff=SLOW) as env:
        await live(env)
        ids = await book(env)
        await env.sim.drop_connections()  # the client's hub is down, its next try 30 s away
        await until(lambda: env.state() is VenueState.RECONNECTING)
        unseen = env.sim.add_order(env.main_id, "cfd.xau_usd", "Sell", "1", "2700")
        also = env.sim.add_order(env.margin_id, "spot.btc_usdt", "Buy", "0.1", "50000")
        assert {unseen, also}.isdisjoint(env.rows())
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(LOGIN))), 10
        )
        assert env.sim.open_orders() == []
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            i: Outcome.CANCELLED for i in {*ids.values(), unseen, also}
        }
        assert result.text == ""
        assert env.state() is VenueState.RECONNECTING  # all of it without its own hub


async def test_everything_without_any_fresh_list_says_what_may_be_left() -> None:
    async with connected(backoff=SLOW) as env:
        await live(env)
        ids = await book(env)
        env.sim.refuse_upgrade = 503  # no hub connection at all
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        unseen = env.sim.add_order(env.main_id, "cfd.xau_usd", "Sell", "1", "2700")
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(MAIN))), 10
        )
        shown = {i for k, i in ids.items() if k != "margin buy"}
        assert {k.order_id for k in result.outcomes} == shown
        assert result.count(Outcome.CANCELLED) == len(shown)
        assert env.venue_ids(env.main_id) == {unseen}  # never shown, so never asked for
        assert result.text == (
            "no fresh list of the open orders (the account hub refused the connection: HTTP "
            "503): orders not shown here may still be open"
        )
        assert any("orders not shown here may still be open" in t for t in env.texts())
        assert MARGIN not in {k.account_key for k in result.outcomes}
