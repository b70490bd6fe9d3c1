"""The venue-neutral order: the fast builder makes the same Order as the constructor, numbers
read back as the exact decimals the venue sent, and the keys behave as the tuples they are."""

from __future__ import annotations

import dataclasses
import json
import pickle
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from blotter.core.order import (
    FAST_ORDER_BUILD,
    OPEN_STATUSES,
    AccountKey,
    Flag,
    Order,
    OrderFields,
    OrderKey,
    OrderStatus,
    Side,
    build_order,
)

KEY = OrderKey("bitfinex", "bfx-main", "190297884858")


def build_args(**changes: object) -> dict[str, object]:
    """Every argument of ``build_order`` by name, in its order (the constructor's order too)."""
    args: dict[str, object] = {
        "key": KEY, "symbol": "tBTCUSD", "side": Side.SELL, "order_type": "EXCHANGE LIMIT",
        "amount": Decimal("0.5"), "remaining": Decimal("0.2"),
        "status": OrderStatus.PARTIALLY_FILLED, "status_text": "PARTIALLY FILLED @ 30000(-0.3)",
        "price": Decimal("30000.5"), "avg_price": Decimal(30000), "client_id": "1700000000001",
        "client_id_date": "2023-11-14", "group_id": "7",
        "flags": frozenset({Flag.HIDDEN, Flag.POST_ONLY}), "created_ms": 1_700_000_000_000,
        "updated_ms": 1_700_000_001_000, "category": None, "instrument_id": None,
        "trigger_price": None, "time_in_force": None,
    }
    args.update(changes)
    return args


def built(args: dict[str, object]) -> Order:
    """``build_order`` from the same values: the fields that never change, then the rest."""
    names = ("key", "symbol", "side", "order_type", "client_id", "client_id_date", "group_id",
             "flags", "created_ms", "category", "instrument_id", "time_in_force")  # OrderFields
    fields: OrderFields = tuple(args[name] for name in names)  # type: ignore[assignment]
    return build_order(
        fields, args["amount"], args["remaining"], args["status"],  # type: ignore[arg-type]
        args["status_text"], args["price"], args["avg_price"], args["updated_ms"],  # type: ignore[arg-type]
        args["trigger_price"],
    )


def constructed(args: dict[str, object]) -> Order:
    key = args["key"]
    assert isinstance(key, OrderKey)
    rest = [v for k, v in args.items() if k != "key"]
    return Order(*key, *rest)  # type: ignore[arg-type]


def test_the_fast_builder_is_in_use_on_this_python() -> None:
    assert FAST_ORDER_BUILD is True


