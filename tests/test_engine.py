"""Engine: cancel scopes routed to each account's client, and the summary a trader reads.

Real clients against loopback simulators, one simulated venue account per blotter account.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.store import OrderStore
from blotter.engine import Engine
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.venues.bitfinex.client import BitfinexClient
from tests.helpers import running_sim, until

A = AccountKey("bitfinex", "a")
B = AccountKey("bitfinex", "b")


@asynccontextmanager
async def two_accounts(tmp_path: Path) -> AsyncIterator[
    tuple[Engine, dict[AccountKey, BitfinexSimulator], list[str]]
]:
    store, notices = OrderStore(), NoticeBus()
    engine = Engine(store, notices, StateBus())
    lines: list[str] = []
    notices.subscribe(lambda n: lines.append(n.line()))
    async with AsyncExitStack() as stack:
        sims = {}
        for account, count in ((A, 2), (B, 1)):
            sim = await stack.enter_async_context(running_sim(seed=len(sims)))
            for i in range(count):
                sim.place_order("tBTCUSD", "0.01", str(30000 + i), gid=5)
            sims[account] = sim
            creds = sim.credentials
            engine.add_client(BitfinexClient(
                account, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=creds["api_key"],
                api_secret=creds["api_secret"], store=store, notices=notices,
                states=engine.states, nonce_dir=tmp_path / account.account, cancel_timeout=5.0,
            ))
        await until(lambda: len(store) == 3)
        try:
            yield engine, sims, lines
        finally:
            await asyncio.wait_for(engine.stop(), 10)


async def test_cancel_all_reaches_every_account_and_sums_up(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        sims[B].fill_on_cancel = True  # b's order is filled before the cancel lands
        results = await asyncio.wait_for(engine.cancel(CancelScope.everything()), 10)
        assert {str(r.plan.account) for r in results} == {"bitfinex:a", "bitfinex:b"}
        assert all(sim.open_orders() == [] for sim in sims.values())
        assert len(engine.store) == 0
        by_account = {r.plan.account: r for r in results}
        assert by_account[A].count(Outcome.CANCELLED) == 2
        assert by_account[B].count(Outcome.FILLED) == 1
        # one part per venue, with what did not end as cancelled spelled out
        assert lines[-1] == "Cancelled 2 of 3: Bitfinex 2 cancelled, 1 filled"


async def test_a_clean_single_cancel_leaves_the_venues_words_last(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        oid = sims[A].open_orders()[0][0]
        key = next(o.key for o in engine.store if o.order_id == str(oid))
        await asyncio.wait_for(engine.cancel(CancelScope.order(key)), 10)
        assert lines[-1] == (
            f"SUCCESS: Submitted for cancellation; waiting for confirmation (ID: {oid})."
        )


def order(oid: str, account: AccountKey) -> Order:
    return Order(venue=account.venue, account=account.account, order_id=oid, symbol="tBTCUSD",
                 side=Side.BUY, order_type="LIMIT", amount=Decimal(1), remaining=Decimal(1),
                 status=OrderStatus.OPEN, status_text="ACTIVE")


async def test_an_account_without_a_client_is_reported_not_dropped():
    store, notices = OrderStore(), NoticeBus()
    lines: list[str] = []
    notices.subscribe(lambda n: lines.append(n.line()))
    store.put(order("3", B))
    engine = Engine(store, notices, StateBus())
    (result,) = await engine.cancel(CancelScope.order(order("3", B).key))
    assert result.error == "b is not connected"
    assert result.outcomes[order("3", B).key].outcome is Outcome.REJECTED
    assert lines[-1] == "Cancelled 0 of 1: Bitfinex 0 cancelled, 1 rejected (b: b is not connected)"


async def test_a_row_already_gone_says_so():
    notices = NoticeBus()
    lines: list[str] = []
    notices.subscribe(lambda n: lines.append(n.line()))
    engine = Engine(OrderStore(), notices, StateBus())
    assert await engine.cancel(CancelScope.order(order("99", A).key)) == []
    assert lines == ["Order 99 is no longer open; nothing to cancel."]


async def test_connection_events_reach_the_notice_log_and_check_now_says_the_table_is_right(
    tmp_path,
):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        await until(lambda: all(engine.trust.verified(a) for a in (A, B)))
        await sims[A].drop_connections()
        await until(lambda: any(line.startswith("a lost its connection") for line in lines))
        await until(lambda: any(line.startswith("a is live again after") for line in lines))
        assert engine.trust.verified(A)
        # "Check now": the venue agrees with the table, and says so
        assert await asyncio.wait_for(engine.check(A), 10)
        assert lines[-1] == "Checked a: the table equals the venue (2 open orders)"
        # the venue closed one without the stream saying so: the check corrects the table
        # and names what was missed
        oid = sims[A].open_orders()[0][0]
        sims[A].lose_next_close = True  # the stream drops the close while pings still flow
        sims[A].cancel_external(oid)
        assert await asyncio.wait_for(engine.check(A), 10)
        assert any(line.startswith(f"Audit of a: order {oid} ") for line in lines), lines
        assert len(engine.store.orders(A)) == 1


async def test_reconnect_now_is_routed_to_the_accounts_client(tmp_path):
    async with two_accounts(tmp_path) as (engine, _, _):
        assert engine.reconnect_now(A)
        assert not engine.reconnect_now(AccountKey("bitfinex", "nobody"))
