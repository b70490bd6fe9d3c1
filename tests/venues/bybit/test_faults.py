"""The fault matrix for Bybit, over real sockets: each fault is injected while the venue keeps
changing (driven from the test: a new order, a partial fill, a fill, a cancel at the venue),
and the account must leave LIVE (at once, or within the silence bound), show its rows
unverified while it is not live, come back equal to the venue (ids, remaining amounts, prices;
no ghost, no missing order) within 5 s of the venue being reachable, and say in one notice
exactly what changed while it was away: how each missing order ended (looked up by its id),
naming exactly the orders that changed.

The silence bound is 1 s here (the default 9 s is asserted in test_client.py), the backoff the
harness's FAST one, and a refused key is retried after 0.2 s (the default schedule is in
tests/venues/test_base.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from blotter.core.notices import VenueState
from tests.helpers import until
from tests.venues.bybit.env import Env, connected
from tests.venues.harness import live, trading_through_drops

pytestmark = pytest.mark.timeout(30)

BACK = 5.0  # s: equal to the venue within this of it being reachable again
SUMMARY = "1 filled, 1 cancelled at the venue, 1 new, 1 changed"


Seen = list[tuple[VenueState, bool]]


@asynccontextmanager
async def trading() -> AsyncIterator[tuple[Env, Seen]]:
    """A live account of 6 orders, with a short silence bound and a quick key retry; and each
    state it showed with whether its rows were verified then."""
    async with connected({"initial_orders": 6}, ping_interval=0.2, silence_bound=1.0) as env:
        env.client.auth_retry = lambda refusals: 0.2
        seen: Seen = []
        # after the trust board's own subscription: it has taken the state in
        env.client._states.subscribe(lambda s: seen.append((s.state, env.verified())))
        await live(env)
        # the venue trades before the fault (its pushes arrive)
        first = next(iter(env.rows()))
        env.sim.fill(first)
        await until(lambda: first not in env.rows())
        assert env.in_sync() and env.verified()
        yield env, seen


def change_the_venue(env: Env) -> set[str]:
    """What the venue does while the account cannot hear it: a fill, a cancel at the venue, a
    partial fill and a new order; the ids of the four."""
    a, b, c = _three_new(env)
    env.sim.fill(a)
    env.sim.cancel_external(b, "CancelByAdmin")
    env.sim.fill(c, _part(env, c))
    d = env.sim.place_order("linear", "SOLUSDT", "Sell", "3", "190.5")
    return {a, b, c, d}


def _three_new(env: Env) -> tuple[str, str, str]:
    ids = [o["orderId"] for o in env.sim.open_orders()
           if o["orderStatus"] in ("New", "PartiallyFilled")]
    assert len(ids) >= 3, ids
    return ids[0], ids[1], ids[2]


def _part(env: Env, order_id: str) -> str:
    order = env.sim.order(order_id)
    assert order is not None
    return str(float(order["leavesQty"]) / 2)


async def left_live(env: Env, seen: Seen, start: int, timeout: float = 0.5) -> None:
    """The account stopped being LIVE (within ``timeout`` of the fault, when ``seen`` had
    ``start`` states), and whenever it was not LIVE its rows were unverified."""
    await until(lambda: any(state is not VenueState.LIVE for state, _ in seen[start:]),
                timeout=timeout, message="the account to leave LIVE")
    assert all(not ok for state, ok in seen[start:] if state is not VenueState.LIVE), seen


async def back(env: Env, seen: Seen, changed: set[str], how: str = "disconnected") -> None:
    """LIVE again and equal to the venue within ``BACK`` s, its rows never vouched for while it
    was not LIVE; one notice of what changed, naming exactly the ``changed`` orders."""
    await until(lambda: env.state() is VenueState.LIVE and env.in_sync(), timeout=BACK,
                message="LIVE and equal to the venue")
    assert env.verified()
    assert all(not ok for state, ok in seen if state is not VenueState.LIVE), seen
    await until(lambda: env.resync_notices(), timeout=1)
    (notice,) = env.resync_notices()
    assert re.fullmatch(rf"While sim was {how} \(\d+ s\): {SUMMARY}", notice), notice
    assert set(env.resyncs()[0].order_ids) == changed
    # and it keeps up afterwards
    new = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.001", "90000")
    await until(lambda: new in env.rows())
    assert env.in_sync()


# -- the connection ----------------------------------------------------------------------------
async def test_an_abrupt_drop() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        await env.sim.drop_connections()  # no close frame (1006)
        changed = change_the_venue(env)  # before the client can even reconnect
        await left_live(env, seen, start)
        await back(env, seen, changed)


async def test_silence() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.silent_socket = True  # connected, nothing arrives, not even a pong
        changed = change_the_venue(env)
        await left_live(env, seen, start, timeout=2)  # within the 1 s bound (and the look)
        assert seen[start][0] is VenueState.STALE
        await until(lambda: env.state() is VenueState.RECONNECTING, timeout=2)
        env.sim.silent_socket = False
        await back(env, seen, changed)


async def test_a_half_open_socket() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        await env.sim.half_open()  # the venue itself is fine: a new socket works at once
        changed = change_the_venue(env)
        await left_live(env, seen, start, timeout=2)
        assert seen[start][0] is VenueState.STALE
        await back(env, seen, changed)


async def test_refused_websocket_upgrades_for_a_while() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.refuse_upgrade = True
        await env.sim.drop_connections()
        await left_live(env, seen, start)
        changed = change_the_venue(env)
        await until(lambda: any(s.reason == "websocket refused: HTTP 503"
                                for s in env.states))
        assert not env.verified()
        env.sim.refuse_upgrade = False
        await back(env, seen, changed)


async def test_a_refused_key_then_accepted_again() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.refuse_key = True
        await env.sim.drop_connections()
        await left_live(env, seen, start)
        changed = change_the_venue(env)
        await until(lambda: env.state() is VenueState.FAILED)
        assert env.states[-1].reason.startswith("Bybit refused the API key: Invalid apikey")
        assert not env.verified()
        env.sim.refuse_key = False
        await back(env, seen, changed)


# -- the frames --------------------------------------------------------------------------------
async def test_a_malformed_frame() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.cut_pushes = 4  # the venue's changes reach us as frames cut in half
        changed = change_the_venue(env)
        await left_live(env, seen, start)
        assert any(t.startswith("Could not read a message (not JSON") for t in env.texts())
        await back(env, seen, changed, how="unverified")


# -- the REST API ------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 500])
async def test_http_errors_on_the_re_read(status: int) -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.refuse_upgrade = True
        await env.sim.drop_connections()
        await left_live(env, seen, start)
        changed = change_the_venue(env)
        env.sim.force_http_status.extend([status] * 3)  # the re-read's first calls
        env.sim.refuse_upgrade = False
        await back(env, seen, changed)


async def test_slow_replies() -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.refuse_upgrade = True
        await env.sim.drop_connections()
        await left_live(env, seen, start)
        changed = change_the_venue(env)
        env.sim.reply_delay = 2.0  # every private REST call
        env.sim.refuse_upgrade = False
        await back(env, seen, changed)


@pytest.mark.parametrize("skew", [-3.0, 3.0], ids=["venue 3 s behind", "venue 3 s ahead"])
async def test_clock_skew(skew: float) -> None:
    async with trading() as (env, seen):
        start = len(seen)
        env.sim.refuse_upgrade = True
        await env.sim.drop_connections()
        await left_live(env, seen, start)
        changed = change_the_venue(env)
        env.sim.clock_skew = skew
        env.sim.refuse_upgrade = False
        await back(env, seen, changed)
        assert abs(env.client.rest.clock_offset_ms - skew * 1000) < 500


async def test_a_venue_trading_through_drops_and_slow_answers_ends_equal() -> None:
    async with connected({"initial_orders": 40}) as env:
        await live(env)
        await trading_through_drops(env)
        await until(env.in_sync, timeout=10, message="the rows equal the venue's open orders")
        assert len(env.rows()) > 10
