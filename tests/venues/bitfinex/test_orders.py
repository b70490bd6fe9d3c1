"""Bitfinex order arrays → rows: the normalisation rules of bitfinex.md §3.2 and §6, read as the
stream and the REST answers carry them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from blotter.core.order import Closed, Flag, OrderStatus, Side, Snapshot, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.orders import OrderParser, closed_status
from blotter.venues.bitfinex.stream import StreamParser
from tests.helpers import fixture_json
from tests.venues.bitfinex.samples import ACCOUNT, array, order, same

VENUE = "bitfinex"


@pytest.fixture
def parser() -> StreamParser:
    return StreamParser(ACCOUNT)


def test_rest_open_orders() -> None:
    orders = OrderParser(ACCOUNT).parse_orders(fixture_json(VENUE, "rest_r_orders.json"))
    assert len(orders) == 1
    same(
        orders[0],
        order(
            order_id="95408916206",
            symbol="tDOGE:UST",
            side=Side.SELL,
            order_type="EXCHANGE LIMIT",
            amount=Decimal(10),
            remaining=Decimal(10),
            status=OrderStatus.OPEN,
            status_text="ACTIVE",
            price=Decimal("0.11"),
            client_id="1653322349926",
            client_id_date="2022-05-23",
            created_ms=1653322349926,
            updated_ms=1653322349927,
        ),
    )




def test_another_venue_is_refused() -> None:
    from blotter.core.order import AccountKey

    with pytest.raises(ValueError, match="not a Bitfinex account"):
        OrderParser(AccountKey("bybit", "main"))


# -- normalisation rules -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("EXECUTED @ 107.6(-0.2)", OrderStatus.FILLED),
        ("FORCED EXECUTED", OrderStatus.FILLED),
        ("EXECUTED @ 1.6518(1.0): was PARTIALLY FILLED @ 1.65(6.0)", OrderStatus.FILLED),
        ("EXECUTED @ 16000.0(0.5) was ACTIVE (note:POSCLOSE)", OrderStatus.FILLED),
        ("CANCELED", OrderStatus.CANCELLED),
        ("CANCELED was: PARTIALLY FILLED @ 16673.0(0.09)", OrderStatus.CANCELLED),
        ("POSTONLY CANCELED", OrderStatus.CANCELLED),
        ("IOC CANCELED", OrderStatus.CANCELLED),
        ("FILLORKILL CANCELED", OrderStatus.CANCELLED),
        ("INSUFFICIENT MARGIN was: PARTIALLY FILLED @ 1.0(1.0)", OrderStatus.CANCELLED),
        ("INSUFFICIENT BALANCE (G1)", OrderStatus.CANCELLED),
        ("RSN_DUST", OrderStatus.CANCELLED),
        ("RSN_DUST was: ACTIVE (note: POSCLOSE)", OrderStatus.CANCELLED),
        ("RSN_PAUSE", OrderStatus.CANCELLED),
        ("RSN_BOOK_SLIP was: PARTIALLY FILLED @ 1.0(1.0)", OrderStatus.CANCELLED),
        ("RSN_POS_REDUCE_FLIP", OrderStatus.REJECTED),
        ("RSN_POS_NOTFOUND", OrderStatus.REJECTED),
    ],
)
def test_closed_status_keeps_the_text(
    parser: StreamParser, status: str, expected: OrderStatus
) -> None:
    event = parser.parse_message([0, "oc", array(status=status, amount=0.5)])
    assert isinstance(event, Closed)
    assert event.order.status is expected
    assert event.order.status_text == status
    assert closed_status(status, fully_executed=False) is expected


@pytest.mark.parametrize("status", ["ACTIVE", "RSN_PAUSE", "SOMETHING NEW"])
def test_open_frames_are_open_whatever_the_text(parser: StreamParser, status: str) -> None:
    for kind in ("on", "ou"):
        event = parser.parse_message([0, kind, array(status=status)])
        assert isinstance(event, Upsert)
        assert event.order.status is OrderStatus.OPEN
        assert event.order.status_text == status
    snap = parser.parse_message([0, "os", [array(status=status)]])
    assert isinstance(snap, Snapshot)
    assert snap.orders[0].status is OrderStatus.OPEN


def test_partial_fill_from_amounts(parser: StreamParser) -> None:
    event = parser.parse_message([0, "ou", array(amount=-0.5, orig=-2, status="ACTIVE")])
    assert isinstance(event, Upsert)
    assert event.order.status is OrderStatus.PARTIALLY_FILLED
    assert event.order.side is Side.SELL
    assert (event.order.amount, event.order.remaining) == (Decimal(2), Decimal("0.5"))


@pytest.mark.parametrize(
    ("bits", "hidden", "flags"),
    [
        (0, 0, frozenset()),
        (64, 0, {Flag.HIDDEN}),
        (0, 1, {Flag.HIDDEN}),
        (512, 0, {Flag.CLOSE}),
        (1024, 0, {Flag.REDUCE_ONLY}),
        (4096, 0, {Flag.POST_ONLY}),
        (16384, 0, {Flag.OCO}),
        (4160, 0, {Flag.HIDDEN, Flag.POST_ONLY}),
        (64 + 512 + 1024 + 4096 + 16384 + 524288, 0,
         {Flag.HIDDEN, Flag.CLOSE, Flag.REDUCE_ONLY, Flag.POST_ONLY, Flag.OCO}),
        (None, 0, frozenset()),
    ],
)
def test_flags(parser: StreamParser, bits: int | None, hidden: int, flags: set[Flag]) -> None:
    event = parser.parse_message([0, "on", array(flags=bits, hidden=hidden)])
    assert isinstance(event, Upsert)
    assert event.order.flags == frozenset(flags)


def test_ids_are_strings_and_cid_date_is_utc(parser: StreamParser) -> None:
    # 2024-02-29 23:59:59.999 UTC and the next millisecond
    for created, day in ((1709251199999, "2024-02-29"), (1709251200000, "2024-03-01")):
        event = parser.parse_message([0, "on", array(gid=7, cid=99, created=created)])
        assert isinstance(event, Upsert)
        o = event.order
        assert (o.order_id, o.group_id, o.client_id, o.client_id_date) == ("42", "7", "99", day)



@pytest.mark.parametrize("day", [0, 1, 59, 365, 10956, 19782, 20000, 47482])
def test_cid_date_is_the_utc_day_of_creation(parser: StreamParser, day: int) -> None:
    ms = day * 86_400_000 + 12345
    event = parser.parse_message([0, "on", array(cid=99, created=ms)])
    assert isinstance(event, Upsert)
    assert event.order.client_id_date == datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def test_exact_decimals(parser: StreamParser) -> None:
    frame_ = (
        b'[0,"ou",[1,2,3,"tX",4,5,-0.00000001,-123456.12345678,"LIMIT",null,null,null,0,"ACTIVE",'
        b"null,null,0.1,0.30000000000000004,0,0,null,null,null,0,0,null,null,null,null,null,null,null]]"
    )
    event = parser.parse(frame_)
    assert isinstance(event, Upsert)
    o = event.order
    assert str(o.remaining) == "1E-8"
    assert o.remaining == Decimal("0.00000001")
    assert o.amount == Decimal("123456.12345678")
    assert str(o.price) == "0.1"
    assert o.avg_price == Decimal("0.30000000000000004")
    assert isinstance(o.amount, Decimal)



@pytest.mark.parametrize(
    "over",
    [
        {"id": "42"}, {"id": None}, {"id": 0}, {"symbol": None}, {"status": 5},
        {"amount": "1.5"}, {"orig": None}, {"price": "1"}, {"avg": [1]}, {"gid": "g"},
        {"cid": 1.5}, {"created": "x"}, {"flags": "x"}, {"orig": True},
    ],
)
def test_bad_fields_are_malformed(parser: StreamParser, over: dict[str, object]) -> None:
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "ou", array(**over)])




# -- the known-order fast path -----------------------------------------------------------------
def test_numbers_stay_exact_through_the_lazy_decimals(parser: StreamParser) -> None:
    event = parser.parse(orjson.dumps([0, "ou", array(amount=-0.1, orig=-0.3, price=16673,
                                                      avg=0.30000000000000004)]))
    assert isinstance(event, Upsert)
    o = event.order
    for value, text in ((o.amount, "0.3"), (o.remaining, "0.1"), (o.price, "16673"),
                        (o.avg_price, "0.30000000000000004"), (o.filled, "0.2")):
        assert type(value) is Decimal and str(value) == text
    assert o.side is Side.SELL
    assert o == order(order_id="42", symbol="tBTCUSD", side=Side.SELL,
                      order_type="EXCHANGE LIMIT", amount=Decimal("0.3"),
                      remaining=Decimal("0.1"), status=OrderStatus.PARTIALLY_FILLED,
                      status_text="ACTIVE", price=Decimal(16673),
                      avg_price=Decimal("0.30000000000000004"), created_ms=1700000000000,
                      updated_ms=1700000000001)



@pytest.mark.parametrize(
    "over",
    [{"gid": True}, {"gid": 1.0}, {"cid": 7.0}, {"created": 1700000000000.0}, {"flags": 0.0},
     {"flags": False}, {"orig": True}],
)
def test_a_known_order_with_a_field_of_the_wrong_type_is_still_malformed(
    parser: StreamParser, over: dict[str, object]
) -> None:
    good = {"gid": 1, "cid": 7, "orig": 1, "amount": 1}  # values == 1.0 / True, right type
    parser.parse_message([0, "on", array(**good)])
    with pytest.raises(MalformedFrame):
        parser.parse_message([0, "ou", array(**{**good, **over})])


def test_a_changed_fixed_field_is_read_again(parser: StreamParser) -> None:
    parser.parse_message([0, "on", array(orig=1.5, flags=0)])
    event = parser.parse_message([0, "ou", array(orig=-2, amount=-2, flags=4096, hidden=1)])
    assert isinstance(event, Upsert)
    o = event.order
    assert (o.side, o.amount, o.flags) == (Side.SELL, Decimal(2), {Flag.POST_ONLY, Flag.HIDDEN})
    assert str(o.amount) == "2"



def test_the_order_key_survives_a_copy() -> None:
    o = order(order_id="5", symbol="tX", side=Side.BUY, order_type="LIMIT", amount=Decimal(1),
              remaining=Decimal(1), status=OrderStatus.OPEN, status_text="ACTIVE")
    c = copy.copy(o)
    assert c == o and c.key == o.key == ("bitfinex", "main", "5")
