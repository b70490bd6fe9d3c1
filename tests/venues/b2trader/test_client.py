"""B2traderClient against the loopback broker simulator, over real sockets.

Every wait is bounded (``until`` and ``asyncio.wait_for``); pytest-timeout backs them up.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from blotter.core.cancel import CancelPlan, CancelResult, CancelScope, Outcome, plan_cancels
from blotter.core.closes import CloseReason
from blotter.core.notices import AccountState, NoticeBus, StateBus, VenueState
from blotter.core.order import AccountKey, OrderKey
from blotter.core.store import OrderStore
from blotter.sim.b2trader import B2traderSimulator
from blotter.venues.b2trader.client import B2traderClient
from blotter.venues.b2trader.spec import CAPABILITIES
from tests.helpers import until
from tests.venues.b2trader.env import LOGIN, MAIN, MARGIN, connected
from tests.venues.harness import FAST, live

pytestmark = pytest.mark.timeout(30)


# -- accounts, the initial list and updates ----------------------------------------------------
async def test_every_trading_account_shows_its_open_orders_under_its_name() -> None:
    async with connected({"initial_orders": 12}) as env:
        await live(env)
        assert env.sim.tokens_issued == 1
        assert env.client.accounts() == (MAIN, MARGIN)
        assert env.in_sync()
        assert len(env.rows()) == 12 and env.rows(MAIN) and env.rows(MARGIN)
        assert [s.state for s in env.states[:3]] == [
            VenueState.CONNECTING, VenueState.AUTHENTICATING, VenueState.LIVE
        ]
        order = next(iter(env.rows(MAIN).values()))
        wire = env.sim.order(order.order_id)
        assert wire is not None
        assert order.symbol == wire["marketDisplayName"]
        assert order.amount == Decimal(wire["requestedAmount"])  # exact, from the string
        assert order.group_id is None  # B2TRADER has no order groups
        assert env.client.serves(MAIN) and not env.client.serves(AccountKey("b2trader", "acme2"))


async def test_each_item_replaces_the_accounts_rows() -> None:
    async with connected() as env:
        await live(env)
        a = env.sim.add_order(env.main_id, "spot.btc_usdt", "Buy", "0.5", "60000")
        b = env.sim.add_order(env.margin_id, "cfd.eur_chf", "Sell", "10000", "0.95")
        await until(lambda: {a, b} <= set(env.rows()))
        assert env.rows()[a].account == "acme/Acme Main"
        assert env.rows()[b].account == "acme/Acme Margin"
        env.sim.fill(a, "0.2")
        await until(lambda: env.rows()[a].remaining == Decimal("0.3"))
        env.sim.cancel_external(b)  # gone: absent from the next list
        await until(lambda: b not in env.rows())
        assert env.in_sync()


async def test_delta_mode_upserts_and_removes_by_status() -> None:
    async with connected({"delta_mode": True, "initial_orders": 4}, delta=True) as env:
        await live(env)
        assert env.in_sync()
        a = env.sim.add_order(env.main_id, "spot.eth_usdt", "Sell", "1.25", "3500")
        await until(lambda: a in env.rows())
        gone = next(iter(env.venue_ids(env.margin_id)))
        env.sim.cancel_external(gone)
        await until(lambda: gone not in env.rows())
        assert env.in_sync()


async def test_split_and_batched_records_make_the_same_table() -> None:
    async with connected({"initial_orders": 6}) as env:
        await live(env)
        env.sim.split_records = True
        a = env.sim.add_order(env.main_id)
        await until(lambda: a in env.rows())
        env.sim.split_records = False
        env.sim.batch_records = True
        b = env.sim.add_order(env.margin_id)
        env.sim.fill(a)
        await until(lambda: b in env.rows() and a not in env.rows())
        assert env.in_sync()
        assert env.client.malformed_records == 0


# -- cancels -----------------------------------------------------------------------------------
async def test_cancel_one_removes_exactly_that_order_and_says_so() -> None:
    async with connected({"initial_orders": 6}) as env:
        await live(env)
        target = next(iter(env.rows(MAIN)))
        others = set(env.rows()) - {target}
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[OrderKey("b2trader", MAIN.account, target)]
        assert outcome.outcome is Outcome.CANCELLED
        assert target not in env.rows() and set(env.rows()) == others
        assert env.sim.order(target)["status"] == "Cancelled"  # type: ignore[index]
        assert env.in_sync()
        assert env.sim.cancel_requests[-1]["accountId"] == env.main_id
        assert any(t.startswith("HTTP 200: Cancelled: ") and target in t for t in env.texts())


async def test_a_fill_that_wins_is_shown_as_filled() -> None:
    async with connected({"initial_orders": 2}) as env:
        await live(env)
        target = next(iter(env.rows()))
        env.sim.fill_on_cancel = True
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        assert result.outcomes[env_key(target, result)].outcome is Outcome.FILLED
        assert target not in env.rows()
        assert any(t.startswith("HTTP 200: Completed: ") for t in env.texts())


def env_key(order_id: str, result: CancelResult) -> OrderKey:
    return next(k for k in result.outcomes if k.order_id == order_id)


async def test_many_cancels_go_a_few_at_a_time_with_progress() -> None:
    async with connected({"initial_orders": 0}) as env:
        await live(env)
        ids = [env.sim.add_order(env.main_id, price=str(50_000 + n)) for n in range(9)]
        ids += [env.sim.add_order(env.margin_id, price=str(40_000 + n)) for n in range(3)]
        await until(lambda: set(ids) <= set(env.rows()))
        env.sim.reply_delay = 0.05
        chosen = [env.key(i) for i in ids[:10]]  # across both trading accounts
        plans = plan_cancels(CancelScope.selected(chosen), env.store)
        results = await asyncio.wait_for(
            asyncio.gather(*(env.client.cancel(p) for p in plans)), 15
        )
        assert sum(r.count(Outcome.CANCELLED) for r in results) == 10
        assert set(env.rows()) == set(ids[10:]) == env.venue_ids()
        assert 1 < env.sim.max_in_flight <= 4  # four at a time for the login, both plans
        progress = [n.text for n in env.notices if n.transient]
        assert "Cancelling 0/9 on Acme Main…" in progress
        assert "Cancelled 9 of 9 on Acme Main" in env.texts()
        assert "Cancelled 1 of 1 on Acme Margin" not in env.texts()  # one order: its own words


async def test_cancel_account_and_cancel_login_leave_nothing_open() -> None:
    async with connected({"initial_orders": 10}) as env:
        await live(env)
        margin_before = env.venue_ids(env.margin_id)
        await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.for_account(MAIN))), 10)
        assert env.venue_ids(env.main_id) == set()
        assert env.venue_ids(env.margin_id) == margin_before  # the other account untouched
        await until(env.in_sync)
        plan = CancelPlan(LOGIN, CancelScope.everything().kind, ())  # Cancel All's own plan
        result = await asyncio.wait_for(env.client.cancel(plan), 10)
        assert result.count(Outcome.CANCELLED) == len(margin_before)
        assert env.sim.open_orders() == []
        await until(lambda: not env.rows())


async def test_symbol_scope_cancels_that_symbol_only() -> None:
    async with connected() as env:
        await live(env)
        btc = [env.sim.add_order(env.main_id, "spot.btc_usdt") for _ in range(2)]
        eth = env.sim.add_order(env.main_id, "spot.eth_usdt")
        await until(lambda: set(btc + [eth]) <= set(env.rows()))
        symbol = env.rows()[btc[0]].symbol
        await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.for_symbol(MAIN, symbol))), 10
        )
        assert env.venue_ids(env.main_id) == {eth}
        await until(lambda: set(env.rows()) == {eth})


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (500, "problem", ("HTTP 500: Order {id}: Internal Server Error: Simulated 500 "
                          "Internal Server Error.")),
        (503, "empty", "HTTP 503: Order {id}: venue error"),
        (502, "plain", "HTTP 502: Order {id}: Bad Gateway"),
        (403, "empty", "HTTP 403: Order {id}: forbidden (account or permission)"),
    ],
)
async def test_a_refused_cancel_names_the_order_and_keeps_the_row(
    status: int, kind: str, expected: str
) -> None:
    async with connected({"initial_orders": 2}) as env:
        await live(env)
        target = next(iter(env.rows()))
        env.sim.force_status(status, kind, count=3)  # more than the client's retries
        result = await asyncio.wait_for(
            env.client.cancel(env.plan(CancelScope.order(env.key(target)))), 10
        )
        outcome = result.outcomes[env.key(target)]
        assert outcome.outcome is Outcome.REJECTED
        line = expected.format(id=target)
        assert line in env.texts(), env.texts()
        assert target in env.rows() and not env.store.is_cancel_pending(env.key(target))
        assert target in env.venue_ids()


async def test_5xx_once_is_retried_and_429_waits_for_retry_after() -> None:
    async with connected({"initial_orders": 2}) as env:
        await live(env)
        a, b = list(env.rows())
        env.sim.force_status(503, "empty")
        result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(
            env.key(a)))), 10)
        assert result.outcomes[env_key(a, result)].outcome is Outcome.CANCELLED
        env.sim.retry_after = 1
        env.sim.force_status(429, "problem")
        result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(
            env.key(b)))), 10)
        assert result.outcomes[env_key(b, result)].outcome is Outcome.CANCELLED
        assert [r["status"] for r in env.sim.cancel_requests] == [503, 200, 429, 200]


async def test_unknown_orders_are_gone_and_finished_ones_say_how_they_ended() -> None:
    async with connected({"initial_orders": 3}) as env:
        await live(env)
        a, b, _ = list(env.rows())
        plan_a = env.plan(CancelScope.order(env.key(a)))
        plan_b = env.plan(CancelScope.order(env.key(b)))
        env.sim.drop_items = 1  # the list that would show b filled never arrives
        env.sim.fill(b)
        env.sim._orders.pop(a)  # unknown to the venue (its list was lost too)
        result = await asyncio.wait_for(env.client.cancel(plan_a), 10)
        assert result.outcomes[env_key(a, result)].outcome is Outcome.NOT_FOUND
        assert any(t.startswith(f"HTTP 404: Order {a}: ") and "was not found" in t
                   for t in env.texts())
        result = await asyncio.wait_for(env.client.cancel(plan_b), 10)
        # the venue's 400 names the status: it was filled, and the row leaves as filled
        outcome = result.outcomes[env_key(b, result)]
        assert outcome.outcome is Outcome.FILLED
        assert outcome.text == f"Order {b}: filled (the venue says Completed)"
        assert any(t.startswith(f"HTTP 400: Order {b}: ") for t in env.texts())
        assert b not in env.rows()
        assert env.store.closed[-1].order.order_id == b
        assert env.store.closed[-1].reason is CloseReason.FILLED
        # a fresh list (the client re-subscribes) settles the unknown one
        await until(lambda: a not in env.rows())
        assert env.in_sync()


# -- tokens ------------------------------------------------------------------------------------
async def test_an_expired_token_mid_stream_is_renewed_and_the_table_recovers() -> None:
    async with connected({"initial_orders": 4, "token_lifetime": 1.0}) as env:
        await live(env)
        # the JWT lives 1 s: it is renewed at 80 %, and the hub closes the old connection
        # when its token expires (allowReconnect); the client comes back with the new one
        await until(lambda: env.sim.tokens_issued >= 2, timeout=5)
        await until(lambda: VenueState.RECONNECTING in [s.state for s in env.states], timeout=5)
        await until(lambda: env.state() is VenueState.LIVE, timeout=5)
        a = env.sim.add_order(env.margin_id)
        await until(lambda: a in env.rows())
        reasons = [s.reason for s in env.states if s.state is VenueState.RECONNECTING]
        assert any("expired" in r for r in reasons), reasons
        failed = [s for s in env.states if s.state is VenueState.FAILED]
        assert not failed
        assert env.in_sync()


async def test_a_401_on_cancel_renews_the_token_once_and_cancels() -> None:
    async with connected({"initial_orders": 2, "close_on_token_expiry": False}) as env:
        await live(env)
        target = next(iter(env.rows()))
        issued = env.sim.tokens_issued
        env.sim.expire_tokens()  # the held JWT is now refused
        result = await asyncio.wait_for(env.client.cancel(env.plan(CancelScope.order(
            env.key(target)))), 10)
        assert result.outcomes[env_key(target, result)].outcome is Outcome.CANCELLED
        assert env.sim.tokens_issued == issued + 1
        assert [r["status"] for r in env.sim.cancel_requests] == [401, 200]


async def test_a_token_renewed_while_loading_the_accounts_is_the_one_the_hub_gets() -> None:
    # The hub connection drops and the held JWT stops being accepted without the hub saying
    # so: the accounts call gets a 401 and renews it. The hub must be opened with the new
    # token, not the refused one (a wasted session and a 401 at the upgrade).
    async with connected({"initial_orders": 3, "close_on_token_expiry": False}) as env:
        await live(env)
        opened, issued = env.sim.connections_opened, env.sim.tokens_issued
        env.sim.expire_tokens(close_hub=False)
        await env.sim.drop_connections()
        await until(lambda: env.sim.connections_opened > opened and env.state() is
                    VenueState.LIVE)
        assert env.sim.tokens_issued == issued + 1
        assert env.sim.upgrades_refused == 0
        assert env.sim.connections_opened == opened + 1  # no session was wasted
        reasons = [s.reason for s in env.states if s.state is VenueState.RECONNECTING]
        assert not any("HTTP 401" in r for r in reasons), reasons
        assert env.in_sync()


async def test_a_refused_api_token_fails_the_login_with_the_brokers_answer() -> None:
    sim = B2traderSimulator(seed=1)
    sim.refuse_token = True
    await sim.start()
    store, states = OrderStore(), StateBus()
    seen: list[AccountState] = []
    states.subscribe(seen.append)
    client = B2traderClient(LOGIN, rest_url=sim.rest_url, ws_url=sim.ws_url,
                            api_token=sim.credentials["api_token"], store=store,
                            notices=NoticeBus(), states=states, backoff=FAST)
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: seen and seen[-1].state is VenueState.FAILED)
        reason = seen[-1].reason
        assert reason.startswith("the broker refused the API token: API token: ")
        assert "(HTTP 401); retrying in " in reason
        assert sim.credentials["api_token"] not in reason
    finally:
        await client.close()
        await task
        await sim.stop()


def test_a_silent_hub_is_taken_for_dead_after_two_of_its_keep_alive_periods() -> None:
    client = B2traderClient(LOGIN, rest_url="https://broker.example",
                            ws_url="wss://broker.example/frontoffice/ws/v4/account",
                            api_token="t", store=OrderStore(), notices=NoticeBus(),
                            states=StateBus())
    assert client.keepalive == 15.0  # the SignalR keep-alive period (§3.5)
    assert client.server_timeout == 30.0 == 2 * client.keepalive


async def test_a_quiet_hub_that_pings_is_not_silent_and_the_client_pings_it() -> None:
    # Nothing changes for several silence bounds: the hub's keep-alive Pings prove it alive,
    # and the client's own Pings keep the hub from dropping the client (its client timeout).
    sim = {"initial_orders": 2, "ping_interval": 0.2, "client_timeout": 0.5}
    async with connected(sim, keepalive=0.15, server_timeout=0.4) as env:
        await live(env)
        heard = env.client.last_message_ms
        await asyncio.sleep(1.5)
        assert [s.state for s in env.states].count(VenueState.LIVE) == 1
        assert env.state() is VenueState.LIVE and env.sim.connections_opened == 1
        assert sum(m.get("type") == 6 for m in env.sim.hub_messages) >= 3
        assert heard is not None and env.client.last_message_ms is not None
        assert env.client.last_message_ms > heard


async def test_a_silent_hub_is_replaced() -> None:
    async with connected({"initial_orders": 3}, keepalive=0.1, server_timeout=0.4) as env:
        await live(env)
        opened = env.sim.connections_opened
        env.sim.silent_socket = True
        await until(lambda: env.state() is VenueState.RECONNECTING, timeout=5)
        env.sim.silent_socket = False
        await until(lambda: env.sim.connections_opened > opened
                    and env.state() is VenueState.LIVE, timeout=5)
        after = [s for s in env.states if s.state in (VenueState.STALE, VenueState.RECONNECTING)]
        assert after[0].state is VenueState.STALE and after[0].reason.startswith("silent ")
        assert after[1].state is VenueState.RECONNECTING
        assert after[1].reason.startswith("no data from Acme for ")
        assert env.in_sync()


async def test_no_token_or_jwt_in_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with connected({"initial_orders": 3, "token_lifetime": 1.0}) as env:
        await live(env)
        await until(lambda: env.sim.tokens_issued >= 2, timeout=5)
        await env.sim.drop_connections()
        await until(lambda: env.state() is VenueState.LIVE and env.sim.connections_opened >= 2)
        token = env.sim.credentials["api_token"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    assert token not in text and "eyJ" not in text and "access_token=" not in text
    assert token not in repr(env.client)


async def test_capabilities_say_no_groups() -> None:
    assert CAPABILITIES.group_cancel is False
    assert "no order groups" in CAPABILITIES.group_cancel_reason


async def test_a_stream_ended_with_an_error_is_reported_and_subscribed_again() -> None:
    async with connected({"initial_orders": 4}) as env:
        await live(env)
        await env.sim.send_raw('{"type":3,"invocationId":"0","error":"Stream failed: boom"}\x1e')
        await until(lambda: "stream: Order stream for acme/Acme Main ended: Stream failed: boom"
                    in env.texts())
        await until(lambda: env.state() is VenueState.LIVE)
        a = env.sim.add_order(env.main_id)
        await until(lambda: a in env.rows())
        assert env.in_sync()


async def test_a_malformed_record_is_counted_re_read_and_the_stream_goes_on() -> None:
    async with connected({"initial_orders": 2}) as env:
        await live(env)
        await env.sim.send_raw('{"type":2,"invocationId":\x1e')
        await until(lambda: env.client.malformed_records == 1)
        # it may have been about orders: the rows are unverified until read again
        assert any(t.startswith("Could not read a record of the account hub (") for t in
                   env.texts())
        await until(lambda: env.state() is VenueState.LIVE)
        assert VenueState.STALE in [s.state for s in env.states]
        a = env.sim.add_order(env.margin_id)
        await until(lambda: a in env.rows())
        assert env.state() is VenueState.LIVE and env.in_sync()


async def test_rows_of_a_trading_account_the_broker_no_longer_lists_leave_with_a_word() -> None:
    # the last run showed orders of "acme/Old Account"; the broker no longer lists it
    from blotter.core.order import Order, OrderStatus, Side

    sim = B2traderSimulator(seed=5)
    await asyncio.wait_for(sim.start(), 10)
    store, notices, states = OrderStore(), NoticeBus(), StateBus()
    said: list[str] = []
    notices.subscribe(lambda n: said.append(n.text))
    old = AccountKey("b2trader", "acme/Old Account")
    store.apply_restored(old, [Order(old.venue, old.account, "X1", "EUR/CHF", Side.BUY, "CFD Limit",
                                     Decimal(1), Decimal(1), OrderStatus.OPEN, "Working",
                                     price=Decimal("0.95"))])
    client = B2traderClient(LOGIN, rest_url=sim.rest_url, ws_url=sim.ws_url,
                            api_token=sim.credentials["api_token"], store=store, notices=notices,
                            states=states, backoff=FAST, broker="Acme")
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: not store.orders(old), timeout=10)
        assert said == [("acme/Old Account is no longer listed by Acme: its 1 orders are not "
                        "shown (they may still be open there)")]
    finally:
        await asyncio.wait_for(client.close(), 10)
        await asyncio.wait_for(task, 10)
        await asyncio.wait_for(sim.stop(), 10)
