"""Whatever arrives, the SignalR decoder raises nothing but ``MalformedRecord`` and the venue
parsers nothing but ``MalformedFrame``; error parsing and JWT reading never raise at all."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blotter.core.order import AccountKey, Order
from blotter.core.venue import MalformedFrame
from blotter.venues.b2trader import signalr
from blotter.venues.b2trader.orders import implausible, parse_timestamp
from blotter.venues.b2trader.replies import (
    jwt_expiry,
    parse_access_token,
    parse_accounts,
    parse_cancel_error,
    parse_cancel_reply,
)
from blotter.venues.b2trader.signalr import Decoder, MalformedRecord, StreamItem
from blotter.venues.b2trader.stream import OpenOrdersParser, parse_open_orders, read_partial
from tests.helpers import fixture_text

ACCOUNT = AccountKey("b2trader", "prop")
ITEM_RECORD = fixture_text("b2trader", "ws_open_orders.txt")
ORDER = json.loads(ITEM_RECORD[:-1])["item"][0]

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
    | st.sampled_from(["", "0", "0.9", "-1", "Buy", "Sell", "Pending", "Working", "Cancelled",
                       "2025-05-20T17:22:31.899Z", "NaN", "1e9", "\x1e"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
order_keys = st.sampled_from(sorted(ORDER))
hub_keys = st.sampled_from(
    ["type", "invocationId", "item", "result", "error", "target", "arguments", "streamIds",
     "allowReconnect", "headers"]
)


def dumps(value: Any) -> str:
    return json.dumps(value)  # also NaN and huge integers, which orjson refuses


def drain(decoder: Decoder) -> list[object]:
    out: list[object] = []
    while True:
        try:
            message = decoder.next_message()
        except MalformedRecord:
            continue
        if message is None:
            return out
        out.append(message)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64) | st.text(max_size=64), max_size=6))
def test_arbitrary_frames_raise_only_malformed_record(frames: list[bytes | str]) -> None:
    decoder = Decoder(max_partial=256)
    for frame in frames:
        try:
            decoder.feed(frame)
        except MalformedRecord:
            pass
        drain(decoder)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(hub_keys, json_values, max_size=6), st.integers(-2, 10))
def test_arbitrary_hub_objects(message: dict[str, Any], kind: int) -> None:
    for candidate in (message, {**message, "type": kind}):
        record = dumps(candidate)
        try:
            signalr.parse_message(record)
        except MalformedRecord:
            pass
        try:
            signalr.parse_handshake_response(record)
        except MalformedRecord:
            pass


@settings(max_examples=200)
@given(st.lists(st.integers(0, len(ITEM_RECORD)), max_size=5), st.booleans())
def test_any_split_gives_the_same_messages(cuts: list[int], binary: bool) -> None:
    stream = "{}\x1e" + ITEM_RECORD + '{"type":6}\x1e'
    data: str | bytes = stream.encode() if binary else stream
    points = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    decoder = Decoder()
    for a, b in itertools.pairwise(points):
        decoder.feed(data[a:b])
    messages = drain(decoder)
    assert len(messages) == 3
    assert isinstance(messages[1], StreamItem)
    assert parse_open_orders(messages[1], ACCOUNT)[0].order_id == ORDER["orderId"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(order_keys, json_values, max_size=4), min_size=1, max_size=4))
def test_a_list_read_order_by_order_keeps_exactly_the_orders_that_read(
    mutations: list[dict[str, Any]],
) -> None:
    items = [{**ORDER, "orderId": f"O{n}", **changes} for n, changes in enumerate(mutations)]
    record = dumps({"type": 2, "invocationId": "0", "item": items})
    payload = StreamItem("0", items, record)
    try:
        orders, unreadable = read_partial(payload, ACCOUNT)
    except MalformedFrame:
        return  # not a list of orders at all: nothing of it can be trusted
    assert len(orders) + len(unreadable) == len(items)
    try:
        whole = parse_open_orders(payload, ACCOUNT)
    except MalformedFrame:
        assert unreadable  # what the whole read refuses, some order of it is unreadable
    else:
        assert (orders, unreadable) == (whole, ())
    assert all(implausible(o) is None for o in orders)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(order_keys, json_values, max_size=6))
def test_mutated_orders_raise_only_malformed_frame(changes: dict[str, Any]) -> None:
    item = {**ORDER, **changes}
    for payload in ([item], StreamItem("0", [item], dumps({"type": 2, "invocationId": "0",
                                                           "item": [item]}))):
        try:
            orders = parse_open_orders(payload, ACCOUNT)
        except MalformedFrame:
            continue
        assert all(isinstance(o, Order) and o.venue == "b2trader" for o in orders)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_raises_only_malformed_frame(value: Any) -> None:
    body = dumps(value)
    try:
        parse_accounts(body)
    except MalformedFrame:
        pass
    try:
        parse_access_token(body, 0)
    except MalformedFrame:
        pass
    try:
        parse_open_orders(value, ACCOUNT)
    except MalformedFrame:
        pass
    try:
        parse_cancel_reply(body, ACCOUNT, "X1")
    except MalformedFrame:
        pass
    try:
        parse_cancel_reply(dumps({"order": value}), ACCOUNT)
    except MalformedFrame:
        pass


@settings(max_examples=300)
@given(st.integers(100, 599), st.binary(max_size=200) | json_values.map(dumps),
       st.dictionaries(st.sampled_from(["Retry-After", "WWW-Authenticate", "Content-Type"]),
                       st.text(max_size=40)))
def test_error_parsing_never_raises(status: int, body: bytes | str, headers: dict[str, str]) -> None:
    err = parse_cancel_error(status, body, "X1", headers=headers, now_ms=0)
    assert err.http_status == status
    assert err.summary.startswith("Order X1: ")
    assert len(err.summary) <= 200 and "\n" not in err.summary


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_jwt_and_timestamps_never_raise_anything_else(text: str) -> None:
    for token in (text, f"a.{text}.c"):
        expiry = jwt_expiry(token)
        assert expiry is None or type(expiry) is int
    try:
        parse_timestamp(text)
    except MalformedFrame:
        pass


# -- OpenOrdersParser == parse_open_orders over sequences of items ---------------------------
# Small value pools, so that successive items repeat orders exactly (reuse happens) and differ
# in every way the parsers care about: each field they read, types that compare equal (1, 1.0,
# True), fields it ignores, objects that are not orders, numbers that need the exact re-read.
FIELD_VALUES: dict[str, list[Any]] = {
    "orderId": ["A", "B", "C", "", None, 7],
    "marketId": ["cfd.eur_chf", "spot.btc_usdt", "", None],
    "marketDisplayName": ["EUR/CHF", "BTC/USDT", "", None],
    "marketType": ["Cfd", "Spot", None, 1],
    "side": ["Buy", "Sell", "Long", None],
    "requestedAmount": ["10000", "1", "0.1", 10000, 10000.0, 0.1, 1, True, None, "-1", "1e5"],
    "remainingAmount": ["10000", "2500", "0", "", 2500, 2500.0, 0, False, None, "NaN"],
    "status": ["Pending", "Working", "Started", "Cancelled", "Completed", "Frozen", None, 2],
    "reason": ["Trader", "StopOut", None, 0, "x}, {y"],
    "rejectDetails": [None, "late\nreply", 1.5, "a},{b", '},{"orderId":"Z"'],
    "orderType": ["Limit", "Market", None],
    "timeInForce": ["Gtc", "Ioc", None],
    "requestedPrice": ["0.9", "0", None, 0.9, 1, "0.90000000000000000001"],
    "executionPrice": ["0", "0.89", 0.89, None],
    "createdAt": ["2025-05-20T17:22:31.899Z", "2025-05-20T17:22:31.9001213Z", None, "bad", 5],
    "updatedAt": ["2025-05-20T17:22:31.9001213Z", "2025-05-20T17:23:00.5Z", None],
    "commissionAmount": ["0", "0.5", 0.5],
    "leverage": [1, 1.0, True, 10],
    "takeProfit": [None, {"price": "1"}, [1], [{"p": "1"}, {"q": "2"}]],
}
orders_edit = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 3), st.sampled_from(sorted(FIELD_VALUES)),
              st.integers(0, 10)),
    st.tuples(st.just("del"), st.integers(0, 3), st.sampled_from(sorted(FIELD_VALUES))),
    st.tuples(st.just("drop"), st.integers(0, 3)),
    st.tuples(st.just("add"), st.sampled_from(["A", "B", "C", "D"])),
    st.tuples(st.just("swap"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("junk"), st.sampled_from([None, "x", 5, [], [ORDER]])),
    st.tuples(st.just("retype")),
)


def _retype(value: Any) -> Any:
    """An equal value of another type: 1 ↔ True, 0 ↔ False, 2 → 2.0, 2.0 → 2."""
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return bool(value) if value in (0, 1) else float(value)
    if type(value) is float and value.is_integer():
        return int(value)
    return value
item_form = st.sampled_from(
    ["list", "wrapped", "stream", "stream without record", "hub record", "hub record, bytes"]
)


def _apply(book: list[Any], edit: tuple[Any, ...]) -> None:
    kind = edit[0]
    if kind == "add":
        book.append({**ORDER, "orderId": edit[1]})
    elif not book:
        return
    elif kind == "set" and type(target := book[edit[1] % len(book)]) is dict:
        values = FIELD_VALUES[edit[2]]
        target[edit[2]] = values[edit[3] % len(values)]
    elif kind == "del" and type(target := book[edit[1] % len(book)]) is dict:
        target.pop(edit[2], None)
    elif kind == "drop":
        del book[edit[1] % len(book)]
    elif kind == "swap":
        i, j = edit[1] % len(book), edit[2] % len(book)
        book[i], book[j] = book[j], book[i]
    elif kind == "junk":
        book.append(edit[1])
    elif kind == "retype":
        for target in book:
            if type(target) is dict:
                for name, value in target.items():
                    target[name] = _retype(value)


def _payload(book: list[Any], form: str) -> Any:
    item = json.loads(dumps(book))  # fresh objects, as each StreamItem brings
    if form == "wrapped":
        return {"item": item}
    if form == "stream":
        return StreamItem("0", item, dumps({"type": 2, "invocationId": "0", "item": book}))
    if form == "stream without record":
        return StreamItem("0", item)
    if form.startswith("hub record"):  # compact, as the hub writes; the item read when asked
        record = json.dumps({"type": 2, "invocationId": "0", "item": book}, separators=(",", ":"))
        message = signalr.parse_message(record.encode() if form.endswith("bytes") else record)
        assert isinstance(message, StreamItem)
        return message
    return item


def _outcome(parse: Any, payload: Any) -> tuple[Order, ...] | str:
    try:
        return tuple(parse(payload))
    except MalformedFrame:
        return "MalformedFrame"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(orders_edit, max_size=3), item_form), min_size=1,
                max_size=12))
@example([([("set", 0, "requestedAmount", 6)], "list"), ([("retype",)], "list")])  # 1, True
@example([([], "stream"), ([("set", 1, "side", 1)], "stream"), ([], "wrapped")])
@example([([], "hub record"), ([("add", "C"), ("swap", 0, 2)], "hub record"),
          ([("set", 1, "rejectDetails", 3)], "hub record, bytes"), ([("drop", 0)], "hub record")])
def test_parser_equals_the_stateless_parser_on_any_sequence(
    steps: list[tuple[list[tuple[Any, ...]], str]],
) -> None:
    parser = OpenOrdersParser(ACCOUNT)
    book: list[Any] = [{**ORDER, "orderId": "A"}, {**ORDER, "orderId": "B"}]
    for edits, form in steps:
        for edit in edits:
            _apply(book, edit)
        payload = _payload(book, form)
        expected = _outcome(lambda p: parse_open_orders(p, ACCOUNT), payload)
        got = _outcome(parser.parse, payload)
        assert got == expected
        if type(got) is tuple:
            assert len(parser) <= len(got)  # only what is in the last item is remembered
