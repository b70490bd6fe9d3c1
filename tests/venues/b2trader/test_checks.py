"""Checks of the table against the venue while the stream is live, and order lists that cannot
be read whole.

A check asks the hub for a fresh complete list of every trading account (a re-subscription):
while the venue keeps trading, it never loses a change or accuses the stream of one it did not
miss; after a list (or a change) the stream lost, it corrects the table and says exactly what
was missed. An order that cannot be read never hides the ones that can, nor takes a row away:
the account turns unverified and its lists are asked for again.
"""

from __future__ import annotations

import asyncio

import pytest

from blotter.core.closes import CloseReason
from blotter.core.notices import VenueState
from tests.helpers import until
from tests.venues.b2trader.env import MAIN, connected
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)

DELTA = pytest.mark.parametrize("delta", [False, True], ids=["snapshot", "delta"])


def audits(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith("Audit of ")]


@DELTA
async def test_checks_while_the_venue_trades_lose_nothing_and_accuse_nothing(delta: bool) -> None:
    async with connected({"initial_orders": 8, "delta_mode": delta}, delta=delta) as env:
        await live(env)
        env.sim.start_flow(40.0)  # fills, venue-side cancels, new orders, on both accounts
        for _ in range(6):
            check = asyncio.ensure_future(env.client.check())
            for _ in range(3):  # and changes driven while the fresh lists are on their way
                env.sim.flow_step()
                await asyncio.sleep(0)
            assert await asyncio.wait_for(check, 10)
        env.sim.stop_flow()
        await until(env.equal)
        assert audits(env.resync_notices()) == []
        assert env.state() is VenueState.LIVE and env.verified()


@DELTA
async def test_a_check_after_a_lost_close_corrects_the_table_and_names_the_order(
    delta: bool,
) -> None:
    async with connected({"initial_orders": 6, "delta_mode": delta}, delta=delta) as env:
        await live(env)
        target = next(iter(env.rows(MAIN)))
        env.sim.drop_items = 1  # the stream loses what would have said it closed
        env.sim.cancel_external(target)
        # the stream goes on (in snapshot mode the next list of Main would correct it)
        other = env.sim.add_order(env.margin_id)
        await until(lambda: other in env.rows())
        assert target in env.rows()  # a ghost, for now
        assert await asyncio.wait_for(env.client.check(), 10)
        assert target not in env.rows() and env.equal()
        (audit,) = audits(env.resync_notices())
        assert audit.startswith(f"Audit of acme/Acme Main: order {target} (")
        assert audit.endswith("was closed at the venue but no close arrived on the stream")
        assert env.state() is VenueState.LIVE


async def test_the_periodic_audit_finds_a_lost_close_on_its_own() -> None:
    async with connected({"initial_orders": 4, "delta_mode": True}, delta=True) as env:
        env.client.audit_interval = 0.3
        await live(env)
        target = next(iter(env.rows(MAIN)))
        env.sim.drop_items = 1
        env.sim.fill(target)
        await until(lambda: audits(env.resync_notices()))
        assert target not in env.rows() and env.equal()
        assert f"order {target} (" in audits(env.resync_notices())[0]


async def test_a_list_with_an_unreadable_order_applies_what_reads_and_is_asked_for_again() -> None:
    async with connected({"initial_orders": 0}) as env:
        await live(env)
        x = env.sim.add_order(env.main_id, amount="0.3")
        c = env.sim.add_order(env.main_id, amount="0.5")
        await until(lambda: {x, c} <= set(env.rows()))
        env.sim.drop_items = 1
        env.sim.fill(c, "0.2")  # this list is lost: the next one carries the change
        env.sim.bad_orders = 1
        env.sim.fill(x)  # x filled; the list without it carries an unreadable order too
        await until(lambda: any(t.startswith("Could not read ") for t in env.texts()))
        await until(lambda: env.equal() and env.state() is VenueState.LIVE)
        warning = next(n for n in env.notices if n.text.startswith("Could not read "))
        assert warning.text == (
            "Could not read 1 order(s) of acme/Acme Main (order '01BAD0000000000000000000000': "
            "side is not Buy/Sell: 'Sideways') from Acme; re-reading the open orders"
        )
        # c's change came with the list that could not be read whole, and was applied then;
        # x's close (it is missing from that list) waited for the fresh list
        (summary,) = [t for t in env.resync_notices() if t.startswith("While ")]
        assert summary.startswith("While acme/Acme Main was unverified (")
        assert summary.endswith("): 1 closed while unseen")
        states = [s.state for s in env.states]
        assert states[-2:] == [VenueState.STALE, VenueState.LIVE]
        assert env.client.malformed_records == 1


async def test_a_delta_change_with_an_unreadable_order_still_closes_the_readable_one() -> None:
    async with connected({"initial_orders": 3, "delta_mode": True}, delta=True) as env:
        await live(env)
        x = next(iter(env.rows(MAIN)))
        env.sim.bad_orders = 1
        env.sim.fill(x)  # one change [x Completed, an unreadable order]
        await until(lambda: x not in env.rows())
        closed = env.store.closed[-1]
        assert closed.order.order_id == x and closed.reason is CloseReason.FILLED
        assert any(t.startswith("Could not read 1 order(s) of acme/Acme Main") for t in
                   env.texts())
        await until(lambda: env.equal() and env.state() is VenueState.LIVE)
        assert VenueState.STALE in [s.state for s in env.states]


async def test_a_list_that_is_no_list_is_asked_for_again() -> None:
    async with connected({"initial_orders": 3}) as env:
        await live(env)
        gone = next(iter(env.rows(MAIN)))
        env.sim.drop_items = 1
        env.sim.cancel_external(gone)
        await env.sim.send_raw('{"type":2,"invocationId":"0","item":{"orders":7}}\x1e')
        await until(lambda: gone not in env.rows() and env.state() is VenueState.LIVE)
        assert env.equal()
        assert any(t.startswith("Could not read the order list of acme/Acme Main (")
                   for t in env.texts())


@DELTA
async def test_a_re_read_that_cannot_be_read_either_is_asked_for_again(delta: bool) -> None:
    async with connected({"initial_orders": 3, "delta_mode": delta}, delta=delta) as env:
        await live(env)
        env.client.check_timeout = 30.0  # recovery must not wait for a check to give up
        x = next(iter(env.rows(MAIN)))
        env.sim.bad_orders = 2  # the change, and then the fresh list asked for, unreadable
        env.sim.fill(x)
        await until(lambda: env.client.malformed_records >= 2)
        added = env.sim.add_order(env.main_id)  # a change the muted stream does not carry
        await until(lambda: env.state() is VenueState.LIVE and env.equal(), timeout=5)
        assert added in env.rows() and x not in env.rows()


@DELTA
async def test_a_check_whose_answer_cannot_be_read_asks_again_and_succeeds(delta: bool) -> None:
    # A quiet venue: nothing follows the unreadable answer, so only asking again can settle it.
    async with connected({"initial_orders": 4, "delta_mode": delta}, delta=delta) as env:
        await live(env)
        env.client.check_timeout = 5.0
        env.sim.bad_orders = 1  # the first fresh list the check gets carries an unreadable order
        assert await asyncio.wait_for(env.client.check(), 10)
        assert env.client.malformed_records == 1
        await until(lambda: env.state() is VenueState.LIVE and env.equal())
