"""A cancel's receipt says only what the venue said (cancels.py, over the simulator): when a
request has to be sent again (HTTP 429 or 5xx, 10006, 10016, 10002) or the stream is down and
the order fills meanwhile, the receipt says filled, or "closed, how unknown", never cancelled;
and the row leaves as filled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.closes import CloseReason
from blotter.core.notices import VenueState
from blotter.sim.bybit import BybitSimulator
from tests.helpers import until
from tests.venues.bybit.env import Env, connected
from tests.venues.harness import live

pytestmark = pytest.mark.timeout(30)

CANCEL = "/v5/order/cancel"


def fill_at_first_call(env: Env, order_id: str, *, push_lost: bool) -> None:
    """The order fills at the venue as the first cancel request arrives (before it is
    answered): the request that is sent again finds it gone."""

    def fill(method: str, path: str) -> None:
        if path == CANCEL:
            env.sim.call_listeners.remove(fill)
            env.sim.lose_next_close = push_lost
            env.sim.fill(order_id)

    env.sim.call_listeners.append(fill)


def sent_again(sim: BybitSimulator) -> None:
    assert sim.rest_calls.count(CANCEL) >= 2


RETRY_PATHS: dict[str, Callable[[BybitSimulator], None]] = {
    "HTTP 429": lambda sim: sim.force_http_status.append(429),
    "10006 rate limit": lambda sim: setattr(sim, "force_rate_limit", 1),
    "HTTP 500": lambda sim: sim.force_http_status.append(500),
    "10016 server error": lambda sim: setattr(sim, "force_server_error", 1),
    "10002 clock": lambda sim: setattr(sim, "clock_skew", -3.0),  # our stamps now 3 s ahead
}


@pytest.mark.parametrize("push_lost", [False, True], ids=["pushed", "push lost"])
@pytest.mark.parametrize("fault", list(RETRY_PATHS))
async def test_a_fill_while_a_cancel_is_sent_again_is_a_fill(fault: str, push_lost: bool) -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        fill_at_first_call(env, a, push_lost=push_lost)
        RETRY_PATHS[fault](env.sim)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        sent_again(env.sim)
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.FILLED, outcome
        assert a not in env.rows()
        assert env.store.closed[-1].order.order_id == a
        assert env.store.closed[-1].reason is CloseReason.FILLED
        assert env.in_sync()


async def test_a_cancel_that_keeps_failing_with_5xx_waits_for_the_venues_word() -> None:
    async with connected(cancel_timeout=0.5) as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        fill_at_first_call(env, a, push_lost=True)
        env.sim.force_http_status.extend([500, 502, 503])  # every try: maybe acted on
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.FILLED, outcome  # the re-read said so
        assert result.error is not None and result.error.startswith("HTTP 503 from Bybit")
        assert env.store.closed[-1].reason is CloseReason.FILLED


async def test_a_repeated_request_that_finds_the_order_gone_without_trace_says_how_unknown(
) -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())

        def vanish(method: str, path: str) -> None:
            if path == CANCEL:
                env.sim.call_listeners.remove(vanish)
                del env.sim._orders[a]  # gone, and not among the closes it keeps

        env.sim.call_listeners.append(vanish)
        env.sim.force_http_status.append(429)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.CLOSED
        assert outcome.text == "110001: order not exists or too late to cancel"
        await until(lambda: a not in env.rows())
        assert env.store.closed[-1].reason is CloseReason.VANISHED


async def test_already_gone_at_the_first_request_is_looked_up() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
        b = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40001")
        await until(lambda: {a, b} <= set(env.rows()))
        env.sim.lose_next_close = True
        env.sim.cancel_external(a, "CancelByAdmin")  # the table has not heard
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.CANCELLED  # the venue's record says cancelled
        assert outcome.text == "Cancelled · CancelByAdmin · EC_PerCancelRequest"
        assert env.store.closed[-1].order.order_id == a
        assert env.in_sync()


async def test_a_fill_while_the_stream_is_down_is_a_fill() -> None:
    async with connected(cancel_timeout=0.5) as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        env.sim.refuse_upgrade = True
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        env.sim.fill_on_cancel = True  # the cancel (by REST) loses to a fill; no stream
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.FILLED, outcome
        assert env.store.closed[-1].reason is CloseReason.FILLED
        assert env.state() is not VenueState.LIVE
        env.sim.refuse_upgrade = False
        await live(env)
        assert env.in_sync()


async def test_a_receipt_that_said_how_unknown_is_corrected_when_the_venue_says_filled() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        fill_at_first_call(env, a, push_lost=True)  # filled, and the stream never says so
        cancels = 0

        def lookup_fails(method: str, path: str) -> None:
            nonlocal cancels
            cancels += path == CANCEL
            if cancels == 2 and path == "/v5/order/realtime":
                env.sim.call_listeners.remove(lookup_fails)
                env.sim.force_http_status.extend([500] * 3)  # the lookup, and its 2 retries

        env.sim.call_listeners.append(lookup_fails)
        env.sim.force_http_status.append(429)  # the first cancel is never processed
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.CLOSED  # not "cancelled": how is not known yet
        # the next fresh list looks the order up: the venue says it filled
        await until(lambda: a not in env.rows())
        close = env.store.closed[-1]
        assert close.order.order_id == a and close.reason is CloseReason.FILLED
        corrections = [n for n in env.notices if "receipt said only" in n.text]
        assert [n.order_ids for n in corrections] == [(a,)]
        assert corrections[0].text.startswith("BTCUSDT buy 0.01 @ 50,000 filled")
        assert env.in_sync()