CASES = {
    "decimals": build_args(),
    "floats from a decoder": build_args(amount=0.5, remaining=0.2, price=30000.5, avg_price=0.0),
    "ints from a decoder": build_args(amount=2, remaining=2, price=30000, avg_price=None),
    "the venue's decimal text": build_args(amount="0.50", remaining="0.2", price="30000.5",
                                           avg_price="30000.00", trigger_price="0.0000001"),
    "a stop with its trigger and time in force": build_args(
        trigger_price=Decimal(101000), time_in_force="GTC", status=OrderStatus.UNTRIGGERED),
    "a trigger as a decoder's float": build_args(trigger_price=95000.5, time_in_force="IOC"),
    "market order, no ids": build_args(
        price=None, avg_price=None, client_id=None, client_id_date=None, group_id=None,
        flags=frozenset(), created_ms=None, updated_ms=None, status=OrderStatus.OPEN,
    ),
    "bybit linear": build_args(
        key=OrderKey("bybit", "by-1", "f3b7c1d2-0000-4e6b-9a1c-2f7e1b9d0c11"),
        symbol="BTCUSDT", side=Side.BUY, order_type="Limit", category="linear",
        flags=frozenset({Flag.REDUCE_ONLY}), status=OrderStatus.UNTRIGGERED,
    ),
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_build_order_gives_exactly_what_the_constructor_gives(args: dict[str, object]) -> None:
    fast, plain = built(args), constructed(args)
    assert type(fast) is Order
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert repr(fast) == repr(plain)
    assert fast.key == plain.key == args["key"]
    assert fast.account_key == plain.account_key
    for name in Order.__slots__:
        assert getattr(fast, name) == getattr(plain, name), name
        assert type(getattr(fast, name)) is type(getattr(plain, name)), name


def test_build_order_from_floats_equals_the_order_written_in_decimals() -> None:
    floats = built(build_args(amount=0.5, remaining=0.2, price=30000.5, avg_price=30000.0))
    decimals = constructed(build_args())
    assert floats == decimals
    assert hash(floats) == hash(decimals)


def test_build_order_from_decimal_text_reads_the_digits_that_were_sent() -> None:
    text = built(build_args(amount="0.50", remaining="0.2", price="30000.5", avg_price="30000.00"))
    decimals = constructed(build_args(amount=Decimal("0.50"), remaining=Decimal("0.2"),
                                      price=Decimal("30000.5"), avg_price=Decimal("30000.00")))
    assert text == decimals
    assert hash(text) == hash(decimals)
    assert [str(n) for n in (text.amount, text.remaining, text.price, text.avg_price)] == [
        "0.50", "0.2", "30000.5", "30000.00"]
    assert text.filled == Decimal("0.30")


def test_an_order_is_frozen_even_when_built_fast() -> None:
    order = built(build_args(amount=0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.amount = Decimal(1)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.status_text = "CANCELED"  # type: ignore[misc]
    changed = dataclasses.replace(order, remaining=Decimal(0), status=OrderStatus.FILLED)
    assert changed.key == order.key and changed.remaining == 0 and order.remaining == Decimal("0.2")


def test_an_unpickled_order_still_has_its_key() -> None:
    order = built(build_args(amount=0.5, remaining=0.25))
    again = pickle.loads(pickle.dumps(order))
    assert again == order
    assert again.key == KEY
    assert again.remaining == Decimal("0.25")


# -- numbers: exactly what the venue sent ------------------------------------------------------
FRAME = '[0.1, 0.3, 16673.0, 1e-08, 0.000012345, 12345.6789, 30100.5, 3.00000001]'


@pytest.mark.parametrize("loads", [json.loads, orjson.loads], ids=["json", "orjson"])
def test_floats_from_a_decoder_read_back_as_the_decimals_that_were_sent(loads) -> None:
    sent = [Decimal(text) for text in FRAME.strip("[]").split(", ")]
    for number, exact in zip(loads(FRAME), sent, strict=True):
        assert isinstance(number, float)
        order = built(build_args(amount=number, remaining=number, price=number, avg_price=number))
        for value in (order.amount, order.remaining, order.price, order.avg_price):
            assert isinstance(value, Decimal)
            assert value == exact
            assert value == Decimal(repr(number))
    # not the binary expansion of the float
    assert built(build_args(price=0.1)).price != Decimal.from_float(0.1)


def test_ints_read_back_as_exact_decimals() -> None:
    big = 2**53 + 1  # beyond what a float holds exactly
    order = built(build_args(amount=big, remaining=big, price=190297884858, avg_price=0))
    assert order.amount == Decimal(big) and type(order.amount) is Decimal
    assert order.price == Decimal(190297884858)
    assert order.avg_price == Decimal(0) and type(order.avg_price) is Decimal


def test_a_number_is_converted_once_and_kept() -> None:
    order = built(build_args(price=30100.5))
    first = order.price
    assert first is order.price


def test_missing_prices_stay_missing() -> None:
    order = built(build_args(price=None, avg_price=None))
    assert order.price is None and order.avg_price is None


@given(st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False))
def test_any_venue_number_of_up_to_14_digits_survives_the_float(sent: Decimal) -> None:
    number = json.loads(str(sent))
    order = built(build_args(amount=number))
    assert order.amount == sent


def test_filled_is_exact_even_from_floats() -> None:
    order = built(build_args(amount=0.3, remaining=0.1))
    assert 0.3 - 0.1 != 0.2  # the float sum a trader must never see
    assert order.filled == Decimal("0.2")
    assert constructed(build_args(amount=Decimal(2), remaining=Decimal(2))).filled == 0
    assert constructed(build_args(amount=Decimal("1.5"), remaining=Decimal(0))).filled == Decimal(
        "1.5"
    )


# -- statuses -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        (OrderStatus.OPEN, True),
        (OrderStatus.PARTIALLY_FILLED, True),
        (OrderStatus.UNTRIGGERED, True),
        (OrderStatus.CANCELLED, False),
        (OrderStatus.FILLED, False),
        (OrderStatus.REJECTED, False),
        (OrderStatus.EXPIRED, False),
    ],
)
def test_which_statuses_are_open(status: OrderStatus, is_open: bool) -> None:
    assert status.is_open is is_open
    assert (status in OPEN_STATUSES) is is_open


