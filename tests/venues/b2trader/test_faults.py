"""The fault matrix for B2TRADER, over real sockets: each fault is injected while the venue keeps
changing (an order filled, one cancelled at the venue, one partly filled, one new — driven from
the test), and then:

- the account leaves LIVE at once (a drop, a close, a refusal) or within the silence bound
  (two of the hub's keep-alive periods), and its rows are unverified while it is not live;
- once the venue can be reached again, the store equals the venue's open orders exactly (ids,
  remaining amounts, prices; no ghost, no missing order) within 5 s;
- one "While … was disconnected" notice sums up exactly the changes made during the fault.

The silence bound is short here (the hub pings every 0.5 s, the client gives up after 1 s of
silence); the real defaults are asserted in test_client.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest

from blotter.core.notices import VenueState
from tests.helpers import until
from tests.venues.b2trader.env import Env, connected
from tests.venues.harness import live, trading_through_drops

pytestmark = pytest.mark.timeout(30)

PING = 0.5  # the hub's keep-alive period in these tests
BOUND = 2 * PING  # the client's silence bound: two of them
RECOVERY = 5.0  # equal to the venue within this long of the venue being reachable
CHANGES = "2 closed while unseen, 1 new, 1 changed"


class Venue:
    """The venue's orders at the start of a case, and what the case does to them."""

    def __init__(self, env: Env) -> None:
        self.env = env
        sim = env.sim
        self.filled = sim.add_order(env.main_id, "spot.btc_usdt", "Buy", "0.4", "90000")
        self.cancelled = sim.add_order(env.main_id, "spot.eth_usdt", "Sell", "2", "3500")
        self.part = sim.add_order(env.main_id, "cfd.eur_chf", "Buy", "10000", "0.93")
        self.margin = sim.add_order(env.margin_id, "spot.sol_usdt", "Buy", "10", "170")
        self.new = ""

    async def shown(self) -> None:
        ids = {self.filled, self.cancelled, self.part, self.margin}
        await until(lambda: ids <= set(self.env.rows()) and self.env.equal())

    def change(self) -> None:
        """What the venue does while the client cannot see it (all on Acme Main)."""
        sim = self.env.sim
        sim.fill(self.filled)
        sim.cancel_external(self.cancelled, "Admin")
        sim.fill(self.part, "2500")
        self.new = sim.add_order(self.env.main_id, "spot.btc_usdt", "Sell", "0.1", "99000")


async def run_case(
    env: Env,
    inject: Callable[[Venue], Awaitable[None]],
    recover: Callable[[Venue], Awaitable[None]] | None = None,
    *,
    silent: bool = False,
    how: str = "disconnected",
    changes: str = CHANGES,
) -> Venue:
    """Inject the fault (which makes the venue's changes itself, while it holds), check the
    account leaves LIVE and is unverified, let it recover, and check the table and the one
    notice that sums up the blind time."""
    venue = Venue(env)
    await live(env)
    await venue.shown()
    assert env.verified()
    before = len(env.states)
    await inject(venue)
    # at once for a drop, a close or a refusal; within the bound for silence
    await until(lambda: any(s.state is not VenueState.LIVE for s in env.states[before:]),
                timeout=BOUND + 1.0 if silent else 1.0, message="the account leaves LIVE")
    left = next(s for s in env.states[before:] if s.state is not VenueState.LIVE)
    if silent:
        assert left.state is VenueState.STALE and left.reason.startswith("silent ")
        # caught within two keep-alive periods of the last message (and one look, 0.1 s)
        assert left.heard_ms is not None and left.ts_ms is not None
        assert left.ts_ms - left.heard_ms <= BOUND * 1000 + 100 + 150  # 150 ms: a busy loop
    if env.state() is not VenueState.LIVE:  # (a re-read can be quicker than a look)
        assert not env.verified()
    if recover is not None:
        await recover(venue)
    await until(lambda: env.state() is VenueState.LIVE and env.equal(), timeout=RECOVERY,
                message="equal to the venue")
    assert env.verified()
    summaries = [n for n in env.resyncs() if n.text.startswith("While ")]
    assert len(summaries) == 1, summaries
    text = summaries[0].text
    assert re.fullmatch(rf"While acme/Acme Main was {how} \(\d+ s\): {changes}", text), text
    if changes == CHANGES:  # it names exactly the orders the venue changed
        assert set(summaries[0].order_ids) == {venue.filled, venue.cancelled, venue.part,
                                               venue.new}
    # and the stream goes on
    later = env.sim.add_order(env.margin_id)
    await until(lambda: later in env.rows() and env.equal())
    return venue


# -- the connection drops ----------------------------------------------------------------------
@pytest.mark.parametrize("delta", [False, True], ids=["snapshot", "delta"])
async def test_an_abrupt_drop(delta: bool) -> None:
    async def inject(venue: Venue) -> None:
        await env.sim.drop_connections()  # no close frame; reconnecting needs a moment
        venue.change()

    async with connected({"delta_mode": delta}, delta=delta) as env:
        await run_case(env, inject)
        reasons = [s.reason for s in env.states if s.state is VenueState.RECONNECTING]
        assert reasons[0] == "the account hub connection closed (1006)"


async def test_a_refused_websocket_upgrade_for_a_while() -> None:
    async def inject(venue: Venue) -> None:
        env.sim.refuse_upgrade = 503
        await env.sim.drop_connections()
        venue.change()

    async def recover(venue: Venue) -> None:
        await until(lambda: env.sim.upgrades_refused >= 2)
        assert not env.verified()
        env.sim.refuse_upgrade = 0

    async with connected() as env:
        await run_case(env, inject, recover)
        reasons = {s.reason for s in env.states if s.state is VenueState.RECONNECTING}
        assert "the account hub refused the connection: HTTP 503" in reasons


