"""Bybit REST replies against the exact bodies of the protocol notes (tests/fixtures/bybit,
copied verbatim from /work/shared/venues/bybit.md): the envelope, the open-orders page, the
cancel acknowledgements, server time, the rate-limit headers and HTTP-level refusals.

Each expectation is spelled out field by field: the recorded bodies are the parser's spec.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from blotter.core.order import AccountKey, Order, OrderStatus, Side
from blotter.core.venue import MalformedFrame
from blotter.venues.bybit import replies
from blotter.venues.bybit.replies import (
    BatchResult,
    CancelAck,
    CancelAllAck,
    OpenOrdersPage,
    VenueReply,
)
from tests.helpers import fixture_bytes

ACCOUNT = AccountKey("bybit", "main")


def raw(name: str) -> bytes:
    return fixture_bytes("bybit", name)


# -- open orders (§3.1) -------------------------------------------------------------------------
def test_realtime_page_field_by_field() -> None:
    page = replies.parse_open_orders(raw("rest_realtime_linear.json"), ACCOUNT)
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
        time_in_force="GTC",
    )
    assert str(o.price) == "1600.00" and str(o.amount) == "0.10"  # exact digits kept
    assert o.filled == 0
    assert o.key == ("bybit", "main", "fd4300ae-7847-404e-b947-b46980a4d140")


def test_realtime_empty_last_page() -> None:
    page = replies.parse_open_orders(raw("rest_realtime_empty.json"), ACCOUNT)
    assert page == OpenOrdersPage("linear", (), "")
    assert isinstance(page, OpenOrdersPage) and page.last


def test_realtime_error_envelope_is_a_reply() -> None:
    reply = replies.parse_open_orders(raw("rest_10002.json"), ACCOUNT)
    assert isinstance(reply, VenueReply)
    assert reply.ret_code == replies.ERR_TIMESTAMP
    assert reply.retryable and not reply.ok and not reply.already_gone
    assert reply.time_ms == 1696396707814
    assert reply.ret_msg.startswith("invalid request, please check your server timestamp")
    assert "req_timestamp[1696396708819]" in reply.text()


# -- cancels (§3.2–3.4) -------------------------------------------------------------------------
def test_cancel_ack() -> None:
    assert replies.parse_cancel(raw("rest_cancel_ok.json")) == CancelAck(
        "c6f055d9-7f21-4079-913d-e6523a9cfffa", "linear-004"
    )


def test_cancel_errors() -> None:
    params = replies.parse_cancel(raw("rest_cancel_10001.json"))
    assert params == VenueReply(10001, "params error: OrderId or orderLinkId is required",
                                1687611859585)
    gone = replies.parse_cancel(raw("rest_cancel_110001.json"))
    assert gone == VenueReply(110001, "Order does not exist", 1689203937336)
    assert isinstance(gone, VenueReply) and gone.already_gone
    assert gone.text() == "110001: Order does not exist"
    # an empty retMsg reads as the docs' text for the code (§5)
    assert VenueReply(10003, "").text() == "10003: API key is invalid."
    assert VenueReply(99999, "").text() == "99999: no message"


def test_cancel_batch_per_item_results() -> None:
    results = replies.parse_cancel_batch(raw("rest_cancel_batch.json"))
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
        replies.parse_cancel_batch(orjson.dumps(body))


def test_cancel_all_ack_with_and_without_success() -> None:
    assert replies.parse_cancel_all(raw("rest_cancel_all.json")) == CancelAllAck(
        (
            CancelAck("1616024329462743808", "1616024329462743809"),
            CancelAck("1616024287544869632", "1616024287544869633"),
        ),
        True,
    )
    empty = b'{"retCode":0,"retMsg":"OK","result":{"list":[]},"retExtInfo":{},"time":1}'
    assert replies.parse_cancel_all(empty) == CancelAllAck((), None)


def test_server_time() -> None:
    assert replies.parse_server_time(raw("rest_market_time.json")) == 1688639403423
    assert replies.parse_server_time(b'{"retCode":0,"result":{},"time":17}') == 17


def test_rate_limit_headers() -> None:
    h = {"X-Bapi-Limit": "10", "x-bapi-limit-status": "9",
         "X-Bapi-Limit-Reset-Timestamp": "1672738134824"}
    assert replies.parse_rate_limit(h) == replies.RateLimit(10, 9, 1672738134824)
    assert replies.parse_rate_limit({}) == replies.RateLimit(None, None, None)


@pytest.mark.parametrize("body", [
    b"", b"[]", b"null", b"{", b'{"retCode":"0"}', b'{"retMsg":"OK"}',
    b'{"retCode":0,"result":[1]}', b'{"retCode":0,"result":{"list":{}}}',
])
def test_malformed_envelopes(body: bytes) -> None:
    for parse in (replies.parse_cancel, replies.parse_cancel_all, replies.parse_cancel_batch,
                  replies.parse_reply):
        if body == b'{"retCode":0,"result":{"list":{}}}' and parse in (replies.parse_cancel,
                                                                     replies.parse_reply):
            continue  # these do not read result.list
        with pytest.raises(MalformedFrame):
            parse(body)
    with pytest.raises(MalformedFrame):
        replies.parse_open_orders(body, ACCOUNT)


def test_retry_after_is_bounded() -> None:
    assert replies.retry_after("2") == 2.0
    assert replies.retry_after(None) == replies.RATE_WINDOW  # no header: one rate window
    assert replies.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == replies.RATE_WINDOW
    assert replies.retry_after("0") == 0.05  # never a busy loop
    assert replies.retry_after("3600") == replies.RATE_WAIT_CAP  # never an hour's freeze


@pytest.mark.parametrize(("status", "text"), [
    (401, ("HTTP 401 from Bybit on /v5/order/cancel: the API key or its headers were refused "
          "(check the key and its environment)")),
    (403, ("HTTP 403 from Bybit on /v5/order/cancel: access too frequent (IP rate limit: wait "
          "10 minutes) or access from this region refused")),
    (404, ("HTTP 404 from Bybit on /v5/order/cancel: wrong path, or a category that does not "
          "match the account mode")),
    (429, ("HTTP 429 from Bybit on /v5/order/cancel: system busy (frequency protection); try "
          "again")),
    (502, "HTTP 502 from Bybit on /v5/order/cancel"),
])
def test_http_refusals_say_what_they_mean(status: int, text: str) -> None:
    assert replies.http_text(status, "/v5/order/cancel") == text


def test_a_page_with_an_unreadable_record_keeps_the_readable_ones_and_says_which() -> None:
    body = orjson.loads(fixture_bytes("bybit", "rest_realtime_linear.json"))
    good = body["result"]["list"][0]
    bad = dict(good, orderId="bad-1", leavesQty="5", qty="1")
    body["result"]["list"] = [bad, good, "x"]
    page = replies.parse_open_orders(orjson.dumps(body), ACCOUNT)
    assert isinstance(page, OpenOrdersPage)
    assert [o.order_id for o in page.orders] == [good["orderId"]]
    assert page.unreadable == (
        "order bad-1 (implausible order: remaining 5 is above the amount 1)",
        "an order (order is not an object)",
    )
    assert not page.last  # the cursor goes on
    # a page of nothing but unreadable records is not the last page for that
    body["result"]["list"] = [bad]
    page = replies.parse_open_orders(orjson.dumps(body), ACCOUNT)
    assert isinstance(page, OpenOrdersPage) and page.orders == () and not page.last
