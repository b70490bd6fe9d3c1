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
from blotter.core.closes import describe_order
from blotter.core.notices import Level, NoticeBus, StateBus
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


def describe(engine: Engine, oid: object) -> str:
    return describe_order(next(o for o in engine.store if o.order_id == str(oid)))


async def test_cancel_all_reaches_every_account_and_sums_up(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        sims[B].fill_on_cancel = True  # b's order is filled before the cancel lands
        filled = describe(engine, sims[B].open_orders()[0][0])
        results = await asyncio.wait_for(engine.cancel(CancelScope.everything()), 10)
        assert {str(r.plan.account) for r in results} == {"bitfinex:a", "bitfinex:b"}
        assert all(sim.open_orders() == [] for sim in sims.values())
        assert len(engine.store) == 0
        by_account = {r.plan.account: r for r in results}
        assert by_account[A].count(Outcome.CANCELLED) == 2
        assert by_account[B].count(Outcome.FILLED) == 1
        # one count per venue, and the fill that beat the cancel named
        assert lines[-1] == f"Cancelled 2 of 3: Bitfinex 2; 1 filled first ({filled})"
        assert filled == "tBTCUSD buy 0.01 @ 30,000"


async def test_a_single_bitfinex_cancel_ends_with_its_receipt(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        oid = sims[A].open_orders()[0][0]
        what = describe(engine, oid)
        key = next(o.key for o in engine.store if o.order_id == str(oid))
        await asyncio.wait_for(engine.cancel(CancelScope.order(key)), 10)
        # the venue's words on the way, and the receipt last: it says it was done
        submitted = f"SUCCESS: Submitted for cancellation; waiting for confirmation (ID: {oid})."
        assert submitted in lines
        assert lines.index(submitted) < len(lines) - 1
        assert lines[-1] == f"Cancelled 1 of 1 on a ({what})"


async def test_a_bulk_bitfinex_cancel_ends_with_its_receipt(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        orders = engine.store.orders(A)
        await asyncio.wait_for(engine.cancel(CancelScope.selected(o.key for o in orders)), 10)
        assert sims[A].open_orders() == []
        assert lines[-1] == "Cancelled 2 of 2 on a"
        receipt = engine.notices.history[-1]
        assert receipt.level is Level.SUCCESS
        # behind the summary, for the notice log: the venue's words for the request, and one
        # line per order
        assert receipt.details[0] == "a: Submitting 2 order cancellations."
        assert {d.partition(": cancelled")[0] for d in receipt.details[1:]} == {
            f"a · order {o.order_id} ({describe_order(o)})" for o in orders
        }


async def test_a_fill_that_beat_the_cancel_is_named_with_its_price(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        sims[A].fill_on_cancel = True
        (result,) = await asyncio.wait_for(engine.cancel(CancelScope.group(A, "5")), 10)
        filled = next(o for o in result.outcomes.values() if o.outcome is Outcome.FILLED)
        order = next(o for o in result.plan.orders if o.key == filled.key)
        assert lines[-1] == f"Cancelled 1 of 2 on a; 1 filled first ({describe_order(order)})"
        assert engine.notices.history[-1].level is Level.WARNING


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
    assert lines[-1] == "Cancelled 0 of 1 on b: b is not connected (order 3)"
    assert notices.history[-1].level is Level.ERROR


async def test_an_account_that_cannot_be_re_read_is_not_called_proven():
    store, notices = OrderStore(), NoticeBus()
    store.put(order("3", B))
    engine = Engine(store, notices, StateBus())
    await engine.cancel(CancelScope.for_account(B), prove=True)
    assert notices.history[-1].line() == (
        "Cancelled 0 of 1 on b: b is not connected (order 3); 1 left: tBTCUSD buy 1 (order 3); "
        "could not re-read b to prove it"
    )
    assert notices.history[-1].rest == (order("3", B).key,)


async def test_a_row_already_gone_says_so():
    notices = NoticeBus()
    lines: list[str] = []
    notices.subscribe(lambda n: lines.append(n.line()))
    engine = Engine(OrderStore(), notices, StateBus())
    assert await engine.cancel(CancelScope.order(order("99", A).key)) == []
    assert lines == ["Order 99 is no longer open; nothing to cancel."]


async def test_cancel_account_proves_itself_with_a_fresh_read(tmp_path):
    async with two_accounts(tmp_path) as (engine, sims, lines):
        await asyncio.wait_for(engine.cancel(CancelScope.for_account(A), prove=True), 15)
        assert lines[-1] == "Cancelled 2 of 2 on a; 0 left"
        receipt = engine.notices.history[-1]
        assert receipt.rest == ()
        assert receipt.details[0] == "Re-read from the venue: no order of the scope is left open"
        assert sims[A].open_orders() == [] and len(sims[B].open_orders()) == 1


async def test_all_sells_takes_a_sell_placed_while_the_confirmation_was_read(tmp_path):
    # "all sells on a" means all of them: one placed after the plans were shown goes too (as
    # the venue's cancel-all takes what the table never saw), and the fresh read proves it;
    # the buys were never in the scope and stay. (What a fresh read finds left, and Cancel
    # the Rest, are tests/ui/test_cancel_receipts.py.)
    async with two_accounts(tmp_path) as (engine, sims, lines):
        first = sims[A].place_order("tETHUSD", "-0.5", "2000")
        await until(lambda: any(o.order_id == str(first) for o in engine.store))
        scope = CancelScope.for_account(A, Side.SELL)
        plans = engine.plan(scope)  # as a confirmation showed them: one sell
        assert [o.order_id for p in plans for o in p.orders] == [str(first)]
        later = sims[A].place_order("tETHUSD", "-0.25", "2100")
        await until(lambda: any(o.order_id == str(later) for o in engine.store))
        await asyncio.wait_for(engine.cancel(scope, plans, prove=True), 15)
        assert lines[-1] == "Cancelled 2 of 2 on a; 0 left"
        assert engine.notices.history[-1].rest == ()
        open_ids = {o[0] for o in sims[A].open_orders()}
        assert first not in open_ids and later not in open_ids
        assert len(open_ids) == 2  # the two buys


async def test_an_instrument_everywhere_is_planned_on_every_account_of_the_venue(tmp_path):
    async with two_accounts(tmp_path) as (engine, _, _):
        plans = engine.plan(CancelScope.symbol_everywhere("bitfinex", "tETHUSD"))
        assert {p.account for p in plans} == {A, B}
        assert all(p.orders == () and p.symbol == "tETHUSD" for p in plans)
        sells = engine.plan(CancelScope.everything(Side.SELL))
        assert {p.account for p in sells} == {A, B}
        assert all(p.side is Side.SELL and not p.everything for p in sells)


class Routed:
    """A stand-in client that says how it sends a plan (as every venue client does)."""

    def __init__(self, account: AccountKey) -> None:
        self.account = account

    def cancel_route(self, plan) -> str:
        return f"one request for {len(plan.orders)}"


async def test_the_route_is_the_clients_words_or_nothing():
    engine = Engine(OrderStore(), NoticeBus(), StateBus())
    plan = engine.plan(CancelScope.for_account(A))[0]
    assert engine.cancel_route(plan) == ""  # no client
    engine.clients[A] = Routed(A)  # type: ignore[assignment]
    assert engine.cancel_route(plan) == "one request for 0"


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
