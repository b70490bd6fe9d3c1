"""What an order is worth in its quote currency, as each venue's contracts reckon it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from blotter.core.order import Order, OrderStatus, Side
from blotter.venues.registry import notional


def order(venue: str, symbol: str, *, category: str | None = None, price: str | None = "95130.5",
          remaining: str = "0.012602") -> Order:
    return Order(venue, "a", "1", symbol, Side.BUY, "Limit", Decimal(1), Decimal(remaining),
                 OrderStatus.OPEN, "New", Decimal(price) if price is not None else None,
                 category=category)


def test_price_times_remaining_in_the_quote_currency():
    assert notional(order("bitfinex", "tBTCUSD")) == (Decimal("1198.834561"), "USD")
    assert notional(order("bitfinex", "tBTCF0:USTF0"))[1] == "USTF0"  # type: ignore[index]
    assert notional(order("bybit", "BTCUSDT", category="linear"))[1] == "USDT"  # type: ignore[index]
    assert notional(order("bybit", "ETHPERP", category="linear"))[1] == "USDC"  # type: ignore[index]
    assert notional(order("bybit", "ETH-27MAR26-3500-C", category="option"))[1] == "USDC"  # type: ignore[index]
    assert notional(order("bybit", "ETHBTC", category="spot"))[1] == "BTC"  # type: ignore[index]
    assert notional(order("b2trader", "EUR/CHF", price="0.95", remaining="1000")) == (
        Decimal("950.00"), "CHF")


def test_an_inverse_contract_is_already_dollars_and_a_market_order_has_no_notional():
    assert notional(order("bybit", "BTCUSD", category="inverse", remaining="4486")) == (
        Decimal(4486), "USD")
    assert notional(order("bitfinex", "tBTCUSD", price=None)) is None
    assert notional(dataclasses.replace(order("b2trader", "EUR/CHF"), symbol="DAX40")) is None
    assert notional(order("nowhere", "X")) is None
