"""B2TRADER order records → ``Order``: exact decimals, timestamps, the status words, every field
that can be wrong, and the trading accounts' keys. Orders are read as the open list reads them
(``parse_open_orders``)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from blotter.core.order import AccountKey, Closed, OrderStatus, Side, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader.orders import (
    implausible,
    map_status,
    order_event,
    parse_timestamp,
    trading_account_key,
)
from blotter.venues.b2trader.stream import parse_open_orders
from tests.venues.b2trader.samples import ACCOUNT, EXPECTED, order_json


def test_trading_account_key() -> None:
    key = trading_account_key("acme", "Main …0002")
    assert key == AccountKey("b2trader", "acme/Main …0002")
    assert str(key) == "b2trader:acme/Main …0002"
    with pytest.raises(ValueError):
        trading_account_key("", "Main")
    with pytest.raises(ValueError):
        trading_account_key("acme", "")

# -- timestamps --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, ms",
    [
        ("2025-05-20T17:22:31Z", 1747761751000),
        ("2025-05-20T17:22:31.8Z", 1747761751800),
        ("2025-05-20T17:22:31.89Z", 1747761751890),
        ("2025-05-20T17:22:31.899Z", 1747761751899),
        ("2025-05-20T17:22:31.8999Z", 1747761751899),
        ("2025-05-20T17:22:31.89999Z", 1747761751899),
        ("2025-05-20T17:22:31.900121Z", 1747761751900),
        ("2025-05-20T17:22:31.9001213Z", 1747761751900),
        ("2025-05-20T17:22:31.900121399Z", 1747761751900),
        ("2025-05-20T17:22:31.9001213", 1747761751900),  # no zone: UTC, as documented
        ("2025-05-20T19:22:31.9001213+02:00", 1747761751900),
        ("2025-05-20T12:52:31.899-0430", 1747761751899),
        ("2025-05-20T17:22:31.899+00:00", 1747761751899),
        ("1970-01-01T00:00:00.000Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1709164800000),
    ],
)
def test_timestamps(text: str, ms: int) -> None:
    assert parse_timestamp(text) == ms


@pytest.mark.parametrize(
    "text",
    ["", "2025-05-20", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-05-20T24:00:00Z",
     "2025-05-20T17:22:31.Z", "2025-05-20T17:22:31.1234567890Z", "2025-05-20T17:22:31+25:00",
     "20250520T172231Z", "yesterday"],
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(MalformedFrame):
        parse_timestamp(text)

def test_decimals_stay_exact() -> None:
    a, b = parse_open_orders(
        [order_json(orderId="A", requestedAmount="0.1", remainingAmount="0.1"),
         order_json(orderId="B", requestedAmount="0.2", remainingAmount="0.2")],
        ACCOUNT,
    )
    assert a.amount + b.amount == Decimal("0.3")
    assert str(a.amount + b.amount) == "0.3"
    [c] = parse_open_orders([order_json(requestedPrice="0.123456789012345678901234")],
                                  ACCOUNT)
    assert c.price == Decimal("0.123456789012345678901234")

def test_market_order_statuses_and_texts() -> None:
    [o] = parse_open_orders(
        [order_json(
            orderType="Market", timeInForce="Ioc", requestedPrice=None, status="Working",
            remainingAmount="2500", executionPrice="0.90125", reason="StopOut", side="Sell",
            marketType=None, marketDisplayName=None, createdAt=None,
        )],
        ACCOUNT,
    )
    assert o.order_type == "Market Ioc"
    assert o.price is None
    assert o.avg_price == Decimal("0.90125")
    assert o.status is OrderStatus.PARTIALLY_FILLED
    assert o.status_text == "Working · StopOut"
    assert o.side is Side.SELL
    assert o.symbol == "cfd.eur_chf"  # no display name: the market id
    assert o.category == "cfd"  # from the market id's prefix
    assert o.created_ms is None
    assert o.filled == Decimal(7500)


@pytest.mark.parametrize(
    "status, expected",
    [("Started", OrderStatus.OPEN), ("Pending", OrderStatus.OPEN), ("Working", OrderStatus.OPEN),
     ("Completed", OrderStatus.FILLED), ("Cancelled", OrderStatus.CANCELLED),
     ("Expired", OrderStatus.EXPIRED), ("Rejected", OrderStatus.REJECTED)],
)
def test_status_map(status: str, expected: OrderStatus) -> None:
    assert map_status(status, Decimal(1), Decimal(1)) is expected
    [o] = parse_open_orders([order_json(status=status)], ACCOUNT)
    assert o.status is expected and o.status_text == status


def test_unknown_status_in_the_open_list_stays_open_and_verbatim() -> None:
    assert map_status("Suspended", Decimal(1), Decimal(1)) is None
    [o] = parse_open_orders([order_json(status="Suspended")], ACCOUNT)
    assert o.status is OrderStatus.OPEN
    assert o.status_text == "Suspended"


def test_unknown_fields_are_ignored() -> None:
    [o] = parse_open_orders([order_json(comment="hi", newField={"a": [1]})], ACCOUNT)
    assert o == EXPECTED


def test_order_events() -> None:
    [o] = parse_open_orders([order_json()], ACCOUNT)
    assert order_event(o) == Upsert(o)
    [c] = parse_open_orders([order_json(status="Cancelled")], ACCOUNT)
    assert order_event(c) == Closed(c)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"orderId": None}, "orderId"),
        ({"orderId": 17}, "orderId"),
        ({"side": "Long"}, "side"),
        ({"side": ["Buy"]}, "side"),
        ({"requestedAmount": "1e5"}, "requestedAmount"),
        ({"requestedAmount": None}, "requestedAmount"),
        ({"requestedAmount": "-1", "remainingAmount": "-1"}, "negative"),
        ({"remainingAmount": "NaN"}, "remainingAmount"),
        ({"requestedPrice": True}, "requestedPrice"),
        ({"createdAt": "yesterday"}, "timestamp"),
        ({"createdAt": 1747761751899}, "timestamp"),
        ({"marketId": None, "marketDisplayName": None}, "marketDisplayName"),
        ({"status": 3}, "status"),
    ],
)
def test_malformed_orders(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        parse_open_orders([order_json(**changes)], ACCOUNT)


# -- implausible records count as unreadable ---------------------------------------------------
@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"remainingAmount": "10001"}, "remaining 10001 is above the amount 10000"),
        ({"remainingAmount": "18446744073709551615"}, "above the amount"),
        ({"requestedAmount": "0", "remainingAmount": "0"}, "amount 0 is not a positive number"),
        ({"requestedAmount": "-5", "remainingAmount": "1"}, "negative amount"),
        ({"requestedPrice": "0"}, "a limit order with a price of 0"),
        ({"requestedPrice": "-0.9"}, "price -0.9 is not a positive number"),
        ({"executionPrice": "-0.1"}, "average price -0.1 is negative"),
    ],
)
def test_an_implausible_order_is_unreadable_and_says_why(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        parse_open_orders([order_json(**changes)], ACCOUNT)


def test_a_market_order_needs_no_price_and_plausible_orders_pass() -> None:
    [market] = parse_open_orders(
        [order_json(orderType="Market", requestedPrice="0")], ACCOUNT
    )
    assert market.price is None and implausible(market) is None
    [filled_part] = parse_open_orders(
        [order_json(remainingAmount="0", executionPrice="0.9", status="Working")], ACCOUNT
    )
    assert implausible(filled_part) is None
    assert implausible(EXPECTED) is None
    assert implausible(replace(EXPECTED, remaining=Decimal(10001))) == (
        "remaining 10001 is above the amount 10000"
    )
    assert implausible(replace(EXPECTED, price=Decimal("NaN"))) == (
        "price NaN is not a positive number"
    )
