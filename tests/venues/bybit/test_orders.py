"""Bybit order objects → core ``Order``: statuses (§4), kinds and flags, quantities, the category
rule of a push (§7.4), malformed fields, and the merge rule of full order states.

The order objects come as the stream carries them (``parse_ws`` of an ``order`` push), field by
field from the recorded cancelled order of the notes (tests/fixtures/bybit).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from blotter.core.order import AccountKey, Closed, Flag, Order, OrderStatus, Side, Upsert
from blotter.core.venue import MalformedFrame
from blotter.venues.bybit import orders
from blotter.venues.bybit.stream import OrderPush, parse_ws
from tests.helpers import fixture_json

ACCOUNT = AccountKey("bybit", "main")


def _item(**over: Any) -> dict[str, Any]:
    item = fixture_json("bybit", "ws_order_cancelled.json")["data"][0]
    item.update(over)
    return item


def _push(*items: dict[str, Any], topic: str = "order") -> bytes:
    return orjson.dumps({"topic": topic, "id": "x", "creationTime": 1, "data": list(items)})


@pytest.mark.parametrize(
    ("venue_status", "status", "event"),
    [
        ("New", OrderStatus.OPEN, Upsert),
        ("PartiallyFilled", OrderStatus.PARTIALLY_FILLED, Upsert),
        ("Untriggered", OrderStatus.UNTRIGGERED, Upsert),
        ("Triggered", OrderStatus.OPEN, Upsert),
        ("Filled", OrderStatus.FILLED, Closed),
        ("Cancelled", OrderStatus.CANCELLED, Closed),
        ("PartiallyFilledCanceled", OrderStatus.CANCELLED, Closed),
        ("Deactivated", OrderStatus.CANCELLED, Closed),
        ("Rejected", OrderStatus.REJECTED, Closed),
    ],
)
def test_status_normalisation(venue_status: str, status: OrderStatus, event: type) -> None:
    push = parse_ws(_push(_item(orderStatus=venue_status, cancelType="UNKNOWN",
                                      rejectReason="EC_NoError")), ACCOUNT)
    assert isinstance(push, OrderPush)
    (ev,) = push.events
    assert type(ev) is event
    assert ev.order.status is status
    assert ev.order.status_text == venue_status


def test_untriggered_conditional_spot_order_with_flags() -> None:
    item = _item(
        category="spot", symbol="BTCUSDT", orderId="1666800494330512128",
        orderLinkId="spot-stop-1", side="Sell", orderStatus="Untriggered", cancelType="UNKNOWN",
        rejectReason="EC_NoError", orderType="Market", stopOrderType="Stop",
        triggerPrice="25000.5", triggerBy="LastPrice", price="0", qty="0.002",
        leavesQty="0.002", timeInForce="PostOnly", reduceOnly=True, closeOnTrigger=True,
    )
    push = parse_ws(_push(item, topic="order.spot"), ACCOUNT)
    assert isinstance(push, OrderPush)
    (ev,) = push.events
    assert isinstance(ev, Upsert)
    o = ev.order
    assert o.category == "spot"
    assert o.side is Side.SELL
    assert o.order_type == "Stop Market"
    assert o.status is OrderStatus.UNTRIGGERED
    assert o.status_text == "Untriggered · trigger 25000.5 LastPrice"
    assert o.price is None  # market
    assert o.amount == Decimal("0.002") and o.remaining == Decimal("0.002")
    assert o.client_id == "spot-stop-1"
    assert o.flags == frozenset({Flag.POST_ONLY, Flag.REDUCE_ONLY, Flag.CLOSE})


def test_partial_fill_and_oco_and_category_from_topic() -> None:
    item = _item(orderStatus="PartiallyFilled", cancelType="UNKNOWN", rejectReason="EC_NoError",
                 qty="1.5", leavesQty="", cumExecQty="0.5", avgPrice="98.75",
                 stopOrderType="OcoOrder")
    del item["category"]
    push = parse_ws(_push(item, topic="order.inverse"), ACCOUNT)
    assert isinstance(push, OrderPush)
    o = push.events[0].order
    assert o.category == "inverse"
    assert o.remaining == Decimal("1.0") and o.filled == Decimal("0.5")
    assert o.avg_price == Decimal("98.75")
    assert o.order_type == "OcoOrder Limit"
    assert Flag.OCO in o.flags


def test_double_filled_race_second_push() -> None:
    item = _item(orderStatus="Filled", rejectReason="EC_OrigClOrdIDDoesNotExist",
                 cumExecQty="0.1", avgPrice="99")
    push = parse_ws(_push(item, item), ACCOUNT)
    assert isinstance(push, OrderPush) and len(push.events) == 2
    o = push.events[1].order
    assert o.status is OrderStatus.FILLED
    assert o.status_text == "Filled · CancelByUser · EC_OrigClOrdIDDoesNotExist"


def unreadable_only(frame: bytes) -> tuple[str, ...]:
    """The words for the items of a push that could not be read (and none could)."""
    push = parse_ws(frame, ACCOUNT)
    assert isinstance(push, OrderPush) and push.events == ()
    assert push.unreadable
    return push.unreadable


def test_order_without_category_anywhere_is_unreadable() -> None:
    item = _item()
    del item["category"]
    assert unreadable_only(_push(item, topic="order")) == (
        f"order {item['orderId']} (order without a known category)",
    )


@pytest.mark.parametrize(
    "over",
    [
        {"side": "buy"}, {"orderStatus": "Active"}, {"qty": "1e5"}, {"qty": "NaN"}, {"qty": 1},
        {"price": "abc"}, {"orderId": ""}, {"orderId": 5}, {"reduceOnly": "false"},
        {"updatedTime": "x"}, {"leavesQty": "-1"},
    ],
)
def test_bad_order_fields_make_the_item_unreadable(over: dict[str, Any]) -> None:
    (words,) = unreadable_only(_push(_item(**over)))
    assert words.startswith(("order ", "an order ("))


def test_a_rest_list_item_takes_the_category_of_its_page() -> None:
    item = fixture_json("bybit", "rest_realtime_linear.json")["result"]["list"][0]
    assert "category" not in item  # the list items carry none (§3.1)
    order = orders.parse_order(item, ACCOUNT, "linear")
    assert (order.category, order.symbol, order.status, order.remaining) == (
        "linear", "ETHUSDT", OrderStatus.OPEN, Decimal("0.10")
    )
    with pytest.raises(MalformedFrame):
        orders.parse_order(dict(item, qty=[]), ACCOUNT, "linear")  # any slip is MalformedFrame


def test_a_push_order_names_its_category_or_takes_the_topics() -> None:
    item = _item()
    assert orders.read_pushed_order(item, ACCOUNT, "order").category == "linear"
    del item["category"]
    assert orders.read_pushed_order(item, ACCOUNT, "order.option").category == "option"
    with pytest.raises(MalformedFrame):
        orders.read_pushed_order(item, ACCOUNT, "order.futures")
    with pytest.raises(MalformedFrame):
        orders.read_pushed_order([item], ACCOUNT, "order.linear")


def test_open_orders_are_upserts_and_closed_ones_closes() -> None:
    cancelled = orders.parse_order(_item(), ACCOUNT, "linear")
    assert orders.order_event(cancelled) == Closed(cancelled)
    live = orders.parse_order(_item(orderStatus="New", leavesQty="0.1"), ACCOUNT, "linear")
    assert orders.order_event(live) == Upsert(live)


def state(updated: int | None, status: str = "New", price: str = "99") -> Order:
    item = _item(orderStatus=status, price=price, leavesQty="0.1",
                 updatedTime="" if updated is None else str(updated))
    return orders.parse_order(item, ACCOUNT, "linear")


def test_the_later_updated_time_wins() -> None:
    older, newer = state(100), state(200)
    assert orders.newer_or_same(newer, older) and not orders.newer_or_same(older, newer)
    assert orders.newer_or_same(state(100, price="98"), older)  # a tie: the later read wins
    assert orders.newer_or_same(state(None), newer) and orders.newer_or_same(older, state(None))


def test_a_reread_merged_with_the_pushes_held_meanwhile() -> None:
    a_rest = orders.parse_order(_item(orderId="a", orderStatus="New", leavesQty="0.1",
                                      updatedTime="200"), ACCOUNT, "linear")
    b_rest = orders.parse_order(_item(orderId="b", orderStatus="New", leavesQty="0.1",
                                      updatedTime="200"), ACCOUNT, "linear")
    c_rest = orders.parse_order(_item(orderId="c", orderStatus="New", leavesQty="0.1",
                                      updatedTime="200"), ACCOUNT, "linear")
    held = {
        "a": orders.parse_order(_item(orderId="a", orderStatus="New", leavesQty="0.1",
                                      price="1", updatedTime="150"), ACCOUNT, "linear"),
        "b": orders.parse_order(_item(orderId="b", orderStatus="PartiallyFilled",
                                      leavesQty="0.05", updatedTime="250"), ACCOUNT, "linear"),
        "c": orders.parse_order(_item(orderId="c", updatedTime="250"), ACCOUNT, "linear"),
        "d": orders.parse_order(_item(orderId="d", orderStatus="New", leavesQty="0.1",
                                      updatedTime="250"), ACCOUNT, "linear"),
        "e": orders.parse_order(_item(orderId="e", orderStatus="Filled", leavesQty="0",
                                      updatedTime="250"), ACCOUNT, "linear"),
    }
    merged, closes = orders.merge_reread([a_rest, b_rest, c_rest], held)
    assert merged == {"a": a_rest, "b": held["b"], "d": held["d"]}  # the REST read was newer
    # the held closes that won, with how each ended (c was cancelled after the read)
    assert closes == [held["c"], held["e"]]
    assert [o.status for o in closes] == [OrderStatus.CANCELLED, OrderStatus.FILLED]


def test_a_list_read_before_a_close_the_stream_showed_does_not_bring_the_order_back() -> None:
    def new(oid: str, updated: str) -> Order:
        return orders.parse_order(_item(orderId=oid, orderStatus="New", leavesQty="0.1",
                                        updatedTime=updated), ACCOUNT, "linear")

    listed = [new("a", "200"), new("b", "200")]
    held = {"c": new("c", "100")}  # held while the list was read, closed by the stream since
    merged, closes = orders.merge_reread(listed, held, ended={"a", "c"})
    assert merged == {"b": listed[1]} and closes == []


# -- records that cannot be true are unreadable (issue 10, item 8) ------------------------------
LIVE_ITEM = {"orderStatus": "New", "cancelType": "UNKNOWN", "rejectReason": "EC_NoError",
             "leavesQty": "0.1"}


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"leavesQty": "0.2"}, "remaining 0.2 is above the amount 0.1"),
        ({"leavesQty": "18446744073709551615"},
         "remaining 18446744073709551615 is above the amount 0.1"),
        ({"qty": "0", "leavesQty": "0"}, "amount 0 is not a positive number"),
        ({"qty": "-0.1"}, "negative qty"),
        ({"price": "0"}, "a limit order without a price"),
        ({"price": ""}, "a limit order without a price"),
        ({"price": "-99"}, "price -99 is not a positive number"),
        ({"avgPrice": "-1"}, "average price -1 is negative"),
        ({"orderStatus": "Filled", "leavesQty": "0", "avgPrice": "-99.5"},
         "average price -99.5 is negative"),
    ],
)
def test_an_implausible_record_is_unreadable_and_says_why(
    over: dict[str, Any], reason: str
) -> None:
    item = _item(**{**LIVE_ITEM, **over})
    with pytest.raises(MalformedFrame) as caught:
        orders.parse_order(item, ACCOUNT, "linear")
    assert reason in str(caught.value)
    assert unreadable_only(_push(item)) == (f"order {item['orderId']} ({caught.value})",)


def test_a_market_order_may_have_no_price_and_no_fills_yet() -> None:
    order = orders.parse_order(_item(**LIVE_ITEM, price="0", orderType="Market", avgPrice=""),
                               ACCOUNT, "linear")
    assert order.price is None and order.avg_price is None
    assert orders.implausible(order) is None


def test_implausible_judges_the_core_order_of_any_source() -> None:
    good = orders.parse_order(_item(**LIVE_ITEM), ACCOUNT, "linear")
    assert orders.implausible(good) is None
    nan = Order(**{**{f: getattr(good, f) for f in ("venue", "account", "order_id", "symbol",
                                                    "side", "order_type", "amount",
                                                    "remaining", "status", "status_text")},
                   "price": Decimal("NaN")})
    assert orders.implausible(nan) == "price NaN is not a positive number"
    inf = Order(**{**{f: getattr(good, f) for f in ("venue", "account", "order_id", "symbol",
                                                    "side", "order_type", "status",
                                                    "status_text")},
                   "amount": Decimal("Infinity"), "remaining": Decimal(1)})
    assert orders.implausible(inf) == "amount Infinity is not a positive number"


def test_a_push_applies_its_readable_orders_beside_an_unreadable_one() -> None:
    filled = _item(orderId="x", orderStatus="Filled", leavesQty="0", cumExecQty="0.1",
                   avgPrice="99", cancelType="UNKNOWN", rejectReason="EC_NoError")
    weird = _item(orderId="y", **{**LIVE_ITEM, "orderStatus": "Parked"})
    push = parse_ws(_push(filled, weird), ACCOUNT)
    assert isinstance(push, OrderPush)
    assert [(type(e), e.order.order_id, e.order.status) for e in push.events] == [
        (Closed, "x", OrderStatus.FILLED)
    ]
    assert push.unreadable == ("order y (unknown orderStatus 'Parked')",)
    no_id = parse_ws(orjson.dumps({"topic": "order", "data": [filled, 1]}), ACCOUNT)
    assert isinstance(no_id, OrderPush) and len(no_id.events) == 1
    assert no_id.unreadable == ("an order (order is not an object)",)


def test_a_list_is_ahead_of_the_stream_only_where_a_trader_would_see_it() -> None:
    def new(oid: str, updated: str, leaves: str = "0.1", status: str = "New") -> Order:
        return orders.parse_order(_item(orderId=oid, orderStatus=status, leavesQty=leaves,
                                        updatedTime=updated), ACCOUNT, "linear")

    rows = {"a": new("a", "100"), "b": new("b", "100")}
    listed = [new("a", "100"), new("b", "150")]  # b: only a newer time, nothing shown changes
    assert not orders.stream_behind(rows, listed, {})
    assert orders.stream_behind(rows, [listed[0]], {})  # b is gone at the venue
    # ... unless the stream said so meanwhile
    assert not orders.stream_behind(rows, [listed[0]], {"b": new("b", "160", "0", "Filled")})
    # a new order, or a fill, the stream has not shown (yet)
    assert orders.stream_behind(rows, [*listed, new("c", "170")], {})
    assert not orders.stream_behind(rows, [*listed, new("c", "170")], {"c": new("c", "170")})
    assert orders.stream_behind(rows, [new("a", "180", "0.05"), listed[1]], {})
    assert not orders.stream_behind(rows, [new("a", "180", "0.05"), listed[1]],
                                    {"a": new("a", "180", "0.05", "PartiallyFilled")})
    # an order the stream closed, still listed by a list read before the close
    assert not orders.stream_behind({"a": rows["a"]}, listed[:1] + [new("x", "90")], {},
                                    ended={"x"})
