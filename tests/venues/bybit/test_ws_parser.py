"""``WsParser`` (the stream's fast path) gives exactly what ``parse_ws`` (the spec) gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotter.core.order import AccountKey, Order, OrderStatus
from blotter.venues.bybit import codec
from blotter.venues.bybit.codec import MalformedFrame, OrderPush, WsParser

ACCOUNT = AccountKey("bybit", "fast")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bybit"
ORDER = json.loads((FIXTURES / "ws_order_cancelled.json").read_text())["data"][0]
LIVE = dict(ORDER, orderStatus="New", cancelType="UNKNOWN", rejectReason="EC_NoError",
            leavesQty="0.1")

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


def same(frame: bytes, parser: WsParser) -> Any:
    """The fast parser (with whatever it learnt) and the spec agree, field for field."""
    want = outcome(lambda f: codec.parse_ws(f, ACCOUNT), frame)
    got = outcome(parser.parse, frame)
    assert got == want
    assert repr(got) == repr(want)  # also the digits of every decimal
    if want[0] == "ok" and isinstance(want[1], OrderPush):
        stream = parser.parse_stream(frame)
        assert stream == [e.order for e in want[1].events]
        for order in stream:
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
    parser = WsParser(ACCOUNT)
    same(push(LIVE, topic=topic), parser)  # the parser knows the order: the cached path
    assert LIVE["orderId"] in parser._known
    for item in items:
        same(push(item, topic=topic), parser)
    same(push(*items, topic=topic), parser)
    same(push(LIVE, topic=topic), parser)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(keys, json_values), min_size=1, max_size=3))
def test_one_field_changed_after_a_valid_push(changes: list[tuple[str, Any]]) -> None:
    parser = WsParser(ACCOUNT)
    same(push(LIVE), parser)
    item = dict(LIVE)
    for key, value in changes:
        item[key] = value
        same(push(item), parser)
    same(push(LIVE), parser)


@pytest.mark.parametrize("value", [0, 1, 0.0, 1.0, "false", None, [], "True"])
def test_booleans_are_not_taken_for_numbers(value: Any) -> None:
    parser = WsParser(ACCOUNT)
    for key in ("reduceOnly", "closeOnTrigger"):
        same(push(LIVE), parser)
        same(push(dict(LIVE, **{key: value})), parser)


@pytest.mark.parametrize("value", [1727433748480, 1727433748480.0, True, "", None, "0x1"])
def test_times_in_other_shapes(value: Any) -> None:
    parser = WsParser(ACCOUNT)
    for key in ("createdTime", "updatedTime"):
        same(push(dict(LIVE, createdTime="1727433748480")), parser)
        same(push(dict(LIVE, **{key: value})), parser)


def test_a_life_in_pushes() -> None:
    """New → waiting trigger → triggered → partly filled (twice) → cancelled, every category."""
    for category in codec.CATEGORIES:
        parser = WsParser(ACCOUNT)
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
        assert not parser._known  # a closed order is forgotten


def test_other_messages_are_parse_ws_messages() -> None:
    parser = WsParser(ACCOUNT)
    for name in sorted(FIXTURES.glob("ws_*.json")):
        same(name.read_bytes(), parser)
    for frame in (b"", b"[]", b"nope", b'{"topic":"wallet","data":[]}', b'{"topic":5}',
                  b'{"topic":"order"}', b'{"topic":"order","data":[1]}', b'{"op":"pong"}'):
        same(frame, parser)
    assert parser.parse({"topic": "order", "data": [LIVE]}) == codec.parse_ws(
        {"topic": "order", "data": [LIVE]}, ACCOUNT
    )


def test_not_a_bybit_account() -> None:
    with pytest.raises(ValueError):
        WsParser(AccountKey("bitfinex", "x"))


def test_client_frame_handler_counts_bad_frames_and_applies_good_ones() -> None:
    from blotter.core.notices import NoticeBus, StateBus
    from blotter.core.store import OrderStore
    from blotter.venues.bybit.client import BybitClient

    store = OrderStore()
    client = BybitClient(
        ACCOUNT, rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9/v5/private",
        api_key="k", api_secret="s", store=store, notices=NoticeBus(), states=StateBus(),
    )
    for bad in (b"", b"nope", b"[1]", push(dict(LIVE, qty="1e3")), push(dict(LIVE, side=0)),
                push(1), b'{"topic":"order","data":{}}'):
        client.handle_frame(bad)  # never raises
    assert client.malformed_frames == 7 and len(store) == 0
    client.handle_frame(push(LIVE))
    (row,) = store.orders(ACCOUNT)
    assert str(row.amount) == "0.1" and str(row.price) == "99" and row.status_text == "New"
    older = dict(LIVE, leavesQty="0.05", updatedTime=str(int(LIVE["updatedTime"]) - 1))
    client.handle_frame(push(older))  # an older state arriving late: dropped
    assert store.get(row.key) is row
    client.handle_frame(push(dict(LIVE, orderStatus="Filled", leavesQty="0")))
    assert len(store) == 0 and store.closed[-1].status is OrderStatus.FILLED
    assert client.malformed_frames == 7
