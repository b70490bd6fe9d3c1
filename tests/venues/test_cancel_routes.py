"""How each venue client says it will send a plan (``VenueClient.cancel_route``), for the
confirmation: the venue's own primitive, in the trader's words, exactly as ``cancel`` sends it.
Pure: the clients are built and asked, never run."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from blotter.core.cancel import CancelPlan, CancelScope, ScopeKind, plan_cancels
from blotter.core.notices import NoticeBus, StateBus
from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.store import OrderStore
from blotter.venues.b2trader.client import B2traderClient
from blotter.venues.bitfinex.client import BitfinexClient
from blotter.venues.bybit.client import BybitClient

BYBIT = AccountKey("bybit", "byb")
BFX = AccountKey("bitfinex", "bfx")
ACME = AccountKey("b2trader", "acme")
MAIN = AccountKey("b2trader", "acme/Main")


def row(account: AccountKey, oid: str, symbol: str, category: str | None = None,
        side: Side = Side.BUY, order_type: str = "Limit") -> Order:
    return Order(
        venue=account.venue, account=account.account, order_id=oid, symbol=symbol, side=side,
        order_type=order_type, amount=Decimal(1), remaining=Decimal(1),
        status=OrderStatus.OPEN, status_text="open", price=Decimal(100), category=category,
    )


def plan(scope: CancelScope, rows: list[Order]) -> CancelPlan:
    (only,) = plan_cancels(scope, rows)
    return only


@pytest.fixture
def store() -> OrderStore:
    return OrderStore()


@pytest.fixture
def bybit(store: OrderStore) -> Iterator[BybitClient]:
    yield BybitClient(
        BYBIT, rest_url="https://api.bybit.com", ws_url="wss://stream.bybit.com/v5/private",
        api_key="k", api_secret="s", store=store, notices=NoticeBus(), states=StateBus(),
    )


def test_bybit_says_which_primitive_and_how_many_requests(bybit: BybitClient) -> None:
    linear = [row(BYBIT, f"l{n}", "BTCUSDT", "linear", Side.BUY if n % 2 else Side.SELL)
              for n in range(4)]
    spot = [row(BYBIT, f"s{n}", "BTCUSDT", "spot") for n in range(14)]
    rows = linear + spot
    route = bybit.cancel_route
    assert route(plan(CancelScope.for_account(BYBIT), rows)) == (
        "a fresh list of the open orders, then cancel-all per category: spot (orders, TP/SL, "
        "stop orders), linear (USDT, USDC), inverse (each coin with open orders), option"
    )
    assert route(plan(CancelScope.for_symbol(BYBIT, "BTCUSDT", "linear"), rows)) == (
        "one cancel-all for BTCUSDT Linear"
    )
    assert route(plan(CancelScope.for_symbol(BYBIT, "BTCUSDT", "spot"), rows)) == (
        "3 cancel-all requests for BTCUSDT Spot: orders, TP/SL, stop orders"
    )
    assert route(plan(CancelScope.for_symbol(BYBIT, "BTCUSDT"), rows)) == (
        "cancel-all for BTCUSDT in spot and linear (4 requests)"
    )
    # one side: never cancel-all, which would take the other side too
    assert route(plan(CancelScope.for_symbol(BYBIT, "BTCUSDT", "linear", Side.BUY), rows)) == (
        "one cancel-batch (2 orders)"
    )
    assert route(plan(CancelScope.for_account(BYBIT, Side.BUY), rows)) == (
        "3 cancel-batch requests of up to 20 or 10 (16 orders)"
    )
    assert route(plan(CancelScope.selected(o.key for o in spot), rows)) == (
        "2 cancel-batch requests of up to 10 (14 orders)"
    )
    assert route(plan(CancelScope.order(spot[0].key), rows)) == "one cancel"
    assert route(CancelPlan(BYBIT, ScopeKind.SELECTED, ())) == "nothing to send"


def test_bybit_everything_follows_the_accounts_options(store: OrderStore) -> None:
    client = BybitClient(
        BYBIT, rest_url="https://api.bybit.com", ws_url="wss://stream.bybit.com/v5/private",
        api_key="k", api_secret="s", store=store, notices=NoticeBus(), states=StateBus(),
        categories=("linear", "spot"), settle_coins=("USDC",),
    )
    oco = row(BYBIT, "1", "ETHUSDT", "spot", order_type="OcoOrder Limit")
    assert client.cancel_route(plan(CancelScope.for_account(BYBIT), [oco])) == (
        "a fresh list of the open orders, then cancel-all per category: linear (USDC, USDT), "
        "spot (orders, TP/SL, stop orders, OCO)"
    )


def test_bitfinex_says_all_1_multi_or_one(store: OrderStore, tmp_path: Path) -> None:
    client = BitfinexClient(
        BFX, rest_url="https://api.bitfinex.com", ws_url="wss://api.bitfinex.com/ws/2",
        api_key="k", api_secret="s", store=store, notices=NoticeBus(), states=StateBus(),
        nonce_dir=tmp_path,
    )
    rows = [row(BFX, str(100 + n), "tBTCUSD", side=Side.BUY if n < 7 else Side.SELL)
            for n in range(9)]
    route = client.cancel_route
    assert route(plan(CancelScope.for_account(BFX), rows)) == "one cancel-all request (all: 1)"
    assert route(CancelPlan(BFX, ScopeKind.ALL, ())) == "one cancel-all request (all: 1)"
    assert route(plan(CancelScope.for_account(BFX, Side.BUY), rows)) == (
        "one multi-cancel of 7 ids"
    )
    assert route(plan(CancelScope.everything(Side.SELL), rows)) == "one multi-cancel of 2 ids"
    assert route(plan(CancelScope.order(rows[0].key), rows)) == "one cancel"
    assert route(plan(CancelScope.group(BFX, "7"), rows)) == "one group cancel (gid 7)"
    many = [row(BFX, str(1000 + n), "tETHUSD") for n in range(250)]
    assert route(plan(CancelScope.for_symbol(BFX, "tETHUSD"), many)) == (
        "2 multi-cancels of up to 200 ids (250 orders)"
    )


def test_b2trader_says_one_delete_per_order(store: OrderStore) -> None:
    client = B2traderClient(
        ACME, rest_url="https://broker.example",
        ws_url="wss://broker.example/frontoffice/ws/v4/account", api_token="tok-123456789",
        store=store, notices=NoticeBus(), states=StateBus(), broker="Acme",
    )
    rows = [row(MAIN, f"01K{n}", "EUR/CHF", "cfd") for n in range(5)]
    route = client.cancel_route
    assert route(plan(CancelScope.for_account(MAIN), rows)) == (
        "a fresh list of each trading account, then one DELETE per order, 4 at a time (the "
        "broker has no bulk cancel)"
    )
    assert route(plan(CancelScope.for_symbol(MAIN, "EUR/CHF", "cfd", Side.BUY), rows)) == (
        "one DELETE per order (5), 4 at a time (the broker has no bulk cancel)"
    )
    assert route(plan(CancelScope.order(rows[0].key), rows)) == "one DELETE"
