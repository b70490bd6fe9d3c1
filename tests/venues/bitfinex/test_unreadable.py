"""A bad item never hides good news, and a record that cannot be true is not taken as the truth
(pure: frames built here, no socket).

``orders.implausible`` names what cannot be true of an order; the parser refuses such a record
as it refuses a malformed one. ``StreamParser.unreadable`` says what a refused frame was about,
and ``orders.salvage_close`` keeps the close an unreadable ``oc`` still states.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from blotter.core.order import Closed, OrderStatus, Side, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.bitfinex.orders import implausible, salvage_close
from blotter.venues.bitfinex.stream import StreamParser, Unreadable
from tests.venues.bitfinex.samples import ACCOUNT, array, order


@pytest.fixture
def parser() -> StreamParser:
    return StreamParser(ACCOUNT)


# -- records that cannot be true ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"amount": 1.8e19}, "is above the amount"),
        ({"amount": 2, "orig": 1.5}, "is above the amount"),
        ({"orig": 0, "amount": 0}, "amount 0 is not a positive number"),
        ({"orig": float("inf"), "amount": 1}, "amount inf is not a positive number"),
        ({"orig": float("nan"), "amount": 0.5}, "amount nan is not a positive number"),
        ({"amount": -0.5}, "its remaining amount is on the other side of the order"),
        ({"orig": -1.5, "amount": 0.5}, "its remaining amount is on the other side of the order"),
        ({"price": 0}, "a limit order with a price of 0"),
        ({"price": -100.5}, "is not a positive number"),
        ({"avg": -3}, "average price -3 is negative"),
    ],
)
def test_an_implausible_record_is_unreadable(
    parser: StreamParser, over: dict[str, object], reason: str
) -> None:
    for kind in ("on", "ou", "oc"):
        with pytest.raises(MalformedFrame, match=reason):
            parser.parse_message([0, kind, array(**over)])
    with pytest.raises(MalformedFrame, match=reason):  # a list with one is unreadable whole
        parser.parse_message([0, "os", [array(id=7), array(**over)]])


def test_an_implausible_update_of_a_known_order_is_unreadable_too(parser: StreamParser) -> None:
    assert isinstance(parser.parse_message([0, "on", array()]), Upsert)
    with pytest.raises(MalformedFrame, match="is above the amount"):
        parser.parse_message([0, "ou", array(amount=1.6)])


@pytest.mark.parametrize(
    "over",
    [
        {"order_type": "EXCHANGE MARKET", "price": 0},  # a market order may have no price
        {"order_type": "MARKET", "price": None},
        {"order_type": "EXCHANGE STOP", "price": 0},
        {"amount": 0, "status": "EXECUTED @ 100.5(1.5)"},
        {"amount": 1.5, "avg": 0},  # no fill yet
    ],
)
def test_plausible_records_are_read(parser: StreamParser, over: dict[str, object]) -> None:
    fields = {k: v for k, v in over.items() if k != "order_type"}
    a = array(**fields)
    if "order_type" in over:
        a[8] = over["order_type"]
    event = parser.parse_message([0, "oc" if "status" in over else "ou", a])
    assert isinstance(event, (Upsert, Closed))
    assert implausible(event.order) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"remaining": Decimal(3)}, "is above the amount"),
        ({"amount": Decimal(0), "remaining": Decimal(0)}, "is not a positive number"),
        ({"amount": Decimal(-1)}, "is not a positive number"),
        ({"remaining": Decimal(-1)}, "remaining -1 is not zero or more"),
        ({"price": Decimal(0)}, "a limit order with a price of 0"),
        ({"price": Decimal("Infinity")}, "is not a positive number"),
        ({"price": Decimal("NaN")}, "is not a positive number"),
        ({"avg_price": Decimal("-0.5")}, "is negative"),
        ({"avg_price": Decimal("Infinity")}, "is negative"),
    ],
)
def test_implausible_names_what_cannot_be_true(changes: dict[str, object], reason: str) -> None:
    base = {"order_id": "1", "symbol": "tBTCUSD", "side": Side.BUY,
            "order_type": "EXCHANGE LIMIT", "amount": Decimal(2), "remaining": Decimal(1),
            "status": OrderStatus.PARTIALLY_FILLED, "status_text": "ACTIVE",
            "price": Decimal(100)}
    assert implausible(order(**base)) is None
    found = implausible(order(**{**base, **changes}))
    assert found is not None and reason in found


# -- what a refused frame was about -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'[0,"ou",[1,', Unreadable("an order update")),  # cut short: not JSON
        (b'[0, "os", [[1,', Unreadable("the open orders snapshot")),
        (b"\xff\xfe", Unreadable("a message")),  # cannot be told apart from one about orders
        (orjson.dumps([0, "ou", array(status=5)]), Unreadable("an update of order 42", "42")),
        (orjson.dumps([0, "on", array(avg="x")]), Unreadable("new order 42", "42")),
        (orjson.dumps([0, "os", [array(), array(id=7, price="1")]]),
         Unreadable("the open orders snapshot")),
        (orjson.dumps([0, "ou", ["x"]]), Unreadable("an order update")),
        (orjson.dumps([0, "oc"]), Unreadable("an order close")),
        (orjson.dumps([0, 5, []]), Unreadable("a message")),
    ],
)
def test_a_refused_frame_about_the_orders_says_what_it_was(
    parser: StreamParser, frame: bytes, expected: Unreadable
) -> None:
    with pytest.raises(MalformedFrame):
        parser.parse(frame)
    assert parser.unreadable(frame) == expected


def test_an_unreadable_close_keeps_its_order_array(parser: StreamParser) -> None:
    a = array(status="EXECUTED @ 100.5(1.5)", amount=0)
    a[5] = "1700000000002"  # MTS_UPDATE as text
    frame = orjson.dumps([0, "oc", a])
    with pytest.raises(MalformedFrame, match="MTS_UPDATE"):
        parser.parse(frame)
    assert parser.unreadable(frame) == Unreadable("the close of order 42", "42", a)


@pytest.mark.parametrize(
    "frame",
    [
        orjson.dumps({"event": "info", "code": "x"}),  # control events are not about orders
        orjson.dumps([0, "n", [1, "oc-req"]]),  # a notification: a cancel's own wait decides
        orjson.dumps([0, "te", [1]]),
        orjson.dumps([3, "hb", 1]),
        orjson.dumps(["x", "ou", array()]),
    ],
)
def test_a_refused_frame_about_nothing_the_table_shows_is_only_counted(
    parser: StreamParser, frame: bytes
) -> None:
    assert parser.unreadable(frame) is None


# -- the close an unreadable oc still states ---------------------------------------------------------
def _row() -> object:
    return order(order_id="42", symbol="tBTCUSD", side=Side.BUY, order_type="EXCHANGE LIMIT",
                 amount=Decimal("1.5"), remaining=Decimal("0.5"),
                 status=OrderStatus.PARTIALLY_FILLED, status_text="PARTIALLY FILLED @ 100.5(1.0)",
                 price=Decimal("100.5"), avg_price=Decimal("100.5"), updated_ms=1700000000001)


def test_a_fill_with_an_unreadable_update_time_still_closes_the_row_as_filled() -> None:
    a = array(status="EXECUTED @ 100.4(0.5): was PARTIALLY FILLED @ 100.5(1.0)", amount=0,
              avg=100.46666667)
    a[5] = "1700000000002"
    final = salvage_close(a, _row())  # type: ignore[arg-type]
    assert final is not None
    assert (final.status, final.remaining, final.avg_price) == (
        OrderStatus.FILLED, Decimal(0), Decimal("100.46666667"))
    assert final.status_text.startswith("EXECUTED @ 100.4")
    assert final.updated_ms is None  # unreadable: the store dates it
    assert (final.key, final.price, final.amount) == (_row().key, Decimal("100.5"),  # type: ignore[attr-defined]
                                                      Decimal("1.5"))


def test_implausible_numbers_of_a_close_give_way_to_the_last_known_ones() -> None:
    a = array(status="CANCELED was: PARTIALLY FILLED @ 100.5(1.0)", amount=1.8e19, price=-1,
              avg=-2)
    final = salvage_close(a, _row())  # type: ignore[arg-type]
    assert final is not None
    assert final.status is OrderStatus.CANCELLED
    assert (final.remaining, final.price, final.avg_price) == (
        Decimal("0.5"), Decimal("100.5"), Decimal("100.5"))
    assert final.updated_ms == 1700000000001


@pytest.mark.parametrize(
    "a",
    [
        array(status=None, amount=0),  # how it closed cannot be read
        array(id=43, status="CANCELED"),  # another order
        ["x"],
        "EXECUTED",
    ],
)
def test_a_close_that_does_not_say_how_is_not_salvaged(a: object) -> None:
    assert salvage_close(a, _row()) is None  # type: ignore[arg-type]
