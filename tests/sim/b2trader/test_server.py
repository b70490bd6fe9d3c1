"""The simulated broker itself: what it says about itself, its accounts, the side door's scripted
actions, and the order flow that keeps a consistent book.

A-numbers refer to the notes' §6 simulator decisions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from blotter.sim.b2trader import WS_PATH, B2traderSimulator
from tests.helpers import until
from tests.sim.b2trader.wire import API_TOKEN, assert_stream_order, exchange, open_hub, started

pytestmark = pytest.mark.timeout(10)


async def test_describe_has_urls_and_api_token(sim: B2traderSimulator) -> None:
    d = sim.describe()
    assert d["venue"] == "b2trader" and d["credentials"] == {"api_token": API_TOKEN}
    assert re.match(r"^http://127\.0\.0\.1:\d+$", d["rest_url"])
    assert d["ws_url"] == d["rest_url"].replace("http", "ws") + WS_PATH
    assert WS_PATH == "/frontoffice/ws/v4/account"


async def test_configured_accounts() -> None:
    async with started(accounts=["Solo", {"accountId": "a" * 24, "accountType": "Netting",
                                          "publicAccountId": 1234567}]) as s:
        assert [a["accountName"] for a in s.accounts] == ["Solo", "Account 2"]
        assert s.accounts[1]["accountId"] == "a" * 24
        assert s.accounts[1]["publicAccountId"] == 1234567


async def test_side_door_fills_and_expiry(sim: B2traderSimulator) -> None:
    hub = await open_hub(sim, await exchange(sim))
    margin = sim.account_ids[1]
    await hub.subscribe(margin)
    oid = sim.add_order(margin, "spot.btc_usdt", "Buy", "0.5", "90000",
                        time_in_force="Gtd",
                        cancellation_date=datetime(2026, 12, 6, 1, 20, tzinfo=UTC))
    mine = next(o for o in (await hub.recv())["item"] if o["orderId"] == oid)
    assert (mine["status"], mine["executionPrice"], mine["cancellationDate"]) == (
        "Pending", "0", "2026-12-06T01:20:00.0000000Z")
    sim.fill(oid, "0.2", "89990")
    part = next(o for o in (await hub.recv())["item"] if o["orderId"] == oid)
    assert (part["status"], part["remainingAmount"], part["executionPrice"],
            part["fillFactor"]) == ("Working", "0.3", "89990", "0.4")
    sim.expire(oid)
    assert oid not in {o["orderId"] for o in (await hub.recv())["item"]}
    done = sim.order(oid)
    assert done is not None and done["status"] == "Expired"
    with pytest.raises(KeyError):
        sim.fill(oid)
    market = sim.add_order(margin, "cfd.xau_usd", "Sell", "2", order_type="Market")
    assert sim.order(market)["requestedPrice"] is None  # type: ignore[index]
    assert sim.order(market)["status"] == "Started"  # type: ignore[index]


async def test_flow_streams_changes() -> None:
    async with started(initial_orders=8, seed=5, flow_rate=60) as s:
        hub = await open_hub(s, await exchange(s))
        main, margin = s.account_ids
        await hub.subscribe(main, "0")
        await hub.subscribe(margin, "1")
        seen = [await hub.recv() for _ in range(6)]
        for msg in seen:
            assert msg["type"] == 2 and msg["invocationId"] in ("0", "1")
            for o in msg["item"]:
                assert_stream_order(o)
        s.stop_flow()
        await until(lambda: not s.flow_running)


def test_flow_keeps_a_consistent_book() -> None:
    s = B2traderSimulator(initial_orders=30, seed=9)
    for _ in range(2000):
        s.flow_step()
    book = s.open_orders()
    assert 10 < len(book) < 80
    statuses = set()
    for o in book:
        assert_stream_order(o)
        statuses.add(o["status"])
        filled = Decimal(o["requestedAmount"]) - Decimal(o["remainingAmount"])
        assert (filled > 0) == (o["executionPrice"] != "0")
    assert {"Pending", "Working"} <= statuses
    ids = [o["orderId"] for o in book]
    assert len(set(ids)) == len(ids)
