"""The Bybit private stream: the recorded frames of the notes field by field (the order push,
the control replies, the WS-Trade replies), and ``StreamParser`` (the stream's fast path) giving
exactly what ``parse_ws`` (the spec) gives."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotter.core.order import AccountKey, Closed, Order, OrderStatus, Side
from blotter.core.venue import MalformedFrame
from blotter.venues.bybit import replies, stream
from blotter.venues.bybit.replies import VenueReply
from blotter.venues.bybit.spec import CATEGORIES
from blotter.venues.bybit.stream import Ignored, OpReply, OrderPush, Pong, StreamParser
from tests.helpers import fixture_bytes, fixture_json, fixture_names

ACCOUNT = AccountKey("bybit", "fast")
ORDER = fixture_json("bybit", "ws_order_cancelled.json")["data"][0]
LIVE = dict(ORDER, orderStatus="New", cancelType="UNKNOWN", rejectReason="EC_NoError",
            leavesQty="0.1")

MAIN = AccountKey("bybit", "main")


def raw(name: str) -> bytes:
    return fixture_bytes("bybit", name)


# -- private ws order push (§7.4) ---------------------------------------------------------------
def test_ws_cancelled_push_field_by_field() -> None:
    push = stream.parse_ws(raw("ws_order_cancelled.json"), MAIN)
    assert isinstance(push, OrderPush)
    assert push.topic == "order.linear"
    assert push.message_id == "62552242_SOLUSDT_149260954383"
    assert push.creation_ms == 1727433749096
    assert len(push.events) == 1
    ev = push.events[0]
    assert isinstance(ev, Closed)
    assert ev.order == Order(
        venue="bybit",
        account="main",
        order_id="f38c5e38-46ef-4a8a-b115-fd3392d4f144",
        symbol="SOLUSDT",
        side=Side.BUY,
        order_type="Limit",
        amount=Decimal("0.1"),
        remaining=Decimal(0),
        status=OrderStatus.CANCELLED,
        status_text="Cancelled · CancelByUser · EC_PerCancelRequest",
        price=Decimal(99),
        avg_price=None,
        client_id=None,  # orderLinkId ""
        flags=frozenset(),
        created_ms=1727433748480,
        updated_ms=1727433749095,
        category="linear",
        time_in_force="GTC",
    )


# -- ws control replies (§7.1–7.3, §8) ----------------------------------------------------------
def test_ws_control_replies() -> None:
    assert stream.parse_ws(raw("ws_auth_ok.json"), MAIN) == OpReply(
        "auth", True, "", None, "cejreaspqfh3sjdnldmg-p"
    )
    assert stream.parse_ws(raw("ws_auth_ok_req_id.json"), MAIN) == OpReply(
        "auth", True, "", "LzIP5BH2aBVLUkmsOzg-q", "cldfn01dcjmj8l28s6sg-ngkux"
    )
    fail = stream.parse_ws(raw("ws_auth_params_error.json"), MAIN)
    assert fail == OpReply("auth", False, "Params Error", None, "cno3gd1qo29t7ommtc60-18fpo")
    assert isinstance(fail, OpReply) and fail.text() == "Params Error"
    assert stream.parse_ws(raw("ws_subscribe_ok.json"), MAIN) == OpReply(
        "subscribe", True, "", "sub-1", "cl48jjpqo29jk1nbp4e0-97x2"
    )
    assert stream.parse_ws(raw("ws_pong.json"), MAIN) == Pong(1699766561376, None)
    assert stream.parse_ws(raw("ws_pong_req_id.json"), MAIN) == Pong(1727434943071, "100001")
    public = b'{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}'
    assert stream.parse_ws(public, MAIN) == Pong(None, None)
    assert stream.parse_ws(b'{"topic":"wallet","data":[]}', MAIN) == Ignored("wallet")


def test_ws_trade_replies() -> None:
    gone = stream.parse_ws(raw("ws_trade_cancel_110001.json"), MAIN)
    assert gone == OpReply(
        "order.cancel", False, "order not exists or too late to cancel",
        "RAACPVr82kIAAgAAAAAA", "d4al7m6c0hv96a0jimg0-b9wz", 110001,
    )
    assert isinstance(gone, OpReply)
    assert gone.text() == "110001: order not exists or too late to cancel"
    ok = stream.parse_ws(raw("ws_trade_cancel_ok.json"), MAIN)
    assert isinstance(ok, OpReply) and ok.success and ok.ret_code == 0
    # the same body read as a REST-shaped envelope
    reply = replies.parse_reply(raw("ws_trade_cancel_110001.json"))
    assert reply == VenueReply(110001, "order not exists or too late to cancel", None)


# -- StreamParser against parse_ws ----------------------------------------------------------------
json_scalars = (
    st.none() | st.booleans() | st.integers(-2, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["", "0", "0.10", "-1", "-0", "1e9", "NaN", "١", " 1", "1.", ".5",
                       "Buy", "Sell", "New", "Untriggered", "PartiallyFilled", "Filled",
                       "Cancelled", "linear", "spot", "PostOnly", "OcoOrder", "Stop",
                       "1727433748480", "UNKNOWN", "None", "EC_NoError"])
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6
)
keys = st.sampled_from(sorted(ORDER))


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def outcome(parse: Any, frame: bytes) -> Any:
    try:
        return ("ok", parse(frame))
    except MalformedFrame as exc:
        return ("malformed", str(exc))


def same(frame: bytes, parser: StreamParser) -> Any:
    """The fast parser (with whatever it learnt) and the spec agree, field for field."""
    want = outcome(lambda f: stream.parse_ws(f, ACCOUNT), frame)
    got = outcome(parser.parse, frame)
    assert got == want
    assert repr(got) == repr(want)  # also the digits of every decimal
    if want[0] == "ok" and isinstance(want[1], OrderPush) and want[1].unreadable:
        assert parser.parse_stream(frame) == want[1]  # the push, with its unreadable items
    elif want[0] == "ok" and isinstance(want[1], OrderPush):
        pushed = parser.parse_stream(frame)
        assert pushed == [e.order for e in want[1].events]
        for order in pushed:
            assert type(order) is Order and order.key == (ACCOUNT.venue, ACCOUNT.account,
                                                          order.order_id)
    return want


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    item = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(keys)
        if draw(st.booleans()):
            item[key] = draw(json_values)
        else:
            item.pop(key, None)
    return item


def push(*items: dict[str, Any], topic: str = "order") -> bytes:
    return dumps({"topic": topic, "id": "1", "creationTime": 5, "data": list(items)})


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(LIVE), min_size=1, max_size=4),
       st.sampled_from(["order", "order.spot", "order.linear", "order.x"]))
def test_mutated_pushes_agree_with_parse_ws(items: list[dict[str, Any]], topic: str) -> None:
    parser = StreamParser(ACCOUNT)
    same(push(LIVE, topic=topic), parser)  # the parser knows the order: the cached path
    assert parser.knows(LIVE["orderId"])
    for item in items:
        same(push(item, topic=topic), parser)
    same(push(*items, topic=topic), parser)
    same(push(LIVE, topic=topic), parser)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(keys, json_values), min_size=1, max_size=3))
def test_one_field_changed_after_a_valid_push(changes: list[tuple[str, Any]]) -> None:
    parser = StreamParser(ACCOUNT)
    same(push(LIVE), parser)
    item = dict(LIVE)
    for key, value in changes:
        item[key] = value
        same(push(item), parser)
    same(push(LIVE), parser)


@pytest.mark.parametrize("value", [0, 1, 0.0, 1.0, "false", None, [], "True"])
def test_booleans_are_not_taken_for_numbers(value: Any) -> None:
    parser = StreamParser(ACCOUNT)
    for key in ("reduceOnly", "closeOnTrigger"):
        same(push(LIVE), parser)
        same(push(dict(LIVE, **{key: value})), parser)


@pytest.mark.parametrize("value", [1727433748480, 1727433748480.0, True, "", None, "0x1"])
def test_times_in_other_shapes(value: Any) -> None:
    parser = StreamParser(ACCOUNT)
    for key in ("createdTime", "updatedTime"):
        same(push(dict(LIVE, createdTime="1727433748480")), parser)
        same(push(dict(LIVE, **{key: value})), parser)


def test_a_life_in_pushes() -> None:
    """New → waiting trigger → triggered → partly filled (twice) → cancelled, every category."""
    for category in CATEGORIES:
        parser = StreamParser(ACCOUNT)
        base = dict(LIVE, category=category, orderLinkId="cid-1", reduceOnly=True,
                    timeInForce="PostOnly", stopOrderType="Stop", triggerPrice="101.50",
                    triggerBy="MarkPrice", qty="0.10", leavesQty="0.10", price="100.00")
        steps = [
            dict(base, orderStatus="Untriggered"),
            dict(base, orderStatus="Triggered", updatedTime="1727433749100"),
            dict(base, orderStatus="New", triggerPrice="0", updatedTime="1727433749200"),
            dict(base, orderStatus="PartiallyFilled", leavesQty="0.07", cumExecQty="0.03",
                 avgPrice="99.95", updatedTime="1727433749300"),
            dict(base, orderStatus="PartiallyFilled", leavesQty="0.01", cumExecQty="0.09",
                 avgPrice="99.975", price="99.90", qty="0.10", updatedTime="1727433749400"),
            dict(base, orderStatus="Cancelled", cancelType="CancelByUser",
                 rejectReason="EC_PerCancelRequest", leavesQty="0", updatedTime="1727433749500"),
        ]
        results = [same(push(step, topic=f"order.{category}"), parser) for step in steps]
        orders = [r[1].events[0].order for r in results]
        assert [o.status for o in orders] == [
            OrderStatus.UNTRIGGERED, OrderStatus.OPEN, OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED,
        ]
        assert orders[0].status_text == "Untriggered · trigger 101.50 MarkPrice"
        assert str(orders[4].avg_price) == "99.975" and str(orders[4].remaining) == "0.01"
        assert not parser.remembered  # a closed order is forgotten


def test_other_messages_are_parse_ws_messages() -> None:
    parser = StreamParser(ACCOUNT)
    for name in fixture_names("bybit", "ws_*.json"):
        same(fixture_bytes("bybit", name), parser)
    for frame in (b"", b"[]", b"nope", b'{"topic":"wallet","data":[]}', b'{"topic":5}',
                  b'{"topic":"order"}', b'{"topic":"order","data":[1]}', b'{"op":"pong"}'):
        same(frame, parser)
    assert parser.parse({"topic": "order", "data": [LIVE]}) == stream.parse_ws(
        {"topic": "order", "data": [LIVE]}, ACCOUNT
    )


def test_not_a_bybit_account() -> None:
    with pytest.raises(ValueError):
        StreamParser(AccountKey("bitfinex", "x"))


@pytest.mark.parametrize(
    "over",
    [{"leavesQty": "0.2"}, {"qty": "0", "leavesQty": "0"}, {"price": "0"}, {"price": "-99"},
     {"avgPrice": "-1"}, {"orderStatus": "Parked"}],
)
def test_the_fast_path_finds_a_known_order_implausible_as_the_spec_does(
    over: dict[str, Any],
) -> None:
    parser = StreamParser(ACCOUNT)
    same(push(LIVE), parser)  # known: the cached path
    other = dict(LIVE, orderId="other", leavesQty="0.05", orderStatus="PartiallyFilled")
    kind, event = same(push(other, dict(LIVE, **over)), parser)
    assert kind == "ok" and isinstance(event, OrderPush)
    assert [e.order.order_id for e in event.events] == ["other"]
    assert len(event.unreadable) == 1 and event.unreadable[0].startswith(f"order {LIVE['orderId']}")
    assert parser.parse_stream(push(LIVE)) == [stream.parse_ws(push(LIVE), ACCOUNT)
                                               .events[0].order]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "over",
    [
        # remaining and amount that one float cannot tell apart: the exact decimals decide
        {"qty": "0.10000000000000000001", "leavesQty": "0.1"},
        {"qty": "0.1", "leavesQty": "0.10000000000000000001"},
        {"qty": "0.10", "leavesQty": "0.1"},
        {"qty": "1" * 40, "leavesQty": "1" * 39 + "2"},
        {"qty": "1" * 41, "leavesQty": "1"},  # more digits than a decimal text may have
        {"qty": "1." + "1" * 40, "leavesQty": "1"},
        {"qty": "1." + "1" * 41, "leavesQty": "1"},
        # zeros in their spellings: no price, or an amount that is not positive
        {"price": "0.00"}, {"price": "00"}, {"avgPrice": "0.0"}, {"triggerPrice": "000"},
        {"qty": "0.0", "leavesQty": "0"}, {"leavesQty": "0.000"},
        # text a float or a Decimal would read, but a decimal text is not
        {"qty": "1e1"}, {"qty": " 1"}, {"qty": "1_0"}, {"qty": "+1"}, {"qty": "1."},
        {"qty": ".5"}, {"qty": "1.2.3"}, {"qty": "inf"}, {"price": "NaN"}, {"qty": "١"},
        {"price": "1|2"}, {"avgPrice": "|"}, {"leavesQty": ""}, {"leavesQty": None},
        {"price": None}, {"avgPrice": None}, {"triggerPrice": None}, {"qty": 1},
        # a trigger that Decimal prints with an exponent, in the status words
        {"orderStatus": "Untriggered", "triggerPrice": "0.0000001", "triggerBy": "LastPrice"},
    ],
)
def test_the_numbers_as_text_read_as_the_spec_reads_them(over: dict[str, Any]) -> None:
    parser = StreamParser(ACCOUNT)
    same(push(dict(LIVE, **over)), parser)  # a new order
    same(push(LIVE), parser)
    same(push(dict(LIVE, **over)), parser)  # a known one


def test_a_pushed_order_reads_the_digits_the_venue_sent() -> None:
    """The numbers of a pushed order read as the exact Decimal of the venue's text, trailing
    zeros and all, converted once (see ``Order``)."""
    parser = StreamParser(ACCOUNT)
    order = parser.parse_stream(push(dict(LIVE, qty="0.10", leavesQty="0.1000", price="99.50")))
    assert isinstance(order, list) and len(order) == 1
    (o,) = order
    assert (o.amount, o.remaining, o.price) == (Decimal("0.10"), Decimal("0.1000"),
                                               Decimal("99.50"))
    assert (str(o.amount), str(o.remaining), str(o.price)) == ("0.10", "0.1000", "99.50")
    assert type(o.amount) is Decimal and o.amount is o.amount  # converted once, then kept


def test_a_busy_stream_reads_as_the_spec_reads_it() -> None:
    """Many orders at once, in every category, through fills of varied digits, triggers and
    cancels (the shape of the bench's stream): every push reads as ``parse_ws`` reads it, with
    the parser's caches warm."""
    rng = random.Random(5)
    parser = StreamParser(ACCOUNT)
    book: dict[str, dict[str, Any]] = {}
    ms = 1727433748480
    for seq in range(600):
        items = []
        for _ in range(rng.randint(1, 3)):
            ms += rng.randint(1, 40)
            if len(book) < 3 or rng.random() < 0.3:
                qty = f"{rng.uniform(1, 50):.{rng.randint(0, 6)}f}"
                price = f"{rng.uniform(1, 99000):.{rng.randint(0, 4)}f}"
                stop = rng.random() < 0.2
                item = dict(LIVE, orderId=f"o-{seq}-{len(items)}", category=rng.choice(CATEGORIES),
                            orderStatus="Untriggered" if stop else "New", qty=qty, leavesQty=qty,
                            price=price, avgPrice=rng.choice(["", "0"]), cumExecQty="0",
                            stopOrderType="Stop" if stop else "", triggerBy="LastPrice",
                            triggerPrice=price if stop else "", createdTime=str(ms),
                            updatedTime=str(ms), orderLinkId=rng.choice(["", f"c{seq}"]))
                book[item["orderId"]] = item
            else:
                item = book[rng.choice(sorted(book))]
                item["updatedTime"] = str(ms)
                leaves = Decimal(item["leavesQty"])
                roll = rng.random()
                if item["orderStatus"] == "Untriggered":
                    item["orderStatus"] = "New" if roll < 0.6 else "Deactivated"
                elif roll < 0.3:
                    item.update(orderStatus="Cancelled", cancelType="CancelByUser", leavesQty="0")
                else:
                    fill = min(leaves, (leaves * Decimal(rng.uniform(0.1, 1.2))).quantize(
                        Decimal(1).scaleb(-len(item["qty"].partition(".")[2]))))
                    left = leaves - fill
                    item.update(orderStatus="Filled" if not left else "PartiallyFilled",
                                leavesQty=f"{left:f}",
                                avgPrice=f"{Decimal(item['price']) * Decimal('0.9999'):f}")
                if item["orderStatus"] not in ("New", "PartiallyFilled", "Untriggered"):
                    del book[item["orderId"]]
            items.append(dict(item))
        kind, event = same(push(*items), parser)
        assert kind == "ok" and isinstance(event, OrderPush) and not event.unreadable
    # what is open, and only that, is remembered
    assert all(parser.knows(k) for k in book) and parser.remembered == len(book)


def test_an_order_not_seen_for_long_is_read_in_full_again_and_reads_the_same() -> None:
    # the parser remembers the orders seen lately, not every open order: one that many others
    # pushed out of its memory is read in full at its next push, to what parse_ws reads
    parser = StreamParser(ACCOUNT, recent_orders=2)
    same(push(LIVE), parser)
    for n in range(6):
        same(push(dict(LIVE, orderId=f"other-{n}")), parser)
    assert not parser.knows(LIVE["orderId"]) and parser.remembered <= 4
    _, again = same(push(dict(LIVE, leavesQty="0.05", orderStatus="PartiallyFilled",
                              updatedTime="1727433749000")), parser)
    assert parser.knows(LIVE["orderId"])
    assert again.events[0].order.remaining == Decimal("0.05")


def test_a_recorded_push_is_read_by_the_typed_decode() -> None:
    # the typed decode (only the fields the hot path reads are built) takes the venue's own
    # push, and reads it as the spec does; a push it cannot take is read the general way
    frame = fixture_bytes("bybit", "ws_order_cancelled.json")
    want = stream.parse_ws(frame, ACCOUNT)
    assert isinstance(want, OrderPush) and want.events
    typed = StreamParser(ACCOUNT)._typed_push(stream._push_frame(frame))
    assert typed == [e.order for e in want.events]
    # createdTime as a number is the full parser's to judge: the typed read gives way
    odd = push(dict(LIVE, createdTime=1727433748480))
    assert StreamParser(ACCOUNT)._typed_push(stream._push_frame(odd)) is None
    same(odd, StreamParser(ACCOUNT))


def test_the_typed_order_reads_its_fields_in_the_general_ways_order() -> None:
    # the hot path takes a PushedOrder's fields as one tuple (astuple): in the order the general
    # way reads them from an object, triggerBy last
    import msgspec

    names = tuple(f.encode_name for f in msgspec.structs.fields(stream.PushedOrder))
    assert names == (*stream._FIELD_NAMES, "triggerBy")