# -- keys -----------------------------------------------------------------------------------
def test_order_key_is_a_tuple() -> None:
    key = OrderKey("bybit", "by-1", "42")
    assert key == ("bybit", "by-1", "42")
    assert hash(key) == hash(("bybit", "by-1", "42"))
    venue, account, order_id = key
    assert (venue, account, order_id) == ("bybit", "by-1", "42")
    assert {("bybit", "by-1", "42"): "row"}[key] == "row"
    assert key.account_key == AccountKey("bybit", "by-1")
    assert key != OrderKey("bybit", "by-2", "42")  # an id is unique only within its account


def test_account_key_is_a_tuple_and_reads_venue_colon_account() -> None:
    account = AccountKey("b2trader", "acme/Acme Main")
    assert account == ("b2trader", "acme/Acme Main")
    assert hash(account) == hash(("b2trader", "acme/Acme Main"))
    assert str(account) == "b2trader:acme/Acme Main"
    assert account.venue == "b2trader" and account.account == "acme/Acme Main"


def test_an_orders_keys_name_its_venue_account_and_id() -> None:
    order = constructed(build_args())
    assert order.key == OrderKey("bitfinex", "bfx-main", "190297884858")
    assert order.account_key == AccountKey("bitfinex", "bfx-main")
    assert order.key.account_key == order.account_key


def test_numbers_that_cannot_be_an_order_say_why_whatever_venue_sent_them() -> None:
    from blotter.core.order import implausible_numbers as bad

    one, half = Decimal(1), Decimal("0.5")
    assert bad(one, half, Decimal(100), None, limit=True) is None
    assert bad(1.0, 0.5, 100.0, 99.5, limit=True) is None  # the decoder's floats alike
    assert bad(one, half, None, None, limit=False) is None  # a market order has no price
    assert bad(one, half, 0, None, limit=False) is None  # nor a stop at market
    assert bad(one, Decimal(2), Decimal(1), None, limit=True) == "remaining 2 is above the amount 1"
    assert bad(Decimal(0), Decimal(0), None, None, limit=False) == "amount 0 is not a positive number"
    assert bad(one, Decimal(-1), None, None, limit=False) == "remaining -1 is not zero or more"
    assert bad(one, half, None, None, limit=True) == "a limit order without a price"
    assert bad(one, half, Decimal(0), None, limit=True) == "a limit order with a price of 0"
    assert bad(one, half, Decimal("NaN"), None, limit=True) == "price NaN is not a positive number"
    assert bad(one, half, float("inf"), None, limit=False) == "price inf is not a positive number"
    assert bad(one, half, Decimal(5), Decimal(-1), limit=True) == "average price -1 is negative"
    assert bad(one, half, Decimal("sNaN"), None, limit=True) == "price sNaN is not a positive number"
    assert bad("1", half, None, None, limit=False) == "amount 1 is not a positive number"
