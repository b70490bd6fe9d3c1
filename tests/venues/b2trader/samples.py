"""The recorded B2TRADER payloads (tests/fixtures/b2trader) and what the tests make of them: one
trading account, the verbatim OpenOrders item's order, that order as an ``Order``, and JWTs."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.venues.b2trader.signalr import StreamItem, parse_message
from tests.helpers import fixture_bytes

# One trading account of the configured account "broker-main" (the lead's account model).
ACCOUNT = AccountKey("b2trader", "broker-main/B2TRADER Hedging account")
ORDER_ID = "01K2PF9XS29WN4JZRHMCTTQYJB"
NOW_MS = 1_656_067_154_000  # the fixture JWT's iat


def raw(name: str) -> bytes:
    return fixture_bytes("b2trader", name)


def stream_item() -> StreamItem:
    msg = parse_message(raw("ws_open_orders.txt")[:-1])
    assert isinstance(msg, StreamItem)
    return msg


def order_json(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict(stream_item().item[0])
    item.update(changes)
    return item


def item_record(orders: list[dict[str, Any]]) -> StreamItem:
    msg = parse_message(json.dumps({"type": 2, "invocationId": "0", "item": orders}))
    assert isinstance(msg, StreamItem)
    return msg


def jwt(claims: Any) -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.c2ln"


def fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in Order.__dataclass_fields__}


# The verbatim OpenOrders item's one order (§3.6), field by field.
EXPECTED = Order(
    venue="b2trader",
    account="broker-main/B2TRADER Hedging account",
    order_id="01JVQBFSTVC40VK03A0AY7K016",
    symbol="EUR/CHF",
    side=Side.BUY,
    order_type="Limit",
    amount=Decimal(10000),
    remaining=Decimal(10000),
    status=OrderStatus.OPEN,
    status_text="Pending",
    price=Decimal("0.9"),
    avg_price=None,
    group_id=None,  # B2TRADER has no order groups; the trading account is the AccountKey
    created_ms=1747761751899,
    updated_ms=1747761751900,
    category="cfd",
    instrument_id="cfd.eur_chf",
    time_in_force="Gtc",
)
