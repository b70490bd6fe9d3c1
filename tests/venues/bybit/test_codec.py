"""The Bybit codec against the exact REST bodies and WS frames of the protocol notes
(tests/fixtures/bybit, copied verbatim from /work/shared/venues/bybit.md).

Each expectation is spelled out field by field: the recorded frames are the parser's spec.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from blotter.core.notices import Level
from blotter.core.order import AccountKey, Closed, Flag, Order, OrderStatus, Side, Upsert
from blotter.venues.bybit import codec
from blotter.venues.bybit.codec import (
    BatchItem,
    BatchResult,
    CancelAck,
    CancelAllAck,
    Ignored,
    MalformedFrame,
    OpenOrdersPage,
    OpReply,
    OrderPush,
    Pong,
    VenueReply,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bybit"
ACCOUNT = AccountKey("bybit", "main")


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- open orders (§3.1) -------------------------------------------------------------------------
def test_realtime_page_field_by_field() -> None:
    page = codec.parse_open_orders(raw("rest_realtime_linear.json"), ACCOUNT)
    assert isinstance(page, OpenOrdersPage)
    assert page.category == "linear"
    assert page.next_cursor == "page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26"
    assert not page.last
    assert len(page.orders) == 1
    o = page.orders[0]
    assert o == Order(
        venue="bybit",
        account="main",
        order_id="fd4300ae-7847-404e-b947-b46980a4d140",
        symbol="ETHUSDT",
        side=Side.BUY,
        order_type="Limit",
        amount=Decimal("0.10"),
        remaining=Decimal("0.10"),
        status=OrderStatus.OPEN,
        status_text="New",
        price=Decimal("1600.00"),
        avg_price=None,  # "0": no fills
        client_id="test-000005",
        flags=frozenset(),
        created_ms=1684738540559,
        updated_ms=1684738540561,
        category="linear",
    )
    assert str(o.price) == "1600.00" and str(o.amount) == "0.10"  # exact digits kept
    assert o.filled == 0
    assert o.key == ("bybit", "main", "fd4300ae-7847-404e-b947-b46980a4d140")


def test_realtime_empty_last_page() -> None:
    page = codec.parse_open_orders(raw("rest_realtime_empty.json"), ACCOUNT)
    assert page == OpenOrdersPage("linear", (), "")
    assert isinstance(page, OpenOrdersPage) and page.last


def test_realtime_error_envelope_is_a_reply() -> None:
    reply = codec.parse_open_orders(raw("rest_10002.json"), ACCOUNT)
    assert isinstance(reply, VenueReply)
    assert reply.ret_code == codec.ERR_TIMESTAMP
    assert reply.retryable and not reply.ok and not reply.already_gone
    assert reply.time_ms == 1696396707814
    assert reply.ret_msg.startswith("invalid request, please check your server timestamp")
    assert "req_timestamp[1696396708819]" in reply.text()


# -- private ws order push (§7.4) ---------------------------------------------------------------
def test_ws_cancelled_push_field_by_field() -> None:
    push = codec.parse_ws(raw("ws_order_cancelled.json"), ACCOUNT)
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
    )
    n = codec.closed_notice(ev.order)
    assert n.level is Level.SUCCESS
    assert n.line() == "Cancelled · CancelByUser · EC_PerCancelRequest: SOLUSDT buy 0.1 @ 99 (linear)"
    assert n.order_ids == ("f38c5e38-46ef-4a8a-b115-fd3392d4f144",)


def _item(**over: Any) -> dict[str, Any]:
    item = orjson.loads(raw("ws_order_cancelled.json"))["data"][0]
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
    push = codec.parse_ws(_push(_item(orderStatus=venue_status, cancelType="UNKNOWN",
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
    push = codec.parse_ws(_push(item, topic="order.spot"), ACCOUNT)
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
    push = codec.parse_ws(_push(item, topic="order.inverse"), ACCOUNT)
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
    push = codec.parse_ws(_push(item, item), ACCOUNT)
    assert isinstance(push, OrderPush) and len(push.events) == 2
    o = push.events[1].order
    assert o.status is OrderStatus.FILLED
    assert o.status_text == "Filled · CancelByUser · EC_OrigClOrdIDDoesNotExist"


def test_order_without_category_anywhere_is_malformed() -> None:
    item = _item()
    del item["category"]
    with pytest.raises(MalformedFrame):
        codec.parse_ws(_push(item, topic="order"), ACCOUNT)


@pytest.mark.parametrize(
    "over",
    [
        {"side": "buy"}, {"orderStatus": "Active"}, {"qty": "1e5"}, {"qty": "NaN"}, {"qty": 1},
        {"price": "abc"}, {"orderId": ""}, {"orderId": 5}, {"reduceOnly": "false"},
        {"updatedTime": "x"}, {"leavesQty": "-1"},
    ],
)
def test_bad_order_fields_are_malformed(over: dict[str, Any]) -> None:
    with pytest.raises(MalformedFrame):
        codec.parse_ws(_push(_item(**over)), ACCOUNT)


# -- ws control replies (§7.1–7.3, §8) ----------------------------------------------------------
def test_ws_control_replies() -> None:
    assert codec.parse_ws(raw("ws_auth_ok.json"), ACCOUNT) == OpReply(
        "auth", True, "", None, "cejreaspqfh3sjdnldmg-p"
    )
    assert codec.parse_ws(raw("ws_auth_ok_req_id.json"), ACCOUNT) == OpReply(
        "auth", True, "", "LzIP5BH2aBVLUkmsOzg-q", "cldfn01dcjmj8l28s6sg-ngkux"
    )
    fail = codec.parse_ws(raw("ws_auth_params_error.json"), ACCOUNT)
    assert fail == OpReply("auth", False, "Params Error", None, "cno3gd1qo29t7ommtc60-18fpo")
    assert isinstance(fail, OpReply) and fail.text() == "Params Error"
    assert codec.parse_ws(raw("ws_subscribe_ok.json"), ACCOUNT) == OpReply(
        "subscribe", True, "", "sub-1", "cl48jjpqo29jk1nbp4e0-97x2"
    )
    assert codec.parse_ws(raw("ws_pong.json"), ACCOUNT) == Pong(1699766561376, None)
    assert codec.parse_ws(raw("ws_pong_req_id.json"), ACCOUNT) == Pong(1727434943071, "100001")
    public = b'{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}'
    assert codec.parse_ws(public, ACCOUNT) == Pong(None, None)
    assert codec.parse_ws(b'{"topic":"wallet","data":[]}', ACCOUNT) == Ignored("wallet")


def test_ws_trade_replies() -> None:
    gone = codec.parse_ws(raw("ws_trade_cancel_110001.json"), ACCOUNT)
    assert gone == OpReply(
        "order.cancel", False, "order not exists or too late to cancel",
        "RAACPVr82kIAAgAAAAAA", "d4al7m6c0hv96a0jimg0-b9wz", 110001,
    )
    assert isinstance(gone, OpReply)
    assert gone.text() == "110001: order not exists or too late to cancel"
    ok = codec.parse_ws(raw("ws_trade_cancel_ok.json"), ACCOUNT)
    assert isinstance(ok, OpReply) and ok.success and ok.ret_code == 0
    # the same body read as a REST-shaped envelope
    reply = codec.parse_reply(raw("ws_trade_cancel_110001.json"))
    assert reply == VenueReply(110001, "order not exists or too late to cancel", None)


# -- cancels (§3.2–3.4) -------------------------------------------------------------------------
def test_cancel_ack() -> None:
    assert codec.parse_cancel(raw("rest_cancel_ok.json")) == CancelAck(
        "c6f055d9-7f21-4079-913d-e6523a9cfffa", "linear-004"
    )


def test_cancel_errors_and_notice_texts() -> None:
    params = codec.parse_cancel(raw("rest_cancel_10001.json"))
    assert params == VenueReply(10001, "params error: OrderId or orderLinkId is required",
                                1687611859585)
    gone = codec.parse_cancel(raw("rest_cancel_110001.json"))
    assert gone == VenueReply(110001, "Order does not exist", 1689203937336)
    assert isinstance(gone, VenueReply) and gone.already_gone
    assert gone.text() == "110001: Order does not exist"
    n = codec.error_notice(gone, ACCOUNT, ts_ms=5, order_ids=("a",))
    assert (n.venue, n.account, n.level, n.status, n.ts_ms, n.order_ids) == (
        "bybit", "main", Level.WARNING, "110001", 5, ("a",)
    )
    assert n.line() == "110001: Order does not exist"
    ws = VenueReply(110001, "order not exists or too late to cancel")
    assert codec.error_notice(ws, ACCOUNT).line() == "110001: order not exists or too late to cancel"
    rate = codec.error_notice(VenueReply(10006, "Too many visits!"), ACCOUNT)
    assert rate.level is Level.ERROR and rate.line() == "10006: Too many visits!"
    assert codec.error_notice(VenueReply(10003, ""), ACCOUNT).line() == "10003: API key is invalid."


def test_cancel_batch_per_item_results() -> None:
    results = codec.parse_cancel_batch(raw("rest_cancel_batch.json"))
    assert results == (
        BatchResult("BTCUSDT", "1666800494330512128", "spot-btc-03", VenueReply(0, "OK")),
        BatchResult("ATOMUSDT", "", "1666800494330512129",
                    VenueReply(170213, "Order does not exist.")),
    )
    assert isinstance(results, tuple)
    assert results[0].ok and not results[1].ok and results[1].reply.already_gone
    assert results[1].reply.text() == "170213: Order does not exist."


def test_cancel_batch_misaligned_is_malformed() -> None:
    body = orjson.loads(raw("rest_cancel_batch.json"))
    body["retExtInfo"]["list"].pop()
    with pytest.raises(MalformedFrame):
        codec.parse_cancel_batch(orjson.dumps(body))


def test_cancel_all_ack_with_and_without_success() -> None:
    assert codec.parse_cancel_all(raw("rest_cancel_all.json")) == CancelAllAck(
        (
            CancelAck("1616024329462743808", "1616024329462743809"),
            CancelAck("1616024287544869632", "1616024287544869633"),
        ),
        True,
    )
    empty = b'{"retCode":0,"retMsg":"OK","result":{"list":[]},"retExtInfo":{},"time":1}'
    assert codec.parse_cancel_all(empty) == CancelAllAck((), None)


def test_server_time() -> None:
    assert codec.parse_server_time(raw("rest_market_time.json")) == 1688639403423
    assert codec.parse_server_time(b'{"retCode":0,"result":{},"time":17}') == 17


def test_rate_limit_headers() -> None:
    h = {"X-Bapi-Limit": "10", "x-bapi-limit-status": "9",
         "X-Bapi-Limit-Reset-Timestamp": "1672738134824"}
    assert codec.parse_rate_limit(h) == codec.RateLimit(10, 9, 1672738134824)
    assert codec.parse_rate_limit({}) == codec.RateLimit(None, None, None)


# -- request builders ---------------------------------------------------------------------------
def test_cancel_body() -> None:
    assert codec.cancel_body("linear", "BTCUSDT", order_id="c6f0") == {
        "category": "linear", "symbol": "BTCUSDT", "orderId": "c6f0"
    }
    assert codec.cancel_body("option", "BTC-29JUL22-25000-C", order_link_id="l1") == {
        "category": "option", "symbol": "BTC-29JUL22-25000-C", "orderLinkId": "l1"
    }
    assert codec.cancel_body("spot", "BTCUSDT", order_id="1", order_filter="StopOrder") == {
        "category": "spot", "symbol": "BTCUSDT", "orderId": "1", "orderFilter": "StopOrder"
    }
    for bad in (
        lambda: codec.cancel_body("linear", "BTCUSDT"),
        lambda: codec.cancel_body("linear", "", order_id="1"),
        lambda: codec.cancel_body("futures", "BTCUSDT", order_id="1"),
        lambda: codec.cancel_body("linear", "BTCUSDT", order_id="1", order_filter="StopOrder"),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(("category", "n", "sizes"), [
    ("spot", 25, [10, 10, 5]), ("linear", 41, [20, 20, 1]), ("option", 20, [20]),
    ("inverse", 0, []),
])
def test_cancel_batch_chunks(category: str, n: int, sizes: list[int]) -> None:
    items = [BatchItem("BTCUSDT", order_id=str(i)) for i in range(n)]
    bodies = codec.cancel_batch_bodies(category, items)
    assert [len(b["request"]) for b in bodies] == sizes
    assert all(b["category"] == category for b in bodies)
    flat = [r["orderId"] for b in bodies for r in b["request"]]
    assert flat == [str(i) for i in range(n)]  # order kept, so retExtInfo aligns per chunk


def test_batch_item_by_link_id() -> None:
    assert BatchItem("ATOMUSDT", order_link_id="x").as_json() == {
        "symbol": "ATOMUSDT", "orderLinkId": "x"
    }
    with pytest.raises(ValueError):
        codec.cancel_batch_bodies("spot", [BatchItem("ATOMUSDT")])


def test_cancel_all_bodies_per_scope() -> None:
    assert codec.cancel_all_body("linear", settle_coin="USDT") == {
        "category": "linear", "settleCoin": "USDT"
    }
    assert codec.cancel_all_body("linear", symbol="BTCUSDT") == {
        "category": "linear", "symbol": "BTCUSDT"
    }
    assert codec.cancel_all_body("inverse", base_coin="BTC") == {
        "category": "inverse", "baseCoin": "BTC"
    }
    assert codec.cancel_all_body("spot") == {"category": "spot"}
    assert codec.cancel_all_body("spot", symbol="BTCUSDT", order_filter="tpslOrder") == {
        "category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"
    }
    assert codec.cancel_all_body("option") == {"category": "option"}
    assert codec.cancel_all_body(
        "linear", settle_coin="USDC", order_filter="StopOrder", stop_order_type="Stop"
    ) == {"category": "linear", "settleCoin": "USDC", "orderFilter": "StopOrder",
          "stopOrderType": "Stop"}
    for bad in (
        lambda: codec.cancel_all_body("linear"),
        lambda: codec.cancel_all_body("inverse", order_filter="Order"),
        lambda: codec.cancel_all_body("spot", settle_coin="USDT"),
        lambda: codec.cancel_all_body("spot", order_filter="StopOrder", stop_order_type="Stop"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_open_orders_query() -> None:
    assert codec.open_orders_query("inverse") == "category=inverse&limit=50"
    assert codec.open_orders_query("option", limit=20) == "category=option&limit=20"
    assert (
        codec.open_orders_query("linear", symbol="BTCUSDT", cursor="a%3Db%26")
        == "category=linear&symbol=BTCUSDT&limit=50&cursor=a%3Db%26"
    )
    assert [s for s in codec.OPEN_ORDER_SCOPES] == [
        ("spot", None), ("linear", "USDT"), ("linear", "USDC"), ("inverse", None), ("option", None)
    ]
    for bad in (
        lambda: codec.open_orders_query("linear"),
        lambda: codec.open_orders_query("spot", settle_coin="USDT"),
        lambda: codec.open_orders_query("spot", limit=51),
        lambda: codec.open_orders_query("spot", cursor="a&b=c"),
    ):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize("body", [
    b"", b"[]", b"null", b"{", b'{"retCode":"0"}', b'{"retMsg":"OK"}',
    b'{"retCode":0,"result":[1]}', b'{"retCode":0,"result":{"list":{}}}',
])
def test_malformed_envelopes(body: bytes) -> None:
    for parse in (codec.parse_cancel, codec.parse_cancel_all, codec.parse_cancel_batch,
                  codec.parse_reply):
        if body == b'{"retCode":0,"result":{"list":{}}}' and parse in (codec.parse_cancel,
                                                                     codec.parse_reply):
            continue  # these do not read result.list
        with pytest.raises(MalformedFrame):
            parse(body)
    with pytest.raises(MalformedFrame):
        codec.parse_open_orders(body, ACCOUNT)
