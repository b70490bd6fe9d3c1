"""BitfinexClient against the loopback simulator, over real sockets (tests/venues/harness.py).

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from blotter.core.cancel import CancelScope, Outcome, ScopeKind
from blotter.core.closes import CloseReason
from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, Order, OrderStatus, Side, Upsert
from blotter.core.store import OrderStore
from blotter.sim.bitfinex import BitfinexSimulator
from blotter.venues.base import Backoff
from blotter.venues.bitfinex.client import BitfinexClient
from blotter.venues.bitfinex.orders import OrderParser
from tests.helpers import running_sim, until
from tests.venues import harness
from tests.venues.harness import FAST, live

pytestmark = pytest.mark.timeout(30)

KEY, SECRET = "sim-test-key", "sim-test-secret"
ACCOUNT = AccountKey("bitfinex", "sim")


class Env(harness.Env[BitfinexSimulator, BitfinexClient]):
    def venue_orders(self) -> dict[str, Order]:
        parser = OrderParser(ACCOUNT)
        return {str(a[0]): parser.parse_order(a) for a in self.sim.open_orders()}

    def in_sync(self) -> bool:
        return self.rows() == self.venue_orders()


def simulator(**options: Any) -> BitfinexSimulator:
    """The venue with the test key, an empty book and slow heartbeats unless ``options`` say
    otherwise; reconnect-heavy tests must not meet its connection rate limit."""
    settings: dict[str, Any] = {"api_key": KEY, "api_secret": SECRET, "seed": 11,
                                "initial_orders": 0, "heartbeat_interval": 15.0}
    settings.update(options)
    rate_limit = settings.pop("rate_limit_connections", False)
    sim = BitfinexSimulator(**settings)
    sim.rate_limit_connections = rate_limit
    return sim


def connected(
    tmp_path: Path,
    sim_options: dict[str, Any] | None = None,
    *,
    sim: BitfinexSimulator | None = None,
    **client_options: Any,
) -> AbstractAsyncContextManager[Env]:
    """The client running against ``sim`` (default: ``simulator(**sim_options)``)."""
    kwargs: dict[str, Any] = {"api_key": KEY, "api_secret": SECRET, "backoff": FAST,
                              "cancel_timeout": 3.0}
    kwargs.update(client_options)

    def build(sim: BitfinexSimulator, store: OrderStore, notices: NoticeBus,
              states: StateBus) -> BitfinexClient:
        return BitfinexClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, store=store, notices=notices,
            states=states, nonce_dir=tmp_path, **kwargs,
        )

    return harness.connected(sim or simulator(**(sim_options or {})), build, Env)


def place(env: Env, n: int = 1, **kw: Any) -> list[int]:
    kw.setdefault("symbol", "tBTCUSD")
    kw.setdefault("amount", "0.5")
    kw.setdefault("price", "50000")
    return [env.sim.place_order(**kw) for _ in range(n)]


# -- snapshot and live updates -----------------------------------------------------------------
async def test_snapshot_on_connect_equals_the_venue(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 25}) as env:
        await live(env)
        assert len(env.rows()) == 25
        assert env.in_sync()  # every field, exactly as the venue's arrays say
        states = [s.state for s in env.states]
        assert states[:3] == [VenueState.CONNECTING, VenueState.AUTHENTICATING, VenueState.LIVE]


async def test_snapshot_replaces_rows_the_venue_does_not_have(tmp_path: Path) -> None:
    async with running_sim(api_key=KEY, api_secret=SECRET, initial_orders=3, seed=3) as sim:
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        ghost = Order("bitfinex", "sim", "1", "tBTCUSD", Side.BUY, "LIMIT", Decimal(1),
                      Decimal(1), OrderStatus.OPEN, "ACTIVE")
        store.apply(Upsert(ghost))
        client = BitfinexClient(
            ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY, api_secret=SECRET,
            store=store, notices=notices, states=states, nonce_dir=tmp_path, backoff=FAST,
        )
        task = asyncio.create_task(client.run())
        try:
            await until(lambda: len(store.orders(ACCOUNT)) == 3)
            assert ghost.key not in store
        finally:
            await client.close()
            await asyncio.wait_for(task, 10)


async def test_live_new_partial_fill_fill_and_external_cancel(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        a, b, c = place(env, 3, gid=5, cid=777)
        await until(lambda: len(env.rows()) == 3)
        row = env.rows()[str(a)]
        assert (row.group_id, row.client_id, row.status) == ("5", "777", OrderStatus.OPEN)

        env.sim.fill(a, "0.2")
        await until(lambda: env.rows()[str(a)].remaining == Decimal("0.3"))
        row = env.rows()[str(a)]
        assert row.status is OrderStatus.PARTIALLY_FILLED
        assert row.status_text.startswith("PARTIALLY FILLED @ ")
        assert row.filled == Decimal("0.2")

        env.sim.fill(b)
        env.sim.cancel_external(c)
        await until(lambda: set(env.rows()) == {str(a)})
        closes = {c.order.order_id: c for c in env.store.closed}
        closed = {i: c.order for i, c in closes.items()}
        assert closed[str(b)].status is OrderStatus.FILLED
        assert closed[str(b)].status_text.startswith("EXECUTED @ ")
        assert closed[str(c)].status is OrderStatus.CANCELLED
        assert closed[str(c)].status_text == "CANCELED"
        # each row that left says why: a fill, and a cancel nobody here asked for
        assert closes[str(b)].reason is CloseReason.FILLED
        assert closes[str(c)].outcome_text() == "cancelled at the venue (CANCELED)"
        assert env.in_sync()


# -- cancels -------------------------------------------------------------------------------------
async def test_cancel_one_order_by_id(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        target, other = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        env.sim.ack_to_close_delay = 0.3  # room to see the row pending before its oc
        plan = env.plan(CancelScope.order(env.key(target)))
        task = asyncio.create_task(env.client.cancel(plan))
        await until(lambda: env.store.is_cancel_pending(env.key(target)))
        assert env.key(target) in env.store  # pending, not gone: an ack is not a cancel
        result = await asyncio.wait_for(task, 10)

        assert result.ok
        assert result.outcomes[env.key(target)].outcome is Outcome.CANCELLED
        assert result.outcomes[env.key(target)].text == "CANCELED"
        assert env.key(target) not in env.store and env.key(other) in env.store
        assert not env.store.is_cancel_pending(env.key(other))
        expected = f"Submitted for cancellation; waiting for confirmation (ID: {target})."
        notice = next(n for n in env.notices if n.text == expected)
        assert notice.status == "SUCCESS" and notice.level is Level.SUCCESS
        assert notice.order_ids == (str(target),) and notice.venue == "bitfinex"
        assert f"SUCCESS: {expected}" in env.texts()
        assert result.text == expected
        assert env.sim.inputs_received[-1] == [0, "oc", None, {"id": target}]
        assert not env.sim.rest_calls  # the socket was up: no REST needed


async def test_cancel_group_takes_exactly_that_group(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        group = place(env, 3, gid=11)
        others = place(env, 2, gid=12) + place(env, 2)
        await until(lambda: len(env.rows()) == 7)
        plan = env.plan(CancelScope.group(ACCOUNT, "11"))
        assert plan.kind is ScopeKind.GROUP and len(plan.orders) == 3
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.ok and len(result.outcomes) == 3
        assert set(env.rows()) == {str(i) for i in others}
        assert all(env.sim.order(i) is None for i in group)
        assert env.sim.inputs_received[-1] == [0, "oc_multi", None, {"gid": [11]}]
        assert "SUCCESS: Submitting 3 order cancellations." in env.texts()
        assert env.in_sync()


async def test_cancel_group_also_takes_orders_the_table_had_not_seen(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        seen = place(env, 2, gid=21)
        await until(lambda: len(env.rows()) == 2)
        plan = env.plan(CancelScope.group(ACCOUNT, "21"))
        # an order of the group the table does not show yet (placed on the website, say)
        hidden = env.sim.place_order("tETHUSD", "1", "3000", gid=21)
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert {k.order_id for k in result.outcomes} == {str(i) for i in [*seen, hidden]}
        assert all(o.outcome is Outcome.CANCELLED for o in result.outcomes.values())
        assert env.rows() == {}


async def test_cancel_selected_and_symbol_use_one_oc_multi(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        btc = place(env, 3)
        eth = place(env, 2, symbol="tETHUSD", price="3000")
        await until(lambda: len(env.rows()) == 5)
        selected = env.plan(CancelScope.selected([env.key(btc[0]), env.key(eth[0])]))
        result = await asyncio.wait_for(env.client.cancel(selected), 10)
        assert result.ok and len(result.outcomes) == 2
        assert env.sim.inputs_received[-1][:3] == [0, "oc_multi", None]
        assert sorted(env.sim.inputs_received[-1][3]["id"]) == sorted([btc[0], eth[0]])

        by_symbol = env.plan(CancelScope.for_symbol(ACCOUNT, "tBTCUSD"))
        result = await asyncio.wait_for(env.client.cancel(by_symbol), 10)
        assert result.ok and len(result.outcomes) == 2
        assert set(env.rows()) == {str(eth[1])}
        assert env.in_sync()


async def test_cancel_all(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 30}) as env:
        await live(env)
        plan = env.plan(CancelScope.for_account(ACCOUNT))
        assert len(plan.orders) == 30
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.ok and result.count(Outcome.CANCELLED) == 30
        assert env.rows() == {} and env.sim.open_orders() == []
        assert env.sim.inputs_received[-1] == [0, "oc_multi", None, {"all": 1}]
        assert "SUCCESS: Submitting 30 order cancellations." in env.texts()


async def test_order_not_found(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        (real,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        # a row the venue no longer has (its oc was lost, say)
        ghost = Order("bitfinex", "sim", "123456789", "tBTCUSD", Side.BUY, "EXCHANGE LIMIT",
                      Decimal(1), Decimal(1), OrderStatus.OPEN, "ACTIVE")
        env.store.apply(Upsert(ghost))
        result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(ghost.key))),
                                        10)
        outcome = result.outcomes[ghost.key]
        assert outcome.outcome is Outcome.NOT_FOUND
        assert outcome.text == "Order not found."
        assert "ERROR: Order not found." in env.texts()
        notice = next(n for n in env.notices if n.text == "Order not found.")
        assert notice.level is Level.ERROR and notice.order_ids == ("123456789",)
        # the resync makes the table equal the venue again: the ghost row is gone
        await until(lambda: ghost.key not in env.store)
        assert set(env.rows()) == {str(real)}


async def test_selected_ids_missing_from_the_ack_are_not_found(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        a, b = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        ghost = Order("bitfinex", "sim", "987654321", "tBTCUSD", Side.SELL, "EXCHANGE LIMIT",
                      Decimal(1), Decimal(1), OrderStatus.OPEN, "ACTIVE")
        env.store.apply(Upsert(ghost))
        plan = env.plan(CancelScope.selected([env.key(a), env.key(b), ghost.key]))
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED
        assert result.outcomes[env.key(b)].outcome is Outcome.CANCELLED
        assert result.outcomes[ghost.key].outcome is Outcome.NOT_FOUND
        await until(lambda: env.rows() == {})
        assert "SUCCESS: Submitting 2 order cancellations." in env.texts()


async def test_fill_racing_the_cancel_is_reported_as_filled(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        env.sim.fill_on_cancel = True
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome is Outcome.FILLED
        assert outcome.text.startswith("EXECUTED @ ")
        assert not result.ok
        warning = next(n for n in env.notices if n.level is Level.WARNING)
        assert warning.text == f"Order {target} was filled before the cancel: {outcome.text}"
        assert env.rows() == {}


async def test_cancel_over_rest_while_the_socket_is_down(tmp_path: Path) -> None:
    # a slow reconnect keeps the socket down for the whole cancel
    async with connected(tmp_path, backoff=Backoff(base=30.0, factor=1.0, cap=30.0)) as env:
        await live(env)
        target, other = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert "connection lost" in env.states[-1].reason
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        assert "/v2/auth/w/order/cancel" in env.sim.rest_calls
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome.order_gone, outcome  # confirmed by re-reading the open orders
        assert env.key(target) not in env.store and env.key(other) in env.store
        expected = f"Submitted for cancellation; waiting for confirmation (ID: {target})."
        assert f"SUCCESS: {expected}" in env.texts()
        assert env.sim.order(target) is None


async def test_rest_cancel_then_websocket_reconnect_share_the_nonce(tmp_path: Path) -> None:
    async with connected(tmp_path, backoff=Backoff(base=1.0, factor=1.0, cap=1.0)) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        assert result.outcomes[env.key(target)].outcome.order_gone
        assert "/v2/auth/w/order/cancel" in env.sim.rest_calls
        await until(lambda: env.sim.auth_ok_count == 2, timeout=10)  # WS auth after the REST
        await live(env)
        assert not [n for n in env.notices if "nonce" in n.text]


async def test_what_the_stream_says_while_a_snapshot_waits_for_the_history_follows_it(
    tmp_path: Path,
) -> None:
    # An os snapshot that lacks rows (closed while the client was away) waits for the order
    # history to say how they closed. The venue keeps trading meanwhile: a close the stream
    # sends then must not be undone by the older snapshot, nor a new order lost to it.
    async with connected(tmp_path, {"initial_orders": 6},
                         backoff=Backoff(base=0.3, factor=1.0, cap=0.3)) as env:
        await live(env)
        ids = [int(i) for i in env.rows()]
        await env.sim.drop_connections()
        env.sim.fill(ids[0])  # closed while away: the next snapshot lacks it
        env.sim.reply_delay = 1.0  # the order history is slow to answer
        history = "/v2/auth/r/orders/hist"
        await until(lambda: env.sim.auth_ok_count == 2 and history in env.sim.rest_calls,
                    timeout=10)
        assert env.state() is not VenueState.LIVE  # the snapshot waits for the history
        env.sim.fill(ids[1])  # on the stream while the snapshot waits
        env.sim.cancel_external(ids[2])
        new = env.sim.place_order("tETHUSD", "-2", "3100")
        env.sim.fill(ids[3], "0.00000001")
        await until(lambda: env.state() is VenueState.LIVE, timeout=10)
        assert env.in_sync(), (sorted(env.rows()), sorted(env.venue_orders()))
        assert {str(ids[1]), str(ids[2])}.isdisjoint(env.rows()) and str(new) in env.rows()
        reasons = {c.order.order_id: c.reason for c in env.store.closed}
        assert reasons[str(ids[0])] is CloseReason.FILLED  # the history said so
        assert reasons[str(ids[1])] is CloseReason.FILLED
        assert reasons[str(ids[2])] is CloseReason.CANCELLED_AT_VENUE


async def test_reconnect_after_a_drop_reloads_the_truth(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 6},
                         backoff=Backoff(base=0.3, factor=1.0, cap=0.3)) as env:
        await live(env)
        ids = [int(i) for i in env.rows()]
        await env.sim.drop_connections()
        # changes while the client is away: none reach it over the dead socket
        new = env.sim.place_order("tETHUSD", "-2", "3100", gid=3)
        env.sim.cancel_external(ids[0])
        env.sim.fill(ids[1])
        env.sim.fill(ids[2], "0.00000001")
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert env.states[-1].reason == "connection lost (1006)"
        await until(lambda: env.sim.auth_ok_count == 2 and env.state() is VenueState.LIVE)
        assert env.in_sync()
        assert str(new) in env.rows() and str(ids[0]) not in env.rows()
        assert env.sim.connections_opened == 2


async def test_reconnect_after_venue_restart_20051(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 4}) as env:
        await live(env)
        await env.sim.send_info(20051, close=True)
        await until(lambda: any(s.reason == "venue restarting (20051)" for s in env.states))
        assert any(s.state is VenueState.RECONNECTING for s in env.states)
        await until(lambda: env.sim.auth_ok_count == 2 and env.state() is VenueState.LIVE)
        assert env.in_sync()
        assert any(n.status == "INFO 20051" for n in env.notices)


async def test_maintenance_20060_is_stale_and_cancels_go_over_rest(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.send_info(20060)
        await until(lambda: env.state() is VenueState.STALE)
        assert "20060" in env.states[-1].reason
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        assert "/v2/auth/w/order/cancel" in env.sim.rest_calls
        assert result.outcomes[env.key(target)].outcome is Outcome.CANCELLED  # oc on the socket
        await env.sim.send_info(20061)
        await until(lambda: env.sim.auth_ok_count == 2 and env.state() is VenueState.LIVE)
        assert env.in_sync()


def test_the_stream_is_pinged_every_3_s_and_silence_is_stale_within_10_s(tmp_path: Path) -> None:
    client = BitfinexClient(
        ACCOUNT, rest_url="https://api.bitfinex.com", ws_url="wss://api.bitfinex.com/ws/2",
        api_key=KEY, api_secret=SECRET, store=OrderStore(), notices=NoticeBus(),
        states=StateBus(), nonce_dir=tmp_path,
    )
    assert (client.ping_interval, client.silence_bound) == (3.0, 9.0)
    # the keep-alive looks every 0.5 s: the bound and one look stay within 10 s
    assert client.silence_bound + min(0.5, client.ping_interval / 4) <= 10.0


@pytest.mark.timeout(40)
async def test_by_default_a_silent_stream_is_stale_within_10_s_of_its_last_frame(
    tmp_path: Path,
) -> None:
    # the real defaults, in real time: no heartbeats to help (15 s apart), only the pongs
    async with connected(tmp_path, {"initial_orders": 2}) as env:
        assert (env.client.ping_interval, env.client.silence_bound) == (3.0, 9.0)
        await live(env)
        await until(lambda: env.sim.pings_received >= 2, timeout=7)  # every 3 s
        assert env.state() is VenueState.LIVE  # the pongs keep a quiet stream alive
        start = len(env.states)
        env.sim.silent_socket = True
        await until(lambda: len(env.states) > start, timeout=11)
        stale = env.states[start]
        assert stale.state is VenueState.STALE and not env.verified()
        assert stale.heard_ms is not None and stale.ts_ms is not None
        assert stale.ts_ms - stale.heard_ms <= 10_000  # from its last frame
        env.sim.silent_socket = False
        await until(lambda: env.state() is VenueState.LIVE and env.in_sync(), timeout=5)


async def test_pings_keep_a_quiet_stream_alive(tmp_path: Path) -> None:
    # no heartbeat for 15 s and no order traffic: only the pongs speak
    async with connected(tmp_path, ping_interval=0.1, silence_bound=0.5) as env:
        await live(env)
        await until(lambda: env.sim.pings_received >= 10)  # a second: twice the bound
        assert env.state() is VenueState.LIVE and env.verified()
        assert env.sim.auth_ok_count == 1
        assert VenueState.STALE not in [s.state for s in env.states]


async def test_a_silent_stream_is_stale_within_the_bound_then_reconnects(tmp_path: Path) -> None:
    async with connected(tmp_path, {"initial_orders": 4}, ping_interval=0.2,
                         silence_bound=1.0) as env:
        await live(env)
        ids = [int(i) for i in env.rows()]
        env.sim.silent_socket = True  # half-open: no frame, no pong, no close
        env.sim.fill(ids[0])  # lost with the silence
        seen = len(env.states)
        await until(lambda: VenueState.STALE in [s.state for s in env.states[seen:]],
                    timeout=2.0)
        assert not env.verified()
        # the socket is cut, not closed politely: no wait for an answer that cannot come
        await until(lambda: env.state() is VenueState.RECONNECTING, timeout=1.0)
        stale, reconnecting = env.states[seen:seen + 2]
        assert (stale.state, stale.reason) == (VenueState.STALE, "silent 1 s; reconnecting")
        assert reconnecting.reason == "no data from Bitfinex for 1 s"
        env.sim.silent_socket = False
        await until(lambda: env.sim.auth_ok_count == 2 and env.state() is VenueState.LIVE)
        assert env.in_sync() and str(ids[0]) not in env.rows()
        assert env.verified()


async def test_closing_over_a_half_open_socket_does_not_hang(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        env.sim.silent_socket = True  # our close frame will never be answered
        await asyncio.wait_for(env.client.close(), 5)
        assert env.state() is VenueState.STOPPED


async def test_auth_refused_is_failed_with_the_venue_text(tmp_path: Path) -> None:
    sim = simulator()
    sim.refuse_auth = True
    async with connected(tmp_path, sim=sim) as env:
        await until(lambda: env.state() is VenueState.FAILED)
        assert "apikey: invalid" in env.states[-1].reason
        assert any(n.text == "apikey: invalid" and n.level is Level.ERROR for n in env.notices)
        await asyncio.sleep(0.5)
        assert sim.connections_opened == 1  # a refused key does not hammer the venue


async def test_wrong_secret_is_refused_too(tmp_path: Path) -> None:
    async with connected(tmp_path, api_secret="not-the-secret") as env:
        await until(lambda: env.state() is VenueState.FAILED)
        assert "digest invalid" in env.states[-1].reason
        assert "not-the-secret" not in env.states[-1].reason


async def test_malformed_frame_is_counted_and_the_stream_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        with caplog.at_level(logging.WARNING, logger="blotter.venues.bitfinex"):
            await env.sim.send_raw('[0,"ou",[1,2,3]]')
            await env.sim.send_raw("{not json")
            await until(lambda: env.client.malformed_frames == 2)
        assert sum("malformed frame" in r.getMessage() for r in caplog.records) == 2
        assert KEY not in caplog.text and SECRET not in caplog.text
        # either may have been about the orders: they are re-read, on the same connection
        doubts = [n.text for n in env.notices if n.text.startswith("Could not read ")]
        assert doubts[0] == ("Could not read an update of order 1 from Bitfinex; re-reading "
                             "the open orders")
        await until(lambda: "/v2/auth/r/orders" in env.sim.rest_calls)
        place(env, 2)
        await until(lambda: len(env.rows()) == 2 and env.state() is VenueState.LIVE)
        assert env.sim.connections_opened == 1


async def test_rate_limited_upgrade_waits_longer(tmp_path: Path) -> None:
    sim = simulator(rate_limit_connections=True)
    sim.connection_limit = 1
    async with connected(tmp_path, sim=sim) as env:
        assert env.client.rate_limit_delay == 10.0  # the longest wait between tries, no more
        env.client.rate_limit_delay = 0.5
        await until(lambda: sim.auth_ok_count == 1)
        await sim.drop_connections()
        await until(lambda: "429" in env.states[-1].reason)
        opened = sim.connections_opened
        await asyncio.sleep(0.3)
        assert sim.connections_opened == opened  # no storm while the venue says 429


async def test_drop_between_ack_and_oc_is_settled_by_the_fresh_snapshot(tmp_path: Path) -> None:
    async with connected(tmp_path) as env:
        await live(env)
        target, other = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        env.sim.drop_after_ack = True
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome.order_gone
        assert set(env.rows()) == {str(other)}
        await until(lambda: env.state() is VenueState.LIVE and env.sim.auth_ok_count == 2)
        assert env.in_sync()


def test_plain_urls_only_on_loopback(tmp_path: Path) -> None:
    def make(rest: str, ws: str) -> Callable[[], BitfinexClient]:
        return lambda: BitfinexClient(
            ACCOUNT, rest_url=rest, ws_url=ws, api_key=KEY, api_secret=SECRET,
            store=OrderStore(), notices=NoticeBus(), states=StateBus(), nonce_dir=tmp_path,
        )

    make("https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2")()
    make("http://127.0.0.1:1234", "ws://localhost:1234/ws/2")()
    make("http://[::1]:1234", "ws://127.0.0.5:1/ws/2")()
    for rest, ws in [
        ("http://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
        ("https://api.bitfinex.com", "ws://api.bitfinex.com/ws/2"),
        ("ftp://api.bitfinex.com", "wss://api.bitfinex.com/ws/2"),
        ("https://api.bitfinex.com/v2", "wss://api.bitfinex.com/ws/2"),
    ]:
        with pytest.raises(ValueError) as err:
            make(rest, ws)()
        assert KEY not in str(err.value) and SECRET not in str(err.value)
    assert KEY not in repr(make("https://api.bitfinex.com", "wss://api.bitfinex.com/ws/2")())


async def test_rest_cancel_answers_are_shown_and_settle_the_outcome(tmp_path: Path) -> None:
    async with connected(tmp_path, backoff=Backoff(base=30.0, factor=1.0, cap=30.0)) as env:
        await live(env)
        target, other = place(env, 2)
        await until(lambda: len(env.rows()) == 2)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)

        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[env.key(target)]
        # no oc can come over the dead socket: the order history says how it closed
        assert (outcome.outcome, outcome.text) == (Outcome.CANCELLED, "CANCELED")
        assert "/v2/auth/r/orders/hist" in env.sim.rest_calls
        assert env.store.closed[-1].key == env.key(target)
        assert env.store.closed[-1].reason is CloseReason.CANCELLED_BY_YOU

        ghost = Order("bitfinex", "sim", "55555", "tBTCUSD", Side.BUY, "EXCHANGE LIMIT",
                      Decimal(1), Decimal(1), OrderStatus.OPEN, "ACTIVE")
        env.store.apply(Upsert(ghost))
        result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(ghost.key))),
                                        10)
        assert result.outcomes[ghost.key].outcome is Outcome.NOT_FOUND
        assert result.outcomes[ghost.key].text == "Order not found."
        refused = next(n for n in env.notices if n.text == "Order not found.")
        assert refused.level is Level.ERROR and refused.status == "ERROR 10001"
        await until(lambda: ghost.key not in env.store)

        env.sim.rest_rate_limit = 0  # every REST call now answers 429
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(other)))), 10
        )
        assert result.error == "ratelimit: error"
        assert result.outcomes[env.key(other)].outcome is Outcome.REJECTED
        assert result.outcomes[env.key(other)].text == "ratelimit: error"
        assert not env.store.is_cancel_pending(env.key(other))  # the row is back as it was
        limited = env.notices[-1]
        assert limited.line() == "ERROR 11010: ratelimit: error" and limited.level is Level.ERROR
        assert env.key(other) in env.store


async def test_an_acknowledged_cancel_the_history_does_not_know_is_closed_how_unknown(
    tmp_path: Path,
) -> None:
    async with connected(tmp_path, backoff=Backoff(base=30.0, factor=1.0, cap=30.0)) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        env.sim.keep_history = False  # the history answers nothing (too old, say)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome is Outcome.CLOSED  # gone, but nothing said how
        assert outcome.text.startswith("cancel acknowledged by Bitfinex")
        assert env.rows() == {}
        assert env.store.closed[-1].reason is CloseReason.VANISHED


async def test_dead_man_switch_is_sent_only_when_asked(tmp_path: Path) -> None:
    # with dms:4 the venue cancels every open order when the socket closes
    async with running_sim(api_key=KEY, api_secret=SECRET, initial_orders=3, seed=5) as sim:
        for dms, left in ((False, 3), (True, 0)):
            client = BitfinexClient(
                ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY,
                api_secret=SECRET, store=OrderStore(), notices=NoticeBus(), states=StateBus(),
                nonce_dir=tmp_path, backoff=FAST, dead_man_switch=dms,
            )
            task = asyncio.create_task(client.run())
            want = 2 if dms else 1
            await until(lambda: sim.auth_ok_count >= want)  # noqa: B023
            await client.close()
            await asyncio.wait_for(task, 10)
            await until(lambda: len(sim.open_orders()) == left)  # noqa: B023 - awaited here


async def test_nonce_small_is_bumped_and_retried(tmp_path: Path) -> None:
    import time

    sim = simulator(initial_orders=2, seed=9)
    # another process used the key with a nonce a little ahead of our clock
    assert sim.nonces.accept(KEY, time.time_ns() // 1000 + 300_000)
    async with connected(tmp_path, sim=sim) as env:
        await live(env)
        assert any(n.text == "nonce: small" for n in env.notices)  # shown, then handled
        # the same for REST: the key moves ahead again behind our back
        sim.nonces.accept(KEY, sim.nonces.last(KEY) + 300_000)
        assert await asyncio.wait_for(env.client.check(), 10)
        assert set(env.rows()) == {str(a[0]) for a in sim.open_orders()}
        assert sim.rest_calls == ["/v2/auth/r/orders"] * 2  # refused once, then accepted


async def test_no_secret_reaches_the_log_even_at_debug(tmp_path: Path, caplog) -> None:
    """With every logger at DEBUG (``blotter --verbose``), a session with auth, a cancel over
    REST, a refused key and a reconnect logs neither the key nor the secret, not even a prefix."""
    caplog.set_level(logging.DEBUG)
    async with connected(tmp_path) as env:
        await live(env)
        (target,) = place(env, 1)
        await until(lambda: len(env.rows()) == 1)
        await env.sim.send_info(20060)  # maintenance: the cancel goes over signed REST
        await until(lambda: env.state() is VenueState.STALE)
        await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10)
        env.sim.refuse_auth = True
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.FAILED)
        credentials = env.sim.credentials
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "/v2/auth/w/order/cancel" in env.sim.rest_calls  # the REST path really ran
    for secret in credentials.values():
        assert secret[:8] not in logged
        assert all(secret[:8] not in text for text in env.texts())
