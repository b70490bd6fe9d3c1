"""How far the Bitfinex table can be trusted, against the simulator over real sockets: audits
while the stream is live, frames that cannot be read, and cancel receipts that never guess.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from blotter.core.cancel import CancelResult, CancelScope, Outcome
from blotter.core.closes import CloseReason
from blotter.core.notices import VenueState
from blotter.venues.base import Backoff
from tests.helpers import until
from tests.venues.bitfinex.test_client import Env, connected, place
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)

SLOW = Backoff(base=30.0, factor=1.0, cap=30.0)  # a socket that drops stays down


def rereads(env: Env) -> int:
    return env.sim.rest_calls.count("/v2/auth/r/orders")


def could_not_read(env: Env) -> list[str]:
    return [n.text for n in env.notices if n.text.startswith("Could not read ")]


def doubt(what: str) -> str:
    return f"Could not read {what} from Bitfinex; re-reading the open orders"


async def cancel(env: Env, order_id: int) -> CancelResult:
    plan = env.plan(CancelScope.order(env.key(order_id)))
    return await asyncio.wait_for(env.client.cancel(plan), 10)


def closed_as(env: Env, order_id: int) -> CloseReason:
    (close,) = [c for c in env.store.closed if c.order.order_id == str(order_id)]
    return close.reason


# -- audits while live ---------------------------------------------------------------------------
async def test_an_audit_while_the_venue_trades_loses_nothing_the_stream_said(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        ids = place(env, 4)
        await until(lambda: len(env.rows()) == 4)
        env.sim.reply_delay = 0.5  # the list is on its way while the venue trades
        audit = asyncio.ensure_future(env.client.check())
        await until(lambda: rereads(env) == 1)
        new = env.sim.place_order("tETHUSD", "1", "3000")
        env.sim.fill(ids[0], "0.0001")
        env.sim.fill(ids[1])
        env.sim.cancel_external(ids[2])
        assert await asyncio.wait_for(audit, 5)
        assert env.in_sync()
        assert str(new) in env.rows() and str(ids[1]) not in env.rows()
        # the stream's closes stand, with their reasons; nothing came back or went missing
        assert closed_as(env, ids[1]) is CloseReason.FILLED
        assert closed_as(env, ids[2]) is CloseReason.CANCELLED_AT_VENUE
        assert env.resync_notices() == []
        assert env.state() is VenueState.LIVE and env.verified()


async def test_the_periodic_audit_finds_a_close_the_stream_lost(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 3}) as env:
        env.client.audit_interval = 0.3
        await live(env)
        ids = [int(i) for i in env.rows()]
        env.sim.lose_next_close = True  # the venue's oc never reaches the socket
        env.sim.fill(ids[0])
        await until(lambda: str(ids[0]) not in env.rows())  # the next audit corrects it
        assert env.in_sync()
        (audit,) = env.resync_notices()
        assert audit.startswith(f"Audit of sim: order {ids[0]} (")
        # the order history says how it ended
        (close,) = [c for c in env.store.closed if c.order.order_id == str(ids[0])]
        assert close.reason is CloseReason.FILLED
        assert close.outcome_text().startswith("filled at ")
        assert audit.endswith(f"was closed at the venue ({close.outcome_text()}) but no close "
                              "arrived on the stream")
        assert env.state() is VenueState.LIVE


# -- a bad item never hides good news ------------------------------------------------------------
async def test_a_close_with_an_unreadable_field_still_closes_its_row(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 3}) as env:
        await live(env)
        target = int(next(iter(env.rows())))
        env.sim.garble_next = "oc"  # MTS_UPDATE as text
        env.sim.fill(target)
        await until(lambda: str(target) not in env.rows())
        assert closed_as(env, target) is CloseReason.FILLED  # the fill is not lost
        assert could_not_read(env) == [doubt(f"the close of order {target}")]
        await until(lambda: rereads(env) == 1 and env.state() is VenueState.LIVE)
        assert VenueState.STALE in [s.state for s in env.states]
        assert env.in_sync() and env.client.malformed_frames == 1
        assert env.resync_notices() == []  # the close was applied: the re-read found no news


async def test_an_update_that_cannot_be_read_is_not_taken_and_the_reread_corrects_it(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        target, _ = place(env, 2)  # 0.5 each
        await until(lambda: len(env.rows()) == 2)
        env.sim.garble_next = "ou"
        env.sim.fill(target, "0.2")
        await until(lambda: env.rows()[str(target)].remaining == Decimal("0.3"))
        assert could_not_read(env) == [doubt(f"an update of order {target}")]
        await until(lambda: env.state() is VenueState.LIVE)
        assert env.in_sync()
        (summary,) = env.resync_notices()
        assert summary.startswith("While sim was unverified (") and summary.endswith(
            "): 1 changed")


async def test_a_frame_that_is_not_json_is_doubted_and_the_rows_reread(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 2}) as env:
        await live(env)
        env.sim.lose_next_close = True
        gone = int(next(iter(env.rows())))
        env.sim.cancel_external(gone)  # unseen ...
        await env.sim.send_raw('[0,"oc",[' + str(gone) + ',')  # ... and what came is cut short
        await until(lambda: str(gone) not in env.rows())
        assert could_not_read(env) == [doubt("an order close")]
        await until(lambda: env.state() is VenueState.LIVE)
        assert env.in_sync()
        (summary,) = env.resync_notices()
        assert summary.endswith("): 1 cancelled at the venue")  # as the order history says


async def test_an_unreadable_snapshot_replaces_nothing_and_the_rows_are_read_over_rest(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, {"initial_orders": 4}) as env:
        await live(env)
        before = env.rows()
        await env.sim.send_raw('[0,"os",[[1,null,null,"tBTCUSD"]]]')
        await until(lambda: rereads(env) == 1)
        assert could_not_read(env) == [doubt("the open orders snapshot")]
        assert set(env.rows()) == set(before)
        await until(lambda: env.state() is VenueState.LIVE)
        assert env.in_sync() and env.resync_notices() == []


# -- outcomes are never guessed ------------------------------------------------------------------
async def test_socket_down_the_order_filled_before_the_rest_cancel_arrived(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, backoff=SLOW) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        env.sim.fill(target)  # lands while the trader's cancel is on its way
        result = await cancel(env, target)
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome is Outcome.FILLED  # "Order not found.": the history says how
        assert outcome.text.startswith("EXECUTED @ ")
        assert env.store.closed[-1].reason is CloseReason.FILLED
        assert f"Order {target} was filled before the cancel: {outcome.text}" in [
            n.text for n in env.notices]


async def test_socket_down_the_venue_fills_the_order_after_acknowledging_the_cancel(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, backoff=SLOW) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        env.sim.fill_on_cancel = True  # the fill wins; its oc goes nowhere
        result = await cancel(env, target)
        assert "SUCCESS" in [n.status for n in env.notices]  # the cancel was acknowledged
        assert result.outcomes[env.key(target)].outcome is Outcome.FILLED
        assert env.store.closed[-1].reason is CloseReason.FILLED


async def test_a_refused_nonce_repeats_the_cancel_and_a_fill_in_between_is_a_fill(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, backoff=SLOW) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        # another process used the key: the first cancel is refused unprocessed, then repeated
        env.sim.nonces.accept(env.sim.credentials["api_key"],
                              time.time_ns() // 1000 + 300_000)
        env.sim.fill(target)
        result = await cancel(env, target)
        assert env.sim.rest_calls[:2] == ["/v2/auth/w/order/cancel"] * 2
        assert result.outcomes[env.key(target)].outcome is Outcome.FILLED
        assert env.store.closed[-1].reason is CloseReason.FILLED


async def test_a_cancel_whose_close_was_lost_times_out_into_the_history(tmp_path: Path) -> None:
    async with connected(tmp_path, cancel_timeout=0.5) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        env.sim.fill_on_cancel = True
        env.sim.lose_next_close = True  # the fill's oc never comes
        result = await cancel(env, target)
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome is Outcome.FILLED and outcome.text.startswith("EXECUTED @ ")
        assert env.store.closed[-1].reason is CloseReason.FILLED
        assert "/v2/auth/r/orders/hist" in env.sim.rest_calls


async def test_a_drop_after_the_ack_and_a_fill_meanwhile_is_a_fill(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        (target, other) = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        env.sim.drop_after_ack = True
        env.sim.fill_on_cancel = True
        result = await cancel(env, target)
        assert result.outcomes[env.key(target)].outcome is Outcome.FILLED
        assert closed_as(env, target) is CloseReason.FILLED
        await until(lambda: env.state() is VenueState.LIVE and env.sim.auth_ok_count == 2)
        assert env.in_sync() and set(env.rows()) == {str(other)}


@pytest.mark.parametrize(("status", "text"), [(429, "ratelimit: error"),
                                              (500, "internal error")])
async def test_a_rest_cancel_refused_unprocessed_is_rejected_never_cancelled(
    tmp_path: Path, status: int, text: str
) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.send_info(20060)  # maintenance: cancels go over REST
        await until(lambda: env.state() is VenueState.STALE)
        env.sim.rest_failure = status
        result = await cancel(env, target)
        outcome = result.outcomes[env.key(target)]
        assert (outcome.outcome, outcome.text) == (Outcome.REJECTED, text)
        assert not env.store.is_cancel_pending(env.key(target))  # the row is back as it was
        env.sim.fill(target)  # the order fills: the stream says so
        await until(lambda: env.rows() == {})
        assert env.store.closed[-1].reason is CloseReason.FILLED


async def test_an_audit_under_way_never_holds_a_cancel_back(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 3}) as env:
        await live(env)
        target = int(next(iter(env.rows())))
        env.sim.reply_delay = 2.0  # the audit's list takes 2 s to come back
        audit = asyncio.ensure_future(env.client.check())
        await until(lambda: "/v2/auth/r/orders" in env.sim.rest_calls)
        env.sim.reply_delay = 0.0  # (the list is on its way, still 2 s off) the cancel is not
        plan = env.plan(CancelScope.order(env.key(target)))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        # confirmed by the venue while the audit still waited for its list
        assert not audit.done()
        assert result.outcomes[env.key(target)].outcome is Outcome.CANCELLED
        assert await asyncio.wait_for(audit, 5)
        assert env.in_sync() and str(target) not in env.rows()