@pytest.mark.parametrize("allow_reconnect", [True, False], ids=["allowReconnect", "final"])
async def test_the_hub_closes_the_connection(allow_reconnect: bool) -> None:
    async def inject(venue: Venue) -> None:
        env.sim.close_streams("The server is shutting down.", allow_reconnect=allow_reconnect)
        venue.change()

    async with connected() as env:
        await run_case(env, inject)
        reasons = [s.reason for s in env.states if s.state is VenueState.RECONNECTING]
        assert reasons[0] == (
            "the account hub closed the connection: The server is shutting down."
        )


async def test_the_access_token_expires() -> None:
    async def inject(venue: Venue) -> None:
        env.sim.expire_tokens()  # REST answers 401 and the hub closes (allowReconnect)
        venue.change()

    async with connected() as env:
        await run_case(env, inject)
        assert env.sim.tokens_issued == 2  # a new token, once
        assert env.sim.upgrades_refused == 0


# -- the hub goes quiet ------------------------------------------------------------------------
@pytest.mark.parametrize("delta", [False, True], ids=["snapshot", "delta"])
@pytest.mark.parametrize("mode", ["silent", "half-open"])
async def test_silence_is_detected_within_two_keep_alive_periods(mode: str, delta: bool) -> None:
    async def inject(venue: Venue) -> None:
        if mode == "silent":
            env.sim.silent_socket = True  # the hub sends nothing, not even its pings
        else:
            env.sim.half_open()  # nothing delivered either way, and no close
        venue.change()

    async def recover(venue: Venue) -> None:
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert not env.verified()
        env.sim.silent_socket = False

    async with connected({"ping_interval": PING, "delta_mode": delta}, keepalive=PING / 2,
                         server_timeout=BOUND, delta=delta) as env:
        await run_case(env, inject, recover, silent=True)


# -- what the venue says cannot be read -----------------------------------------------------------
async def test_a_malformed_order_list() -> None:
    async def inject(venue: Venue) -> None:
        env.sim.drop_items = 4  # the lists of the changes are lost ...
        venue.change()
        # ... and the next one is no list of orders at all: the account cannot be trusted
        await env.sim.send_raw('{"type":2,"invocationId":"0","item":{"orders":[]}}\x1e')

    async with connected() as env:
        await run_case(env, inject, how="unverified")
        assert any(t.startswith("Could not read the order list of acme/Acme Main (")
                   for t in env.texts())


async def test_an_order_list_cut_short_after_its_head() -> None:
    # the head says "an order list of Acme Main"; the rest is not JSON: the list is read when
    # its turn comes, found unreadable, and the account is read again
    async def inject(venue: Venue) -> None:
        env.sim.drop_items = 4
        venue.change()
        await env.sim.send_raw('{"type":2,"invocationId":"0","item":[{"orderId":]}\x1e')

    async with connected() as env:
        await run_case(env, inject, how="unverified")
        assert any(t.startswith("Could not read the order list of acme/Acme Main (")
                   for t in env.texts())


# -- the REST calls of a reconnect fail or crawl ------------------------------------------------
@pytest.mark.parametrize("status", [429, 500])
async def test_rest_errors_while_reconnecting(status: int) -> None:
    async def inject(venue: Venue) -> None:
        env.sim.retry_after = 1
        env.sim.force_status(status, "problem", count=2, endpoint="accounts")
        await env.sim.drop_connections()
        venue.change()

    async with connected() as env:
        await run_case(env, inject)
        reasons = [s.reason for s in env.states if s.state is VenueState.RECONNECTING]
        assert sum(f"(HTTP {status})" in r for r in reasons) == 2, reasons


async def test_slow_replies() -> None:
    async def inject(venue: Venue) -> None:
        env.sim.reply_delay = 2.0
        await env.sim.drop_connections()
        venue.change()

    async with connected() as env:
        await run_case(env, inject)


async def test_a_refused_key_then_accepted_again() -> None:
    async def inject(venue: Venue) -> None:
        env.sim.expire_tokens(close_hub=False)
        env.sim.refuse_token = True  # the broker refuses the API token for a while
        await env.sim.drop_connections()
        venue.change()

    async def recover(venue: Venue) -> None:
        await until(lambda: env.state() is VenueState.FAILED)
        assert not env.verified()
        failed = env.states[-1]
        assert failed.reason.startswith("the broker refused the API token: ")
        assert failed.retry_in == pytest.approx(0.2)
        assert any(n.text == failed.reason for n in env.notices)  # in the notice log too
        env.sim.refuse_token = False

    async with connected() as env:
        env.client.auth_retry = lambda refusals: 0.2
        await run_case(env, inject, recover)


async def test_a_venue_trading_through_drops_and_slow_answers_ends_equal() -> None:
    async with connected({"initial_orders": 40}) as env:
        await live(env)
        await trading_through_drops(env)
        await until(env.equal, timeout=10, message="the rows equal the venue's open orders")
        assert len(env.table()) > 10


async def test_a_first_list_that_never_comes_starts_the_session_again() -> None:
    # the hub keeps the socket alive but one subscription's first list is lost: the account
    # would wait, unverified, for as long as it stays quiet; the session starts again instead
    async with connected({"initial_orders": 6}) as env:
        env.client.first_list_timeout = 1.0
        await live(env)
        env.sim.drop_items = 1  # the next stream item, a first list after the reconnect
        await env.sim.drop_connections()
        await until(lambda: env.state() is not VenueState.LIVE)
        await live(env, timeout=10)
        assert any(s.reason.startswith("no order list from the hub 1 s after subscribing")
                   for s in env.states), [s.reason for s in env.states]
        assert env.equal()
