"""Shared pieces of the Bitfinex tests: a valid order array to vary, expected rows, and the
recorded notifications."""

from __future__ import annotations

from decimal import Decimal

from blotter.core.order import AccountKey, Order
from blotter.venues.bitfinex.orders import OrderParser
from blotter.venues.bitfinex.replies import Notification, parse_notification
from tests.helpers import fixture_json

ACCOUNT = AccountKey("bitfinex", "main")


def array(**over: object) -> list[object]:
    """A valid 32-field order array (id 42, buy 1.5 tBTCUSD at 100.5, open) with ``over``
    replacing fields by name."""
    a: list[object] = [
        42, None, None, "tBTCUSD", 1700000000000, 1700000000001, 1.5, 1.5, "EXCHANGE LIMIT",
        None, None, None, 0, "ACTIVE", None, None, 100.5, 0, 0, 0, None, None, None, 0, 0,
        None, None, None, "API>BFX", None, None, None,
    ]
    index = {"id": 0, "gid": 1, "cid": 2, "symbol": 3, "created": 4, "amount": 6, "orig": 7,
             "flags": 12, "status": 13, "price": 16, "avg": 17, "hidden": 24}
    for name, value in over.items():
        a[index[name]] = value
    return a


def order(**fields: object) -> Order:
    """A row of ``ACCOUNT``: ``fields`` over the defaults of an order without extras."""
    base: dict[str, object] = {
        "venue": "bitfinex",
        "account": "main",
        "price": None,
        "avg_price": None,
        "client_id": None,
        "client_id_date": None,
        "group_id": None,
        "flags": frozenset(),
        "time_in_force": "GTC",
    }
    base.update(fields)
    return Order(**base)  # type: ignore[arg-type]


def same(a: Order, b: Order) -> None:
    """Field by field, with the exact Decimal text (so 16673.0 and 16673 are told apart)."""
    for name in Order.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        assert x == y, f"{name}: {x!r} != {y!r}"
        if isinstance(x, Decimal):
            assert str(x) == str(y), f"{name}: {x} != {y} (decimal text)"
    assert a == b


def recorded(name: str) -> Notification:
    """The notification of the recorded ``n`` frame ``tests/fixtures/bitfinex/<name>``."""
    return parse_notification(fixture_json("bitfinex", name)[2], OrderParser(ACCOUNT))
