"""The fault matrix for Bitfinex, over real sockets against the simulator.

Each fault is injected while the venue keeps changing (new orders, partial and full fills,
venue-side cancels, driven from the test), and the trader must be able to rely on this: the
account leaves LIVE at once (or, for silence, within the bound), its rows are drawn unverified
while it is not live, and within 5 s of the venue being reachable again the table equals the
venue's open orders exactly, with one notice that lists exactly what changed unseen.
Reconnects use ``FAST`` backoff and a 1 s silence bound (the real defaults are asserted in
test_client.py).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.notices import AccountState, VenueState
from tests.helpers import until
from tests.venues.bitfinex.test_client import Env, connected, place
from tests.venues.harness import live, trading_through_drops

pytestmark = pytest.mark.timeout(30)

BACK = 5.0  # seconds from the venue being reachable to the table equal to it
ALL_FOUR = "1 filled, 1 cancelled at the venue, 1 new, 1 changed"  # as the history says


class Blind:
    """The account's trust as the trader sees it, at every state it goes through."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.seen: list[tuple[AccountState, bool]] = []
        env.client._states.subscribe(lambda s: self.seen.append((s, env.verified())))

    def states(self, state: VenueState) -> list[AccountState]:
        return [s for s, _ in self.seen if s.state is state]

    def left_live(self) -> bool:
        return any(s.state is not VenueState.LIVE for s, _ in self.seen)

    def check(self) -> None:
        """It left LIVE, every row was unverified while it was not live, and it is back."""
        assert self.left_live(), self.seen
        assert all(not ok for s, ok in self.seen if s.state is not VenueState.LIVE), self.seen
        assert self.env.state() is VenueState.LIVE and self.env.verified()


async def prepared(env: Env) -> list[int]:
    """The venue trades a little before the fault (seen on the stream), leaving four orders of
    0.5 to change during it."""
    await live(env)
    ids = place(env, 5)
    env.sim.fill(ids[4])
    await until(lambda: len(env.rows()) == 4)
    assert env.in_sync()
    return ids[:4]


def trade_unseen(env: Env, ids: list[int]) -> set[str]:
    """What the venue does while the client cannot see it: one new order, a partial fill, a
    fill and a cancel at the venue (ALL_FOUR); the ids of the four."""
    new = env.sim.place_order("tETHUSD", "-2", "3100", gid=9)
    env.sim.fill(ids[0], "0.2")
    env.sim.fill(ids[1])
    env.sim.cancel_external(ids[2])
    return {str(new), *map(str, ids[:3])}


async def back(
    env: Env, summary: str, how: str = "disconnected", changed: set[str] | None = None
) -> None:
    """Equal to the venue within ``BACK`` s, and one notice saying what changed unseen (naming
    exactly the ``changed`` orders, when given)."""
    await until(lambda: env.state() is VenueState.LIVE and env.in_sync(), timeout=BACK)
    (notice,) = env.resyncs()
    assert re.fullmatch(rf"While sim was {how} \(\d+ s\): {summary}", notice.text), notice
    if changed is not None:
        assert set(notice.order_ids) == changed


def faulty(tmp_path: Path, **options: Any) -> Any:
    options.setdefault("silence_bound", 1.0)
    options.setdefault("ping_interval", 0.2)
    return connected(tmp_path, **options)


