"""Whatever arrives, the Bybit parsers raise nothing but ``MalformedFrame``."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blotter.core.order import AccountKey, Order
from blotter.core.venue import MalformedFrame
from blotter.venues.bybit import orders, replies, stream
from blotter.venues.bybit.spec import CATEGORIES
from tests.helpers import fixture_json

ACCOUNT = AccountKey("bybit", "prop")
ORDER = fixture_json("bybit", "ws_order_cancelled.json")["data"][0]
PAGE = fixture_json("bybit", "rest_realtime_linear.json")
BATCH = fixture_json("bybit", "rest_cancel_batch.json")

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(["", "0", "0.10", "-1", "Buy", "Sell", "New", "Untriggered", "linear",
                       "order", "pong", "1700000000000", "NaN", "1e9"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
keys = st.sampled_from(sorted(ORDER) + ["retCode", "retMsg", "result", "list", "retExtInfo"])


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # also NaN and huge integers, which orjson refuses


def parse_all(data: Any) -> None:
    for parse in (replies.parse_reply, replies.parse_cancel, replies.parse_cancel_batch,
                  replies.parse_cancel_all, replies.parse_server_time, replies.parse_envelope):
        try:
            parse(data)
        except MalformedFrame:
            pass
    for parse2 in (replies.parse_open_orders, stream.parse_ws):
        try:
            result = parse2(data, ACCOUNT)
        except MalformedFrame:
            continue
        if isinstance(result, replies.OpenOrdersPage):
            assert all(isinstance(o, Order) for o in result.orders)
        if isinstance(result, stream.OrderPush):
            for ev in result.events:
                assert ev.order.venue == "bybit" and ev.order.category in CATEGORIES


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_raises_only_malformed(value: Any) -> None:
    parse_all(dumps(value))
    if isinstance(value, dict):
        parse_all(value)


@settings(max_examples=200)
@given(st.binary(max_size=60) | st.text(max_size=60))
def test_arbitrary_bytes_raise_only_malformed(data: bytes | str) -> None:
    parse_all(data)


@st.composite
def mutated_orders(draw: st.DrawFn) -> dict[str, Any]:
    item = dict(ORDER)
    for _ in range(draw(st.integers(0, 4))):
        key = draw(keys)
        if draw(st.booleans()):
            item[key] = draw(json_values)
        else:
            item.pop(key, None)
    return item


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_orders(), st.sampled_from(["order", "order.spot", "order.linear", "order.x"]))
def test_mutated_ws_orders_raise_only_malformed(item: dict[str, Any], topic: str) -> None:
    parse_all(dumps({"topic": topic, "id": "1", "creationTime": 1, "data": [item]}))
    try:  # the same object as a REST list item
        order = orders.parse_order(item, ACCOUNT, "spot")
    except MalformedFrame:
        return
    assert order.venue == "bybit" and order.category == "spot"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_orders(), st.sampled_from(["linear", "spot", "", 5, None]), json_values)
def test_mutated_rest_pages_raise_only_malformed(
    item: dict[str, Any], category: Any, cursor: Any
) -> None:
    page = json.loads(json.dumps(PAGE))
    page["result"]["list"] = [item]
    page["result"]["category"] = category
    page["result"]["nextPageCursor"] = cursor
    parse_all(dumps(page))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, json_values, json_values)
def test_mutated_batches_raise_only_malformed(a: Any, b: Any, c: Any) -> None:
    body = json.loads(json.dumps(BATCH))
    body["result"]["list"][0] = a
    body["retExtInfo"]["list"][1] = b
    body["retExtInfo"]["list"].append(c)
    parse_all(dumps(body))
    body["result"]["list"].append(c)
    parse_all(dumps(body))


def test_valid_fixture_still_parses() -> None:
    # the mutation base is valid: the properties do exercise the success path too
    push = stream.parse_ws(dumps({"topic": "order", "data": [ORDER]}), ACCOUNT)
    assert isinstance(push, stream.OrderPush) and len(push.events) == 1
