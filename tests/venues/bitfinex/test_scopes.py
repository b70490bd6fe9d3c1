"""The scopes a trader pulls, sent to the Bitfinex simulator over loopback (cancels.py): a side
is never sent as ``all: 1``, and everything is ``all: 1``, which also takes the orders the table
has not shown (here: placed while the socket was down, cancelled over REST).

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.notices import VenueState
from blotter.core.order import Side
from tests.helpers import until
from tests.venues.bitfinex.test_client import ACCOUNT, Env, connected, place
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)


def venue_ids(env: Env) -> set[str]:
    return {str(a[0]) for a in env.sim.open_orders()}


def sent(env: Env) -> list[object]:
    """The cancel inputs the venue received on the socket."""
    return [i for i in env.sim.inputs_received if isinstance(i, list) and i[1] in ("oc", "oc_multi")]


async def test_one_side_of_a_symbol_goes_by_id_and_leaves_the_other_side(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        buys = place(env, 2)
        sells = place(env, 2, amount="-0.5", price="90000")
        eth = place(env, 1, symbol="tETHUSD", price="3000")
        await until(lambda: len(env.rows()) == 5)
        plan = env.plan(CancelScope.for_symbol(ACCOUNT, "tBTCUSD", side=Side.BUY))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.ok and {k.order_id for k in result.outcomes} == {str(i) for i in buys}
        assert venue_ids(env) == {str(i) for i in sells + eth}
        (multi,) = sent(env)
        assert multi[:3] == [0, "oc_multi", None]  # type: ignore[index]
        assert sorted(multi[3]["id"]) == sorted(buys)  # type: ignore[index]
        await until(env.in_sync)


async def test_one_side_of_the_account_takes_the_sells_that_arrived_since(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        buys = place(env, 2)
        sells = place(env, 2, amount="-0.5", price="90000")
        await until(lambda: len(env.rows()) == 4)
        plan = env.plan(CancelScope.for_account(ACCOUNT, Side.SELL))
        later = place(env, 1, symbol="tETHUSD", amount="-1", price="5000")  # after the plan
        await until(lambda: str(later[0]) in env.rows())
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            str(i): Outcome.CANCELLED for i in sells + later
        }
        assert venue_ids(env) == {str(i) for i in buys}
        assert all({"all": 1} != i[3] for i in sent(env))  # type: ignore[index]


async def test_everything_is_all_1_and_takes_orders_never_shown(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        shown = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        env.sim.refuse_upgrade = 503  # the socket stays down: cancels go over signed REST
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        unseen = place(env, 1, symbol="tETHUSD", price="3000")  # nothing tells the client
        assert str(unseen[0]) not in env.rows()
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.everything())), 15
        )
        assert env.sim.open_orders() == []
        assert env.sim.rest_writes == [("/v2/auth/w/order/cancel/multi", {"all": 1})]
        assert {k.order_id: o.outcome for k, o in result.outcomes.items()} == {
            str(i): Outcome.CANCELLED for i in shown + unseen
        }
        env.sim.refuse_upgrade = None
        await live(env)
        assert env.in_sync()