# -- the connection ------------------------------------------------------------------------------
async def test_abrupt_drop(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        await env.sim.drop_connections()
        changed = trade_unseen(env, ids)  # before the client can be back
        await back(env, ALL_FOUR, changed=changed)
        blind.check()
        assert blind.seen[0][0].reason == "connection lost (1006)"  # at once


async def test_silence(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.silent_socket = True  # half-open: nothing arrives, nothing closes
        changed = trade_unseen(env, ids)
        await until(blind.left_live, timeout=1.0 + 1.0)  # the bound, and one step of slack
        assert blind.seen[0][0].state is VenueState.STALE
        env.sim.silent_socket = False
        await back(env, ALL_FOUR, changed=changed)
        blind.check()


async def test_refused_upgrades_for_a_while(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.refuse_upgrade = 503
        await env.sim.drop_connections()
        changed = trade_unseen(env, ids)
        await until(lambda: len(blind.states(VenueState.RECONNECTING)) >= 3)
        assert env.sim.connections_opened == 1
        assert blind.states(VenueState.RECONNECTING)[-1].reason == "connect refused (HTTP 503)"
        env.sim.refuse_upgrade = None
        await back(env, ALL_FOUR, changed=changed)
        blind.check()


@pytest.mark.parametrize(("code", "text"), [(20051, "venue restarting (20051)")])
async def test_venue_restart(tmp_path: Path, code: int, text: str) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        await env.sim.send_info(code, close=True)
        changed = trade_unseen(env, ids)
        await back(env, ALL_FOUR, changed=changed)
        blind.check()
        assert text in {s.reason for s in env.states}


async def test_maintenance(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        await env.sim.send_info(20060)
        await until(lambda: env.state() is VenueState.STALE)
        assert not env.verified()
        # the venue still streams during maintenance: the changes are seen as they happen
        trade_unseen(env, ids)
        await until(env.in_sync)
        assert not env.verified()
        await env.sim.send_info(20061)  # "please reconnect"
        await until(lambda: env.sim.auth_ok_count == 2 and env.state() is VenueState.LIVE,
                    timeout=BACK)
        assert env.in_sync()
        assert env.resync_notices() == []  # nothing was missed, so nothing to sum up
        blind.check()


async def test_a_refused_key_accepted_again(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        env.client.auth_retry = lambda refusals: 0.2
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.refuse_auth = True
        await env.sim.drop_connections()
        changed = trade_unseen(env, ids)
        await until(lambda: len(blind.states(VenueState.FAILED)) >= 2)
        failed = blind.states(VenueState.FAILED)
        assert failed[-1].reason.startswith("apikey: invalid (10100); retrying in ")
        assert failed[-1].retry_in == 0.2 and failed[-1].attempt >= 2
        env.sim.refuse_auth = False
        await back(env, ALL_FOUR, changed=changed)
        blind.check()


# -- what the stream carries -----------------------------------------------------------------------
async def test_a_malformed_frame(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.garble_next = "ou"  # this partial fill arrives unreadable
        env.sim.fill(ids[0], "0.2")
        env.sim.place_order("tETHUSD", "-2", "3100")  # seen
        env.sim.cancel_external(ids[2])  # seen
        await back(env, "1 changed", how="unverified")
        blind.check()
        assert env.sim.connections_opened == 1  # the stream itself was fine


# -- REST -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "text"), [(429, "ratelimit: error"),
                                              (500, "internal error")])
async def test_rest_failing_while_the_socket_is_down(
    tmp_path: Path, status: int, text: str
) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.refuse_upgrade = 503
        env.sim.rest_failure = status
        await env.sim.drop_connections()
        changed = trade_unseen(env, ids)
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert not await env.client.check()  # the venue could not be asked
        plan = env.plan(CancelScope.order(env.key(ids[3])))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        outcome = result.outcomes[env.key(ids[3])]
        assert (outcome.outcome, outcome.text) == (Outcome.REJECTED, text)
        assert not env.store.is_cancel_pending(env.key(ids[3]))
        env.sim.rest_failure = None
        env.sim.refuse_upgrade = None
        await back(env, ALL_FOUR, changed=changed)
        blind.check()
        assert str(ids[3]) in env.rows()  # refused unprocessed: still open, as the table says


async def test_slow_replies(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        env.sim.reply_delay = 2.0
        # an audit whose list takes 2 s to come back, while the venue trades on the stream
        audit = asyncio.ensure_future(env.client.check())
        await until(lambda: "/v2/auth/r/orders" in env.sim.rest_calls)
        env.sim.place_order("tETHUSD", "-2", "3100")
        env.sim.fill(ids[0], "0.2")
        assert await asyncio.wait_for(audit, 5)
        assert env.in_sync() and env.resync_notices() == []
        # a cancel whose acknowledgement takes 2 s
        plan = env.plan(CancelScope.order(env.key(ids[3])))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.outcomes[env.key(ids[3])].outcome is Outcome.CANCELLED
        # and a drop: the way back waits for the slow history only to say how the rows it
        # lacks ended
        blind = Blind(env)
        await env.sim.drop_connections()
        env.sim.fill(ids[1])
        env.sim.cancel_external(ids[2])
        await back(env, "1 filled, 1 cancelled at the venue", changed={str(ids[1]), str(ids[2])})
        blind.check()


async def test_a_snapshot_waiting_for_the_history_goes_with_its_session(tmp_path: Path) -> None:
    async with faulty(tmp_path) as env:
        ids = await prepared(env)
        blind = Blind(env)
        env.sim.reply_delay = 1.0  # the order history answers slowly
        await env.sim.drop_connections()
        changed = trade_unseen(env, ids)
        # back: the snapshot lacks two rows and waits for the history to say how they ended
        await until(lambda: env.sim.rest_calls.count("/v2/auth/r/orders/hist") == 1)
        await env.sim.drop_connections()  # its session ends meanwhile
        later = env.sim.place_order("tETHUSD", "1", "2900")  # unseen by that snapshot
        env.sim.reply_delay = 0.0
        # the next session's snapshot decides, in one notice (not the stale one, then a second)
        await back(env, "1 filled, 1 cancelled at the venue, 2 new, 1 changed",
                   changed={*changed, str(later)})
        blind.check()
        assert env.sim.rest_calls.count("/v2/auth/r/orders/hist") == 2


async def test_a_venue_trading_through_drops_and_slow_answers_ends_equal(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 40}) as env:
        await live(env)
        await trading_through_drops(env)
        await until(env.in_sync, timeout=10, message="the rows equal the venue's open orders")
        assert len(env.rows()) > 10
