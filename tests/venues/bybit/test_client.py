"""BybitClient against the loopback simulator, over real sockets: the stream, the re-read, and
every cancel scope (client.py, cancels.py); the frame handler on its own at the end.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from blotter.core.cancel import CancelScope, Outcome
from blotter.core.closes import CloseReason
from blotter.core.notices import AccountState, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, OrderStatus
from blotter.core.store import OrderStore
from blotter.sim.bybit import BybitSimulator
from blotter.venues.base import Backoff
from blotter.venues.bybit.client import BybitClient
from blotter.venues.bybit.orders import parse_order
from blotter.venues.bybit.spec import CAPABILITIES
from tests.helpers import fixture_json, until
from tests.venues.bybit.env import ACCOUNT, KEY, SECRET, Env, connected
from tests.venues.harness import FAST, live

pytestmark = pytest.mark.timeout(30)

# -- initial load and live updates -------------------------------------------------------------
async def test_initial_load_across_categories_and_pages_equals_the_venue() -> None:
    sim = BybitSimulator(api_key=KEY, api_secret=SECRET, seed=3, initial_orders=12)
    for n in range(60):  # more than one page (50) in one scope
        sim.place_order("linear", "BTCUSDT", "Buy", "0.01", 50_000 + n, push=False)
    await asyncio.wait_for(sim.start(), 10)
    store, states = OrderStore(), StateBus()
    seen: list[AccountState] = []
    states.subscribe(seen.append)
    client = BybitClient(
        ACCOUNT, rest_url=sim.rest_url, ws_url=sim.ws_url, api_key=KEY, api_secret=SECRET,
        store=store, notices=NoticeBus(), states=states, backoff=FAST,
    )
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: seen and seen[-1].state is VenueState.LIVE)
        rows = {o.order_id: o for o in store.orders(ACCOUNT)}
        venue = {d["orderId"]: parse_order(d, ACCOUNT, d["category"]) for d in sim.open_orders()}
        assert len(rows) == 72
        assert rows == venue
        assert {o.category for o in rows.values()} == {"spot", "linear", "inverse", "option"}
        assert [s.state for s in seen[:3]] == [
            VenueState.CONNECTING, VenueState.AUTHENTICATING, VenueState.LIVE
        ]
    finally:
        await asyncio.wait_for(client.close(), 10)
        await asyncio.wait_for(task, 10)
        await asyncio.wait_for(sim.stop(), 10)


async def test_live_pushes_reach_the_store() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "ETHUSDT", "Sell", "0.5", "3000")
        b = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
        c = env.sim.place_order("option", "BTC-27DEC24-80000-C", "Buy", "1", "500")
        await until(lambda: {a, b, c} <= set(env.rows()))
        env.sim.fill(a, "0.2")
        await until(lambda: env.rows()[a].remaining == Decimal("0.3"))
        env.sim.fill(b)
        env.sim.cancel_external(c)
        await until(lambda: set(env.rows()) == {a})
        assert env.in_sync()


async def test_capabilities_say_no_groups() -> None:
    assert CAPABILITIES.group_cancel is False
    assert CAPABILITIES.cancel_all is True
    assert "no order groups" in CAPABILITIES.group_cancel_reason


# -- cancels -----------------------------------------------------------------------------------
async def test_cancel_one_is_pending_then_gone() -> None:
    async with connected({"ack_to_close_delay": 0.3}) as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        b = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50001")
        await until(lambda: {a, b} <= set(env.rows()))
        task = asyncio.create_task(env.client.cancel(env.plan(CancelScope.order(env.key(a)))))
        await until(lambda: env.store.is_cancel_pending(env.key(a)))
        assert a in env.rows()  # the ack is not a cancel
        result = await asyncio.wait_for(task, 10)
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED
        assert a not in env.rows() and b in env.rows()
        assert env.sim.order(a)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert env.in_sync()
        assert any("Cancelled" in t for t in env.texts())


async def test_cancel_selected_across_categories_in_batches() -> None:
    async with connected() as env:
        await live(env)
        spot = [env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", 40_000 + n)
                for n in range(12)]  # two spot batches (10 + 2)
        linear = [env.sim.place_order("linear", "ETHUSDT", "Sell", "1", 3000 + n)
                  for n in range(3)]
        keep = env.sim.place_order("linear", "ETHUSDT", "Sell", "1", "3999")
        await until(lambda: set(spot + linear + [keep]) <= set(env.rows()))
        chosen = [env.key(i) for i in spot + linear]
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.selected(chosen))), 10
        )
        assert result.count(Outcome.CANCELLED) == 15, result
        assert set(env.rows()) == {keep}
        assert {d["orderId"] for d in env.sim.open_orders()} == {keep}


async def test_cancel_all_leaves_nothing_at_the_venue() -> None:
    async with connected({"initial_orders": 20}) as env:
        await live(env)
        assert len(env.rows()) == 20
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(ACCOUNT))), 10
        )
        assert env.sim.open_orders() == []
        await until(lambda: not env.rows())
        assert all(o.outcome.order_gone for o in result.outcomes.values()), result


async def test_cancel_of_an_order_gone_at_the_venue_shows_110001() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        plan = env.plan(CancelScope.order(env.key(a)))
        # gone at the venue without a push (as if the push was lost)
        env.sim._orders.pop(a)
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.NOT_FOUND
        assert outcome.text == "110001: order not exists or too late to cancel"
        assert "110001: order not exists or too late to cancel" in env.texts()
        await until(lambda: a not in env.rows())  # the re-query settles the row


# -- reconnect and clock -----------------------------------------------------------------------
async def test_reconnect_resyncs_changes_made_during_the_gap() -> None:
    # a fixed 0.5 s pause before reconnecting: the changes below surely fall in the gap
    async with connected({"initial_orders": 6}, backoff=Backoff(0.5, 1.0, 0.5)) as env:
        await live(env)
        gone, filled = list(env.rows())[:2]
        opened = env.sim.auth_ok_count
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.RECONNECTING)
        assert env.sim.auth_ok_count == opened
        # changes while the socket is down: their pushes are lost
        env.sim.cancel_external(gone)
        env.sim.fill(filled)
        new = env.sim.place_order("inverse", "BTCUSD", "Buy", "100", "60000")
        await until(lambda: env.sim.auth_ok_count > opened and env.state() is VenueState.LIVE)
        await until(env.in_sync)
        assert new in env.rows() and gone not in env.rows() and filled not in env.rows()
        assert VenueState.RECONNECTING in [s.state for s in env.states]


async def test_clock_skew_of_3_s_does_not_stop_a_cancel() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("spot", "ETHUSDT", "Buy", "0.1", "2000")
        await until(lambda: a in env.rows())
        env.sim.clock_skew = -3.0  # the venue's clock behind ours: our timestamps are "future"
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED, result
        assert env.sim.order(a)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert -3500 < env.client.rest.clock_offset_ms < -2500


async def test_no_secret_in_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with connected({"initial_orders": 3}) as env:
        await live(env)
        await env.sim.drop_connections()
        await until(lambda: env.sim.auth_ok_count >= 2 and env.state() is VenueState.LIVE)
    assert caplog.records
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in text and SECRET not in text
    assert KEY not in repr(env.client) and SECRET not in repr(env.client)


# -- scopes on cancel-all ----------------------------------------------------------------------
def cancel_all_calls(env: Env) -> list[dict[str, Any]]:
    return [body for method, path, body in rest_writes(env)
            if path == "/v5/order/cancel-all"]


def rest_writes(env: Env) -> list[tuple[str, str, dict[str, Any]]]:
    """The REST writes the venue received (its websocket requests, pings too, are left out)."""
    return [x for x in env.sim.inputs_received if isinstance(x, tuple)]


def record_inputs(env: Env) -> None:
    env.sim.inputs_received.clear()
    env.sim.input_listeners.append(env.sim.inputs_received.append)


async def test_cancel_symbol_uses_cancel_all_and_catches_orders_not_shown_yet() -> None:
    async with connected() as env:
        await live(env)
        record_inputs(env)
        spot = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
        stop = env.sim.place_order("spot", "BTCUSDT", "Sell", "0.01", "30000",
                                   trigger_price="31000")
        linear = env.sim.place_order("linear", "BTCUSDT", "Sell", "0.01", "70000")
        keep = env.sim.place_order("linear", "ETHUSDT", "Sell", "1", "3000")
        await until(lambda: {spot, stop, linear, keep} <= set(env.rows()))
        unseen = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.02", "60000", push=False)
        plan = env.plan(CancelScope.for_symbol(ACCOUNT, "BTCUSDT"))
        assert unseen not in plan.order_ids
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert {d["orderId"] for d in env.sim.open_orders()} == {keep}
        await until(lambda: set(env.rows()) == {keep})
        assert result.count(Outcome.CANCELLED) == 3, result
        calls = cancel_all_calls(env)
        assert {"category": "linear", "symbol": "BTCUSDT"} in calls
        assert {"category": "spot", "symbol": "BTCUSDT"} in calls
        # the stop order needs its own spot call: spot cancel-all skips it by default
        assert {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "StopOrder"} in calls
        assert env.sim.order(unseen)["orderStatus"] == "Cancelled"  # type: ignore[index]


async def test_cancel_all_reaches_every_spot_kind_and_every_settle_coin() -> None:
    async with connected() as env:
        await live(env)
        record_inputs(env)
        ids = [
            env.sim.place_order("spot", "ETHUSDT", "Buy", "0.1", "2000"),
            env.sim.place_order("spot", "ETHUSDT", "Sell", "0.1", "1500", trigger_price="1600"),
            env.sim.place_order("spot", "ETHUSDT", "Sell", "0.1", "1500", trigger_price="1600",
                                order_filter="tpslOrder"),
            env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000"),
            env.sim.place_order("linear", "BTCPERP", "Buy", "0.01", "50000"),
            env.sim.place_order("inverse", "BTCUSD", "Buy", "100", "50000"),
            env.sim.place_order("option", "BTC-27DEC24-80000-C", "Buy", "1", "500"),
        ]
        await until(lambda: set(ids) <= set(env.rows()))
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(ACCOUNT))), 10
        )
        assert env.sim.open_orders() == []
        await until(lambda: not env.rows())
        assert result.count(Outcome.CANCELLED) == 7, result
        calls = cancel_all_calls(env)
        assert {"category": "linear", "settleCoin": "USDT"} in calls
        assert {"category": "linear", "settleCoin": "USDC"} in calls
        assert {"category": "spot", "orderFilter": "tpslOrder"} in calls
        assert {"category": "option"} in calls


async def test_futures_cancel_all_repeats_past_the_500_cap() -> None:
    sim_options = {"initial_orders": 0}
    async with connected(sim_options) as env:
        for n in range(1200):
            env.sim.place_order("linear", "SOLUSDT", "Buy", "1", 10 + n, push=False)
        await env.client.check()
        assert len(env.rows()) == 1200
        await live(env)
        record_inputs(env)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_account(ACCOUNT))), 20
        )
        assert env.sim.open_orders() == []
        assert result.count(Outcome.CANCELLED) == 1200
        usdt = [c for c in cancel_all_calls(env) if c == {"category": "linear",
                                                           "settleCoin": "USDT"}]
        assert len(usdt) == 3  # 500 + 500 + 200


async def test_what_the_500_cap_leaves_is_reported_not_left_pending() -> None:
    async with connected() as env:
        for n in range(700):
            env.sim.place_order("linear", "SOLUSDT", "Buy", "1", 10 + n, push=False)
        await env.client.check()
        await live(env)
        env.client.cancel_all_rounds = 1
        plan = env.plan(CancelScope.for_account(ACCOUNT))
        result = await asyncio.wait_for(env.client.cancel(plan), 20)
        assert len(env.sim.open_orders()) == 200
        assert result.count(Outcome.CANCELLED) == 500
        assert result.count(Outcome.REJECTED) == 200
        expected = ("200 linear orders (USDT) still open at Bybit after 1 cancel-all rounds "
                    "of 500; cancel again")
        assert expected in env.texts()
        left = {d["orderId"] for d in env.sim.open_orders()}
        assert left == set(env.rows())
        assert not any(env.store.is_cancel_pending(env.key(i)) for i in left)


# -- rate limits -------------------------------------------------------------------------------
async def test_10006_makes_the_cancel_wait_not_fail() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        env.sim.force_rate_limit = 2
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED, result
        assert env.sim.order(a)["orderStatus"] == "Cancelled"  # type: ignore[index]
        assert any(t.startswith("10006: Too many visits!: rate limit reached on "
                                "/v5/order/cancel; sending again in ") for t in env.texts()), \
            env.texts()


async def test_a_batch_over_the_budget_sends_the_refused_items_again() -> None:
    async with connected() as env:
        await live(env)
        ids = [env.sim.place_order("linear", "ETHUSDT", "Sell", "1", 3000 + n) for n in range(25)]
        await until(lambda: set(ids) <= set(env.rows()))
        record_inputs(env)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.selected([env.key(i) for i in ids]))), 15
        )
        # linear batches count one unit per order, 10 a second: most items needed a second try
        assert result.count(Outcome.CANCELLED) == 25, result
        assert env.sim.open_orders() == []
        batches = [b for m, p, b in rest_writes(env) if p == "/v5/order/cancel-batch"]
        assert sum(len(b["request"]) for b in batches) > 25


async def test_http_429_waits_and_http_401_says_what_it_means() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40000")
        b = env.sim.place_order("spot", "BTCUSDT", "Buy", "0.01", "40001")
        await until(lambda: {a, b} <= set(env.rows()))
        env.sim.force_http_status = [429]
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED, result
        env.sim.force_http_status = [401]
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(b)))), 10
        )
        outcome = result.outcomes[env.key(b)]
        assert outcome.outcome is Outcome.REJECTED
        assert outcome.text.startswith("HTTP 401 from Bybit on /v5/order/cancel: the API key")
        assert b in env.rows() and not env.store.is_cancel_pending(env.key(b))


# -- venue errors ------------------------------------------------------------------------------
async def test_10016_is_retried_and_10004_is_shown_without_the_key() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        b = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50001")
        await until(lambda: {a, b} <= set(env.rows()))
        env.sim.force_server_error = 1
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.CANCELLED, result
        env.sim.force_sign_error = 1
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(b)))), 10
        )
        outcome = result.outcomes[env.key(b)]
        assert outcome.outcome is Outcome.REJECTED
        assert outcome.text.startswith("10004: error sign! origin_string[")
        assert KEY not in outcome.text and "***" in outcome.text
        assert all(KEY not in t for t in env.texts())
        assert any(t.startswith("10004: error sign!") for t in env.texts())
        assert b in env.rows() and env.sim.order(b)["orderStatus"] == "New"  # type: ignore[index]


async def test_a_fill_racing_the_cancel_is_shown_as_filled() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        env.sim.fill_on_cancel = True
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        assert result.outcomes[env.key(a)].outcome is Outcome.FILLED, result
        assert a not in env.rows()
        assert any(t.startswith(f"Order {a} was filled before the cancel") for t in env.texts())


async def test_no_confirmation_re_queries_and_says_the_order_is_still_open() -> None:
    async with connected({"ack_to_close_delay": 30.0}, cancel_timeout=0.5) as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        calls = len(env.sim.rest_calls)
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10
        )
        outcome = result.outcomes[env.key(a)]
        assert outcome.outcome is Outcome.TIMED_OUT
        assert outcome.text == ("no confirmation from Bybit within 0.5 s; the order is still "
                                "open at the venue")
        assert "/v5/order/realtime" in env.sim.rest_calls[calls:]
        assert a in env.rows() and not env.store.is_cancel_pending(env.key(a))


async def test_a_refused_key_fails_the_account_with_the_venue_words() -> None:
    async with connected({"initial_orders": 2}) as env:
        env.sim.refuse_key = True
        await until(lambda: env.state() is VenueState.FAILED)
        reason = env.states[-1].reason
        # the websocket auth fails first; its reply carries words, not a retCode (§7.1)
        assert reason.startswith("Bybit refused the API key: Invalid apikey; retrying in ")
        assert KEY not in reason


def states_since(env: Env, start: int) -> list[tuple[VenueState, str]]:
    return [(s.state, s.reason) for s in env.states[start:]]


async def test_a_silent_socket_turns_stale_at_once_then_is_replaced() -> None:
    async with connected({"initial_orders": 3}, ping_interval=0.2, silence_bound=1.0) as env:
        await live(env)
        assert env.verified()
        opened, start = env.sim.auth_ok_count, len(env.states)
        env.sim.silent_socket = True  # no pushes, no pongs, no close
        await until(lambda: env.state() is VenueState.RECONNECTING, timeout=2)
        assert states_since(env, start)[:2] == [
            (VenueState.STALE, "silent 1 s; reconnecting"),
            (VenueState.RECONNECTING, "no data from Bybit for 1 s"),
        ]
        assert not env.verified()
        env.sim.silent_socket = False
        await until(lambda: env.sim.auth_ok_count > opened and env.state() is VenueState.LIVE,
                    timeout=5)
        assert env.in_sync() and env.verified()


@pytest.mark.timeout(40)
async def test_by_default_a_silent_stream_is_caught_within_10_s_and_pinged_every_3() -> None:
    async with connected({"initial_orders": 2}) as env:
        assert (env.client.ping_interval, env.client.silence_bound) == (3.0, 9.0)
        await live(env)
        pings: list[float] = []
        loop = asyncio.get_running_loop()
        env.sim.input_listeners.append(
            lambda m: pings.append(loop.time()) if m == {"op": "ping"} else None
        )
        await until(lambda: len(pings) >= 2, timeout=7)  # the venue's ping, every 3 s
        assert env.state() is VenueState.LIVE  # its pongs keep a quiet stream alive
        start = len(env.states)
        env.sim.silent_socket = True
        await until(lambda: states_since(env, start), timeout=10)
        assert states_since(env, start)[0][0] is VenueState.STALE
        assert not env.verified()
        await until(lambda: env.state() is not VenueState.STALE, timeout=1)
        assert states_since(env, start)[1][0] is VenueState.RECONNECTING
        env.sim.silent_socket = False
        await live(env)
        assert env.in_sync()


async def test_a_half_open_socket_is_caught_by_its_silence_and_replaced() -> None:
    async with connected({"initial_orders": 4}, ping_interval=0.2, silence_bound=1.0) as env:
        await live(env)
        opened, start = env.sim.auth_ok_count, len(env.states)
        await env.sim.half_open()  # connected, but nothing gets through, and no close
        gone = next(iter(env.rows()))
        env.sim.cancel_external(gone)
        await until(lambda: env.state() is VenueState.RECONNECTING, timeout=2)
        assert [s for s, _ in states_since(env, start)][:2] == [
            VenueState.STALE, VenueState.RECONNECTING
        ]
        assert not env.verified()
        # a new socket works: back, and equal to the venue, without waiting for any close
        await until(lambda: env.sim.auth_ok_count > opened and env.state() is VenueState.LIVE,
                    timeout=3)
        assert gone not in env.rows() and env.in_sync()


# -- audits while live -------------------------------------------------------------------------
async def test_an_audit_while_the_venue_keeps_trading_misses_nothing_and_blames_nothing() -> None:
    async with connected({"initial_orders": 8}) as env:
        await live(env)
        rows = list(env.rows())
        env.sim.reply_delay = 0.3
        audit = asyncio.create_task(env.client.check())
        await until(lambda: env.sim.rest_calls and env.client._buffer is not None)
        # while the list is in flight: pushes for a new order, a partial fill, a fill, a
        # cancel at the venue (all held, then merged with the list)
        new = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        env.sim.fill(rows[0], None)
        env.sim.cancel_external(rows[1], "CancelByAdmin")
        env.sim.fill(new, "0.004")
        assert await asyncio.wait_for(audit, 5) is True
        assert env.in_sync() and env.state() is VenueState.LIVE
        assert env.rows()[new].remaining == Decimal("0.006")
        assert env.resync_notices() == []  # the stream said it all


async def test_periodic_audits_while_the_venue_trades_leave_the_table_equal_to_it() -> None:
    async with connected({"initial_orders": 8, "seed": 5}) as env:
        env.client.audit_interval = 0.2
        await live(env)
        reads = env.sim.rest_calls.count("/v5/order/realtime")
        env.sim.start_flow(40)
        await until(lambda: env.sim.rest_calls.count("/v5/order/realtime") > reads + 10)
        env.sim.stop_flow()
        await until(env.in_sync)
        assert env.state() is VenueState.LIVE
        assert env.resync_notices() == []


async def test_the_periodic_audit_catches_a_close_the_stream_lost_and_says_so() -> None:
    async with connected({"initial_orders": 5}) as env:
        env.client.audit_interval = 0.3
        await live(env)
        a = env.sim.place_order("linear", "ETHUSDT", "Buy", "1", "3000")
        await until(lambda: a in env.rows())
        env.sim.lose_next_close = True
        env.sim.fill(a)  # its push is lost
        await until(lambda: a not in env.rows(), timeout=5)
        assert env.in_sync() and env.state() is VenueState.LIVE
        (notice,) = env.resync_notices()
        assert notice == (f"Audit of sim: order {a} (ETHUSDT buy 1 @ 3,000) was closed at the "
                          "venue (filled at 3,000) but no close arrived on the stream")


async def test_an_order_the_stream_closed_is_not_brought_back_by_a_list() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        venue = dict(env.sim.order(a))  # type: ignore[arg-type]
        closed = dict(venue, orderStatus="Cancelled", leavesQty="0",
                      updatedTime=str(int(venue["updatedTime"]) + 5))
        # the stream says it closed; the list (read before, as it were) still shows it open
        env.client.handle_frame(push_frame(closed))
        assert a not in env.rows()
        assert await env.client.check() is True
        assert a not in env.rows()


# -- a bad item never hides good news ----------------------------------------------------------
async def test_a_fill_beside_an_unreadable_order_applies_and_the_rest_is_read_again() -> None:
    async with connected({"initial_orders": 6}) as env:
        await live(env)
        a = env.sim.place_order("spot", "ETHUSDT", "Sell", "0.5", "3500")
        await until(lambda: a in env.rows())
        start, reads = len(env.states), env.sim.rest_calls.count("/v5/order/realtime")
        env.sim.garble_next_push = True
        env.sim.fill(a)  # one push: a Filled, and another order with an unknown status
        await until(lambda: a not in env.rows())
        assert env.store.closed[-1].order.order_id == a
        assert env.store.closed[-1].reason is CloseReason.FILLED
        (warning,) = [t for t in env.texts() if t.startswith("Could not read")]
        assert warning.startswith("Could not read an order update (order ")
        assert warning.endswith(" (unknown orderStatus 'Parked'))"
                                " from Bybit; re-reading the open orders")
        await until(lambda: env.sim.rest_calls.count("/v5/order/realtime") > reads)
        await live(env)
        assert [s for s, _ in states_since(env, start)] == [VenueState.STALE, VenueState.LIVE]
        assert env.in_sync() and env.client.malformed_frames == 1


async def test_a_list_with_an_unreadable_record_replaces_nothing_and_is_read_again() -> None:
    async with connected({"initial_orders": 6}) as env:
        await live(env)
        a = env.sim.place_order("linear", "ETHUSDT", "Buy", "1", "3000")
        await until(lambda: a in env.rows())
        env.sim.lose_next_close = True
        env.sim.fill(a)  # only a whole list can tell
        b = env.sim.place_order("linear", "ETHUSDT", "Buy", "1", "2999", push=False)
        env.sim.garble_lists = 1
        start = len(env.states)
        assert await env.client.check() is False
        assert a in env.rows() and b in env.rows()  # nothing removed; the new order applied
        assert any(t.startswith("Could not read the open orders (order ") and
                   "(unknown orderStatus 'Parked'))" in t for t in env.texts())
        await until(lambda: env.state() is VenueState.LIVE and a not in env.rows())
        assert [s for s, _ in states_since(env, start)] == [VenueState.STALE, VenueState.LIVE]
        assert env.in_sync()


async def test_an_account_stays_stale_while_its_list_stays_unreadable() -> None:
    async with connected({"initial_orders": 6}) as env:
        env.client.audit_interval = 0.3
        await live(env)
        env.sim.garble_lists = 1000  # every list, until the venue mends it
        reads = env.sim.rest_calls.count("/v5/order/realtime")
        start = len(env.states)
        await until(lambda: env.sim.rest_calls.count("/v5/order/realtime") > reads + 15)
        assert [s.state for s in env.states[start:]] == [VenueState.STALE]  # no flapping
        assert not env.verified()
        # told once, not at every audit (each audit tries again)
        warnings = [t for t in env.texts() if t.startswith("Could not read the open orders")]
        assert len(warnings) == 1
        env.sim.garble_lists = 0
        await live(env)  # the next audit reads it whole
        assert env.in_sync() and env.verified()


async def test_a_first_list_with_an_unreadable_record_goes_stale_until_read_whole() -> None:
    sim_options = {"initial_orders": 6}
    async with connected(sim_options) as env:
        env.sim.garble_lists = 1  # the first list of the session
        await live(env)
        states = [s.state for s in env.states]
        assert states == [VenueState.CONNECTING, VenueState.AUTHENTICATING, VenueState.STALE,
                          VenueState.LIVE]  # the stream kept running meanwhile
        assert env.states[2].reason == "some open orders could not be read; re-reading them"
        assert any(t.startswith("Could not read the open orders (order ") for t in env.texts())
        assert env.in_sync()


# -- merge of pushes held during a re-fetch ----------------------------------------------------
def push_frame(order: dict[str, Any]) -> bytes:
    return json.dumps({"topic": "order", "id": "x", "creationTime": order["updatedTime"],
                       "data": [order]}).encode()


async def test_pushes_during_a_refetch_merge_by_updated_time() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        b = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50001")
        c = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50002")
        await until(lambda: {a, b, c} <= set(env.rows()))
        venue = {i: dict(env.sim.order(i)) for i in (a, b, c)}  # type: ignore[arg-type]
        env.sim.reply_delay = 0.3
        task = asyncio.create_task(env.client.check())
        await asyncio.sleep(0.1)  # the REST read is in flight: pushes are held
        older = dict(venue[a], price="1", updatedTime=str(int(venue[a]["updatedTime"]) - 5))
        newer = dict(venue[b], price="49999", updatedTime=str(int(venue[b]["updatedTime"]) + 5))
        closed = dict(venue[c], orderStatus="Cancelled",
                      updatedTime=str(int(venue[c]["updatedTime"]) + 5))
        for item in (older, newer, closed):
            env.client.handle_frame(push_frame(item))
        assert env.rows()[a].price == Decimal(50000)  # nothing applied while held
        assert await asyncio.wait_for(task, 5) is True
        rows = env.rows()
        assert rows[a].price == Decimal(50000)  # the REST state was newer
        assert rows[b].price == Decimal(49999)  # the push was newer
        assert c not in rows  # closed by a push newer than the REST read


async def test_a_bulk_cancel_says_it_in_one_line_not_one_per_order() -> None:
    async with connected({"initial_orders": 12}) as env:
        await live(env)
        await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.for_account(ACCOUNT))), 10)
        assert env.sim.open_orders() == []
        texts = env.texts()
        assert "Cancelled 12 of 12 on sim" in texts
        assert not [t for t in texts if t.startswith("Cancelled · ")]
        # a single cancel still gets the venue's own words
        a = env.sim.place_order("linear", "BTCUSDT", "Buy", "0.01", "50000")
        await until(lambda: a in env.rows())
        await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(env.key(a)))), 10)
        assert [t for t in env.texts() if t.startswith("Cancelled · ")]


# -- the frame handler, without a simulator -----------------------------------------------------
FRAMES = AccountKey("bybit", "fast")
LIVE = dict(fixture_json("bybit", "ws_order_cancelled.json")["data"][0], orderStatus="New",
            cancelType="UNKNOWN", rejectReason="EC_NoError", leavesQty="0.1")


def push(*items: Any, topic: str = "order") -> bytes:
    return json.dumps({"topic": topic, "id": "1", "creationTime": 5, "data": list(items)}).encode()


def test_client_frame_handler_counts_bad_frames_and_applies_good_ones() -> None:
    """The stream's entry point, without a socket: bad frames are counted, never raised."""
    store = OrderStore()
    client = BybitClient(
        FRAMES, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/v5/private",
        api_key="k", api_secret="s", store=store, notices=NoticeBus(), states=StateBus(),
    )
    for bad in (b"", b"nope", b"[1]", push(dict(LIVE, qty="1e3")), push(dict(LIVE, side=0)),
                push(1), b'{"topic":"order","data":{}}'):
        client.handle_frame(bad)  # never raises
    assert client.malformed_frames == 7 and len(store) == 0
    client.handle_frame(push(LIVE))
    (row,) = store.orders(FRAMES)
    assert str(row.amount) == "0.1" and str(row.price) == "99" and row.status_text == "New"
    older = dict(LIVE, leavesQty="0.05", updatedTime=str(int(LIVE["updatedTime"]) - 1))
    client.handle_frame(push(older))  # an older state arriving late: dropped
    assert store.get(row.key) is row
    client.handle_frame(push(dict(LIVE, orderStatus="Filled", leavesQty="0")))
    assert len(store) == 0 and store.closed[-1].order.status is OrderStatus.FILLED
    client.handle_frame(push(LIVE))  # an open state arriving after the close: no ghost
    assert len(store) == 0
    assert client.malformed_frames == 7
